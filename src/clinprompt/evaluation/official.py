"""The counting of the n2c2 2018 track 2 evaluation script, for comparison with published numbers.

Semantics reproduced (our own code, not a copy) from the track 2 evaluation script distributed with the n2c2
2018 data (``track2_eval.py``: ``RecordTrack2``, ``SingleEvaluator``, ``MultipleEvaluator``, ``Corpora``), read in
the copies that keep its counting unchanged, e.g. NLPatVCU/medaCy ``inter_dataset_agreement.py`` ("came with the
n2c2 dataset"); filannim/2018_n2c2_evaluation_scripts is the same family (track 1):

- Files: only notes with an .ann on both sides are scored; the others are skipped (listed, not counted).
- Spans: a T line's span is its first listed start .. its last listed end (fragments in between ignored).
- Equality: same type and, strict, equal (start, end); lenient, at least one shared character. A relation
  is equal when its type is equal and both arguments (Arg1 with Arg1, Arg2 with Arg2) are equal entities.
- Per note, system items in file order each mark every equal gold item as matched; a system item equal
  to a gold item some earlier system item already matched is *dropped* (neither true nor false positive).
  Then tp = remaining system items equal to some gold item, fp = remaining system items - tp,
  fn = gold items - tp. So one system item overlapping two gold items is one tp and one fn, and a duplicate
  prediction of a found gold item costs nothing.
- Every type counts (the overall figures are over all types in the files); per-type rows use the same
  counting restricted to the type. ``macro`` is the script's "Overall (macro)": the mean over notes of the
  per-note P/R/F1 (a note with nothing to count contributes 0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from clinprompt.data.document import Document
from clinprompt.evaluation.matching import MODES, Mode

_Span = tuple[str, int, int]  # type, start, end


class _Rel(NamedTuple):
    label: str
    arg1: _Span
    arg2: _Span


def _span_equal(g: _Span, s: _Span, mode: Mode) -> bool:
    if g[0] != s[0]:
        return False
    if mode == "strict":
        return g[1:] == s[1:]
    return g[2] > s[1] and g[1] < s[2]


def _rel_equal(g: _Rel, s: _Rel, mode: Mode) -> bool:
    return g.label == s.label and _span_equal(g.arg1, s.arg1, mode) and _span_equal(g.arg2, s.arg2, mode)


def _spans(doc: Document) -> dict[str, _Span]:
    # the script's reduction: start of the first listed fragment, end of the last listed one
    return {k: (e.type, e.fragments[0][0], e.fragments[-1][1]) for k, e in doc.entities.items()}


def _rels(doc: Document) -> list[_Rel]:
    spans = _spans(doc)
    return [_Rel(r.type, spans[r.arg1], spans[r.arg2]) for r in doc.relations.values()
            if r.arg1 in spans and r.arg2 in spans]


def note_counts(gold: Sequence, system: Sequence, equal: Callable[[object, object], bool]) -> tuple[int, int, int]:
    """(tp, fp, fn) of one note with the script's duplicate rule (see the module docstring)."""
    matched: set[int] = set()
    kept = []
    for s in system:
        dropped = False
        for i, g in enumerate(gold):
            if equal(g, s):
                if i in matched:
                    dropped = True
                matched.add(i)
        if not dropped:
            kept.append(s)
    tp = sum(any(equal(g, s) for g in gold) for s in kept)
    return tp, len(kept) - tp, len(gold) - tp


def _prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "tp": tp, "fp": fp, "fn": fn}


def _score(pairs: list[tuple[list, list]], labels: Sequence[str], equal: Callable, label_of: Callable) -> dict:
    total, macro = [0, 0, 0], {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    for g, s in pairs:
        c = note_counts(g, s, equal)
        total = [a + b for a, b in zip(total, c, strict=True)]
        for k, v in _prf(*c).items():
            if k in macro:
                macro[k] += v / len(pairs)
    per_type = {}
    for t in labels:
        c = [0, 0, 0]
        for g, s in pairs:
            n = note_counts([x for x in g if label_of(x) == t], [x for x in s if label_of(x) == t], equal)
            c = [a + b for a, b in zip(c, n, strict=True)]
        per_type[t] = _prf(*c)
    return {"micro": _prf(*total), "macro": macro, "per_type": per_type}


def official_scores(gold: Sequence[Document], pred: Sequence[Document]) -> tuple[dict, list[str]]:
    """Scores as the n2c2 2018 track 2 script counts them, and the doc ids it skips (present on one side
    only). Concepts and relations, strict and lenient; per-type rows for every type on either side."""
    by_id = {d.doc_id: d for d in pred}
    common = [(g, by_id[g.doc_id]) for g in gold if g.doc_id in by_id]
    gold_ids = {g.doc_id for g in gold}
    skipped = sorted(gold_ids ^ by_id.keys())
    ent_pairs = [(list(_spans(g).values()), list(_spans(p).values())) for g, p in common]
    rel_pairs = [(_rels(g), _rels(p)) for g, p in common]
    etypes = sorted({x[0] for g, s in ent_pairs for x in g + s})
    rtypes = sorted({x.label for g, s in rel_pairs for x in g + s})
    out = {"concepts": {m: _score(ent_pairs, etypes, lambda g, s, m=m: _span_equal(g, s, m), lambda x: x[0])
                        for m in MODES}}
    if rtypes:
        out["relations"] = {m: _score(rel_pairs, rtypes, lambda g, s, m=m: _rel_equal(g, s, m), lambda x: x.label)
                            for m in MODES}
    return out, skipped
