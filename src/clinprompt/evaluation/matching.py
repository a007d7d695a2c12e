"""One-to-one matching of gold and predicted spans with n2c2 2018 track 2 semantics.

strict: same label and same outer span (a discontinuous entity is reduced to first start .. last end).
lenient: same label and at least one shared character.

Every gold item and every predicted item is used at most once. Predictions are processed in text order;
each takes the still-unmatched compatible gold item with the highest score (1 for an exact match, the
number of shared characters in lenient mode), ties going to the earliest gold item. For exact matching
this greedy is optimal (exact matches form equivalence classes), and it is what the official scorer does
for overlaps.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Literal, NamedTuple, TypeVar

from clinprompt.data.document import Document, Fragment

Mode = Literal["strict", "lenient"]
MODES: tuple[Mode, Mode] = ("strict", "lenient")

T = TypeVar("T")


class Mention(NamedTuple):
    """A typed outer span: what concept scoring compares."""

    label: str
    start: int
    end: int


class RelationMention(NamedTuple):
    label: str
    arg1: Mention
    arg2: Mention


def overlap(a: Fragment, b: Fragment) -> int:
    """Number of characters shared by two [start, end) spans."""
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def span_score(gold: Mention, pred: Mention, mode: Mode) -> int:
    """> 0 when the two mentions match under ``mode``; larger is a better lenient match."""
    if gold.label != pred.label:
        return 0
    if mode == "strict":
        return int(gold.start == pred.start and gold.end == pred.end)
    if mode == "lenient":
        return overlap((gold.start, gold.end), (pred.start, pred.end))
    raise ValueError(f"unknown matching mode {mode!r}: use 'strict' or 'lenient'")


def relation_score(gold: RelationMention, pred: RelationMention, mode: Mode) -> int:
    """> 0 when types match and both arguments (entity type and span) match under ``mode``."""
    if gold.label != pred.label:
        return 0
    s1, s2 = span_score(gold.arg1, pred.arg1, mode), span_score(gold.arg2, pred.arg2, mode)
    return s1 + s2 if s1 and s2 else 0


def one_to_one(gold: Sequence[T], pred: Sequence[T], score: Callable[[T, T], int],
               order: Callable[[T], tuple]) -> list[tuple[int, int]]:
    """Greedy one-to-one matching; returns (gold index, pred index) pairs."""
    gold_order = sorted(range(len(gold)), key=lambda i: (order(gold[i]), i))
    used: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for j in sorted(range(len(pred)), key=lambda j: (order(pred[j]), j)):
        best, best_score = -1, 0
        for i in gold_order:
            if i in used:
                continue
            s = score(gold[i], pred[j])
            if s > best_score:  # strict '>' keeps the earliest gold on ties
                best, best_score = i, s
        if best >= 0:
            used.add(best)
            pairs.append((best, j))
    return pairs


def _bucketed(gold: Sequence, pred: Sequence, key: Callable, match: Callable) -> list[tuple[int, int]]:
    """Match only within equal ``key`` buckets (labels never cross), which keeps matching near-linear."""
    g_by, p_by = defaultdict(list), defaultdict(list)
    for i, g in enumerate(gold):
        g_by[key(g)].append(i)
    for j, p in enumerate(pred):
        p_by[key(p)].append(j)
    pairs = []
    for k, js in p_by.items():
        is_ = g_by.get(k, [])
        if is_:
            sub = match([gold[i] for i in is_], [pred[j] for j in js])
            pairs.extend((is_[a], js[b]) for a, b in sub)
    return pairs


def match_mentions(gold: Sequence[Mention], pred: Sequence[Mention], mode: Mode) -> list[tuple[int, int]]:
    return _bucketed(gold, pred, lambda m: m.label,
                     lambda g, p: one_to_one(g, p, lambda a, b: span_score(a, b, mode), lambda m: (m.start, m.end)))


def match_relations(gold: Sequence[RelationMention], pred: Sequence[RelationMention],
                    mode: Mode) -> list[tuple[int, int]]:
    def order(r: RelationMention) -> tuple:
        return (r.arg1.start, r.arg1.end, r.arg2.start, r.arg2.end)

    return _bucketed(gold, pred, lambda r: r.label,
                     lambda g, p: one_to_one(g, p, lambda a, b: relation_score(a, b, mode), order))


def match_counts(gold: Sequence[Mention], pred: Sequence[Mention], mode: Mode) -> tuple[int, int, int]:
    """(tp, fp, fn) over all labels."""
    tp = len(match_mentions(gold, pred, mode))
    return tp, len(pred) - tp, len(gold) - tp


def counts_by_label(gold: Sequence[Mention | RelationMention], pred: Sequence[Mention | RelationMention],
                    pairs: Iterable[tuple[int, int]]) -> dict[Hashable, list[int]]:
    """{label: [tp, fp, fn]} from a matching of ``gold`` and ``pred`` (matches never cross labels)."""
    tp: Counter = Counter(gold[i].label for i, _ in pairs)
    n_pred: Counter = Counter(p.label for p in pred)
    n_gold: Counter = Counter(g.label for g in gold)
    return {k: [tp[k], n_pred[k] - tp[k], n_gold[k] - tp[k]] for k in n_pred.keys() | n_gold.keys()}


# ---- from documents -----------------------------------------------------------------------------


def mentions_of(doc: Document, types: Iterable[str] | None = None) -> list[Mention]:
    """The document's entities of ``types`` (all when None) as outer-span mentions."""
    keep = None if types is None else set(types)
    return [Mention(e.type, e.start, e.end) for e in doc.entities.values() if keep is None or e.type in keep]


def relation_mentions_of(doc: Document, types: Iterable[str]) -> list[RelationMention]:
    """Relations of ``types`` with their argument entities; relations to missing entities are skipped
    (the brat reader reports those as input issues)."""
    keep = set(types)
    out = []
    for r in doc.relations.values():
        a1, a2 = doc.entities.get(r.arg1), doc.entities.get(r.arg2)
        if r.type in keep and a1 is not None and a2 is not None:
            out.append(RelationMention(r.type, Mention(a1.type, a1.start, a1.end), Mention(a2.type, a2.start, a2.end)))
    return out


def pair_documents(gold: Sequence[Document], pred: Sequence[Document]) -> list[tuple[Document | None, Document | None]]:
    """Gold and predicted documents paired by ``doc_id`` (None where one side lacks the document)."""
    for side, docs in (("gold", gold), ("pred", pred)):
        seen: set[str] = set()
        for d in docs:
            if d.doc_id in seen:
                raise ValueError(f"{side} documents: doc_id {d.doc_id!r} appears twice; doc ids must be unique")
            seen.add(d.doc_id)
    by_id = {d.doc_id: d for d in pred}
    pairs: list[tuple[Document | None, Document | None]] = [(g, by_id.pop(g.doc_id, None)) for g in gold]
    pairs.extend((None, p) for p in pred if p.doc_id in by_id)
    return pairs
