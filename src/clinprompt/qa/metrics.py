"""Yes/no(/maybe) QA metrics: accuracy, macro-F1, per-class P/R/F1, confusion matrix, and latency.

An answer outside the label set (an invalid generation) is kept as its own column ``invalid``: it is
wrong for accuracy and a false negative of its gold class, and is never a false positive of a class.
Macro-F1 averages over the label set only (as the PubMedQA evaluation with sklearn's f1_score does).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torchmetrics.functional.classification import multiclass_confusion_matrix, multiclass_stat_scores

from clinprompt.qa.data import INVALID


def encode(answers: Sequence[str], labels: Sequence[str]) -> torch.Tensor:
    """Label strings -> indices; anything outside ``labels`` -> len(labels) (the invalid column)."""
    index = {lab: i for i, lab in enumerate(labels)}
    return torch.tensor([index.get(a, len(labels)) for a in answers], dtype=torch.long)


def _safe_div(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    return torch.where(den > 0, num / den.clamp(min=1), torch.zeros_like(num, dtype=torch.float))


def classification_metrics(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold answers but {len(pred)} predictions")
    k = len(labels)
    g, p = encode(gold, labels), encode(pred, labels)
    if (g == k).any():
        raise ValueError(f"gold answers outside the label set {tuple(labels)}")
    n = len(gold)
    if n == 0:
        return {"n": 0, "accuracy": 0.0, "macro_f1": 0.0, "invalid": 0, "per_class": {},
                "confusion": {"rows": list(labels), "cols": [*labels, INVALID], "matrix": []}}
    # k + 1 classes so invalid predictions stay in the matrix; per-class scores are read for the k real ones
    stats = multiclass_stat_scores(p, g, num_classes=k + 1, average=None).float()  # [k+1, (tp, fp, tn, fn, sup)]
    tp, fp, fn = stats[:k, 0], stats[:k, 1], stats[:k, 3]
    precision, recall = _safe_div(tp, tp + fp), _safe_div(tp, tp + fn)
    f1 = _safe_div(2 * tp, 2 * tp + fp + fn)
    cm = multiclass_confusion_matrix(p, g, num_classes=k + 1)[:k]  # rows: gold (never invalid)
    per_class = {lab: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                       "support": int(stats[i, 4])} for i, lab in enumerate(labels)}
    return {"n": n, "accuracy": float((p == g).float().mean()), "macro_f1": float(f1.mean()),
            "invalid": int((p == k).sum()), "per_class": per_class,
            "confusion": {"rows": list(labels), "cols": [*labels, INVALID], "matrix": cm.tolist()}}


def latency_stats(seconds: Sequence[float]) -> dict[str, float]:
    ms = np.asarray(seconds, dtype=float) * 1000.0
    if ms.size == 0:
        return {"mean_ms": 0.0, "p95_ms": 0.0, "n": 0}
    return {"mean_ms": float(ms.mean()), "p95_ms": float(np.percentile(ms, 95)), "n": int(ms.size)}


def measure_latency(model: torch.nn.Module, predict_one: Callable[[Any], Any], inputs: Sequence[Any],
                    warmup: int = 3) -> dict[str, float]:
    """Per-example latency of ``predict_one`` (batch size 1) with the model in eval mode and no autograd.
    The first ``warmup`` calls (allocator, kernel selection) are run but not timed; the model's training
    mode is restored afterwards."""
    was_training = model.training
    model.eval()
    times: list[float] = []
    try:
        with torch.inference_mode():
            for x in list(inputs[:warmup]):
                predict_one(x)
            for x in inputs:
                t0 = time.perf_counter()
                predict_one(x)
                times.append(time.perf_counter() - t0)
    finally:
        model.train(was_training)
    return latency_stats(times)
