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
