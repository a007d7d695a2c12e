"""brat reader/writer: every line kind, CRLF offsets, and each bad-input case with file, line and field."""

from __future__ import annotations

import shutil

import pytest

from clinprompt.data.brat import BratError, parse_ann, read_dir, read_document, write_document

TEXT = "Aspirin 81 mg daily.\nWarfarin 5 mg tablet by mouth."


def test_every_line_kind_is_read():
    ann = (
        "T1\tDrug 0 7\tAspirin\n"
        "T2\tStrength 8 13\t81 mg\n"
        "T3\tDrug 21 29\tWarfarin\n"
        "T4\tForm 35 41;42 44\ttablet by\n"  # discontinuous: two fragments joined by a space
        "R1\tStrength-Drug Arg1:T2 Arg2:T1\t\n"  # trailing tab tolerated
        "E1\tTreatment:T3 Form:T4 Form2:T4\n"
        "A1\tNegated T1\n"
        "M2\tCertainty E1 High\n"
        "N1\tReference T1 RxNorm:1191\tAspirin\n"
        "*\tEquiv T1 T3\n"
        "#1\tAnnotatorNotes T2\tchecked twice\n"
    )
    issues: list = []
    doc = parse_ann(ann, TEXT, "d", strict=True, issues=issues)
    assert issues == []
    assert doc.entities["T4"].fragments == ((35, 41), (42, 44))
    assert (doc.entities["T4"].start, doc.entities["T4"].end) == (35, 44)
    assert doc.entities["T4"].text == "tablet by"
    assert doc.relations["R1"].arg1 == "T2" and doc.relations["R1"].arg2 == "T1"
    assert doc.events["E1"].trigger == "T3" and doc.events["E1"].args == (("Form", "T4"), ("Form2", "T4"))
    assert doc.attributes["A1"].value is None and doc.attributes["M2"].value == "High"
    assert doc.normalizations["N1"].resource == "RxNorm" and doc.normalizations["N1"].concept == "1191"
    assert doc.equivs == [("Equiv", ("T1", "T3"))]
    assert doc.notes[0].target == "T2" and doc.notes[0].text == "checked twice"


def test_crlf_offsets_count_two_characters(tmp_path):
    text = "Line one.\r\nAspirin 81 mg\r\n"
    (tmp_path / "n.txt").write_bytes(text.encode())
    # "Aspirin" starts after 'Line one.' (9) + CRLF (2) = 11
    (tmp_path / "n.ann").write_bytes(b"T1\tDrug 11 18\tAspirin\r\nT2\tStrength 19 24\t81 mg\r\n")
    doc = read_document(tmp_path / "n.txt", strict=True)
    assert doc.text == text
    assert doc.text[11:18] == "Aspirin"
    assert doc.entities["T2"].text == "81 mg"


def test_empty_ann_and_missing_ann(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "a.ann").write_text("")
    (tmp_path / "b.txt").write_text("y")
    docs, issues = read_dir(tmp_path)
    assert [d.doc_id for d in docs] == ["a", "b"] and issues == []
    assert all(not d.entities for d in docs)


@pytest.mark.parametrize("line,field,reason", [
    ("T1\tDrug 0 7\tAspirn", "text", "does not match"),
    ("T1\tDrug 0 900\tAspirin", "offsets", "past the end"),
    ("R1\tStrength-Drug Arg1:T7 Arg2:T1", "reference", "undefined id 'T7'"),
    ("T1\tDrug\t0 7\tAspirin", "annotation", "expected 'Type start end'"),
    ("T1 Drug 0 7 Aspirin", "line", "tab-separated"),
    ("X1\tDrug 0 7\tAspirin", "id", "unknown annotation id"),
])
def test_bad_lines_name_file_line_and_field(line, field, reason):
    ann = "T9\tDrug 0 7\tAspirin\n\n" + line + "\n"
    with pytest.raises(BratError) as err:
        parse_ann(ann, TEXT, "d", path="notes/d.ann", strict=True)
    assert err.value.issue.line == 3 and err.value.issue.field == field
    assert str(err.value).startswith(f"notes/d.ann:3: {field}: ") and reason in str(err.value)
    issues: list = []
    doc = parse_ann(ann, TEXT, "d", path="notes/d.ann", strict=False, issues=issues)
    assert len(issues) == 1 and issues[0].line == 3
    assert "T9" in doc.entities and "R1" not in doc.relations


def test_text_case_and_spacing_are_not_mismatches(data_dir):
    # the medXN gold has ' ofloxacin' over 'Ofloxacin': offsets are right, so it reads cleanly in strict mode
    doc = read_document(data_dir / "etude-brat-samples/medXN_test/data_medications_001.txt", strict=True)
    assert len(doc.entities) == 13 and len(doc.relations) == 10
    counts = {t: len(doc.entities_of(t)) for t in ("Drug", "Strength", "Route", "Frequency", "Duration")}
    assert counts == {"Drug": 3, "Strength": 2, "Route": 2, "Frequency": 2, "Duration": 2}


def test_messy_system_output_is_counted_not_fatal(data_dir):
    folder = data_dir / "etude-brat-samples/medex_test"
    with pytest.raises(BratError):
        read_dir(folder, strict=True)
    docs, issues = read_dir(folder, strict=False)
    by_field = {f: sum(i.field == f for i in issues) for f in ("annotation", "offsets")}
    # 2 T lines with a TAB between type and offsets; 14 spans past the end of the 162-character text
    assert by_field == {"annotation": 2, "offsets": 14}
    assert all(e.end <= len(docs[0].text) for e in docs[0].entities.values())
    refs = {r.arg1 for r in docs[0].relations.values()} | {r.arg2 for r in docs[0].relations.values()}
    assert refs <= docs[0].entities.keys()


def test_obfuscated_text_keeps_offsets_in_lenient_mode(data_dir):
    docs, issues = read_dir(data_dir / "etude-brat-samples/brat_reference", strict=False)
    pa = next(d for d in docs if d.doc_id == "problems_and_allergens")
    assert len(pa.entities) == 37
    # every T text field is obfuscated; the fixture also has one attribute on a T40 that does not exist
    assert {i.field for i in issues} == {"text", "reference"}
    assert [i.line for i in issues if i.field == "reference"] == [72] and "A6" not in pa.attributes
    assert pa.entities["T8"].span == (3830, 3852)


def test_write_then_read_round_trips(tmp_path, data_dir):
    src = data_dir / "etude-brat-samples/brat_reference"
    docs, _ = read_dir(src, strict=False)
    for d in docs:
        write_document(d, tmp_path)
    again, _ = read_dir(tmp_path, strict=False)
    for a, b in zip(docs, again, strict=True):
        assert a.text == b.text
        assert a.entities == b.entities and a.relations == b.relations and a.events == b.events
        assert a.attributes == b.attributes and a.normalizations == b.normalizations
        assert a.equivs == b.equivs and a.notes == b.notes


def test_ann_without_txt_is_reported(tmp_path, data_dir):
    shutil.copy(data_dir / "etude-brat-samples/brat_reference/ibm.ann", tmp_path / "orphan.ann")
    with pytest.raises(BratError, match="orphan.ann:0: file"):
        read_dir(tmp_path)
    assert len(read_dir(tmp_path, strict=False)[1]) == 1
