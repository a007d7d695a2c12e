"""Finding runs and classifying their status: nothing is dropped silently."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_runs import write_run

from clinprompt.reporting.collect import collect, find_run_dirs


def test_every_run_is_found_with_its_status(tmp_path: Path) -> None:
    sweep = tmp_path / "multirun" / "2026-11-24_20-00-00"
    write_run(sweep / "0_strategy=no_prompt_a", strategy="no_prompt")
    write_run(sweep / "1_strategy=hard_prompt_b", status="failed")
    write_run(sweep / "2_strategy=soft_frozen_c", status="running", strategy="soft_frozen")
    write_run(sweep / "3_strategy=soft_unfrozen_d", status="unfinished", strategy="soft_unfrozen")
    broken = write_run(sweep / "4_x_e")
    (broken / "results.json").write_text('{"run": {"status": ')
    (sweep / "0_strategy=no_prompt_a" / "wandb" / "offline-run-1").mkdir(parents=True)  # not a run
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    (sweep / "5_died_at_compose_f").mkdir()
    (sweep / "5_died_at_compose_f" / "train.log").write_text("")  # no .hydra/, no results.json
    (sweep / "report").mkdir()  # a report folder is not a run

    runs = {r.dir.name: r for r in collect([tmp_path / "multirun"])}
    assert {n: r.status for n, r in runs.items()} == {
        "0_strategy=no_prompt_a": "finished", "1_strategy=hard_prompt_b": "failed",
        "2_strategy=soft_frozen_c": "running", "3_strategy=soft_unfrozen_d": "unfinished", "4_x_e": "unreadable",
        "5_died_at_compose_f": "unfinished"}
    assert runs["1_strategy=hard_prompt_b"].error == "RuntimeError: boom"
    assert "results.json:1" in runs["4_x_e"].error
    assert runs["0_strategy=no_prompt_a"].metric("concepts/strict/micro/f1") == pytest.approx(0.8)


def test_overlapping_roots_do_not_duplicate_runs(tmp_path: Path) -> None:
    run = write_run(tmp_path / "s" / "0_a")
    assert find_run_dirs([tmp_path, tmp_path / "s", run]) == [run.resolve()]


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope"):
        find_run_dirs([tmp_path / "nope"])


def test_per_document_counts_and_non_grid_overrides(tmp_path: Path) -> None:
    run = collect([write_run(tmp_path / "r", per_doc={"a": [1, 0, 1], "b": [2, 1, 0]},
                             overrides=["strategy=soft_frozen", "strategy.lr.prompt=0.01", "trainer=fast",
                                        "paths.data_dir=/x", "fold=1"])])[0]
    assert run.per_document()["b"]["concepts"]["strict"] == [2, 1, 0]
    assert run.overrides == {"strategy.lr.prompt": "0.01"}   # grid keys, trainer and paths are not settings


def test_running_run_without_a_recent_heartbeat_is_stale(tmp_path: Path) -> None:
    """A run killed with -9 stays `running` in its results.json; its heartbeat says whether it is alive."""
    import datetime as dt
    import json

    from clinprompt.cli.report import main as report
    from clinprompt.reporting.collect import collect

    now = dt.datetime.now(dt.UTC)
    for name, age_min in (("alive", 2), ("killed", 45)):
        run = tmp_path / "runs" / name
        run.mkdir(parents=True)
        beat = (now - dt.timedelta(minutes=age_min)).isoformat(timespec="seconds")
        (run / "results.json").write_text(json.dumps({"run": {"status": "running", "started": beat,
                                                              "heartbeat": beat}, "grid": {}}))
    by_name = {r.dir.name: r for r in collect([tmp_path / "runs"])}
    assert by_name["alive"].status == "running"
    assert by_name["killed"].status == "stale" and "no heartbeat for 45 min" in by_name["killed"].error
    by_name = {r.dir.name: r for r in collect([tmp_path / "runs"], stale_after_s=60 * 60)}
    assert by_name["killed"].status == "running"  # configurable: an hour's grace
    report([str(tmp_path / "runs"), "--out", str(tmp_path / "report"), "--stale-after", "10"])
    md = (tmp_path / "report" / "report.md").read_text() if (tmp_path / "report" / "report.md").exists() else ""
    runs_csv = (tmp_path / "report" / "runs.csv").read_text()
    assert "stale" in runs_csv and ("stale" in md or not md)
