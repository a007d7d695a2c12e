"""clinprompt-report: tables, plots and significance over the runs under one or more directories.

    clinprompt-report multirun/2026-11-24_21-00-00 [more dirs] [--out DIR] [--baseline no_prompt]
    clinprompt-report multirun/<cv sweep> --select        # best setting by k-fold CV + the command to retrain it
    clinprompt-report --compare RUN_A RUN_B                # paired bootstrap CI + randomization test of two runs
    clinprompt-report --view RUN GOLD_DIR --out view.html  # error-analysis page of RUN's test predictions

Writes report.md, summary.csv, error_analysis.csv, per_type_deltas.csv, runs.csv, learning_curves.csv and PNG
plots. Only metrics, counts and configs are read and written: never note text or predictions (except --view, whose
page holds note text and is written only to the --out file given)."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from clinprompt.cli.view import view_run
from clinprompt.reporting.collect import Run, collect, load_run
from clinprompt.reporting.curves import CURVE_METRIC, Curves, learning_curves
from clinprompt.reporting.plots import plot_frozen_gap, plot_learning_curves, plot_vs
from clinprompt.reporting.selection import select_best
from clinprompt.reporting.significance import aligned, compare, pooled_counts
from clinprompt.reporting.tables import (
    STRATEGY_ORDER,
    add_comparisons,
    delta_cells,
    error_analysis_table,
    error_cells,
    fmt,
    markdown,
    per_type_deltas,
    row_keys,
    setting_of,
    show,
    summary_cells,
    summary_table,
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="clinprompt-report", description=__doc__.split("\n\n")[0])
    p.add_argument("dirs", nargs="*", type=Path, help="run or multirun directories (searched recursively)")
    p.add_argument("--stale-after", type=float, default=30.0, metavar="MINUTES",
                   help="a running run without a heartbeat for this long is listed as stale (default 30)")
    p.add_argument("--out", type=Path, help="output directory (default: <first dir>/report)")
    p.add_argument("--baseline", default="auto",
                   help="strategy every other strategy is compared to (default: no_prompt if present; 'none' = off)")
    p.add_argument("--split", default="test", choices=("test", "dev"), help="metrics of this split in the tables")
    p.add_argument("--n-resamples", type=int, default=9999, help="bootstrap / randomization resamples")
    p.add_argument("--select", action="store_true", help="select the best setting by k-fold CV (runs with fold=i)")
    p.add_argument("--metric", default="concepts/strict/micro/f1", help="metric path for --select")
    p.add_argument("--curve-metric", default=CURVE_METRIC,
                   help="dev metric of the learning curves (a column of the runs' csv/metrics.csv)")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("RUN_A", "RUN_B"), help="compare two runs")
    p.add_argument("--view", nargs=2, type=Path, metavar=("RUN", "GOLD"),
                   help="error-analysis page of RUN's test predictions against the gold notes in GOLD (to --out)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.compare:
            return _compare_two(*args.compare, n_resamples=args.n_resamples)
        if args.view:
            return view_run(*args.view, args.out)
        if not args.dirs:
            raise ValueError("give at least one run or multirun directory")
        runs = collect(args.dirs, stale_after_s=args.stale_after * 60)
        if not runs:
            raise ValueError(f"no runs (results.json or .hydra/) under {', '.join(map(str, args.dirs))}")
        if args.select:
            return _select(runs, args.metric)
        out = args.out or (args.dirs[0] / "report")
        report = write_report(runs, out, baseline=args.baseline, split=args.split, n_resamples=args.n_resamples,
                              curve_metric=args.curve_metric)
    except (ValueError, FileNotFoundError) as err:
        print(f"clinprompt-report: {err}", file=sys.stderr)
        return 2
    print(report.read_text())
    print(f"written: {out}/", file=sys.stderr)
    return 0


def _baseline(runs: list[Run], requested: str) -> str | None:
    strategies = {r.grid.get("strategy") for r in runs if r.finished}
    if requested == "none" or len(strategies) < 2:
        return None
    if requested != "auto":
        if requested not in strategies:
            raise ValueError(f"--baseline {requested}: no finished run has strategy={requested} "
                             f"(found: {', '.join(sorted(map(str, strategies)))})")
        return requested
    return next((s for s in STRATEGY_ORDER if s in strategies), None)


def write_report(runs: list[Run], out: Path, baseline: str = "auto", split: str = "test",
                 n_resamples: int = 9999, curve_metric: str = CURVE_METRIC) -> Path:
    """Every table, CSV and plot for ``runs`` into ``out``; returns the Markdown report's path."""
    out.mkdir(parents=True, exist_ok=True)
    finished = [r for r in runs if r.finished]
    keys = row_keys(finished) if finished else ["model", "strategy"]
    base = _baseline(runs, baseline)
    relations = any(r.metric("relations/strict/micro/f1", split) is not None for r in finished)
    comparisons = [("concepts", "strict")] + ([("relations", "strict")] if relations else [])
    table = add_comparisons(summary_table(runs, keys, split), runs, keys, base, comparisons, n_resamples)
    errors = error_analysis_table(runs, keys, split)
    deltas = per_type_deltas(runs, keys, base, split)
    table.to_csv(out / "summary.csv", index=False)
    errors.to_csv(out / "error_analysis.csv", index=False)
    deltas.to_csv(out / "per_type_deltas.csv", index=False)
    _runs_csv(runs, out / "runs.csv")
    curves = learning_curves(runs, keys, curve_metric)
    curves.table.to_csv(out / "learning_curves.csv", index=False)

    md = [f"# clinprompt report ({len(finished)} finished of {len(runs)} runs)\n"]
    fixed = _constant_settings(finished)
    if fixed:
        md.append("Same in every run: " + ", ".join(f"`{k}={show(k, v)}`" for k, v in fixed.items()) + "\n")
    averaged = " and ".join(k + "s" for k in ("seed", "fold") if len({r.grid.get(k) for r in finished}) > 1)
    md.append(f"## {split} F1 (micro; mean ± std over {averaged or 'runs'}; n = runs per row)\n")
    md.append(markdown(table, keys, summary_cells(table)))
    if base:
        md.append(f"\nΔ = F1(row) − F1({base}, same setting) on pooled per-document counts of the paired "
                  f"seeds/folds; 95% CI by paired bootstrap over test documents, p by approximate randomization "
                  f"(two-sided, {n_resamples} resamples).\n")
    if not errors.empty:
        md.append("\n## Error analysis: recall of gold entities by overlap with other gold entities\n")
        md.append("nested = inside another gold entity; overlapping = sharing characters without containment; "
                  "flat = the rest. (of N) = gold entities of that class in the test set.\n\n")
        md.append(markdown(errors, keys, error_cells("strict")) + "\n" + markdown(errors, keys, error_cells("lenient")))
    if not deltas.empty:
        ctx = [k for k in keys if k != "strategy"]
        md.append(f"\n## Per-type strict F1: {base} and each strategy's difference to it\n")
        md.append(markdown(deltas, ctx, delta_cells(deltas)))
    plots = [p for p in (plot_vs(table, keys, "prompt_len", out / "f1_vs_prompt_len.png", split),
                         plot_vs(table, keys, "shots", out / "f1_vs_shots.png", split),
                         plot_frozen_gap(table, keys, out / "frozen_gap_vs_size.png"),
                         plot_learning_curves(curves, keys, out / "learning_curves.png")) if p]
    if plots:
        md.append("\n## Plots\n")
        md.extend(f"![{p.stem}]({p.name})\n" for p in plots)
    md.append(_curves_note(curves))
    md.append(_not_in_table(runs))
    path = out / "report.md"
    path.write_text("\n".join(md))
    return path


def _curves_note(curves: Curves) -> str:
    lines = [f"\nLearning curves: `{curves.metric}` per epoch and vs wall time from each run's csv/metrics.csv "
             f"(mean ± std over seeds/folds per epoch; data in learning_curves.csv)."]
    if curves.missing:
        lines.append(f" Not in the curves ({len(curves.missing)} finished runs):\n")
        lines.extend(f"- `{d.name}`: {why}" for d, why in curves.missing)
    return "\n".join(lines) + "\n"


def _constant_settings(runs: list[Run]) -> dict:
    if not runs:
        return {}
    settings = [setting_of(r) for r in runs]
    return {k: v for k, v in settings[0].items()
            if k not in ("seed", "fold") and v is not None and all(s.get(k) == v for s in settings)}


def _not_in_table(runs: list[Run]) -> str:
    missing = [r for r in runs if not r.finished]
    if not missing:
        return "\nAll runs finished.\n"
    lines = [f"\n## Runs not in the table ({len(missing)})\n", "| status | run | setting | error |",
             "|---|---|---|---|"]
    for r in missing:
        setting = ", ".join(f"{k}={v}" for k, v in setting_of(r).items() if v is not None)
        error = (r.error or "").replace("|", "\\|")
        lines.append(f"| {r.status} | `{r.dir.name}` | {setting or '-'} | {error or '-'} |")
    return "\n".join(lines) + "\n"


def _runs_csv(runs: list[Run], path: Path) -> None:
    import pandas as pd

    rows = [{"dir": str(r.dir), "status": r.status, **setting_of(r),
             "concept strict F1": r.metric("concepts/strict/micro/f1"),
             "relation strict F1": r.metric("relations/strict/micro/f1"), "error": r.error} for r in runs]
    pd.DataFrame(rows).to_csv(path, index=False)


def _num(v) -> float | None:
    return None if v is None or v != v else float(v)  # NaN != NaN


def _select(runs: list[Run], metric: str) -> int:
    sel = select_best(runs, metric)
    keys = [c for c in sel.candidates.columns if c not in ("cv mean", "cv std", "folds", "n")]
    print(markdown(sel.candidates, keys, [
        ("CV mean ± std", lambda r: fmt(_num(r["cv mean"]), _num(r["cv std"]), digits=4)),
        ("folds", lambda r: str(int(r["folds"]))), ("n", lambda r: str(int(r["n"])))]))
    setting = ", ".join(f"{k}={show(k, v)}" for k, v in sel.setting.items())
    print(f"best by {sel.n_runs}-run CV ({metric}): {setting}  score {sel.score:.4f}", file=sys.stderr)
    print(shlex.join(sel.overrides))
    return 0


def _compare_two(a: Path, b: Path, n_resamples: int) -> int:
    ra, rb = load_run(a), load_run(b)
    for r in (ra, rb):
        if r.per_document() is None:
            raise ValueError(f"{r.dir}/per_document.json: missing (status {r.status}); a finished run writes it")
    print(f"A = {a}\nB = {b}\n")
    print("| kind | mode | F1 A | F1 B | A − B | 95% CI | p (randomization) | docs |")
    print("|---|---|---|---|---|---|---|---|")
    for kind in ("concepts", "relations"):
        for mode in ("strict", "lenient"):
            ca, cb = pooled_counts([ra.per_document()], kind, mode), pooled_counts([rb.per_document()], kind, mode)
            if not ca or not cb:
                continue
            c = compare(*aligned(ca, cb), n_resamples=n_resamples)
            print(f"| {kind} | {mode} | {c.f1_a:.4f} | {c.f1_b:.4f} | {c.diff:+.4f} | "
                  f"[{c.ci_low:+.4f}, {c.ci_high:+.4f}] | {c.p_value:.4f} | {c.n_docs} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
