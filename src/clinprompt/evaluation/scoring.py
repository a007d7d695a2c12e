"""Concept and relation scores with n2c2 2018 track 2 semantics, as a distributed-safe torchmetrics Metric.

Counts (tp, fp, fn) are kept per mode (strict, lenient) and per type in tensors summed across processes,
so the same numbers come out whether documents are scored in one call, in many batches, or on many GPUs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torchmetrics

from clinprompt.data.document import Document
from clinprompt.evaluation.matching import (
    MODES,
    Mode,
    counts_by_label,
    match_mentions,
    match_relations,
    mentions_of,
    pair_documents,
    relation_mentions_of,
)


def prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    """Precision, recall, F1 and the counts; an undefined ratio (0/0) is 0."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "tp": tp, "fp": fp, "fn": fn}


def summarize(types: Sequence[str], tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor) -> dict:
    """Per-type, micro and macro scores from 1-D count tensors aligned with ``types``.

    micro: P/R/F1 of the counts summed over types.
    macro: the unweighted mean of per-type precision, recall and F1 over the types that occur in the gold
    or in the predictions (tp + fp + fn > 0); a type absent from both would add an arbitrary 0 (or 1) and
    is left out. With no such type at all, macro is 0.
    """
    per_type = {t: prf(int(tp[i]), int(fp[i]), int(fn[i])) for i, t in enumerate(types)}
    present = [per_type[t] for t in types if per_type[t]["tp"] + per_type[t]["fp"] + per_type[t]["fn"] > 0]
    macro = {k: (sum(m[k] for m in present) / len(present) if present else 0.0)
             for k in ("precision", "recall", "f1")}
    micro = prf(int(tp.sum()), int(fp.sum()), int(fn.sum()))
    return {"micro": micro, "macro": macro, "per_type": per_type}


class ExtractionScore(torchmetrics.Metric):
    """Concept (and relation) strict/lenient P/R/F1.

    ``update(gold, pred, relation_pred=None)`` pairs documents by ``doc_id``: a gold document without a
    prediction counts all its gold as false negatives, a predicted document without gold counts all its
    predictions as false positives. Entities and relations of types outside ``entity_types`` /
    ``relation_types`` are ignored on both sides. ``relation_pred`` (default ``pred``) lets a pipeline
    score concepts from one prediction and relations from another (e.g. end-to-end output).
    """

    full_state_update = False
    higher_is_better = True
    is_differentiable = False

    def __init__(self, entity_types: Sequence[str], relation_types: Sequence[str] = (), **kwargs):
        super().__init__(**kwargs)
        self.entity_types = tuple(entity_types)
        self.relation_types = tuple(relation_types)
        if len(set(self.entity_types)) != len(self.entity_types):
            raise ValueError(f"entity_types has duplicates: {list(self.entity_types)}")
        for kind, n in (("concept", len(self.entity_types)), ("relation", len(self.relation_types))):
            for c in ("tp", "fp", "fn"):
                self.add_state(f"{kind}_{c}", default=torch.zeros(len(MODES), n, dtype=torch.long),
                               dist_reduce_fx="sum")

    def update(self, gold: Sequence[Document], pred: Sequence[Document],
               relation_pred: Sequence[Document] | None = None) -> None:
        counts = torch.zeros(3, len(MODES), len(self.entity_types), dtype=torch.long)
        for g, p in pair_documents(gold, pred):
            self._add(counts, self.entity_types, *_concept_counts(g, p, self.entity_types))
        self.concept_tp += counts[0].to(self.concept_tp.device)
        self.concept_fp += counts[1].to(self.concept_fp.device)
        self.concept_fn += counts[2].to(self.concept_fn.device)
        if not self.relation_types:
            return
        counts = torch.zeros(3, len(MODES), len(self.relation_types), dtype=torch.long)
        for g, p in pair_documents(gold, pred if relation_pred is None else relation_pred):
            self._add(counts, self.relation_types, *_relation_counts(g, p, self.relation_types))
        self.relation_tp += counts[0].to(self.relation_tp.device)
        self.relation_fp += counts[1].to(self.relation_fp.device)
        self.relation_fn += counts[2].to(self.relation_fn.device)

    @staticmethod
    def _add(counts: torch.Tensor, types: tuple[str, ...], *by_mode: dict) -> None:
        index = {t: i for i, t in enumerate(types)}
        for m, by_label in enumerate(by_mode):
            for label, (tp, fp, fn) in by_label.items():
                counts[:, m, index[label]] += torch.tensor([tp, fp, fn])

    def compute(self) -> dict:
        out = {"concepts": {mode: summarize(self.entity_types, self.concept_tp[m], self.concept_fp[m],
                                            self.concept_fn[m]) for m, mode in enumerate(MODES)}}
        if self.relation_types:
            out["relations"] = {mode: summarize(self.relation_types, self.relation_tp[m], self.relation_fp[m],
                                                self.relation_fn[m]) for m, mode in enumerate(MODES)}
        return out


def _empty(d: Document | None, other: Document | None) -> Document:
    return d if d is not None else Document(other.doc_id if other is not None else "", "")


def _concept_counts(gold: Document | None, pred: Document | None, types: Sequence[str]) -> tuple[dict, ...]:
    g, p = mentions_of(_empty(gold, pred), types), mentions_of(_empty(pred, gold), types)
    return tuple(counts_by_label(g, p, match_mentions(g, p, mode)) for mode in MODES)


def _relation_counts(gold: Document | None, pred: Document | None, types: Sequence[str]) -> tuple[dict, ...]:
    g, p = relation_mentions_of(_empty(gold, pred), types), relation_mentions_of(_empty(pred, gold), types)
    return tuple(counts_by_label(g, p, match_relations(g, p, mode)) for mode in MODES)


def score_documents(gold: Sequence[Document], pred: Sequence[Document], entity_types: Sequence[str],
                    relation_types: Sequence[str] = ()) -> dict:
    """One-shot scores of ``pred`` against ``gold`` (see :class:`ExtractionScore`)."""
    # local by construction: under DDP a synced compute here would be a collective per document
    metric = ExtractionScore(entity_types, relation_types, sync_on_compute=False)
    metric.update(gold, pred)
    return metric.compute()


OVERLAP_CLASSES = ("nested", "overlapping", "flat")


def overlap_class(doc: Document, types: Sequence[str] | None = None) -> dict[str, str]:
    """Each gold entity id -> 'nested' (inside another gold entity, identical spans included),
    'overlapping' (shares characters with another gold entity without either containing the other) or
    'flat'. Nested wins over overlapping; an entity that only contains others is flat."""
    ents = [e for e in doc.entities.values() if types is None or e.type in types]
    out = {}
    for e in ents:
        cls = "flat"
        for o in ents:
            if o.id == e.id:
                continue
            if o.start <= e.start and e.end <= o.end:
                cls = "nested"
                break
            if min(e.end, o.end) > max(e.start, o.start) and not (e.start <= o.start and o.end <= e.end):
                cls = "overlapping"
        out[e.id] = cls
    return out


def entity_recall_by_overlap_class(gold_docs: Sequence[Document], pred_docs: Sequence[Document],
                                   mode: Mode = "strict", entity_types: Sequence[str] | None = None) -> dict:
    """Recall of gold entities split by :func:`overlap_class` (the paper's error analysis).

    Matching is the same one-to-one matching as the concept score. Returns
    ``{cls: {"recall", "matched", "total"}}`` for cls in nested / overlapping / flat.
    """
    matched = dict.fromkeys(OVERLAP_CLASSES, 0)
    total = dict.fromkeys(OVERLAP_CLASSES, 0)
    for g, p in pair_documents(gold_docs, pred_docs):
        if g is None:
            continue
        ents = [e for e in g.entities.values() if entity_types is None or e.type in entity_types]
        classes = overlap_class(g, entity_types)
        gm = mentions_of(Document(g.doc_id, "", {e.id: e for e in ents}))
        pm = mentions_of(p, entity_types) if p is not None else []
        hit = {i for i, _ in match_mentions(gm, pm, mode)}
        for i, e in enumerate(ents):
            total[classes[e.id]] += 1
            matched[classes[e.id]] += i in hit
    return {c: {"recall": matched[c] / total[c] if total[c] else 0.0, "matched": matched[c], "total": total[c]}
            for c in OVERLAP_CLASSES}
