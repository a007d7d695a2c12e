"""ADE corpus v2 loader against counts published in SOURCE.md / the paper and the raw .rel lines."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from clinprompt.data.brat import BratError
from clinprompt.data.corpora.ade import load_ade


@pytest.fixture(scope="module")
def ade(data_dir):
    return load_ade(data_dir, include_dose=True)


def _rel_lines(data_dir: Path, name: str) -> list[list[str]]:
    text = (data_dir / "ade-corpus-v2" / name).read_text()
    return [line.split("|") for line in text.split("\n") if line]


def _overlap(a, b) -> bool:
    return a.start < b.end and b.start < a.end


def test_counts_match_the_published_ones(data_dir):
    ae_only = load_ade(data_dir, include_dose=False)
    docs = ae_only.documents()
    assert ae_only.entity_types == ("Drug", "AdverseEffect")
    assert len(docs) == 1644  # PMIDs in DRUG-AE.rel
    assert sum(len(d.sentences) for d in docs) == 4272
    assert Counter(r.type for d in docs for r in d.relations.values()) == {"AdverseEffect-Drug": 6821}
    # SOURCE.md: 5,776 distinct AE mentions, 5,063 distinct drug mentions, 120 nested AE/drug pairs
    assert Counter(e.type for d in docs for e in d.entities.values()) == {"AdverseEffect": 5776, "Drug": 5063}
    assert sum(_overlap(d.entities[r.arg1], d.entities[r.arg2]) for d in docs for r in d.relations.values()) == 120
    assert ae_only.issues == []


def test_dose_relations_join_the_same_sentences(ade):
    docs = ade.documents()
    assert ade.relation_heads == {"AdverseEffect-Drug": ("AdverseEffect", "Drug"), "Dose-Drug": ("Dose", "Drug")}
    assert Counter(r.type for d in docs for r in d.relations.values()) == {"AdverseEffect-Drug": 6821,
                                                                            "Dose-Drug": 279}
    assert sum(e.type == "Dose" for d in docs for e in d.entities.values()) == 230
    assert sum(len(d.sentences) for d in docs) == 4272  # every dose sentence is also an AE sentence


def test_every_relation_line_is_recovered_at_its_offsets(ade, data_dir):
    """Each .rel line must appear as a relation whose arguments carry its mentions, inside its sentence, at the
    same distance apart as the document offsets say: that pins the occurrence of a repeated mention."""
    docs = {d.doc_id: d for d in ade.documents()}
    expected = Counter()
    for name, rtype in (("DRUG-AE.rel", "AdverseEffect-Drug"), ("DRUG-DOSE.rel", "Dose-Drug")):
        for pmid, sentence, a1, b1, _, drug, b2, _ in _rel_lines(data_dir, name):
            expected[(pmid, rtype, sentence, a1, drug, int(b1) - int(b2))] += 1
    found = Counter()
    for d in docs.values():
        for r in d.relations.values():
            a1, a2 = d.entities[r.arg1], d.entities[r.arg2]
            assert d.text[a1.start:a1.end] == a1.text and d.text[a2.start:a2.end] == a2.text
            s, e = next(sp for sp in d.sentences if sp[0] <= a1.start and a1.end <= sp[1])
            assert s <= a2.start and a2.end <= e
            found[(d.doc_id, r.type, d.text[s:e], a1.text, a2.text, a1.start - a2.start)] += 1
    assert found == expected


def test_repeated_mentions_use_the_document_offset(ade, data_dir):
    """A line whose AE occurs twice in the sentence: str.find would take the first occurrence."""
    docs = {d.doc_id: d for d in ade.documents()}
    checked = 0
    for pmid, sentence, ae, b1, _, drug, b2, _ in _rel_lines(data_dir, "DRUG-AE.rel"):
        if sentence.count(ae) < 2 or sentence.count(drug) != 1:
            continue
        marked = sentence.find(drug) + int(b1) - int(b2)  # where the document offsets put the AE
        if marked == sentence.find(ae):
            continue
        d = docs[pmid]
        s = next(sp[0] for sp in d.sentences if d.text[sp[0]:sp[1]] == sentence)
        ents = {(e.type, e.start - s) for e in d.entities.values()}
        assert ("AdverseEffect", marked) in ents and sentence[marked:marked + len(ae)] == ae
        checked += 1
    assert checked > 0


def test_splits_by_pmid_are_disjoint_and_deterministic(ade, data_dir):
    ids = {name: {d.doc_id for d in docs} for name, docs in ade.splits.items()}
    assert not ids["train"] & ids["dev"] and not ids["train"] & ids["test"] and not ids["dev"] & ids["test"]
    total = sum(len(v) for v in ids.values())
    assert 0.75 < len(ids["train"]) / total < 0.85 and 0.07 < len(ids["test"]) / total < 0.13
    again = load_ade(data_dir, include_dose=True)
    assert {k: [d.doc_id for d in v] for k, v in again.splits.items()} == \
           {k: [d.doc_id for d in v] for k, v in ade.splits.items()}
    assert [d.text for d in again.documents()] == [d.text for d in ade.documents()]


def test_negative_sentences_join_their_documents(ade, data_dir):
    full = load_ade(data_dir, include_dose=True, include_negative=True)
    docs = full.documents()
    # the paper's totals: 2,972 documents, 20,967 sentences (4,272 with an ADE + 16,695 without)
    assert len(docs) == 2972 and sum(len(d.sentences) for d in docs) == 20967
    assert full.counts()["train"]["relations"] == ade.counts()["train"]["relations"]
    positive_split = {d.doc_id: name for name, ds in ade.splits.items() for d in ds}
    assert all(positive_split[d.doc_id] == name for name, ds in full.splits.items() for d in ds
               if d.doc_id in positive_split)  # adding negatives moves no document
    neg = (data_dir / "ade-corpus-v2" / "ADE-NEG.txt").read_text().split("\n")
    by_id = {d.doc_id: d for d in docs}
    pmid, _, sentence = neg[0].split(" ", 2)
    assert sentence in {by_id[pmid].text[s:e] for s, e in by_id[pmid].sentences}


def test_missing_folder_names_the_key(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"paths\.data_dir.*CLINPROMPT_DATA_DIR"):
        load_ade(tmp_path)
    (tmp_path / "ade-corpus-v2").mkdir()
    (tmp_path / "ade-corpus-v2" / "DRUG-AE.rel").write_text("")
    with pytest.raises(FileNotFoundError, match=r"DRUG-DOSE\.rel is missing: set paths\.data_dir"):
        load_ade(tmp_path, include_dose=True)
    assert load_ade(tmp_path, include_dose=False).documents() == []


def _bad_corpus(tmp_path: Path) -> Path:
    root = tmp_path / "ade-corpus-v2"
    root.mkdir()
    lines = [
        "1|Aspirin caused rash.|rash|18|22|Aspirin|3|10",  # good: sentence starts at document offset 3
        "1|Aspirin caused rash.|rash|18|22",  # too few fields
        "2|Heparin caused HIT.|HIT|x|20|Heparin|3|10",  # offset not a number
        "3|Drug X caused nausea.|vomiting|17|25|Drug X|3|9",  # the mention is not in the sentence
    ]
    (root / "DRUG-AE.rel").write_text("\n".join(lines) + "\n")
    (root / "DRUG-DOSE.rel").write_text("")
    (root / "ADE-NEG.txt").write_text("")
    return tmp_path


def test_malformed_lines_strict_and_lenient(tmp_path):
    data_dir = _bad_corpus(tmp_path)
    with pytest.raises(BratError, match=r"DRUG-AE\.rel:2: line: expected 8"):
        load_ade(data_dir, strict=True)
    corpus = load_ade(data_dir, strict=False)
    assert [(Path(i.path).name, i.line, i.field) for i in corpus.issues] == [
        ("DRUG-AE.rel", 2, "line"), ("DRUG-AE.rel", 3, "arg1_begin"), ("DRUG-AE.rel", 4, "arg1_begin")]
    (doc,) = corpus.documents()
    assert doc.text == "Aspirin caused rash." and doc.sentences == [(0, 20)]
    assert sorted((e.type, doc.text[e.start:e.end]) for e in doc.entities.values()) == [
        ("AdverseEffect", "rash"), ("Drug", "Aspirin")]
