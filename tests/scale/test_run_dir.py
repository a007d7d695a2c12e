"""Run directories under SLURM are named by the job: all ranks of a job share one, and a requeued job
(same id) finds its own checkpoints; outside SLURM one suffix per process keeps runs apart."""

from __future__ import annotations

from clinprompt.config import unique_suffix

SLURM_VARS = ("SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_JOB_ID")


def test_suffix_is_the_slurm_job(monkeypatch):
    for v in SLURM_VARS:
        monkeypatch.delenv(v, raising=False)
    local = unique_suffix()
    assert local == unique_suffix() and not local.startswith("j")
    monkeypatch.setenv("SLURM_JOB_ID", "4711")
    assert unique_suffix() == "j4711"
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "4700")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    assert unique_suffix() == "j4700_3"  # array task: stable across requeue, distinct per grid point


# ---- what a run directory guarantees (clinprompt.training.run_dir) -------------------------------------------
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TINY = ["model=tiny_bert", "trainer=fast", "logger=csv_only", "dataset.loader.n_train=8", "dataset.loader.n_dev=2",
        "dataset.loader.n_test=2", "trainer.limit_train_batches=2", "callbacks.early_stopping=null"]
BRAT = ["model=tiny_bert", "trainer=fast", "logger=csv_only", "dataset=brat", "callbacks.early_stopping=null"]


def _train(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline", "CLINPROMPT_CACHE_DIR": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)


def _snapshot(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*"))
            if p.is_file() and p.name != "train.log"}


def test_same_dir_same_config_is_finished_other_config_refused(tmp_path):
    run = tmp_path / "run"
    first = _train(tmp_path, *TINY, "seed=1", f"hydra.run.dir={run}")
    assert first.returncode == 0, first.stderr[-3000:]
    before = _snapshot(run)
    res = json.loads((run / "results.json").read_text())
    assert res["run"]["status"] == "finished" and res["run"]["config_fingerprint"]

    again = _train(tmp_path, *TINY, "seed=1", f"hydra.run.dir={run}")  # the same command
    assert again.returncode == 0, again.stderr[-3000:]
    assert "finished:" in again.stdout and "rerun=true" in again.stdout
    assert "Restoring states" not in again.stderr and "Epoch" not in again.stderr  # nothing trained
    assert _snapshot(run) == before

    other = _train(tmp_path, *TINY, "seed=2", f"hydra.run.dir={run}")
    assert other.returncode == 1
    lines = _failure_lines(other.stderr)
    assert len(lines) == 1, other.stderr
    fp = res["run"]["config_fingerprint"]
    assert fp in lines[0] and "differs in seed" in lines[0] and "hydra.run.dir=" in lines[0]
    assert _snapshot(run) == before  # results, checkpoints, .hydra/ and fingerprint untouched


def _failure_lines(stderr: str) -> list[str]:
    """The console's lines apart from Lightning's own INFO notices (seed set, ...): the failure, once."""
    assert "Traceback" not in stderr
    return [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("INFO:")]


def _brat(root: Path, n_train: int = 6) -> Path:
    """A brat corpus with entities and no relations."""
    for split, n in (("train", n_train), ("dev", 2), ("test", 2)):
        (root / split).mkdir(parents=True)
        for i in range(n):
            text = f"Patient {i} takes aspirin daily for pain.\n"
            (root / split / f"{split}{i}.txt").write_text(text)
            start = text.index("aspirin")
            (root / split / f"{split}{i}.ann").write_text(f"T1\tDrug {start} {start + 7}\taspirin\n")
    return root


def test_relations_task_on_a_corpus_without_relations_fails_naming_the_key(tmp_path):
    corpus = _brat(tmp_path / "corpus")
    run = tmp_path / "run"
    proc = _train(tmp_path, *BRAT, f"dataset.root={corpus}", "task=relations", f"hydra.run.dir={run}")
    assert proc.returncode == 1
    line = ("ConfigError: task=relations: dataset brat has no relation types; use task=concepts "
            "or a corpus with relations")
    assert _failure_lines(proc.stderr) == [line]
    res = json.loads((run / "results.json").read_text())
    assert res["run"]["status"] == "failed" and res["run"]["error"] == line
    assert "Traceback" in (run / "error.log").read_text()


def test_loader_failure_records_the_root_cause_in_results_and_report(tmp_path):
    from clinprompt.cli.report import main as report

    empty = tmp_path / "not_a_corpus"
    empty.mkdir()
    run = tmp_path / "runs" / "run"
    proc = _train(tmp_path, *BRAT, f"dataset.root={empty}", f"hydra.run.dir={run}")
    assert proc.returncode == 1
    res = json.loads((run / "results.json").read_text())
    error = res["run"]["error"]
    # the loader's own line, not Hydra's "InstantiationException: Error in call to target ..." wrapper
    assert error.startswith(f"FileNotFoundError: brat corpus at {empty} has no train/ folder"), error
    assert "error.log" in res["run"]["hint"]
    assert _failure_lines(proc.stderr) == [error]
    assert report([str(tmp_path / "runs"), "--out", str(tmp_path / "report")]) == 0
    md = (tmp_path / "report" / "report.md").read_text()
    assert "| failed | `run` |" in md and error in md  # listed with its cause, not Hydra's wrapper
    from clinprompt.reporting.collect import collect

    (only,) = collect([tmp_path / "runs"])
    assert only.status == "failed" and only.error == error


def test_failing_sweep_ends_with_a_summary_of_every_job(tmp_path):
    """The user's own command on a machine without the weights: four failed jobs, one summary."""
    sweep = tmp_path / "sweep"
    env = {**os.environ, "WANDB_MODE": "offline", "CLINPROMPT_CACHE_DIR": str(tmp_path / "cache"),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    proc = subprocess.run([sys.executable, str(REPO / "train.py"), "-m", "model=gatortron_3_9b,gatortron_8_9b",
                           "strategy=soft_frozen", "prompt_len=32,64", f"hydra.sweep.dir={sweep}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    err = proc.stderr
    summary = err[err.index(f"sweep {sweep}: 4 jobs: 0 finished, 4 failed"):].splitlines()
    assert len(summary) == 5, err[-3000:]
    for line, model, plen in zip(summary[1:], ["gatortron_3_9b"] * 2 + ["gatortron_8_9b"] * 2, [32, 64] * 2,
                                 strict=True):
        assert f"model={model},prompt_len={plen}" in line
        assert "failed: ModelUnavailableError: model '" + model + "': cannot load" in line
    assert "Traceback" not in err


def test_fingerprint_ignores_what_does_not_change_the_result(tmp_path):
    from clinprompt.training import run_dir as rd

    run = tmp_path / "run"
    base = {"seed": 1, "batch_size": 8, "paths": {"output_dir": str(run)},
            "logger": {"csv": {"save_dir": str(run)}},
            "callbacks": {"early_stopping": {"patience": 3}, "model_checkpoint": {"monitor": "f1", "dirpath": "x"},
                          "periodic_checkpoint": {"every_n_train_steps": 100}},
            "dataset": {"cache": True}, "module": {"datamodule": {"dataset": {"cache": True}, "seed": 1},
                                                    "out": str(run / "predictions")}}
    fp = rd.fingerprint(base, run)
    same = json.loads(json.dumps(base))
    same["callbacks"]["periodic_checkpoint"]["every_n_train_steps"] = 7   # checkpoint cadence
    same["callbacks"]["kill"] = {"step": 3}                               # a test harness
    same["dataset"]["cache"] = same["module"]["datamodule"]["dataset"]["cache"] = False
    same["logger"] = {}
    assert rd.fingerprint(same, run) == fp
    moved = json.loads(json.dumps(base).replace(str(run), str(tmp_path / "elsewhere")))
    assert rd.fingerprint(moved, tmp_path / "elsewhere") == fp  # values under the run dir are relative to it
    other = json.loads(json.dumps(base))
    other["seed"] = other["module"]["datamodule"]["seed"] = 2
    other["callbacks"]["early_stopping"]["patience"] = 5                  # decides when training stops
    assert rd.fingerprint(other, run) != fp
    assert rd.differing_keys(rd.fingerprinted(base, run), rd.fingerprinted(other, run)) == [
        "seed", "callbacks.early_stopping.patience", "module.datamodule.seed"]
