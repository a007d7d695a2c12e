"""Learning curves in clinprompt-report, checked against hand-written csv logs of fake runs."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from fake_runs import write_metrics_csv, write_run

from clinprompt.cli.report import main
from clinprompt.reporting import plots
from clinprompt.reporting.collect import collect
from clinprompt.reporting.curves import learning_curves, run_curve
from clinprompt.reporting.tables import row_keys

# (strategy, seed) -> per epoch (dev F1, elapsed seconds); soft_unfrozen seed 2 is an older log without time
LOGS = {("no_prompt", 1): [(0.10, 60.0), (0.30, 120.0), (0.40, 180.0)],
        ("no_prompt", 2): [(0.20, 70.0), (0.40, 130.0)],  # stopped early after 2 epochs
        ("soft_unfrozen", 1): [(0.50, 100.0), (0.70, 200.0), (0.60, 300.0)],
        ("soft_unfrozen", 2): [(0.30, None), (0.50, None), (0.80, None)]}
# by hand: strategy -> [(epoch, runs, mean, std, mean elapsed s)]
EXPECTED = {"no_prompt": [(1, 2, 0.15, 0.0707107, 65.0), (2, 2, 0.35, 0.0707107, 125.0),
                          (3, 1, 0.40, math.nan, 180.0)],
            "soft_unfrozen": [(1, 2, 0.40, 0.1414214, 100.0), (2, 2, 0.60, 0.1414214, 200.0),
                              (3, 2, 0.70, 0.1414214, 300.0)]}


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    root = tmp_path / "sweep"
    for i, ((strategy, seed), dev) in enumerate(LOGS.items()):
        write_metrics_csv(write_run(root / f"{i}_{strategy}_{seed}", strategy=strategy, seed=seed), dev)
    write_run(root / "9_hard_prompt_1", strategy="hard_prompt", seed=1)  # logger=none: no csv
    return root


def test_one_run_curve_stops_before_the_tested_checkpoint(sweep: Path) -> None:
    curve = run_curve(next(sweep.glob("0_*")) / "csv" / "metrics.csv", "dev/concepts/strict/micro/f1")
    assert curve["epoch"].tolist() == [1, 2, 3]
    assert curve["value"].tolist() == [0.10, 0.30, 0.40]  # not the 0.99 of the re-validation after testing
    assert curve["elapsed_s"].tolist() == [60.0, 120.0, 180.0]


def test_curves_average_seeds_per_epoch_and_list_runs_without_logs(sweep: Path) -> None:
    runs = collect([sweep])
    curves = learning_curves(runs, row_keys([r for r in runs if r.finished]))
    got = {s: [(r.epoch, r.runs, r.mean, r.std, r.elapsed_s) for r in part.itertuples()]
           for s, part in curves.table.groupby("strategy")}
    assert set(got) == set(EXPECTED)
    for strategy, rows in EXPECTED.items():
        for g, e in zip(got[strategy], rows, strict=True):
            assert g[:2] == e[:2]
            for a, b in zip(g[2:], e[2:], strict=True):
                assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-6), (strategy, g, e)
    assert [(d.name, "no metrics.csv" in why) for d, why in curves.missing] == [("9_hard_prompt_1", True)]


def test_report_plots_the_curves_it_computed(sweep: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = {}
    save = plots._save

    def keep(fig, out):
        if out.name == "learning_curves.png":
            drawn["axes"] = [[(ln.get_label(), ln.get_xdata().tolist(), ln.get_ydata().tolist()) for ln in ax.lines]
                             for ax in fig.axes]
        return save(fig, out)

    monkeypatch.setattr(plots, "_save", keep)
    out = sweep / "report"
    assert main([str(sweep), "--out", str(out), "--n-resamples", "99"]) == 0
    assert (out / "learning_curves.png").stat().st_size > 0
    by_epoch, by_time = drawn["axes"]
    means = {s: [e[2] for e in rows] for s, rows in EXPECTED.items()}
    assert [(lbl, x) for lbl, x, _ in by_epoch] == [("no_prompt", [1, 2, 3]), ("soft_unfrozen", [1, 2, 3])]
    for (lbl, _, y) in by_epoch:
        assert y == pytest.approx(means[lbl])
    assert [(lbl, x) for lbl, x, _ in by_time] == [("no_prompt", pytest.approx([65 / 60, 125 / 60, 3.0])),
                                                   ("soft_unfrozen", pytest.approx([100 / 60, 200 / 60, 5.0]))]
    saved = pd.read_csv(out / "learning_curves.csv")
    assert saved["mean"].tolist() == pytest.approx([0.15, 0.35, 0.40, 0.40, 0.60, 0.70])
    report = (out / "report.md").read_text()
    assert "![learning_curves](learning_curves.png)" in report and "`9_hard_prompt_1`: no metrics.csv" in report


def test_a_log_without_the_metric_is_named_not_plotted(tmp_path: Path) -> None:
    run = write_run(tmp_path / "sweep" / "0_run", strategy="no_prompt")
    write_metrics_csv(run, [(0.2, 10.0)])
    curves = learning_curves(collect([tmp_path / "sweep"]), ["model", "strategy"], metric="dev/macro_f1")
    assert curves.table.empty
    assert len(curves.missing) == 1 and "no column 'dev/macro_f1'" in curves.missing[0][1]
