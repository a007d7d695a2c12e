"""OmegaConf resolvers used by conf/ (registered by train.py and the CLIs before composing)."""

from __future__ import annotations

import hashlib
import os
import uuid

from omegaconf import OmegaConf

_UID = uuid.uuid4().hex[:6]


def run_id(output_dir: str) -> str:
    """A W&B run id derived from the run directory: a requeued job resumes the same W&B run."""
    return hashlib.sha1(os.path.abspath(str(output_dir)).encode()).hexdigest()[:16]


def unique_suffix() -> str:
    """The run directory's suffix. Under SLURM it is the job id: every task (rank) of a multi-GPU job
    lands in the same directory, and a requeued job, which keeps its id, finds its own last checkpoint.
    Elsewhere one random suffix per process keeps runs unique when jobs start in the same second."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return f"j{array}_{task}"
    if os.environ.get("SLURM_JOB_ID"):
        return f"j{os.environ['SLURM_JOB_ID']}"
    return f"{_UID}{os.getpid() % 1000:03d}"


def auto_precision() -> str:
    """Lightning precision for the machine at hand: bf16 mixed on GPUs that have it, else 32-bit."""
    import torch

    return "bf16-mixed" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "32-true"


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("clinprompt_precision"):
        OmegaConf.register_new_resolver("clinprompt_precision", auto_precision)
    if not OmegaConf.has_resolver("clinprompt_uid"):
        OmegaConf.register_new_resolver("clinprompt_uid", unique_suffix)
    if not OmegaConf.has_resolver("clinprompt_run_id"):
        OmegaConf.register_new_resolver("clinprompt_run_id", run_id)
