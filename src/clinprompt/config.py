"""Where the configs are (shipped in the package) and the OmegaConf resolvers they use (registered by the
Hydra entry points and the CLIs before composing)."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

from omegaconf import OmegaConf

# The Hydra configs ship inside the package (clinprompt/conf), so an installed wheel trains from any directory.
CONFIG_MODULE = "clinprompt.conf"
CONFIG_PATH = f"pkg://{CONFIG_MODULE}"  # hydra.main's config_path

_UID = uuid.uuid4().hex[:6]


def conf_dir() -> Path:
    """The shipped configs as a directory, for code that reads a YAML file itself (tests, tables). Composing
    goes through Hydra's ``pkg://`` search path instead, which also finds configs added with --config-dir."""
    return Path(__file__).resolve().parent / "conf"


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


def dir_name(overrides: str, limit: int = 200) -> str:
    """A sweep job's directory name from its overrides: values with a path separator (``optimized_metric=dev/
    relations/...``, ``dataset.root=/data/brat``) would otherwise nest directories, and a long grid would pass
    the file system's 255-byte name limit; a cut name keeps a hash of the whole so two jobs never share one."""
    name = overrides.replace(os.sep, "_").replace("\\", "_")
    if len(name.encode()) <= limit:
        return name
    digest = hashlib.sha1(overrides.encode()).hexdigest()[:8]
    return name.encode()[: limit - 9].decode(errors="ignore") + "~" + digest


def auto_precision() -> str:
    """Lightning precision for the machine at hand: bf16 mixed on GPUs that have it, else 32-bit."""
    import torch

    return "bf16-mixed" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "32-true"


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("clinprompt_precision"):
        OmegaConf.register_new_resolver("clinprompt_precision", auto_precision)
    if not OmegaConf.has_resolver("clinprompt_uid"):
        OmegaConf.register_new_resolver("clinprompt_uid", unique_suffix)
    if not OmegaConf.has_resolver("clinprompt_dirname"):
        OmegaConf.register_new_resolver("clinprompt_dirname", dir_name)
    if not OmegaConf.has_resolver("clinprompt_run_id"):
        OmegaConf.register_new_resolver("clinprompt_run_id", run_id)
