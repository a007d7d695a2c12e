"""QA metrics against sklearn (an independent implementation) and hand counts; latency bookkeeping."""

from __future__ import annotations

import pytest
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from clinprompt.qa.metrics import classification_metrics, latency_stats, measure_latency

LABELS = ("yes", "no", "maybe")
GOLD = ["yes", "yes", "yes", "no", "no", "maybe", "yes", "no", "maybe", "yes"]
PRED = ["yes", "no", "invalid", "no", "yes", "maybe", "yes", "invalid", "no", "yes"]


def test_matches_sklearn_with_invalid_answers_counted():
    res = classification_metrics(GOLD, PRED, LABELS)
    assert res["n"] == 10 and res["invalid"] == 2
    assert res["accuracy"] == pytest.approx(accuracy_score(GOLD, PRED)) == pytest.approx(0.5)
    per = f1_score(GOLD, PRED, labels=list(LABELS), average=None, zero_division=0)
    assert [res["per_class"][k]["f1"] for k in LABELS] == pytest.approx(list(per))
    assert res["macro_f1"] == pytest.approx(f1_score(GOLD, PRED, labels=list(LABELS), average="macro"))
    # hand count, yes: 5 gold, predicted 4 times (units 0, 4, 6, 9), 3 right -> P 3/4, R 3/5
    yes = res["per_class"]["yes"]
    assert (yes["precision"], yes["recall"], yes["support"]) == (pytest.approx(0.75), pytest.approx(0.6), 5)
    cm = confusion_matrix(GOLD, PRED, labels=[*LABELS, "invalid"])[:3].tolist()
    assert res["confusion"]["matrix"] == cm
    assert res["confusion"]["matrix"][0] == [3, 1, 0, 1]  # gold yes: 3 yes, 1 no, 1 invalid


def test_gold_outside_the_label_set_is_refused():
    with pytest.raises(ValueError, match="label set"):
        classification_metrics(["maybe"], ["yes"], ("yes", "no"))


def test_latency_percentiles_and_eval_mode():
    stats = latency_stats([0.001 * i for i in range(1, 101)])  # 1..100 ms
    assert stats["mean_ms"] == pytest.approx(50.5) and stats["p95_ms"] == pytest.approx(95.05)
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))
    model.train()
    modes, grads = [], []

    def predict(x):
        modes.append(model.training)
        grads.append(torch.is_grad_enabled())
        return model(x)

    res = measure_latency(model, predict, [torch.ones(1, 2)] * 5, warmup=2)
    assert res["n"] == 5 and len(modes) == 7  # 2 warm-up calls run but are not timed
    assert not any(modes) and not any(grads) and model.training
