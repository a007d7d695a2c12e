"""Few-shot draws are deterministic, nested and train-only; folds partition the training set."""

from __future__ import annotations

import pytest

from clinprompt.data.document import Document, Entity, Relation
from clinprompt.data.sampling import few_shot, kfold, sentence_document
from clinprompt.data.sentences import split_sentences

DOCS = [Document(f"doc{i:02d}", f"text {i}") for i in range(40)]


def test_few_shot_is_deterministic_and_nested():
    a = few_shot(DOCS, 10, seed=1)
    assert [d.doc_id for d in a] == [d.doc_id for d in few_shot(list(reversed(DOCS)), 10, seed=1)]
    big = few_shot(DOCS, 25, seed=1)
    assert {d.doc_id for d in a} < {d.doc_id for d in big}
    assert {d.doc_id for d in few_shot(DOCS, 10, seed=2)} != {d.doc_id for d in a}
    assert few_shot(DOCS, None, seed=1) == DOCS
    with pytest.raises(ValueError, match="only 40 documents"):
        few_shot(DOCS, 41, seed=1)


def test_sentence_shots_keep_inside_annotations():
    text = "Aspirin 81 mg daily. Warfarin 5 mg."
    ents = {"T1": Entity("T1", "Drug", ((0, 7),)), "T2": Entity("T2", "Strength", ((8, 13),)),
            "T3": Entity("T3", "Drug", ((21, 29),)), "T4": Entity("T4", "Strength", ((30, 34),))}
    rels = {"R1": Relation("R1", "Strength-Drug", "T2", "T1"), "R2": Relation("R2", "Strength-Drug", "T4", "T3")}
    doc = Document("n", text, ents, rels, sentences=split_sentences(text))
    second = sentence_document(doc, 1)
    assert second.text == "Warfarin 5 mg."
    assert {k: e.span for k, e in second.entities.items()} == {"T3": (0, 8), "T4": (9, 13)}
    assert list(second.relations) == ["R2"]
    drawn = few_shot([doc], 1, seed=0, unit="sentence")
    assert len(drawn) == 1 and drawn[0].doc_id in ("n__s0", "n__s1")


def test_folds_partition_training_documents():
    held = [kfold(DOCS, 5, f, seed=3)[1] for f in range(5)]
    ids = [d.doc_id for fold in held for d in fold]
    assert sorted(ids) == sorted(d.doc_id for d in DOCS)  # each document held out exactly once
    train, dev = kfold(DOCS, 5, 2, seed=3)
    assert not {d.doc_id for d in train} & {d.doc_id for d in dev} and len(train) + len(dev) == 40
    with pytest.raises(ValueError, match="fold=5"):
        kfold(DOCS, 5, 5, seed=3)


def test_sentence_splitter_on_clinical_text():
    text = "Metoprolol 25 mg p.o. Daily for HTN. Aspirin 81 mg q.d.\r\nDr. Smith saw pt. He is fine!\n\n  Done."
    got = [text[s:e] for s, e in split_sentences(text)]
    assert got == ["Metoprolol 25 mg p.o. Daily for HTN.", "Aspirin 81 mg q.d.", "Dr. Smith saw pt. He is fine!",
                   "Done."]
