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
