"""SLURM through hydra-submitit-launcher on the real local cluster (../shared/slurm/local-cluster.sh, started by
.ci/slurm.sh): a two-point sweep, and one job whose two tasks train with DDP over gloo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TINY = ["model=tiny_bert", "logger=csv_only", "dataset.loader.n_train=12", "dataset.loader.n_dev=4",
        "dataset.loader.n_test=4"]
# the local cluster has no GPUs and 2 cores: one core per task, no memory or GPU request
CPU_JOB = ["hydra.launcher.gpus_per_node=null", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=null",
           "hydra.launcher.timeout_min=20"]


def _cluster_up() -> str | None:
    if not shutil.which("sinfo") or not os.environ.get("SLURM_CONF"):
        return "no SLURM client or SLURM_CONF: start ../shared/slurm/local-cluster.sh (CI: .ci/slurm.sh)"
    proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    if proc.returncode != 0 or not proc.stdout.strip():
        return f"sinfo cannot reach the cluster: {proc.stderr.strip()[:200]}"
    return None


pytestmark = [pytest.mark.slurm, pytest.mark.skipif(_cluster_up() is not None, reason=str(_cluster_up()))]


def sweep(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline", "CLINPROMPT_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, str(REPO / "train.py"), "-m", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_two_point_sweep_runs_as_slurm_jobs(tmp_path):
    out = tmp_path / "sweep"
    sweep(["seed=1,2", *TINY, "trainer=fast", "hydra/launcher=slurm", *CPU_JOB, f"hydra.sweep.dir={out}"], tmp_path)
    results = [json.loads(p.read_text()) for p in sorted(out.glob("*/results.json"))]
    assert sorted(r["grid"]["seed"] for r in results) == [1, 2]
    assert all(r["run"]["status"] == "finished" and "test" in r["metrics"] for r in results)
    # each run dir is named by its SLURM array task, and submitit kept one log folder per job
    assert all(p.parent.name.split("_")[-2].startswith("j") for p in out.glob("*/results.json"))
    assert len(list((out / ".submitit").glob("*/*_log.out"))) == 2


def test_one_job_two_tasks_ddp_gloo(tmp_path):
    out = tmp_path / "ddp"
    ddp = ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", "trainer.precision=32-true",
           "trainer.max_epochs=1", "+trainer.limit_train_batches=4", "+trainer.limit_val_batches=2",
           "+trainer.limit_test_batches=2"]
    sweep(["seed=3", *TINY, *ddp, "hydra/launcher=slurm_multigpu", *CPU_JOB, f"hydra.sweep.dir={out}",
           "hydra.sweep.subdir=ddp_${clinprompt_uid:}"], tmp_path)
    runs = list(out.glob("ddp_*/results.json"))
    assert len(runs) == 1  # both ranks wrote into the one run directory named by the job id
    res = json.loads(runs[0].read_text())
    assert res["run"]["status"] == "finished" and res["metrics"]["test"]["concepts"]["strict"]["micro"]
    logs = "".join(p.read_text() for p in (out / ".submitit").glob("*/*_log.*"))
    assert "MEMBER: 1/2" in logs and "MEMBER: 2/2" in logs  # two srun tasks, ranks from SLURM
    assert "distributed_backend=gloo" in logs
