"""Model selection by k-fold cross-validation: pick the setting with the best mean held-out-fold score and
give the overrides that retrain it once on all training data (``fold=null``) and test it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from clinprompt.reporting.collect import Run
from clinprompt.reporting.tables import group_runs, keyed_frame, mean_std, swept_keys


@dataclass
class Selection:
    setting: dict[str, Any]
    score: float
    std: float | None
    n_runs: int
    overrides: list[str]        # pass to train.py (without -m) to train the winner on all data and test once
    candidates: pd.DataFrame    # every setting with its CV score, best first


def select_best(runs: Sequence[Run], metric: str = "concepts/strict/micro/f1", split: str = "dev") -> Selection:
    """Best setting by the mean of ``metrics[split][metric]`` over folds (and seeds).

    A run with ``fold=i`` evaluates its dev metrics on held-out fold i, so ``split="dev"`` is the CV score."""
    cv = [r for r in runs if r.finished and r.grid.get("fold") is not None and r.metric(metric, split) is not None]
    if not cv:
        raise ValueError(f"no finished cross-validation runs (fold set) with metrics.{split}.{metric}")
    keys = [k for k in swept_keys(cv) if k not in ("fold", "seed")]
    rows = []
    for values, group in group_runs(cv, keys):
        m, s, n = mean_std(r.metric(metric, split) for r in group)
        rows.append({**dict(zip(keys, values, strict=True)), "cv mean": m, "cv std": s,
                     "folds": len({r.grid.get("fold") for r in group}), "n": n, "_runs": group})
    rows.sort(key=lambda r: -r["cv mean"])
    best = rows[0]
    overrides = [o for o in best["_runs"][0].override_list if o.partition("=")[0].lstrip("+~") != "fold"]
    candidates = keyed_frame([{k: v for k, v in r.items() if k != "_runs"} for r in rows], keys)
    return Selection(setting={k: best[k] for k in keys}, score=best["cv mean"], std=best["cv std"],
                     n_runs=best["n"], overrides=[*overrides, "fold=null"], candidates=candidates)
