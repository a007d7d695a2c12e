"""Shared fixtures: the public data root, tiny models built in code, composed configs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clinprompt.config import conf_dir as shipped_conf_dir
from clinprompt.config import register_resolvers

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
register_resolvers()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Path(os.environ.get("CLINPROMPT_DATA_DIR", REPO.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.fail(f"public test data not found at {path}: set CLINPROMPT_DATA_DIR to ../shared/data")
    return path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def conf_dir() -> Path:
    """The Hydra configs as the package ships them (src/clinprompt/conf): the one place tests read YAML from."""
    return shipped_conf_dir()


@pytest.fixture(scope="session")
def model_config(conf_dir):
    """``model_config("tiny_t5")``: a model group's YAML as a plain dict, as the configs ship it."""
    from omegaconf import OmegaConf

    return lambda name: OmegaConf.to_container(OmegaConf.load(conf_dir / "model" / f"{name}.yaml"))


@pytest.fixture(scope="session")
def tokenizer():
    from transformers import AutoTokenizer

    from clinprompt.backbone import default_tokenizer_source

    return AutoTokenizer.from_pretrained(default_tokenizer_source())
