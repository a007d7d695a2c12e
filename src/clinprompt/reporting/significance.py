"""Paired significance of a micro-F1 difference between two systems on the same test documents.

Micro F1 is a ratio of sums, not a mean of per-document scores, so both tests resample whole documents and
recompute F1 from the summed (tp, fp, fn) counts:

* paired bootstrap CI of F1(A) - F1(B): ``scipy.stats.bootstrap(paired=True)`` over documents;
* approximate randomization: ``scipy.stats.permutation_test(permutation_type="samples")`` swaps the two
  systems' outputs within each document (exact when 2**n_docs <= n_resamples).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class PairedComparison:
    n_docs: int
    f1_a: float
    f1_b: float
    diff: float          # f1_a - f1_b
    ci_low: float
    ci_high: float
    p_value: float       # two-sided approximate randomization
    confidence: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def micro_f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """F1 = 2tp / (2tp + fp + fn), 0 where nothing was predicted or annotated (elementwise)."""
    tp, fp, fn = (np.asarray(x, dtype=float) for x in (tp, fp, fn))
    den = 2 * tp + fp + fn
    return np.divide(2 * tp, den, out=np.zeros(np.broadcast(tp, den).shape), where=den > 0)


def _as_counts(x: np.ndarray | Sequence, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name}: expected per-document counts of shape (n_docs, 3) = [tp, fp, fn], got {arr.shape}")
    return arr


def f1_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Micro F1 of summed counts of system A minus that of system B."""
    sa, sb = a.sum(axis=0), b.sum(axis=0)
    return float(micro_f1(*sa) - micro_f1(*sb))


def paired_bootstrap_ci(a: np.ndarray | Sequence, b: np.ndarray | Sequence, *, confidence: float = 0.95,
                        n_resamples: int = 9999, seed: int = 0, method: str = "percentile") -> tuple[float, float]:
    """Confidence interval of F1(A) - F1(B), resampling documents (rows) with replacement, pairs kept."""
    a, b = _as_counts(a, "a"), _as_counts(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"paired comparison needs the same documents: {a.shape[0]} vs {b.shape[0]}")

    def stat(tpa, fpa, fna, tpb, fpb, fnb, axis=-1):
        return (micro_f1(tpa.sum(axis), fpa.sum(axis), fna.sum(axis))
                - micro_f1(tpb.sum(axis), fpb.sum(axis), fnb.sum(axis)))

    data = (*a.T, *b.T)
    res = stats.bootstrap(data, stat, paired=True, vectorized=True, confidence_level=confidence,
                          n_resamples=n_resamples, method=method, rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def randomization_test(a: np.ndarray | Sequence, b: np.ndarray | Sequence, *, n_resamples: int = 9999,
                       seed: int = 0) -> float:
    """Two-sided p-value of F1(A) - F1(B) under H0 "A's and B's output for a document are exchangeable"."""
    a, b = _as_counts(a, "a"), _as_counts(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"paired comparison needs the same documents: {a.shape[0]} vs {b.shape[0]}")
    n = a.shape[0]
    table = np.concatenate([a, b])  # row i: A on doc i; row n + i: B on doc i
    # the samples are row indices into `table`, so swapping sample entries swaps A and B on that document
    idx_a, idx_b = np.arange(n), np.arange(n) + n

    def stat(ia, ib, axis=-1):
        fa = micro_f1(*(np.take(table[:, k], ia).sum(axis) for k in range(3)))
        fb = micro_f1(*(np.take(table[:, k], ib).sum(axis) for k in range(3)))
        return fa - fb

    res = stats.permutation_test((idx_a, idx_b), stat, permutation_type="samples", vectorized=True,
                                 n_resamples=n_resamples, alternative="two-sided", rng=np.random.default_rng(seed))
    return float(res.pvalue)


def compare(a: np.ndarray | Sequence, b: np.ndarray | Sequence, *, confidence: float = 0.95,
            n_resamples: int = 9999, seed: int = 0) -> PairedComparison:
    """Both tests and the point estimates for one pair of systems."""
    a, b = _as_counts(a, "a"), _as_counts(b, "b")
    lo, hi, p = math.nan, math.nan, math.nan  # one document: nothing to resample or swap
    if a.shape[0] > 1:
        lo, hi = paired_bootstrap_ci(a, b, confidence=confidence, n_resamples=n_resamples, seed=seed)
        p = randomization_test(a, b, n_resamples=n_resamples, seed=seed)
    return PairedComparison(n_docs=a.shape[0], f1_a=float(micro_f1(*a.sum(0))), f1_b=float(micro_f1(*b.sum(0))),
                            diff=f1_difference(a, b), ci_low=lo, ci_high=hi, p_value=p, confidence=confidence)


def pooled_counts(per_docs: Sequence[Mapping[str, dict]], kind: str = "concepts",
                  mode: str = "strict") -> dict[str, np.ndarray]:
    """Per-document [tp, fp, fn] summed over several runs of one setting (e.g. seeds).

    Pooling keeps the document as the resampling unit while using every seed's output."""
    out: dict[str, np.ndarray] = {}
    for i, per_doc in enumerate(per_docs):
        docs = {d: c for d, c in per_doc.items() if kind in c}
        if i and set(docs) != set(out):
            raise ValueError(f"runs of one setting were scored on different test documents ({kind})")
        for doc, counts in docs.items():
            out[doc] = out.get(doc, np.zeros(3)) + np.asarray(counts[kind][mode], dtype=float)
    return out


def aligned(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Two systems' per-document counts as row-aligned (n_docs, 3) arrays; refuses different test sets."""
    if set(a) != set(b):
        only = sorted(set(a) ^ set(b))[:3]
        raise ValueError(f"not the same test set: documents {only} are scored by only one system")
    docs = sorted(a)
    if not docs:
        raise ValueError("no per-document counts to compare")
    return np.stack([a[d] for d in docs]), np.stack([b[d] for d in docs])
