"""Reader traps that used to lose or corrupt data silently, each with a hand-checked fixture: duplicate
ids, byte-order marks, non-UTF-8 bytes, issue kinds, no note text in messages, byte-exact writing."""

from __future__ import annotations

import shutil

import pytest

from clinprompt.data.brat import KEPT, SKIPPED, BratError, parse_ann, read_dir, read_document, write_document

MARK = "ZQXMARKERZQX"


def test_duplicate_id_is_an_error_in_strict_mode_and_keeps_the_first_in_lenient_mode():
    text = "aspirin daily"
    ann = "T1\tDrug 0 7\taspirin\nT1\tFrequency 8 13\tdaily\nR1\tFrequency-Drug Arg1:T1 Arg2:T1\n"
    with pytest.raises(BratError, match=r"d:2: id: duplicate id 'T1'"):
        parse_ann(ann, text, "d", strict=True)
    issues = []
    doc = parse_ann(ann, text, "d", strict=False, issues=issues)
    assert doc.entities["T1"].type == "Drug" and doc.entities["T1"].span == (0, 7)
    assert [(i.line, i.field, i.action) for i in issues] == [(2, "id", SKIPPED)]


def test_bom_is_removed_from_ann_and_detected_in_txt(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"aspirin daily")
    (tmp_path / "a.ann").write_bytes("\ufeffT1\tDrug 0 7\taspirin\n".encode())
    assert read_document(tmp_path / "a.txt").entities["T1"].type == "Drug"  # first line not lost
    # a .txt starting with a BOM whose offsets ignore it: every span is one character early
    (tmp_path / "b.txt").write_bytes("\ufeffaspirin daily".encode())
    (tmp_path / "b.ann").write_bytes(b"T1\tDrug 0 7\taspirin\n")
    with pytest.raises(BratError, match=r"b.ann:1: text: offsets 0 7 ignore the byte-order mark"):
        read_document(tmp_path / "b.txt")
    issues = []
    doc = read_document(tmp_path / "b.txt", strict=False, issues=issues)
    assert doc.entities["T1"].span == (0, 7)  # offsets refer to the text as stored
    assert issues[0].action == KEPT
    # offsets that count the BOM are fine
    (tmp_path / "b.ann").write_bytes(b"T1\tDrug 1 8\taspirin\n")
    assert read_document(tmp_path / "b.txt").span_text(read_document(tmp_path / "b.txt").entities["T1"]) == "aspirin"


def test_non_utf8_names_file_line_and_byte_offset_never_the_content(tmp_path):
    (tmp_path / "a.txt").write_bytes(f"{MARK}\nseen by Dr. M\xfcller".encode("latin-1"))
    (tmp_path / "a.ann").write_bytes(b"T1\tDrug 0 4\tZQXM\n")
    with pytest.raises(BratError) as exc:
        read_document(tmp_path / "a.txt")
    msg = str(exc.value)
    assert msg == f"{tmp_path / 'a.txt'}:2: encoding: byte offset 26 is not valid UTF-8; re-save the file as UTF-8"
    assert exc.value.__cause__ is None and exc.value.__suppress_context__
    issues = []
    doc = read_document(tmp_path / "a.txt", strict=False, issues=issues)  # lenient: kept, with a warning
    assert doc.entities["T1"].span == (0, 4)
    assert len(doc.text) == len(MARK) + 1 + len("seen by Dr. M\ufffdller")
    assert [(i.field, i.action) for i in issues] == [("encoding", KEPT)]
    assert MARK not in str(issues[0])


def test_text_mismatch_is_kept_with_a_warning_and_quotes_no_text():
    text = f"{MARK} aspirin"
    issues = []
    doc = parse_ann(f"T1\tDrug 0 12\t{MARK[:5]}other\n", text, "d", strict=False, issues=issues)
    assert "T1" in doc.entities
    assert [(i.field, i.action) for i in issues] == [("text", KEPT)]
    assert str(issues[0]) == "d:1: text: text field (10 characters) does not match the note at offsets 0 12; " \
                             "the offsets are kept"
    with pytest.raises(BratError) as exc:
        parse_ann(f"T1\tDrug 0 12\t{MARK[:5]}other\n", text, "d", strict=True)
    assert MARK[:5] not in str(exc.value)


def test_unchanged_lines_are_written_back_byte_for_byte(tmp_path):
    text = "aspirin 81 mg daily\r\nheparin"
    # interleaved kinds, trailing spaces, CRLF line ends, a blank line, no final newline
    ann = ("T2\tStrength 8 13\t81 mg  \r\nR1\tStrength-Drug Arg1:T2 Arg2:T1\r\n\r\n"
           "T1\tDrug 0 7\taspirin\r\n#1\tAnnotatorNotes T1\tcheck dose \r\nA1\tNegated T1")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "n.txt").write_bytes(text.encode())
    (tmp_path / "in" / "n.ann").write_bytes(ann.encode())
    doc = read_document(tmp_path / "in" / "n.txt")
    write_document(doc, tmp_path / "out")
    assert (tmp_path / "out" / "n.ann").read_bytes() == ann.encode()
    assert (tmp_path / "out" / "n.txt").read_bytes() == text.encode()
    # a removed annotation's line goes; a new one is appended
    del doc.relations["R1"]
    from clinprompt.data.document import Entity
    doc.entities["T3"] = Entity("T3", "Drug", ((21, 28),))
    write_document(doc, tmp_path / "out2")
    assert (tmp_path / "out2" / "n.ann").read_bytes().decode() == (
        "T2\tStrength 8 13\t81 mg  \r\n\r\nT1\tDrug 0 7\taspirin\r\n#1\tAnnotatorNotes T1\tcheck dose \r\n"
        "A1\tNegated T1\nT3\tDrug 21 28\theparin\n")


def test_public_brat_samples_round_trip_identically(tmp_path, data_dir):
    checked = 0
    for folder in sorted(p for p in (data_dir / "etude-brat-samples").iterdir() if p.is_dir()):
        docs, issues = read_dir(folder, strict=False)
        # a skipped line cannot be written back; kept ones (text-field mismatches) are, byte for byte
        lossy = {i.path for i in issues if i.action == SKIPPED}
        docs = [d for d in docs if str(folder / f"{d.doc_id}.ann") not in lossy]
        checked += len(docs)
        for d in docs:
            write_document(d, tmp_path / folder.name)
            for ext in (".ann", ".txt"):
                original = folder / f"{d.doc_id}{ext}"
                if original.exists():
                    assert (tmp_path / folder.name / original.name).read_bytes() == original.read_bytes(), original
        if not docs:
            continue
        again, _ = read_dir(tmp_path / folder.name, strict=False)
        assert [(d.entities, d.relations, d.events, d.attributes) for d in again] == \
               [(d.entities, d.relations, d.events, d.attributes) for d in docs]
    assert checked >= 3  # medXN_test and two of the three brat_reference notes


def test_gold_side_reports_txt_without_ann_and_empty_folders(tmp_path):
    shutil.os.makedirs(tmp_path / "g")
    (tmp_path / "g" / "a.txt").write_text("x")
    with pytest.raises(BratError, match="a.txt:0: file: a .txt note without its .ann"):
        read_dir(tmp_path / "g", strict=True, require_ann=True)
    docs, issues = read_dir(tmp_path / "g", strict=True)  # a folder of raw notes (prediction input): fine
    assert len(docs) == 1 and issues == []
    (tmp_path / "e").mkdir()
    _, issues = read_dir(tmp_path / "e", strict=False, require_ann=True)
    assert [(i.field, i.reason) for i in issues] == [("folder", "no .txt notes in this folder")]


def test_a_line_separator_inside_a_text_field_does_not_split_the_line(tmp_path):
    text = "aspirin\u2028daily"
    ann = "T1\tDrug 0 13\taspirin\u2028daily\nT2\tFrequency 8 13\tdaily\n"
    issues = []
    doc = parse_ann(ann, text, "d", strict=False, issues=issues)
    assert issues == [] and list(doc.entities) == ["T1", "T2"]
    write_document(doc, tmp_path)
    assert (tmp_path / "d.ann").read_text(encoding="utf-8") == ann
