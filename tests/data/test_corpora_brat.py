"""Brat corpus folders: type discovery, listed types, dev carving, n2c2 2018 schema, bad layouts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from clinprompt.data.brat import BratError, write_document
from clinprompt.data.corpora.base import N2C2_2018_ENTITY_TYPES, N2C2_2018_RELATION_TYPES
from clinprompt.data.corpora.brat_corpus import carve_dev, load_brat_corpus, load_n2c2_2018
from clinprompt.data.corpora.synthetic import generate
from clinprompt.data.document import Document
from clinprompt.data.sentences import split_sentences


def _copy(src: Path, dst: Path, name: str | None = None) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for ext in (".txt", ".ann"):
        shutil.copyfile(src.with_suffix(ext), dst / f"{name or src.stem}{ext}")


@pytest.fixture
def etude(data_dir: Path, tmp_path: Path) -> Path:
    """train: ibm, sony, medXN (gold); test: medex (the messy system output), under new names."""
    src = data_dir / "etude-brat-samples"
    _copy(src / "brat_reference" / "ibm", tmp_path / "train")
    _copy(src / "brat_reference" / "sony", tmp_path / "train")
    _copy(src / "medXN_test" / "data_medications_001", tmp_path / "train", "medxn_001")
    _copy(src / "medex_test" / "data_medications_001", tmp_path / "test", "medex_001")
    return tmp_path


def test_types_and_heads_discovered(etude):
    corpus = load_brat_corpus(etude)
    assert set(corpus.entity_types) == {"Organization", "MERGE-ORG", "Country", "Drug", "Strength", "Route",
                                        "Frequency", "Duration", "Dosage", "Form"}
    assert set(corpus.relation_types) == {"Origin", "Strength-Drug", "Route-Drug", "Frequency-Drug",
                                          "Duration-Drug", "Dosage-Drug", "Form-Drug"}
    # sony.ann: "R1 Origin Arg1:T3 (Organization Ericsson) Arg2:T4 (Country Sweden)"
    assert corpus.relation_heads["Origin"] == ("Organization", "Country")
    assert corpus.relation_heads["Form-Drug"] == ("Form", "Drug")
    # the messy system output: 2 TAB-broken T lines and 14 spans past the end of the text (SOURCE.md)
    assert len(corpus.issues) >= 16 and all("medex_001.ann" in i.path for i in corpus.issues)
    docs = corpus.documents()
    assert all(d.sentences == split_sentences(d.text) and d.sentences for d in docs)
    medxn = next(d for d in docs if d.doc_id == "medxn_001")
    assert len(medxn.entities) == 13 and len(medxn.relations) == 10


def test_dev_carved_from_train_deterministically(etude):
    a, b = load_brat_corpus(etude), load_brat_corpus(etude)
    assert len(a.splits["dev"]) == 1 and len(a.splits["train"]) == 2
    assert [d.doc_id for d in a.splits["dev"]] == [d.doc_id for d in b.splits["dev"]]
    assert {d.doc_id for d in a.splits["train"] + a.splits["dev"]} == {"ibm", "sony", "medxn_001"}
    docs = [Document(f"note{i:02d}", "x") for i in range(40)]
    train, dev = carve_dev(docs)
    assert len(dev) == 4 and len(train) == 36 and not {d.doc_id for d in dev} & {d.doc_id for d in train}
    # the choice depends on the ids, not on the order the files were listed in
    assert {d.doc_id for d in carve_dev(docs[::-1])[1]} == {d.doc_id for d in dev}


def test_dev_folder_is_used_when_present(etude):
    (etude / "dev").mkdir()
    for ext in (".txt", ".ann"):
        (etude / "train" / f"ibm{ext}").rename(etude / "dev" / f"ibm{ext}")
    corpus = load_brat_corpus(etude)
    assert [d.doc_id for d in corpus.splits["dev"]] == ["ibm"]
    assert [d.doc_id for d in corpus.splits["train"]] == ["medxn_001", "sony"]


def test_listed_types_restrict_the_annotations(etude):
    corpus = load_brat_corpus(etude, entity_types=["Drug", "Strength"], relation_types=["Strength-Drug"])
    assert corpus.entity_types == ("Drug", "Strength") and corpus.relation_types == ("Strength-Drug",)
    assert corpus.relation_heads == {"Strength-Drug": ("Strength", "Drug")}
    medxn = next(d for d in corpus.documents() if d.doc_id == "medxn_001")
    # medXN: Drug 3, Strength 2, and the two Strength-Drug relations
    assert sorted(e.type for e in medxn.entities.values()) == ["Drug"] * 3 + ["Strength"] * 2
    assert [r.type for r in medxn.relations.values()] == ["Strength-Drug"] * 2
    sony = next(d for d in corpus.documents() if d.doc_id == "sony")
    assert not sony.entities and not sony.events and not sony.notes  # the note pointed at a dropped entity


def test_strict_mode_raises_on_the_messy_file(etude):
    with pytest.raises(BratError, match=r"medex_001\.ann:\d+: "):
        load_brat_corpus(etude, strict=True)


def test_bad_layouts_name_the_key(tmp_path, etude):
    with pytest.raises(FileNotFoundError, match=r"dataset\.root"):
        load_brat_corpus(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"paths\.data_dir.*n2c2_2018"):
        load_n2c2_2018(tmp_path / "nowhere")
    shutil.rmtree(etude / "test")
    with pytest.raises(FileNotFoundError, match=r"no test/ folder.*dataset\.root"):
        load_brat_corpus(etude)
    _copy(etude / "train" / "sony", etude / "test")
    with pytest.raises(ValueError, match=r"sony.*also in train/"):
        load_brat_corpus(etude)


def test_n2c2_schema_on_synthetic_notes(tmp_path, data_dir):
    notes = {"train": generate("train", 6, 5), "test": generate("test", 3, 5)}
    for split, docs in notes.items():
        for d in docs:
            write_document(d, tmp_path / split)
    _copy(data_dir / "etude-brat-samples" / "brat_reference" / "sony", tmp_path / "train")  # not n2c2 types
    corpus = load_n2c2_2018(tmp_path)
    assert corpus.name == "n2c2_2018"
    assert corpus.entity_types == N2C2_2018_ENTITY_TYPES and corpus.relation_types == N2C2_2018_RELATION_TYPES
    assert corpus.relation_heads == {f"{t}-Drug": (t, "Drug") for t in N2C2_2018_ENTITY_TYPES[1:]}
    assert corpus.issues == []
    read = {d.doc_id: d for d in corpus.documents()}
    assert len(read) == 10 and not read["sony"].entities and not read["sony"].relations
    for d in notes["train"] + notes["test"]:
        assert {(e.type, e.fragments) for e in read[d.doc_id].entities.values()} == \
               {(e.type, e.fragments) for e in d.entities.values()}
        assert len(read[d.doc_id].relations) == len(d.relations)
    assert sum(len(v) for v in corpus.splits.values()) == 10 and corpus.splits["dev"]
