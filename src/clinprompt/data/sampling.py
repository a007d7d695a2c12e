"""Deterministic training subsets: few-shot draws and k-fold cross-validation folds.

Both draw from the training split only (dev and test are never touched; ``kfold_all`` is the exception:
cross-validation over every document, as most published ADE results are) and depend only on the seed and
the documents' ids, never on the order a loader returned them in. Few-shot sets are nested: one fixed
permutation per seed, of which the N-shot set is the first N, so the 50-shot set contains the 25-shot set.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from clinprompt.data.document import Document, Entity, Relation

SHOT_UNITS = ("document", "sentence")


def _permuted(items: Sequence, key, seed: int) -> list:
    ordered = sorted(items, key=key)
    random.Random(seed).shuffle(ordered)
    return ordered


def sentence_document(doc: Document, index: int) -> Document:
    """Sentence ``index`` of ``doc`` as a document of its own (entities inside it, shifted; relations
    whose two arguments are both inside it)."""
    s, e = doc.sentences[index]
    ents = {k: Entity(k, x.type, tuple((a - s, b - s) for a, b in x.fragments), x.text)
            for k, x in doc.entities.items() if x.start >= s and x.end <= e}
    rels = {k: Relation(k, r.type, r.arg1, r.arg2) for k, r in doc.relations.items()
            if r.arg1 in ents and r.arg2 in ents}
    return Document(f"{doc.doc_id}__s{index}", doc.text[s:e], ents, rels, sentences=[(0, e - s)])


def few_shot(docs: Sequence[Document], shots: int | None, seed: int, unit: str = "document") -> list[Document]:
    """``shots`` training units drawn by ``seed``; ``None`` keeps everything."""
    if unit not in SHOT_UNITS:
        raise ValueError(f"dataset.shot_unit={unit!r}: expected one of {SHOT_UNITS}")
    if shots is None:
        return list(docs)
    if shots < 1:
        raise ValueError(f"shots={shots}: expected a positive number of training {unit}s, or null for all")
    if unit == "document":
        pool = _permuted(docs, lambda d: d.doc_id, seed)
        if shots > len(pool):
            raise ValueError(f"shots={shots} but the training split has only {len(pool)} documents")
        return pool[:shots]
    units = [(d.doc_id, i) for d in docs for i in range(len(d.sentences))]
    if shots > len(units):
        raise ValueError(f"shots={shots} but the training split has only {len(units)} sentences")
    by_id = {d.doc_id: d for d in docs}
    return [sentence_document(by_id[doc_id], i) for doc_id, i in _permuted(units, lambda u: u, seed)[:shots]]


def kfold(docs: Sequence[Document], k: int, fold: int, seed: int) -> tuple[list[Document], list[Document]]:
    """(training documents, held-out fold ``fold`` of ``k``): the k held-out folds partition ``docs``."""
    if k < 2 or not 0 <= fold < k:
        raise ValueError(f"fold={fold} of dataset.folds={k}: need k >= 2 and 0 <= fold < k")
    if len(docs) < k:
        raise ValueError(f"dataset.folds={k} but the training split has only {len(docs)} documents")
    order = _permuted(docs, lambda d: d.doc_id, seed)
    held = [d for i, d in enumerate(order) if i % k == fold]
    return [d for i, d in enumerate(order) if i % k != fold], held


def kfold_all(docs: Sequence[Document], k: int, fold: int, seed: int, dev_fraction: float = 0.1
              ) -> tuple[list[Document], list[Document], list[Document]]:
    """(train, dev, test) for fold ``fold`` of ``k`` over ``docs`` (every document of the corpus): the held-out
    fold is test, so the k tests partition the corpus; dev is a seeded ``dev_fraction`` of the other folds
    (checkpoint selection never sees the test fold)."""
    rest, test = kfold(docs, k, fold, seed)
    n_dev = max(1, round(len(rest) * dev_fraction)) if len(rest) >= 2 else 0
    dev_ids = {d.doc_id for d in _permuted(rest, lambda d: d.doc_id, seed)[:n_dev]}
    return [d for d in rest if d.doc_id not in dev_ids], [d for d in rest if d.doc_id in dev_ids], test
