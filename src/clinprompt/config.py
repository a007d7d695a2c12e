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


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("clinprompt_uid"):
        # one random suffix per process: run dirs stay unique when jobs start in the same second
        OmegaConf.register_new_resolver("clinprompt_uid", lambda: f"{_UID}{os.getpid() % 1000:03d}")
    if not OmegaConf.has_resolver("clinprompt_run_id"):
        OmegaConf.register_new_resolver("clinprompt_run_id", run_id)
