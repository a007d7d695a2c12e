"""PNG plots over a summary table: F1 vs prompt length, F1 vs shots, frozen-vs-unfrozen gap vs model size;
learning curves (dev F1 per epoch and vs wall time) from ``reporting.curves``.

Each plot is drawn only when the runs have that axis (at least two values of it)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from clinprompt.reporting.curves import Curves
from clinprompt.reporting.tables import keyed_frame, show

PLOTTED = (("concept strict F1", "concept strict F1"), ("relation strict F1", "relation strict F1"))


def _metrics(table: pd.DataFrame) -> list[str]:
    return [label for label, _ in PLOTTED if f"{label} mean" in table and table[f"{label} mean"].notna().any()]


def _groups(df: pd.DataFrame, cols: Sequence[str]) -> list[tuple[tuple, pd.DataFrame]]:
    """Sub-frames by the values of ``cols`` in first-seen order, the values kept as they are
    (pandas' groupby turns 5 into 5.0 once a None is in the column)."""
    if not cols:
        return [((), df)]
    keys = [tuple(_value(v) for v in row) for row in df[list(cols)].itertuples(index=False)]
    order = list(dict.fromkeys(keys))
    return [(k, df[[x == k for x in keys]]) for k in order]


def _value(v):
    return None if isinstance(v, float) and pd.isna(v) else v


def _label(keys: Sequence[str], values: Sequence) -> str:
    parts = [show(k, _value(v)) if k in ("model", "strategy") else f"{k}={show(k, _value(v))}"
             for k, v in zip(keys, values, strict=True)]
    return ", ".join(parts) or "all runs"


def plot_vs(table: pd.DataFrame, keys: Sequence[str], axis: str, out: Path, split: str = "test") -> Path | None:
    """F1 (mean ± std over seeds) against ``axis`` (e.g. prompt_len, shots): one line per other setting.

    For shots, the full-data runs (shots=None) are drawn as a dashed horizontal line in the series' colour."""
    if axis not in keys or table[axis].dropna().nunique() < 2:
        return None
    metrics = _metrics(table)
    if not metrics:
        return None
    series_keys = [k for k in keys if k != axis]
    fig, axes = subplots(1, len(metrics), figsize=(6 * len(metrics), 4.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for values, part in _groups(table, series_keys):
            label = _label(series_keys, values)
            pts = part[part[axis].notna()].sort_values(axis, key=lambda s: s.astype(float))
            if pts.empty:
                continue
            line = ax.errorbar(pts[axis].astype(float), pts[f"{metric} mean"], yerr=pts[f"{metric} std"].fillna(0),
                               marker="o", capsize=3, label=label)
            full = part[part[axis].isna()]
            if not full.empty and axis == "shots":
                ax.axhline(float(full[f"{metric} mean"].iloc[0]), ls="--", lw=1, color=line[0].get_color())
        ax.set_xlabel(axis + (" (dashed: all training data)" if axis == "shots" else ""))
        if axis in ("shots", "prompt_len"):
            ticks = sorted({float(v) for v in table[axis].dropna()})
            ax.set_xscale("log", base=2)
            ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
            ax.minorticks_off()
        top = table[f"{metric} mean"].fillna(0) + table[f"{metric} std"].fillna(0)
        ax.set_ylim(0, min(1.0, max(0.1, 1.15 * float(top.max()))))  # an F1 axis; no 1e-17 scale when all are 0
        ax.set_ylabel(f"{split} {metric}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _save(fig, out)


def frozen_gap(table: pd.DataFrame, keys: Sequence[str], metric: str = "concept strict F1") -> pd.DataFrame:
    """Per model (and other setting): total parameters and F1(soft_unfrozen) - F1(soft_frozen)."""
    if "strategy" not in keys or "model" not in keys or f"{metric} mean" not in table:
        return pd.DataFrame()
    context = [k for k in keys if k not in ("model", "strategy")]
    rows = []
    for _, part in _groups(table, ["model", *context]):
        by = {s: part[part["strategy"] == s] for s in ("soft_unfrozen", "soft_frozen")}
        if any(p.empty for p in by.values()):
            continue
        first = part.iloc[0]
        rows.append({"model": first["model"], **{k: first[k] for k in context},
                     "total params": by["soft_frozen"]["total params"].iloc[0],
                     "gap": float(by["soft_unfrozen"][f"{metric} mean"].iloc[0]
                                  - by["soft_frozen"][f"{metric} mean"].iloc[0])})
    return keyed_frame(rows, ["model", *context])


def plot_frozen_gap(table: pd.DataFrame, keys: Sequence[str], out: Path) -> Path | None:
    """The cost of freezing the backbone against model size (needs both soft strategies on >= 2 models)."""
    metrics = _metrics(table)
    gaps = {m: frozen_gap(table, keys, m) for m in metrics}
    gaps = {m: g for m, g in gaps.items() if not g.empty and g["model"].nunique() >= 2}
    if not gaps:
        return None
    fig, axes = subplots(1, len(gaps), figsize=(6 * len(gaps), 4.2), squeeze=False)
    for ax, (metric, gap) in zip(axes[0], gaps.items(), strict=True):
        context = [c for c in gap.columns if c not in ("model", "total params", "gap")]
        for values, part in _groups(gap, context):
            part = part.sort_values("total params")
            ax.plot(part["total params"].astype(float), part["gap"], marker="o", label=_label(context, values))
            for _, r in part.iterrows():
                ax.annotate(str(r["model"]), (float(r["total params"]), r["gap"]), fontsize=7,
                            textcoords="offset points", xytext=(3, 3))
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("total parameters")
        ax.set_ylabel(f"{metric}: soft_unfrozen - soft_frozen")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _save(fig, out)


def plot_learning_curves(curves: Curves, keys: Sequence[str], out: Path) -> Path | None:
    """Dev metric per epoch, and against wall time when the runs logged it: one line per setting, the band
    is ± std over its runs (seeds, folds)."""
    table = curves.table
    if table.empty:
        return None
    timed = table["elapsed_s"].notna().any()
    fig, axes = subplots(1, 2 if timed else 1, figsize=(12 if timed else 6, 4.2), squeeze=False)
    series = [k for k in keys if table[k].map(_value).nunique(dropna=False) > 1] or list(keys[:1])
    for values, part in _groups(table, series):
        label = _label(series, values)
        part = part.sort_values("epoch")
        std = part["std"].fillna(0)
        line = axes[0][0].plot(part["epoch"], part["mean"], marker="o", label=label)[0]
        axes[0][0].fill_between(part["epoch"], part["mean"] - std, part["mean"] + std, alpha=0.15,
                                color=line.get_color())
        if timed:
            t = part[part["elapsed_s"].notna()]
            axes[0][1].plot(t["elapsed_s"] / 60, t["mean"], marker="o", label=label, color=line.get_color())
    axes[0][0].set_xlabel("epoch")
    axes[0][0].xaxis.set_major_locator(MaxNLocator(integer=True))
    if timed:
        axes[0][1].set_xlabel("wall time (min, mean over runs; validation included)")
    for ax in axes[0]:
        ax.set_ylabel(curves.metric)
        ax.set_ylim(0, min(1.0, max(0.1, 1.15 * float((table["mean"] + table["std"].fillna(0)).max()))))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _save(fig, out)


def subplots(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] | None = None,
             squeeze: bool = True) -> tuple[Figure, Any]:
    """``pyplot.subplots`` without pyplot: a Figure saved to files only, so no GUI backend is selected and no
    global state (pyplot's figure registry, ``matplotlib.use``) changes; it is freed with its last reference."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze)


def _save(fig: Figure, out: Path) -> Path:
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    return out
