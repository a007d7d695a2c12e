"""Per-document error analysis of predicted annotations against gold, with the scorer's own matching.

Spans and relations are paired by the scorer's one-to-one matching (``match_mentions`` / ``match_relations``)
and the totals are checked against ``score_documents``, so every count here equals ``clinprompt-score`` on the
same folders. Unmatched items are refined, never re-counted: an unmatched prediction with exactly the span of
an unmatched gold entity of another type is a *type error*; one overlapping an unmatched gold entity of the
same type is a *boundary error* (strict mode). Each such pair is still one false positive and one false
negative in the counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from clinprompt.data.brat import SKIPPED, BratIssue, read_gold_and_predictions
from clinprompt.data.document import Document, Entity, Relation
from clinprompt.evaluation.matching import (
    Mention,
    Mode,
    match_mentions,
    match_relations,
    mentions_of,
    one_to_one,
    overlap,
    pair_documents,
    relation_mentions_of,
    span_score,
)
from clinprompt.evaluation.scoring import prf, score_documents


@dataclass(frozen=True)
class Span:
    """One gold or predicted entity with its outcome: kind tp / fp / fn, error '' / 'boundary' / 'type'."""

    side: str                # gold | pred
    id: str                  # brat id in its own file
    type: str
    start: int
    end: int
    kind: str
    error: str = ""
    partner: str = ""        # id of the matched or paired entity on the other side


@dataclass(frozen=True)
class RelationRow:
    """One gold or predicted relation: kind tp (correct), fn (missed) or fp (spurious)."""

    kind: str
    type: str
    arg1: Mention
    arg2: Mention
    gold_id: str = ""
    pred_id: str = ""
    # for a missed or spurious relation: does each argument match an entity on the other side (same mode)?
    args_found: tuple[bool, bool] = (True, True)


@dataclass
class DocErrors:
    doc_id: str
    text: str
    spans: list[Span] = field(default_factory=list)
    relations: list[RelationRow] = field(default_factory=list)
    has_gold: bool = True
    has_pred: bool = True

    def counts(self, what: str = "concepts") -> tuple[int, int, int]:
        """(tp, fp, fn) of concepts (predicted side for tp) or relations."""
        if what == "relations":
            kinds = [r.kind for r in self.relations]
            return kinds.count("tp"), kinds.count("fp"), kinds.count("fn")
        tp = sum(s.side == "pred" and s.kind == "tp" for s in self.spans)
        fp = sum(s.kind == "fp" for s in self.spans)
        fn = sum(s.kind == "fn" for s in self.spans)
        return tp, fp, fn

    def f1(self, what: str = "concepts") -> float:
        return float(prf(*self.counts(what))["f1"])

    def errors(self, error: str) -> int:
        """Number of boundary or type error pairs (counted on the predicted side)."""
        return sum(s.side == "pred" and s.error == error for s in self.spans)


@dataclass
class Analysis:
    mode: Mode
    entity_types: tuple[str, ...]
    relation_types: tuple[str, ...]
    docs: list[DocErrors]
    scores: dict                        # score_documents(...) on the same documents
    issues: dict[str, list[BratIssue]] = field(default_factory=dict)


# ---- reading ------------------------------------------------------------------------------------------------------
def read_folders(gold_dir: Path, pred_dir: Path) -> tuple[list[Document], list[Document], dict[str, list[BratIssue]]]:
    """Gold notes and predictions exactly as ``clinprompt-score`` reads them (a prediction folder may hold .ann
    files alone: the text comes from the gold notes); bad lines are returned as issues by side."""
    return read_gold_and_predictions(Path(gold_dir), Path(pred_dir))


def issue_counts(issues: dict[str, list[BratIssue]]) -> str:
    """"N bad input lines (S skipped, K kept with a warning)": the reader's own count by what it did."""
    found = [i for side in issues.values() for i in side]
    skipped = sum(i.action == SKIPPED for i in found)
    return f"{len(found)} bad input lines ({skipped} skipped, {len(found) - skipped} kept with a warning)"


# ---- analysis -----------------------------------------------------------------------------------------------------
def _entities(doc: Document | None, types: Sequence[str]) -> tuple[list[Entity], list[Mention]]:
    if doc is None:
        return [], []
    ents = [e for e in doc.entities.values() if e.type in types]
    mentions = mentions_of(doc, types)
    assert [(m.label, m.start, m.end) for m in mentions] == [(e.type, e.start, e.end) for e in ents]
    return ents, mentions


def _relations(doc: Document | None, types: Sequence[str]) -> tuple[list[Relation], list]:
    if doc is None:
        return [], []
    rels = [r for r in doc.relations.values()
            if r.type in types and r.arg1 in doc.entities and r.arg2 in doc.entities]
    mentions = relation_mentions_of(doc, types)
    assert [m.label for m in mentions] == [r.type for r in rels]
    return rels, mentions


def _refine(gm: list[Mention], pm: list[Mention], g_left: list[int], p_left: list[int]) -> dict[tuple[int, int], str]:
    """Pair leftover gold and predictions into type errors (same span), then boundary errors (same type,
    overlapping), one-to-one with the scorer's greedy matcher."""
    def same_span(g: Mention, p: Mention) -> int:
        return int(g.label != p.label and (g.start, g.end) == (p.start, p.end))

    def shifted(g: Mention, p: Mention) -> int:
        return overlap((g.start, g.end), (p.start, p.end)) if g.label == p.label else 0

    out: dict[tuple[int, int], str] = {}
    for error, score in (("type", same_span), ("boundary", shifted)):
        gs = [i for i in g_left if i not in {a for a, _ in out}]
        ps = [j for j in p_left if j not in {b for _, b in out}]
        for a, b in one_to_one([gm[i] for i in gs], [pm[j] for j in ps], score, lambda m: (m.start, m.end)):
            out[(gs[a], ps[b])] = error
    return out


def analyse_document(gold: Document | None, pred: Document | None, types: Sequence[str],
                     relation_types: Sequence[str], mode: Mode = "strict") -> DocErrors:
    base = gold if gold is not None else pred
    assert base is not None
    doc = DocErrors(base.doc_id, base.text, has_gold=gold is not None, has_pred=pred is not None)
    (ge, gm), (pe, pm) = _entities(gold, types), _entities(pred, types)
    pairs = match_mentions(gm, pm, mode)
    g_hit, p_hit = dict(pairs), {j: i for i, j in pairs}
    refined = _refine(gm, pm, [i for i in range(len(gm)) if i not in g_hit],
                      [j for j in range(len(pm)) if j not in p_hit])
    g_err = {i: (e, j) for (i, j), e in refined.items()}
    p_err = {j: (e, i) for (i, j), e in refined.items()}
    for i, e in enumerate(ge):
        if i in g_hit:
            doc.spans.append(Span("gold", e.id, e.type, e.start, e.end, "tp", "", pe[g_hit[i]].id))
        else:
            err, j = g_err.get(i, ("", None))
            doc.spans.append(Span("gold", e.id, e.type, e.start, e.end, "fn", err, pe[j].id if j is not None else ""))
    for j, e in enumerate(pe):
        if j in p_hit:
            doc.spans.append(Span("pred", e.id, e.type, e.start, e.end, "tp", "", ge[p_hit[j]].id))
        else:
            err, i = p_err.get(j, ("", None))
            doc.spans.append(Span("pred", e.id, e.type, e.start, e.end, "fp", err, ge[i].id if i is not None else ""))
    (gr, grm), (pr, prm) = _relations(gold, relation_types), _relations(pred, relation_types)
    rpairs = match_relations(grm, prm, mode)
    rg_hit, rp_hit = dict(rpairs), {j: i for i, j in rpairs}
    def found(arg: Mention, other: list[Mention]) -> bool:
        return any(span_score(arg, o, mode) for o in other)

    for i, r in enumerate(gr):
        if i in rg_hit:
            doc.relations.append(RelationRow("tp", r.type, grm[i].arg1, grm[i].arg2, r.id, pr[rg_hit[i]].id))
        else:
            doc.relations.append(RelationRow("fn", r.type, grm[i].arg1, grm[i].arg2, r.id, "",
                                             (found(grm[i].arg1, pm), found(grm[i].arg2, pm))))
    for j, r in enumerate(pr):
        if j not in rp_hit:
            doc.relations.append(RelationRow("fp", r.type, prm[j].arg1, prm[j].arg2, "", r.id,
                                             (found(prm[j].arg1, gm), found(prm[j].arg2, gm))))
    doc.relations.sort(key=lambda r: (r.arg2.start, r.arg1.start, r.type, r.kind))
    return doc


def analyse(gold: Sequence[Document], pred: Sequence[Document], entity_types: Sequence[str] | None = None,
            relation_types: Sequence[str] | None = None, mode: Mode = "strict") -> Analysis:
    """Every document's outcomes; types default to those in the gold (as ``clinprompt-score``)."""
    types = tuple(entity_types if entity_types is not None
                  else sorted({e.type for d in gold for e in d.entities.values()}))
    rels = tuple(relation_types if relation_types is not None
                 else sorted({r.type for d in gold for r in d.relations.values()}))
    docs = [analyse_document(g, p, types, rels, mode) for g, p in pair_documents(gold, pred)]
    scores = score_documents(gold, pred, types, rels)
    _check(docs, scores, mode, bool(rels))
    return Analysis(mode, types, rels, docs, scores)


def _check(docs: list[DocErrors], scores: dict, mode: Mode, relations: bool) -> None:
    """The page must never show counts other than the scorer's."""
    for what in ("concepts", "relations") if relations else ("concepts",):
        ours = [sum(c) for c in zip(*(d.counts(what) for d in docs), strict=True)] if docs else [0, 0, 0]
        micro = scores[what][mode]["micro"]
        theirs = [micro["tp"], micro["fp"], micro["fn"]]
        if ours != theirs:
            raise RuntimeError(f"internal error: {what} {mode} counts {ours} differ from the scorer's {theirs}")
