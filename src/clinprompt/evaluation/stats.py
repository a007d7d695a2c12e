"""Paired significance statistics shared by the QA study and the extraction reports.

Every test compares two systems A and B evaluated on the same units (questions, documents). A unit's
record is a row of a per-unit array: a label index, a 0/1 correctness flag, or a (tp, fp, fn) triple.

API
  ``mcnemar(correct_a, correct_b)`` -> McNemarResult(b, c, statistic, p_value)
      exact McNemar test (statsmodels, binomial on the discordant pairs). ``b`` = units A gets wrong
      and B right (B's fixes), ``c`` = units A gets right and B wrong (B's regressions).
      ``mcnemar_from_counts(b, c)`` is the same from the discordant counts alone.
  ``paired_bootstrap(statistic, *arrays, ...)`` -> BootstrapResult(estimate, low, high, ...)
      scipy.stats.bootstrap(paired=True): units are resampled with replacement, the same units for
      every array. ``statistic(*arrays_resampled)`` gets each array with a leading batch axis
      (``[..., n]`` or ``[..., n, k]``) and returns one value per batch row.
  ``randomization_test(statistic, units_a, units_b, ...)`` -> RandomizationResult(estimate, p_value)
      approximate randomization via scipy.stats.permutation_test(permutation_type="samples"): each
      unit's A and B records are swapped at random; two-sided p of ``statistic(a, b)``.
  Statistics (vectorised, for the functions above):
      ``accuracy_difference(correct_a, correct_b)``               mean(B) - mean(A)
      ``macro_f1_difference(n_labels)(gold, pred_a, pred_b)``    macro-F1(B) - macro-F1(A)
      ``f1_difference_from_counts(counts_a, counts_b)``          micro-F1(B) - micro-F1(A) from per-unit
                                                                 (tp, fp, fn)
      ``macro_f1(gold, pred, n_labels)``                         macro-F1 over label indices 0..n_labels-1;
                                                                 pred == n_labels is an invalid answer
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar


@dataclass(frozen=True)
class McNemarResult:
    b: int
    c: int
    statistic: float
    p_value: float


@dataclass(frozen=True)
class BootstrapResult:
    estimate: float
    low: float
    high: float
    confidence: float
    method: str
    n_resamples: int


@dataclass(frozen=True)
class RandomizationResult:
    estimate: float
    p_value: float
    n_resamples: int


# ---- McNemar ---------------------------------------------------------------------------------------
def mcnemar_from_counts(b: int, c: int) -> McNemarResult:
    res = sm_mcnemar([[0, int(b)], [int(c), 0]], exact=True)
    return McNemarResult(int(b), int(c), float(res.statistic), float(res.pvalue))


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> McNemarResult:
    a, b_ = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b_.shape:
        raise ValueError(f"paired arrays differ in shape: {a.shape} vs {b_.shape}")
    return mcnemar_from_counts(int((~a & b_).sum()), int((a & ~b_).sum()))


# ---- statistics over per-unit arrays (leading batch axes allowed) ----------------------------------
def accuracy_difference(correct_a: np.ndarray, correct_b: np.ndarray) -> np.ndarray:
    return np.mean(correct_b, axis=-1) - np.mean(correct_a, axis=-1)


def macro_f1(gold: np.ndarray, pred: np.ndarray, n_labels: int) -> np.ndarray:
    gold, pred = np.asarray(gold), np.asarray(pred)
    scores = []
    for k in range(n_labels):
        g, p = gold == k, pred == k
        tp = np.sum(g & p, axis=-1)
        den = np.sum(g, axis=-1) + np.sum(p, axis=-1)
        scores.append(np.where(den > 0, 2.0 * tp / np.maximum(den, 1), 0.0))
    return np.mean(scores, axis=0)


def macro_f1_difference(n_labels: int) -> Callable[..., np.ndarray]:
    def stat(gold: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> np.ndarray:
        return macro_f1(gold, pred_b, n_labels) - macro_f1(gold, pred_a, n_labels)

    return stat


def micro_f1_from_counts(counts: np.ndarray) -> np.ndarray:
    """counts [..., n, 3] of per-unit (tp, fp, fn) -> F1 of the summed counts."""
    tp, fp, fn = (np.sum(counts[..., i], axis=-1) for i in range(3))
    den = 2.0 * tp + fp + fn
    return np.where(den > 0, 2.0 * tp / np.maximum(den, 1), 0.0)


def f1_difference_from_counts(counts_a: np.ndarray, counts_b: np.ndarray) -> np.ndarray:
    return micro_f1_from_counts(counts_b) - micro_f1_from_counts(counts_a)


# ---- resampling -------------------------------------------------------------------------------------
def _units(arrays: tuple[np.ndarray, ...]) -> tuple[list[np.ndarray], int]:
    arrs = [np.asarray(a) for a in arrays]
    n = {len(a) for a in arrs}
    if len(n) != 1:
        raise ValueError(f"paired arrays must have one record per unit; lengths {sorted(n)}")
    return arrs, n.pop()


def paired_bootstrap(statistic: Callable[..., np.ndarray], *arrays: np.ndarray, confidence: float = 0.95,
                     n_resamples: int = 9999, method: str = "percentile", seed: int = 0) -> BootstrapResult:
    """Bootstrap CI of ``statistic(*arrays)``, resampling units (the same ones in every array)."""
    arrs, n = _units(arrays)
    if n < 2:
        raise ValueError("the bootstrap needs at least 2 paired units")
    # scipy resamples one index array; each batch of resampled indices picks whole unit records
    stat = lambda idx, axis=-1: statistic(*(a[idx] for a in arrs))
    res = sps.bootstrap((np.arange(n),), stat, paired=True, vectorized=True, confidence_level=confidence,
                        n_resamples=n_resamples, method=method, rng=np.random.default_rng(seed))
    return BootstrapResult(float(statistic(*arrs)), float(res.confidence_interval.low),
                           float(res.confidence_interval.high), confidence, method, n_resamples)


def randomization_test(statistic: Callable[[np.ndarray, np.ndarray], np.ndarray], units_a: np.ndarray,
                       units_b: np.ndarray, n_resamples: int = 9999, seed: int = 0) -> RandomizationResult:
    """Two-sided approximate randomization test: under H0 the labels A/B of each unit's pair of records
    are exchangeable. ``statistic(a, b)`` gets A's and B's per-unit records (leading batch axes)."""
    (a, b), n = _units((units_a, units_b))
    table = np.concatenate([a, b])  # index i: A's record of unit i, n + i: B's
    stat = lambda ia, ib, axis=-1: statistic(table[ia], table[ib])
    res = sps.permutation_test((np.arange(n), np.arange(n) + n), stat, permutation_type="samples",
                               vectorized=True, n_resamples=n_resamples, alternative="two-sided",
                               rng=np.random.default_rng(seed))
    return RandomizationResult(float(res.statistic), float(res.pvalue), n_resamples)
