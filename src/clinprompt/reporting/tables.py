"""Paper-shaped tables over many runs: settings (rows) × F1 columns, averaged over seeds (and CV folds).

Rows are model × strategy × every other key that varies across the runs; seeds and folds are what gets
averaged. Each table is a pandas DataFrame (CSV as is) with a Markdown rendering for the report."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pandas as pd

from clinprompt.reporting.collect import Run
from clinprompt.reporting.significance import aligned, compare, pooled_counts
from clinprompt.strategy import StrategyError, build_strategy
from clinprompt.training.results import GRID_KEYS

STRATEGY_ORDER = ("no_prompt", "hard_prompt", "soft_unfrozen", "soft_frozen")
AVERAGED = ("seed", "fold")
# (column label, path below metrics[split])
F1_COLUMNS = (
    ("concept strict F1", "concepts/strict/micro/f1"),
    ("concept lenient F1", "concepts/lenient/micro/f1"),
    ("relation strict F1", "relations/strict/micro/f1"),
    ("relation lenient F1", "relations/lenient/micro/f1"),
)
OVERLAP_CLASSES = ("nested", "overlapping", "flat")


# ---- grouping ------------------------------------------------------------------------------------------
def setting_of(run: Run) -> dict[str, Any]:
    """Everything that identifies a run's setting: grid keys and the non-grid swept overrides."""
    return {**{k: run.grid.get(k) for k in GRID_KEYS}, **run.overrides}


def swept_keys(runs: Sequence[Run]) -> list[str]:
    """Keys whose value differs between runs (grid keys first, then other overrides, e.g. learning rates)."""
    settings = [setting_of(r) for r in runs]
    keys = list(GRID_KEYS) + sorted({k for s in settings for k in s} - set(GRID_KEYS))
    return [k for k in keys if len({_hashable(s.get(k)) for s in settings}) > 1]


def row_keys(runs: Sequence[Run]) -> list[str]:
    """model, strategy, then every other swept key except those averaged over (seed, fold)."""
    rest = [k for k in swept_keys(runs) if k not in ("model", "strategy", *AVERAGED)]
    return ["model", "strategy", *rest]


def _hashable(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def _sort_value(key: str, v: Any) -> tuple:
    if key == "strategy" and v in STRATEGY_ORDER:
        return (0, STRATEGY_ORDER.index(v), "")
    if v is None:  # shots=None means "all": after every number
        return (2, math.inf, "")
    try:
        return (1, float(v), "")
    except (TypeError, ValueError):
        return (1, math.inf, str(v))


def group_runs(runs: Sequence[Run], keys: Sequence[str]) -> list[tuple[tuple, list[Run]]]:
    """Runs grouped by their values of ``keys``; models ordered by size, strategies in the paper's order."""
    groups: dict[tuple, list[Run]] = {}
    for r in runs:
        s = setting_of(r)
        groups.setdefault(tuple(_hashable(s.get(k)) for k in keys), []).append(r)
    size = {r.grid.get("model"): r.params.get("total") or 0 for r in runs}

    def order(item: tuple[tuple, list[Run]]) -> tuple:
        values = item[0]
        out = []
        for k, v in zip(keys, values, strict=True):
            out.append((0, size.get(v, 0), str(v)) if k == "model" else _sort_value(k, v))
        return tuple(out)

    return sorted(groups.items(), key=order)


def keyed_frame(rows: list[dict[str, Any]], keys: Sequence[str]) -> pd.DataFrame:
    """A DataFrame whose key columns keep Python values (no 25 -> 25.0, None -> NaN)."""
    df = pd.DataFrame(rows)
    for k in keys:
        if k in df:
            df[k] = pd.Series([row.get(k) for row in rows], dtype=object, index=df.index)
    return df


def show(key: str, v: Any) -> str:
    if v is None:
        return "all" if key == "shots" else "-"
    return str(v)


# ---- numbers -------------------------------------------------------------------------------------------
def mean_std(values: Iterable[float | None]) -> tuple[float | None, float | None, int]:
    xs = [v for v in values if v is not None]
    if not xs:
        return None, None, 0
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else None), len(xs)


def fmt(mean: float | None, std: float | None = None, digits: int = 3) -> str:
    if mean is None:
        return "-"
    return f"{mean:.{digits}f}" if std is None else f"{mean:.{digits}f} ± {std:.{digits}f}"


# ---- the main table --------------------------------------------------------------------------------------
def present_columns(runs: Sequence[Run], split: str = "test") -> list[tuple[str, str]]:
    """The F1 columns some run actually has (relations only for relation/end-to-end tasks)."""
    return [(label, path) for label, path in F1_COLUMNS if any(r.metric(path, split) is not None for r in runs)]


def summary_table(runs: Sequence[Run], keys: Sequence[str], split: str = "test") -> pd.DataFrame:
    """One row per setting: mean and std of each F1 over seeds/folds, trainable %, total params, n runs."""
    finished = [r for r in runs if r.finished]
    rows = []
    for values, group in group_runs(finished, keys):
        row: dict[str, Any] = dict(zip(keys, values, strict=True))
        for label, path in present_columns(finished, split):
            m, s, _ = mean_std(r.metric(path, split) for r in group)
            row[f"{label} mean"], row[f"{label} std"] = m, s
        row["trainable %"] = mean_std(r.params.get("trainable_pct") for r in group)[0]
        row["total params"] = mean_std(r.params.get("total") for r in group)[0]
        row["n"] = len(group)
        rows.append(row)
    return keyed_frame(rows, keys)


def add_comparisons(table: pd.DataFrame, runs: Sequence[Run], keys: Sequence[str], baseline: str | None,
                    metrics: Sequence[tuple[str, str]] = (("concepts", "strict"),), n_resamples: int = 9999,
                    confidence: float = 0.95) -> pd.DataFrame:
    """Per row, the paired F1 difference to the ``baseline`` strategy in the same setting (same other keys):
    bootstrap CI and randomization p-value over test documents, seeds/folds pooled per document."""
    if baseline is None or "strategy" not in keys or table.empty:
        return table
    finished = [r for r in runs if r.finished]
    by_setting = dict(group_runs(finished, keys))
    s_idx = list(keys).index("strategy")
    table = table.copy()
    for kind, mode in metrics:
        col = f"Δ {kind[:-1]} {mode} F1 vs {baseline}"
        diffs, cis, ps = [], [], []
        for _, row in table.iterrows():
            values = tuple(_hashable(None if _isnan(row[k]) else row[k]) for k in keys)
            base_values = values[:s_idx] + (baseline,) + values[s_idx + 1:]
            result = None
            base_runs = _baseline_runs(by_setting, keys, base_values, baseline)
            if values[s_idx] != baseline and base_runs:
                result = _compare_groups(by_setting[values], base_runs, kind, mode, n_resamples, confidence)
            diffs.append(result.diff if result else None)
            ok = result is not None and math.isfinite(result.ci_low)
            cis.append(f"[{result.ci_low:+.3f}, {result.ci_high:+.3f}]" if ok else None)
            ps.append(result.p_value if ok else None)
        table[col], table[f"{col} {int(confidence * 100)}% CI"], table[f"{col} p"] = diffs, cis, ps
    return table


def _baseline_runs(by_setting: dict[tuple, list[Run]], keys: Sequence[str], base_values: tuple,
                   baseline: str) -> list[Run] | None:
    """The baseline's runs in the same setting; a prompt-free baseline ignores prompt_len (it has no prompt)."""
    if base_values in by_setting:
        return by_setting[base_values]
    if "prompt_len" not in keys or any(_uses_prompt_len(r) for runs in by_setting.values() for r in runs
                                       if r.grid.get("strategy") == baseline):
        return None
    i = list(keys).index("prompt_len")
    same = [v for v in by_setting if v[:i] + v[i + 1:] == base_values[:i] + base_values[i + 1:]]
    return by_setting[same[0]] if same else None


def _uses_prompt_len(run: Run) -> bool:
    """Whether the run's recorded strategy (``.hydra/config.yaml``) has a prompt whose length matters; a run that
    recorded no readable strategy is taken as prompt-free (real runs always record theirs)."""
    path = run.dir / ".hydra" / "config.yaml"
    if not path.is_file():
        return False
    from omegaconf import OmegaConf

    try:
        cfg = OmegaConf.to_container(OmegaConf.load(path).get("strategy") or {}, resolve=False)
        return build_strategy(cfg).uses_prompt_len
    except (StrategyError, ValueError, TypeError, OSError):
        return False


def _isnan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _compare_groups(runs_a: list[Run], runs_b: list[Run], kind: str, mode: str, n_resamples: int,
                    confidence: float):
    """Pair the two settings' runs by (seed, fold), pool per-document counts, test. None if not possible."""
    key = lambda r: (r.grid.get("seed"), r.grid.get("fold"))
    common = sorted({key(r) for r in runs_a} & {key(r) for r in runs_b}, key=str)
    if not common:
        return None
    docs_a = [next(r for r in runs_a if key(r) == k).per_document() for k in common]
    docs_b = [next(r for r in runs_b if key(r) == k).per_document() for k in common]
    if any(d is None for d in docs_a + docs_b):
        return None
    try:
        a, b = aligned(pooled_counts(docs_a, kind, mode), pooled_counts(docs_b, kind, mode))
    except ValueError:
        return None
    return compare(a, b, n_resamples=n_resamples, confidence=confidence)


# ---- error analysis ------------------------------------------------------------------------------------
def error_analysis_table(runs: Sequence[Run], keys: Sequence[str], split: str = "test") -> pd.DataFrame:
    """Recall of gold entities nested in / overlapping another gold entity vs the rest, per setting."""
    finished = [r for r in runs if r.finished and r.metrics.get(split, {}).get("error_analysis")]
    rows = []
    for values, group in group_runs(finished, keys):
        row: dict[str, Any] = dict(zip(keys, values, strict=True))
        for mode in ("strict", "lenient"):
            for cls in OVERLAP_CLASSES:
                # a class with no gold entity has no recall (the scorer writes 0.0 for it)
                m, s, _ = mean_std(r.metric(f"error_analysis/{mode}/{cls}/recall", split) for r in group
                                   if r.metric(f"error_analysis/{mode}/{cls}/total", split))
                row[f"{cls} recall {mode} mean"], row[f"{cls} recall {mode} std"] = m, s
        for cls in OVERLAP_CLASSES:
            row[f"gold {cls}"] = group[0].metric(f"error_analysis/strict/{cls}/total", split)
        row["n"] = len(group)
        rows.append(row)
    return keyed_frame(rows, keys)


def per_type_deltas(runs: Sequence[Run], keys: Sequence[str], baseline: str | None,
                    split: str = "test", mode: str = "strict") -> pd.DataFrame:
    """Per entity/relation type: the baseline strategy's mean F1 and each other strategy's mean delta to it."""
    if baseline is None or "strategy" not in keys:
        return pd.DataFrame()
    context = [k for k in keys if k != "strategy"]
    finished = [r for r in runs if r.finished]
    rows = []
    for ctx_values, group in group_runs(finished, context):
        strategies = [v[0] for v, _ in group_runs(group, ["strategy"])]
        if baseline not in strategies or len(strategies) < 2:
            continue
        by_strategy = {v[0]: g for v, g in group_runs(group, ["strategy"])}
        for kind in ("concepts", "relations"):
            types = sorted({t for r in group for t in (r.metrics.get(split, {}).get(kind, {})
                                                        .get(mode, {}).get("per_type", {}) or {})})
            for t in types:
                path = f"{kind}/{mode}/per_type/{t}/f1"
                base = mean_std(r.metric(path, split) for r in by_strategy[baseline])[0]
                row: dict[str, Any] = {**dict(zip(context, ctx_values, strict=True)), "kind": kind, "type": t,
                                       f"{baseline} F1": base}
                for s in strategies:
                    if s == baseline:
                        continue
                    other = mean_std(r.metric(path, split) for r in by_strategy[s])[0]
                    row[f"Δ {s}"] = None if base is None or other is None else other - base
                rows.append(row)
    return keyed_frame(rows, context)


# ---- rendering -----------------------------------------------------------------------------------------
def markdown(table: pd.DataFrame, keys: Sequence[str], cells: Sequence[tuple[str, Callable[[pd.Series], str]]]) -> str:
    """A GitHub Markdown table: the key columns shown as values, then one formatted cell per spec."""
    if table.empty:
        return "_no finished runs_\n"
    header = [*keys, *(label for label, _ in cells)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for _, row in table.iterrows():
        vals = [show(k, None if _isnan(row[k]) else row[k]) for k in keys]
        vals += [render(row) for _, render in cells]
        lines.append("| " + " | ".join(vals) + " |")
    return "\n".join(lines) + "\n"


def _get(row: pd.Series, col: str) -> float | None:
    v = row.get(col)
    return None if v is None or _isnan(v) else float(v)


def summary_cells(table: pd.DataFrame) -> list[tuple[str, Callable[[pd.Series], str]]]:
    cells: list[tuple[str, Callable[[pd.Series], str]]] = []
    for label, _ in F1_COLUMNS:
        if f"{label} mean" in table:
            cells.append((label, lambda r, c=label: fmt(_get(r, f"{c} mean"), _get(r, f"{c} std"))))
    cells.append(("trainable %", lambda r: fmt(_get(r, "trainable %"), digits=2)))
    for col in [c for c in table.columns if c.startswith("Δ ") and not c.endswith((" p", " CI"))]:
        ci = next(c for c in table.columns if c.startswith(col) and c.endswith(" CI"))
        cells.append((f"{col} [{ci[len(col) + 1:]}]",
                      lambda r, c=col, ci=ci: "-" if _get(r, c) is None else f"{_get(r, c):+.3f} {r[ci] or ''}"))
        cells.append(("p", lambda r, c=col: "-" if _get(r, f"{c} p") is None else f"{_get(r, f'{c} p'):.4f}"))
    cells.append(("n", lambda r: str(int(r["n"]))))
    return cells


def error_cells(mode: str = "strict") -> list[tuple[str, Callable[[pd.Series], str]]]:
    return [(f"{cls} recall ({mode})",
             lambda r, c=cls: fmt(_get(r, f"{c} recall {mode} mean"), _get(r, f"{c} recall {mode} std"))
             + ("" if _get(r, f"gold {c}") is None else f" (of {int(_get(r, f'gold {c}'))})"))
            for cls in OVERLAP_CLASSES] + [("n", lambda r: str(int(r["n"])))]


def delta_cells(table: pd.DataFrame) -> list[tuple[str, Callable[[pd.Series], str]]]:
    cells: list[tuple[str, Callable[[pd.Series], str]]] = [("kind", lambda r: str(r["kind"])),
                                                         ("type", lambda r: str(r["type"]))]
    for col in table.columns:
        if col.endswith(" F1"):
            cells.append((col, lambda r, c=col: fmt(_get(r, c))))
        elif col.startswith("Δ "):
            cells.append((col, lambda r, c=col: "-" if _get(r, c) is None else f"{_get(r, c):+.3f}"))
    return cells
