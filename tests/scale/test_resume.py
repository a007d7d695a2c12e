"""Preemption and resume: a real signal mid-epoch, the same command again, the same final model and metrics
as a run that was never interrupted. And a sweep goes on past a failing job, which is recorded."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from clinprompt.reporting.curves import ELAPSED

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
RUN = ["model=tiny_bert", "trainer=fast", "logger=csv_only", "dataset.loader.n_train=12", "dataset.loader.n_dev=4",
       "dataset.loader.n_test=4", "trainer.max_epochs=2", "trainer.limit_train_batches=4", "trainer.deterministic=true",
       "seed=7", "batch_size=8", "callbacks.early_stopping=null"]


def command(run_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, str(REPO / "train.py"), *RUN, f"hydra.run.dir={run_dir}", *extra]


def env_for(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "WANDB_MODE": "offline", "CLINPROMPT_CACHE_DIR": str(tmp_path / "cache"),
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}


def run(cmd: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=tmp_path, env=env_for(tmp_path), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def final_state(run_dir: Path) -> tuple[int, dict[str, torch.Tensor]]:
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False, map_location="cpu")
    return ckpt["global_step"], ckpt["state_dict"]


def test_signal_mid_epoch_then_restart_equals_uninterrupted(tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    run(command(straight), tmp_path)

    marker = tmp_path / "paused"
    pause = ["+callbacks.pause._target_=pause_callback.PauseAt", "+callbacks.pause.epoch=1",
             "+callbacks.pause.batch=1", f"+callbacks.pause.marker={marker}"]
    proc = subprocess.Popen(command(resumed, *pause), cwd=tmp_path, env=env_for(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), proc.communicate()[1][-3000:]
    proc.send_signal(signal.SIGTERM)  # what SLURM sends a preempted job
    _, err = proc.communicate(timeout=300)
    assert proc.returncode != 0, "the run should stop on the signal"
    assert "Preempted" in err
    res = json.loads((resumed / "results.json").read_text())
    assert res["run"]["status"] == "interrupted"
    step, _ = final_state(resumed)
    assert step == 7  # epoch 1 (4 batches each), paused after its 2nd batch, saved after its 3rd: mid-epoch

    out = run(command(resumed), tmp_path)  # the same command, the same run directory
    log = (resumed / "train.log").read_text() + out.stderr
    assert "resuming mid-epoch 1 after 3 batches" in log

    step_a, weights_a = final_state(straight)
    step_b, weights_b = final_state(resumed)
    assert step_a == step_b == 8
    assert weights_a.keys() == weights_b.keys()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    res_a = json.loads((straight / "results.json").read_text())
    res_b = json.loads((resumed / "results.json").read_text())
    assert res_b["run"]["status"] == "finished"
    assert res_a["metrics"]["test"] == res_b["metrics"]["test"]
    assert res_a["metrics"]["dev"] == res_b["metrics"]["dev"]


def test_sweep_continues_past_a_failing_job_and_records_it(tmp_path):
    sweep = tmp_path / "sweep"
    # prompt_len=0 is refused by a soft strategy when the module is built: job 0 fails, job 1 must still run
    cmd = [sys.executable, str(REPO / "train.py"), "-m", *RUN[:6], "strategy=soft_frozen", "prompt_len=0,2",
           "trainer.max_epochs=1", f"hydra.sweep.dir={sweep}"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env_for(tmp_path), capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0  # the sweep reports the failure at its end
    by_len = {json.loads(p.read_text())["grid"]["prompt_len"]: json.loads(p.read_text())
              for p in sweep.glob("*/results.json")}
    assert by_len[0]["run"]["status"] == "failed" and "prompt_len" in by_len[0]["run"]["error"]
    assert by_len[2]["run"]["status"] == "finished" and by_len[2]["metrics"]["test"]


def test_resumable_loader_state_is_epoch_and_position_and_sets_the_batch_sampler_epoch():
    from clinprompt.data.datamodule import TaskBatchSampler
    from clinprompt.data.loader import ResumableDataLoader

    plain = ResumableDataLoader(list(range(10)), batch_size=3)
    it = iter(plain)  # Lightning creates the iterator before it restores the state: the skip must still apply
    plain.load_state_dict({"epoch": 0, "batches": 2})
    assert plain.resuming_mid_epoch
    assert [b.tolist() for b in it] == [[6, 7, 8], [9]]
    assert plain.state_dict() == {"epoch": 0, "batches": 4}
    assert [b.tolist() for b in plain] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]  # one-shot

    tasks = ["concepts"] * 12
    reference = TaskBatchSampler(tasks, 4, seed=1)
    reference.set_epoch(2)
    epoch2 = [list(b) for b in reference]
    loader = ResumableDataLoader(list(range(12)), batch_sampler=TaskBatchSampler(tasks, 4, seed=1))
    it = iter(loader)
    next(iter(loader))
    assert loader.state_dict() == {"epoch": 0, "batches": 1}
    loader.load_state_dict({"epoch": 2, "batches": 1})
    assert [b.tolist() for b in it] == epoch2[1:]
    assert epoch2 != [list(b) for b in TaskBatchSampler(tasks, 4, seed=1)]
    # a checkpoint from the end of epoch 2 leaves nothing to skip once epoch 3 starts
    loader.load_state_dict({"epoch": 2, "batches": 3})
    loader.set_epoch(3)
    reference.set_epoch(3)
    assert [b.tolist() for b in loader] == [list(b) for b in reference]


def test_sigkill_at_random_steps_then_restart_equals_uninterrupted(tmp_path):
    """SIGKILL (nothing to catch) before the first checkpoint and again mid-epoch after a periodic one; each
    time the same command resumes from checkpoints/last.ckpt. Weights, metrics and the CSV log (every row,
    every value) must equal those of a run never interrupted. 3 epochs x 4 batches; last.ckpt at every epoch
    end and every 3 steps, so the checkpoints are at steps 3, 4, 6, 8, 9, 12."""
    seed = int(os.environ.get("CLINPROMPT_KILL_SEED", time.time_ns() % 10_000))
    rng = random.Random(seed)
    first = rng.choice([1, 2])                       # before any checkpoint: the rerun starts from scratch
    second = rng.choice([5, 7, 10, 11])              # mid-epoch, after an end-of-epoch or periodic checkpoint
    print(f"CLINPROMPT_KILL_SEED={seed}: SIGKILL at steps {first} and {second}")
    extra = ["trainer.max_epochs=3", "callbacks.periodic_checkpoint.every_n_train_steps=3"]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    env = env_for(tmp_path)
    background = subprocess.Popen(command(straight, *extra), cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
    for step in (first, second):
        kill = ["+callbacks.kill._target_=kill_callback.KillAt", f"+callbacks.kill.step={step}"]
        proc = subprocess.run(command(killed, *extra, *kill), cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
        res = json.loads((killed / "results.json").read_text())
        assert res["run"]["status"] == "running"  # killed: nothing could record it
    run(command(killed, *extra), tmp_path)
    assert background.wait(timeout=600) == 0, background.stderr.read()[-3000:]

    step_a, weights_a = final_state(straight)
    step_b, weights_b = final_state(killed)
    assert step_a == step_b == 12
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    res_a = json.loads((straight / "results.json").read_text())
    res_b = json.loads((killed / "results.json").read_text())
    assert res_b["run"]["status"] == "finished"
    assert res_a["metrics"] == res_b["metrics"]
    rows_a, rows_b = (list(csv.DictReader(io.StringIO((run / "csv" / "metrics.csv").read_text())))
                      for run in (straight, killed))
    # wall time is the one column a restart may change (the resumed run carries its elapsed time over)
    assert [{k: v for k, v in r.items() if k != ELAPSED} for r in rows_a] == \
           [{k: v for k, v in r.items() if k != ELAPSED} for r in rows_b]
    assert sum(bool(r.get(ELAPSED)) for r in rows_a) == sum(bool(r.get(ELAPSED)) for r in rows_b) > 0
    steps = [row["step"] for row in rows_b if row.get("train/loss")]
    assert steps == [str(i) for i in range(12)]  # every training step logged once
