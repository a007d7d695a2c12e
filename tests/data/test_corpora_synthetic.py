"""The embedded synthetic corpus: n2c2-2018 shape, offsets after the brat round trip, determinism."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from clinprompt.data.corpora import synthetic
from clinprompt.data.corpora.base import N2C2_2018_ENTITY_TYPES, N2C2_2018_RELATION_TYPES
from clinprompt.data.corpora.synthetic import _Group, _NoteWriter, _render, generate, load_synthetic
from clinprompt.data.sentences import split_sentences

SIZES = {"n_train": 24, "n_dev": 4, "n_test": 6, "seed": 13}


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("synthetic")


@pytest.fixture(scope="module")
def corpus(cache):
    return load_synthetic(cache, **SIZES)


def _all(corpus):
    return corpus.documents()


def test_schema_and_every_type_present(corpus):
    assert corpus.entity_types == N2C2_2018_ENTITY_TYPES and len(corpus.entity_types) == 9
    assert corpus.relation_types == N2C2_2018_RELATION_TYPES and len(corpus.relation_types) == 8
    assert corpus.relation_heads["ADE-Drug"] == ("ADE", "Drug")
    train = corpus.splits["train"]
    assert {e.type for d in train for e in d.entities.values()} == set(N2C2_2018_ENTITY_TYPES)
    assert {r.type for d in train for r in d.relations.values()} == set(N2C2_2018_RELATION_TYPES)
    assert [len(corpus.splits[s]) for s in ("train", "dev", "test")] == [24, 4, 6]
    assert corpus.issues == []


def test_relations_follow_the_n2c2_convention(corpus):
    for d in _all(corpus):
        for r in d.relations.values():
            tail, head = d.entities[r.arg1], d.entities[r.arg2]
            assert (tail.type, head.type) == corpus.relation_heads[r.type], (d.doc_id, r)


def test_read_back_equals_generated_and_text_matches_offsets(corpus):
    for split in ("train", "dev", "test"):
        generated = generate(split, SIZES[f"n_{split}"], SIZES["seed"])
        read = corpus.splits[split]
        assert [d.doc_id for d in read] == [d.doc_id for d in generated]
        for g, r in zip(generated, read, strict=True):
            assert r.text == g.text
            assert {k: (e.type, e.fragments) for k, e in r.entities.items()} == \
                   {k: (e.type, e.fragments) for k, e in g.entities.items()}
            assert r.relations == g.relations
            for e in g.entities.values():
                # the generator's surface comes from its vocabulary, not from slicing the text
                stored = r.text[e.start:e.end]
                assert " ".join(stored.split()) == e.text, (g.doc_id, e)
                if "\n" not in stored:
                    assert stored == e.text


def test_crlf_notes_keep_exact_offsets(corpus, cache):
    crlf = [d for d in _all(corpus) if "\r\n" in d.text]
    lf = [d for d in _all(corpus) if "\r\n" not in d.text]
    assert crlf and lf
    doc = crlf[0]
    split = doc.doc_id.split("-")[1]
    folder = next(cache.iterdir())
    on_disk = (folder / split / f"{doc.doc_id}.txt").read_bytes()
    assert on_disk.count(b"\r\n") == on_disk.count(b"\n") > 3
    generated = {e.id: e.text for e in generate(split, SIZES[f"n_{split}"], SIZES["seed"])[
        int(doc.doc_id.rsplit("-", 1)[1])].entities.values()}
    late = [e for e in doc.entities.values() if e.start > doc.text.index("\r\n") and "\n" not in e.text]
    assert late
    normalized = doc.text.replace("\r\n", "\n")
    shifted = 0
    for e in late:
        assert on_disk.decode()[e.start:e.end] == generated[e.id]
        # the same offsets into LF text would be wrong: the CR characters are counted
        shifted += normalized[e.start:e.end] != generated[e.id]
    assert shifted == len(late)


def test_nested_and_overlapping_spans(corpus):
    pairs = set()
    for d in _all(corpus):
        ents = list(d.entities.values())
        for outer in ents:
            for inner in ents:
                if inner is not outer and outer.start <= inner.start and inner.end <= outer.end \
                        and (inner.start, inner.end) != (outer.start, outer.end):
                    pairs.add((outer.type, inner.type))
    assert {("ADE", "Drug"), ("Reason", "Drug"), ("Dosage", "Strength"), ("Dosage", "Form")} <= pairs


def test_drug_nested_in_its_ade_phrase_by_hand():
    heparin = next(d for d in synthetic.DRUGS if d.names[0] == "heparin")
    other = next(d for d in synthetic.DRUGS if d.names[0] == "lisinopril")
    rng = random.Random(0)
    text, spans = _render("Course complicated by {ade_induced}.", {"1": _Group(heparin, rng),
                                                                   "2": _Group(other, rng)}, {})
    w = _NoteWriter()
    w.add(text, spans)
    start = len("Course complicated by ")
    (ade_s, ade_e, ade_t, _), (drug_s, drug_e, drug_t, _) = w.entities
    assert (ade_t, drug_t) == ("ADE", "Drug")
    assert (drug_s, drug_e) == (start, start + len("heparin")) and text[drug_s:drug_e] == "heparin"
    assert ade_s == start and text[ade_e:] == "." and text[start:ade_e].split()[-1] in heparin.ades
    assert w.relations == [("ADE-Drug", 0, 1)]


def test_dose_form_overlap_by_hand():
    drug = next(d for d in synthetic.DRUGS if d.names[0] == "acetaminophen")
    rng = random.Random(3)
    g = _Group(drug, rng)
    text, spans = _render("Take {dose_form} of {drug}.", {"1": g, "2": g}, {})
    w = _NoteWriter()
    w.add(text, spans)
    by_type = {t: text[s:e] for s, e, t, _ in w.entities}
    count = by_type["Dosage"].split()[0]
    assert by_type["Dosage"] == f"{count} {by_type['Strength']} {by_type['Form']}"
    assert count in synthetic.COUNT_WORDS and by_type["Form"] in synthetic.PLURAL.values()
    assert by_type["Strength"] in drug.strengths + tuple(s.replace(" mg", "mg") for s in drug.strengths)
    assert by_type["Drug"] in drug.names + tuple(n.capitalize() for n in drug.names)
    assert sorted(r[0] for r in w.relations) == ["Dosage-Drug", "Form-Drug", "Strength-Drug"]


def test_long_notes_sentences_and_cross_sentence_relations(corpus, tokenizer):
    docs = _all(corpus)
    lengths = [len(tokenizer(d.text, add_special_tokens=False)["input_ids"]) for d in docs]
    assert sum(n > 128 for n in lengths) >= len(docs) // 2
    assert max(lengths) > 256
    assert all(d.sentences == split_sentences(d.text) and len(d.sentences) > 3 for d in docs)
    after = 0
    for d in docs:
        def sentence(offset: int, d=d) -> int:
            return next(i for i, (s, e) in enumerate(d.sentences) if s <= offset < e)
        after += sum(sentence(d.entities[r.arg1].start) > sentence(d.entities[r.arg2].start)
                     for r in d.relations.values())
    assert after > 0


def test_lexical_variety(corpus):
    train = corpus.splits["train"]
    surface = {t: {e.text.lower() for d in train for e in d.entities.values() if e.type == t}
               for t in N2C2_2018_ENTITY_TYPES}
    assert len(surface["Drug"]) >= 40 and len(surface["Reason"]) >= 20 and len(surface["Frequency"]) >= 20
    assert {"p.o.", "po"} & surface["Route"] and any("." in f for f in surface["Frequency"])


def test_deterministic_cached_and_seed_dependent(corpus, cache, tmp_path):
    folder = synthetic.cache_folder(cache, **SIZES)
    stamp = (folder / "train" / "synth-train-000.ann").stat().st_mtime_ns
    again = load_synthetic(cache, **SIZES)
    assert (folder / "train" / "synth-train-000.ann").stat().st_mtime_ns == stamp  # read, not regenerated
    assert [d.text for d in again.documents()] == [d.text for d in corpus.documents()]
    # a fresh cache gets byte-identical files
    load_synthetic(tmp_path, **SIZES)
    other = synthetic.cache_folder(tmp_path, **SIZES)
    assert other.name == folder.name
    files = sorted(p.relative_to(folder) for p in folder.rglob("*.*"))
    assert len(files) == 2 * 34 and files == sorted(p.relative_to(other) for p in other.rglob("*.*"))
    assert all((folder / f).read_bytes() == (other / f).read_bytes() for f in files)
    assert [d.text for d in generate("test", 3, 14)] != [d.text for d in generate("test", 3, 13)]
    # each split has its own stream: more training notes leave the test notes alone
    assert synthetic.cache_folder(cache, 30, 4, 6, 13) != folder
    assert [d.text for d in generate("test", 6, 13)][:3] == [d.text for d in generate("test", 3, 13)]
