"""Paired statistics against scipy/statsmodels called directly and against exact enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import f1_score

from clinprompt.evaluation.stats import (
    accuracy_difference,
    f1_difference_from_counts,
    macro_f1,
    macro_f1_difference,
    mcnemar,
    mcnemar_from_counts,
    paired_bootstrap,
    randomization_test,
)


def test_mcnemar_reference_study_counts():
    res = mcnemar_from_counts(46, 22)
    assert res.p_value == pytest.approx(0.0049, abs=5e-5)
    assert res.p_value == pytest.approx(sps.binomtest(22, 68, 0.5).pvalue, rel=1e-12)


def test_mcnemar_from_paired_correctness():
    # A right / B wrong on 3 units, A wrong / B right on 9, 20 concordant
    a = np.array([1] * 3 + [0] * 9 + [1] * 12 + [0] * 8, dtype=bool)
    b = np.array([0] * 3 + [1] * 9 + [1] * 12 + [0] * 8, dtype=bool)
    res = mcnemar(a, b)
    assert (res.b, res.c) == (9, 3)
    assert res.p_value == pytest.approx(sps.binomtest(3, 12, 0.5).pvalue)


@pytest.fixture(scope="module")
def paired():
    rng = np.random.default_rng(7)
    gold = rng.integers(0, 2, 120)
    pred_a = np.where(rng.random(120) < 0.6, gold, 1 - gold)
    pred_b = np.where(rng.random(120) < 0.8, gold, 1 - gold)
    return gold, pred_a, pred_b


def test_bootstrap_matches_scipy_called_directly(paired):
    gold, pa, pb = paired
    ca, cb = (pa == gold).astype(float), (pb == gold).astype(float)
    ours = paired_bootstrap(accuracy_difference, ca, cb, n_resamples=2000, seed=11)
    ref = sps.bootstrap((ca, cb), lambda x, y, axis=-1: y.mean(axis) - x.mean(axis), paired=True,
                        vectorized=True, n_resamples=2000, method="percentile", rng=np.random.default_rng(11))
    assert ours.estimate == pytest.approx(cb.mean() - ca.mean())
    assert (ours.low, ours.high) == pytest.approx((ref.confidence_interval.low, ref.confidence_interval.high))
    assert ours.low < ours.estimate < ours.high


def test_macro_f1_statistic_matches_sklearn_and_bootstrap_brackets_it(paired):
    gold, pa, pb = paired
    invalid = pa.copy()
    invalid[:5] = 2  # an answer outside the labels counts against its gold class only
    assert macro_f1(gold, invalid, 2) == pytest.approx(f1_score(gold, invalid, labels=[0, 1], average="macro"))
    res = paired_bootstrap(macro_f1_difference(2), gold, pa, pb, n_resamples=1000)
    expected = f1_score(gold, pb, average="macro") - f1_score(gold, pa, average="macro")
    assert res.estimate == pytest.approx(expected) and res.low < expected < res.high


def test_f1_from_document_counts_matches_scipy_on_six_arrays():
    rng = np.random.default_rng(3)
    ca, cb = rng.integers(0, 6, (30, 3)), rng.integers(0, 6, (30, 3))
    ours = paired_bootstrap(f1_difference_from_counts, ca, cb, n_resamples=1000, seed=5)

    def f1(tp, fp, fn, axis):
        tp, fp, fn = tp.sum(axis), fp.sum(axis), fn.sum(axis)
        return 2 * tp / (2 * tp + fp + fn)

    ref = sps.bootstrap((*ca.T, *cb.T), lambda a1, a2, a3, b1, b2, b3, axis=-1: f1(b1, b2, b3, axis)
                        - f1(a1, a2, a3, axis), paired=True, vectorized=True, n_resamples=1000,
                        method="percentile", rng=np.random.default_rng(5))
    assert (ours.low, ours.high) == pytest.approx((ref.confidence_interval.low, ref.confidence_interval.high))


def test_randomization_matches_exact_enumeration():
    # 10 units: 2**10 = 1024 swaps <= n_resamples, so scipy enumerates them all; so do we, by hand
    a = np.array([1, 0, 1, 1, 0, 0, 1, 0, 0, 1], dtype=float)
    b = np.array([1, 1, 1, 1, 1, 0, 1, 1, 0, 1], dtype=float)
    res = randomization_test(accuracy_difference, a, b, n_resamples=5000)
    observed = b.mean() - a.mean()
    hits = 0
    for swap in itertools.product([False, True], repeat=10):
        s = np.array(swap)
        hits += abs(np.where(s, a, b).mean() - np.where(s, b, a).mean()) >= abs(observed) - 1e-12
    assert res.estimate == pytest.approx(observed)
    assert res.p_value == pytest.approx(hits / 1024)
