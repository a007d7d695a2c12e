"""Learning curves from the runs' CSV logs: a dev metric per training epoch and the wall time it was reached.

Each run's ``csv/metrics.csv`` (Lightning's CSVLogger, rows in logging order) holds one row per fit
validation with the dev metrics and ``time/elapsed_s`` (``training.progress.WallClock``; runs logged before
it have no time axis). Rows from the first ``test/`` row on belong to the evaluation of the tested
checkpoint, not to training, and are left out. Runs of one setting (seeds, folds) are averaged per epoch;
``runs`` says how many had that epoch (early stopping ends some sooner).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from clinprompt.reporting.collect import Run
from clinprompt.reporting.tables import setting_of

CURVE_METRIC = "dev/concepts/strict/micro/f1"
ELAPSED = "time/elapsed_s"


@dataclass
class Curves:
    table: pd.DataFrame                  # keys..., epoch, runs, mean, std, elapsed_s (mean over runs)
    metric: str
    missing: list[tuple[Path, str]] = field(default_factory=list)  # finished runs without a curve, and why


def metrics_csv(run_dir: Path) -> Path | None:
    default = run_dir / "csv" / "metrics.csv"
    if default.is_file():
        return default
    found = sorted(p for p in run_dir.rglob("metrics.csv") if "wandb" not in p.parts)
    return found[0] if found else None


def run_curve(path: Path, metric: str) -> pd.DataFrame:
    """epoch (1-based), value, elapsed_s (NaN when not logged) of one run's fit validations."""
    df = pd.read_csv(path)
    if metric not in df or "epoch" not in df:
        raise ValueError(f"{path}: no column {metric!r}" if metric not in df else f"{path}: no 'epoch' column")
    tested = df[[c for c in df if c.startswith("test/")]].notna().any(axis=1).to_numpy()
    if tested.any():
        df = df.iloc[: int(tested.argmax())]
    rows = df[df[metric].notna() & df["epoch"].notna()].drop_duplicates("epoch", keep="last")  # resumed epochs
    elapsed = rows[ELAPSED] if ELAPSED in rows else pd.Series(math.nan, index=rows.index)
    return pd.DataFrame({"epoch": rows["epoch"].astype(int) + 1, "value": rows[metric].astype(float),
                         "elapsed_s": elapsed.astype(float)}).reset_index(drop=True)


def _mean(xs: list[float]) -> float:
    xs = [x for x in xs if not math.isnan(x)]
    return statistics.fmean(xs) if xs else math.nan


def learning_curves(runs: Sequence[Run], keys: Sequence[str], metric: str = CURVE_METRIC) -> Curves:
    """Per setting (``keys``) and epoch: mean and std of ``metric`` over runs, mean elapsed seconds."""
    points: dict[tuple, dict[int, list[tuple[float, float]]]] = {}
    order: list[tuple] = []
    missing: list[tuple[Path, str]] = []
    for run in (r for r in runs if r.finished):
        path = metrics_csv(run.dir)
        if path is None:
            missing.append((run.dir, "no metrics.csv (logger without csv)"))
            continue
        try:
            curve = run_curve(path, metric)
        except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
            missing.append((run.dir, str(err).splitlines()[0]))
            continue
        if curve.empty:
            missing.append((run.dir, f"{path}: no fit validation with {metric}"))
            continue
        setting = setting_of(run)
        key = tuple(setting.get(k) for k in keys)
        if key not in points:
            points[key], order = {}, [*order, key]
        for row in curve.itertuples(index=False):
            points[key].setdefault(int(row.epoch), []).append((float(row.value), float(row.elapsed_s)))
    rows = []
    for key in order:
        for epoch in sorted(points[key]):
            values = [v for v, _ in points[key][epoch]]
            rows.append({**dict(zip(keys, key, strict=True)), "epoch": epoch, "runs": len(values),
                         "mean": statistics.fmean(values),
                         "std": statistics.stdev(values) if len(values) > 1 else math.nan,
                         "elapsed_s": _mean([t for _, t in points[key][epoch]])})
    table = pd.DataFrame(rows, columns=[*keys, "epoch", "runs", "mean", "std", "elapsed_s"])
    for k in keys:  # key columns keep Python values (no 16 -> 16.0, None -> NaN)
        table[k] = pd.Series([r[k] for r in rows], dtype=object, index=table.index)
    return Curves(table, metric, missing)
