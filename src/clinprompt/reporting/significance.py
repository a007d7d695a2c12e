"""Paired significance of a micro-F1 difference between two systems on the same test documents.

Micro F1 is a ratio of sums, not a mean of per-document scores, so both tests resample whole documents and
recompute F1 from the summed (tp, fp, fn) counts. The resampling lives in :mod:`clinprompt.evaluation.stats`
(scipy.stats.bootstrap(paired=True) and permutation_test(permutation_type="samples")); this module turns
runs' per-document counts into its inputs, with the report's sign convention F1(A) - F1(B).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from clinprompt.evaluation import stats


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


def micro_f1(counts: np.ndarray) -> float:
    """F1 = 2tp / (2tp + fp + fn) of per-document counts (n_docs, 3) summed; 0 when there is nothing."""
    return float(stats.micro_f1_from_counts(np.asarray(counts, dtype=float)))


def _a_minus_b(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return stats.micro_f1_from_counts(a) - stats.micro_f1_from_counts(b)


def _as_counts(x: np.ndarray | Sequence, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name}: expected per-document counts of shape (n_docs, 3) = [tp, fp, fn], got {arr.shape}")
    return arr


def _pair(a: np.ndarray | Sequence, b: np.ndarray | Sequence) -> tuple[np.ndarray, np.ndarray]:
    a, b = _as_counts(a, "a"), _as_counts(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"paired comparison needs the same documents: {a.shape[0]} vs {b.shape[0]}")
    return a, b


def f1_difference(a: np.ndarray | Sequence, b: np.ndarray | Sequence) -> float:
    """Micro F1 of summed counts of system A minus that of system B."""
    a, b = _pair(a, b)
    return float(_a_minus_b(a, b))


def paired_bootstrap_ci(a: np.ndarray | Sequence, b: np.ndarray | Sequence, *, confidence: float = 0.95,
                        n_resamples: int = 9999, seed: int = 0, method: str = "percentile") -> tuple[float, float]:
    """Confidence interval of F1(A) - F1(B), resampling documents (rows) with replacement, pairs kept."""
    a, b = _pair(a, b)
    res = stats.paired_bootstrap(_a_minus_b, a, b, confidence=confidence, n_resamples=n_resamples,
                                 method=method, seed=seed)
    return res.low, res.high


def randomization_test(a: np.ndarray | Sequence, b: np.ndarray | Sequence, *, n_resamples: int = 9999,
                       seed: int = 0) -> float:
    """Two-sided p-value of F1(A) - F1(B) under H0 "A's and B's output for a document are exchangeable"
    (exact when 2**n_docs <= n_resamples)."""
    a, b = _pair(a, b)
    return stats.randomization_test(_a_minus_b, a, b, n_resamples=n_resamples, seed=seed).p_value


def compare(a: np.ndarray | Sequence, b: np.ndarray | Sequence, *, confidence: float = 0.95,
            n_resamples: int = 9999, seed: int = 0) -> PairedComparison:
    """Both tests and the point estimates for one pair of systems."""
    a, b = _as_counts(a, "a"), _as_counts(b, "b")
    lo, hi, p = math.nan, math.nan, math.nan  # one document: nothing to resample or swap
    if a.shape[0] > 1:
        lo, hi = paired_bootstrap_ci(a, b, confidence=confidence, n_resamples=n_resamples, seed=seed)
        p = randomization_test(a, b, n_resamples=n_resamples, seed=seed)
    return PairedComparison(n_docs=a.shape[0], f1_a=micro_f1(a), f1_b=micro_f1(b),
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
