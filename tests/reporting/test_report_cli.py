"""clinprompt-report end to end on hand-written run directories: table values, failed/unfinished runs,
significance columns, error analysis, per-type deltas, plots, CV selection and two-run comparison."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import pytest
from fake_runs import f1, write_run

from clinprompt.cli.report import main
from clinprompt.reporting.collect import collect
from clinprompt.reporting.plots import frozen_gap
from clinprompt.reporting.tables import row_keys, summary_table

# strategy -> seed -> per-document [tp, fp, fn]
DOCS = {
    "no_prompt": {1: {"d1": [6, 2, 2], "d2": [4, 2, 2]}, 2: {"d1": [5, 1, 3], "d2": [5, 1, 1]}},
    "soft_frozen": {1: {"d1": [7, 1, 1], "d2": [5, 1, 1]}, 2: {"d1": [8, 0, 0], "d2": [5, 0, 1]}},
}


def _f1_of(per_doc: dict[str, list[int]]) -> float:
    return f1(*(sum(c[i] for c in per_doc.values()) for i in range(3)))


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    root = tmp_path / "multirun" / "2026-11-24_20-00-00"
    n = 0
    for strategy, seeds in DOCS.items():
        for seed, docs in seeds.items():
            pct = 100.0 if strategy == "no_prompt" else 1.5
            write_run(root / f"{n}_strategy={strategy},seed={seed}_u", strategy=strategy, seed=seed, per_doc=docs,
                      params={"total": 23_000_000, "trainable": 0, "trainable_pct": pct},
                      per_type={"Drug": [5, 1, 1], "Dose": [2, 2, 2]} if strategy == "no_prompt"
                      else {"Drug": [6, 0, 1], "Dose": [3, 1, 1]},
                      error_analysis={m: {"nested": {"recall": 0.25 * seed, "matched": seed, "total": 4},
                                          "overlapping": {"recall": 0.0, "matched": 0, "total": 0},
                                          "flat": {"recall": 0.9, "matched": 9, "total": 10}}
                                      for m in ("strict", "lenient")})
            n += 1
    write_run(root / f"{n}_strategy=hard_prompt,seed=1_u", strategy="hard_prompt", status="failed")
    write_run(root / f"{n + 1}_strategy=hard_prompt,seed=2_u", strategy="hard_prompt", seed=2, status="unfinished")
    return root


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_report_table_values_and_missing_runs(sweep: Path, capsys: pytest.CaptureFixture) -> None:
    out = sweep / "report"
    assert main([str(sweep), "--n-resamples", "199"]) == 0
    rows = {r["strategy"]: r for r in _rows(out / "summary.csv")}
    assert set(rows) == {"no_prompt", "soft_frozen"}  # the failed and unfinished hard_prompt runs have no row
    for strategy, seeds in DOCS.items():
        f1s = [_f1_of(d) for d in seeds.values()]
        assert float(rows[strategy]["concept strict F1 mean"]) == pytest.approx(statistics.fmean(f1s))
        assert float(rows[strategy]["concept strict F1 std"]) == pytest.approx(statistics.stdev(f1s))
        assert rows[strategy]["n"] == "2"
    assert "relation strict F1 mean" not in rows["no_prompt"]  # concepts-only runs: no relation columns
    assert float(rows["soft_frozen"]["trainable %"]) == 1.5
    # Δ vs the baseline on seed-pooled document counts
    pooled = {s: [sum(seeds[k][d][i] for k in seeds for d in ("d1", "d2")) for i in range(3)]
              for s, seeds in DOCS.items()}
    delta = float(rows["soft_frozen"]["Δ concept strict F1 vs no_prompt"])
    assert delta == pytest.approx(f1(*pooled["soft_frozen"]) - f1(*pooled["no_prompt"]))
    assert rows["no_prompt"]["Δ concept strict F1 vs no_prompt"] == ""

    report = (out / "report.md").read_text()
    assert "| failed | `4_strategy=hard_prompt,seed=1_u`" in report and "RuntimeError: boom" in report
    assert "| unfinished | `5_strategy=hard_prompt,seed=2_u`" in report
    assert "Same in every run: `model=minilm`" in report
    statuses = {r["status"] for r in _rows(out / "runs.csv")}
    assert statuses == {"finished", "failed", "unfinished"}
    # only seeds vary besides the strategy: no prompt_len / shots / model-size axis to plot
    assert not list(out.glob("*.png"))


def test_error_analysis_and_per_type_deltas(sweep: Path) -> None:
    assert main([str(sweep), "--n-resamples", "99", "--baseline", "no_prompt"]) == 0
    err = {r["strategy"]: r for r in _rows(sweep / "report" / "error_analysis.csv")}
    assert float(err["soft_frozen"]["nested recall strict mean"]) == pytest.approx((0.25 + 0.5) / 2)
    assert float(err["soft_frozen"]["gold nested"]) == 4
    assert err["soft_frozen"]["overlapping recall strict mean"] == ""  # no overlapping gold entity: no recall
    deltas = {r["type"]: r for r in _rows(sweep / "report" / "per_type_deltas.csv")}
    assert float(deltas["Drug"]["no_prompt F1"]) == pytest.approx(f1(5, 1, 1))
    assert float(deltas["Dose"]["Δ soft_frozen"]) == pytest.approx(f1(3, 1, 1) - f1(2, 2, 2))


def test_unknown_baseline_is_a_one_line_error(sweep: Path, capsys: pytest.CaptureFixture) -> None:
    assert main([str(sweep), "--baseline", "soft_unfrozen"]) == 2
    assert "--baseline soft_unfrozen" in capsys.readouterr().err


def test_plots_appear_only_for_swept_axes(tmp_path: Path) -> None:
    root = tmp_path / "sweep"
    sizes = {"tiny_a": 1_000_000, "tiny_b": 9_000_000}
    n = 0
    for model, total in sizes.items():
        for strategy in ("soft_unfrozen", "soft_frozen"):
            for shots in (5, 10, None):
                tp = 5 + (shots or 20) // 5 + (strategy == "soft_unfrozen") + (model == "tiny_b")
                write_run(root / f"{n}", model=model, strategy=strategy, shots=shots, per_doc={"d": [tp, 2, 2]},
                          params={"total": total, "trainable": 1, "trainable_pct": 0.1})
                n += 1
    out = tmp_path / "rep"
    assert main([str(root), "--out", str(out), "--n-resamples", "99"]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["f1_vs_shots.png", "frozen_gap_vs_size.png"]
    rows = _rows(out / "summary.csv")
    assert [r["shots"] for r in rows[:3]] == ["5", "10", ""]  # numeric order, "all" (None) last
    runs = collect([root])
    keys = row_keys(runs)
    gap = frozen_gap(summary_table(runs, keys), keys)
    assert len(gap) == 6 and list(gap["shots"][:3]) == [5, 10, None]
    for _, g in gap.iterrows():
        tp = 5 + (g["shots"] or 20) // 5 + (g["model"] == "tiny_b")  # soft_frozen's tp; unfrozen has one more
        assert g["gap"] == pytest.approx(f1(tp + 1, 2, 2) - f1(tp, 2, 2))
        assert g["total params"] == sizes[g["model"]]


def test_select_best_setting_by_cross_validation(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "cv"
    scores = {4: [0.5, 0.6, 0.7], 16: [0.7, 0.6, 0.8]}
    for prompt_len, per_fold in scores.items():
        for fold, score in enumerate(per_fold):
            write_run(root / f"p{prompt_len}_f{fold}", strategy="soft_frozen", prompt_len=prompt_len, fold=fold,
                      dev_f1=score, overrides=["experiment=cpu_cv_synthetic", f"prompt_len={prompt_len}",
                                               f"fold={fold}"])
    assert main([str(root), "--select"]) == 0
    out = capsys.readouterr()
    assert out.out.strip().splitlines()[-1] == "experiment=cpu_cv_synthetic prompt_len=16 fold=null"
    assert "0.7000" in out.out and "0.6000" in out.out   # the two CV means, best first


def test_compare_two_runs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    a = write_run(tmp_path / "a", per_doc={"d1": [8, 0, 2], "d2": [9, 1, 0]})
    b = write_run(tmp_path / "b", per_doc={"d1": [5, 3, 5], "d2": [6, 2, 3]})
    assert main(["--compare", str(a), str(b), "--n-resamples", "99"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| concepts | strict"))
    assert f"{f1(17, 1, 2) - f1(11, 5, 8):+.4f}" in line
    c = write_run(tmp_path / "c", per_doc={"d9": [1, 0, 0]})
    assert main(["--compare", str(a), str(c)]) == 2


def test_prompt_free_baseline_is_matched_across_prompt_lengths(tmp_path: Path) -> None:
    """A prompt-length sweep of soft_frozen vs one no_prompt run: every prompt length gets its Δ to no_prompt."""
    root = tmp_path / "pl"
    docs = {"d1": [4, 2, 2], "d2": [3, 1, 1]}
    write_run(root / "np", strategy="no_prompt", prompt_len=16, per_doc=docs)
    for pl, extra in ((4, 0), (64, 1)):
        write_run(root / f"sf{pl}", strategy="soft_frozen", prompt_len=pl,
                  per_doc={"d1": [4 + extra, 2, 2 - extra], "d2": [3, 1, 1]})
    out = tmp_path / "rep"
    assert main([str(root), "--out", str(out), "--n-resamples", "99"]) == 0
    rows = {(r["strategy"], r["prompt_len"]): r for r in _rows(out / "summary.csv")}
    col = "Δ concept strict F1 vs no_prompt"
    assert float(rows[("soft_frozen", "4")][col]) == pytest.approx(0.0)
    assert float(rows[("soft_frozen", "64")][col]) == pytest.approx(f1(8, 3, 2) - f1(7, 3, 3))
    assert (out / "f1_vs_prompt_len.png").exists()
