"""Paired bootstrap CI and approximate randomization of a micro-F1 difference, checked against known answers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from fake_runs import f1

from clinprompt.reporting.significance import aligned, compare, paired_bootstrap_ci, pooled_counts, randomization_test


def _draw(rng: np.random.Generator, n_docs: int, recall_a: float, recall_b: float) -> tuple[np.ndarray, ...]:
    """Two systems on the same documents: each finds each gold entity with its recall, no false positives,
    so F1 = 2r / (1 + r) is known exactly for the population."""
    gold = rng.integers(4, 20, n_docs)
    tp_a, tp_b = rng.binomial(gold, recall_a), rng.binomial(gold, recall_b)
    zeros = np.zeros(n_docs, dtype=int)
    return np.stack([tp_a, zeros, gold - tp_a], 1), np.stack([tp_b, zeros, gold - tp_b], 1)


def test_bootstrap_ci_covers_the_known_population_difference() -> None:
    """Over many test sets drawn from a population with a known F1 gap, the 95% CI covers it most times."""
    ra, rb = 0.8, 0.6
    true_diff = 2 * ra / (1 + ra) - 2 * rb / (1 + rb)  # 0.8889 - 0.75
    rng = np.random.default_rng(0)
    covered = 0
    for rep in range(40):
        a, b = _draw(rng, 60, ra, rb)
        lo, hi = paired_bootstrap_ci(a, b, n_resamples=999, seed=rep)
        assert lo < hi
        covered += lo <= true_diff <= hi
    assert covered >= 34  # binomial(40, 0.95): P(covered < 34) < 0.5%


def test_bootstrap_ci_matches_a_hand_written_document_bootstrap() -> None:
    a, b = _draw(np.random.default_rng(3), 50, 0.7, 0.65)
    lo, hi = paired_bootstrap_ci(a, b, n_resamples=4999, seed=1)
    rng = np.random.default_rng(7)
    diffs = []
    for _ in range(4000):
        i = rng.integers(0, len(a), len(a))
        diffs.append(f1(*a[i].sum(0)) - f1(*b[i].sum(0)))
    assert lo == pytest.approx(np.percentile(diffs, 2.5), abs=0.01)
    assert hi == pytest.approx(np.percentile(diffs, 97.5), abs=0.01)


def test_randomization_p_small_for_a_real_difference_and_large_for_none() -> None:
    rng = np.random.default_rng(1)
    a, b = _draw(rng, 80, 0.85, 0.55)
    assert randomization_test(a, b, n_resamples=1999) < 0.01
    c, d = _draw(rng, 80, 0.7, 0.7)
    assert randomization_test(c, d, n_resamples=1999) > 0.05
    assert randomization_test(a, a, n_resamples=999) == 1.0


def test_randomization_is_exact_for_few_documents() -> None:
    """6 documents: 2**6 swaps enumerated by hand give the same two-sided p-value."""
    a = np.array([[5, 1, 0], [3, 0, 2], [4, 2, 1], [6, 0, 0], [2, 1, 3], [7, 1, 1]])
    b = np.array([[4, 2, 1], [3, 1, 2], [2, 2, 3], [5, 0, 1], [2, 0, 3], [5, 2, 3]])
    observed = f1(*a.sum(0)) - f1(*b.sum(0))
    null = []
    for swap in itertools.product([False, True], repeat=len(a)):
        s = np.array(swap)[:, None]
        null.append(f1(*np.where(s, b, a).sum(0)) - f1(*np.where(s, a, b).sum(0)))
    null = np.array(null)
    eps = 1e-12
    expected = min(1.0, 2 * min(np.mean(null >= observed - eps), np.mean(null <= observed + eps)))
    assert randomization_test(a, b) == pytest.approx(expected)


def test_compare_reports_point_estimates_and_refuses_different_test_sets() -> None:
    res = compare([[8, 2, 2], [5, 0, 5]], [[6, 2, 4], [5, 5, 5]], n_resamples=199)
    assert res.f1_a == pytest.approx(f1(13, 2, 7)) and res.f1_b == pytest.approx(f1(11, 7, 9))
    assert res.diff == pytest.approx(f1(13, 2, 7) - f1(11, 7, 9)) and res.n_docs == 2
    with pytest.raises(ValueError, match="same test set"):
        aligned({"d1": np.ones(3)}, {"d2": np.ones(3)})


def test_pooled_counts_sum_seeds_per_document() -> None:
    s1 = {"d1": {"concepts": {"strict": [1, 2, 3]}}, "d2": {"concepts": {"strict": [4, 0, 0]}}}
    s2 = {"d1": {"concepts": {"strict": [2, 0, 1]}}, "d2": {"concepts": {"strict": [3, 1, 1]}}}
    pooled = pooled_counts([s1, s2])
    assert pooled["d1"].tolist() == [3, 2, 4] and pooled["d2"].tolist() == [7, 1, 1]
