"""Compose the project's Hydra config outside ``train.py`` (planner CLI, tables, tests)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

from clinprompt.config import register_resolvers


def conf_dir() -> Path:
    """``$CLINPROMPT_CONF_DIR``, else the repository's conf/ (editable install), else ./conf."""
    if os.environ.get("CLINPROMPT_CONF_DIR"):
        return Path(os.environ["CLINPROMPT_CONF_DIR"]).resolve()
    repo_conf = Path(__file__).resolve().parents[3] / "conf"
    return repo_conf if repo_conf.is_dir() else Path("conf").resolve()


@contextmanager
def composer() -> Iterator:
    """Yields ``compose(overrides) -> DictConfig``; Hydra is initialised once for many compositions
    (and not again inside an already initialised Hydra, e.g. a running app or an outer composer)."""
    register_resolvers()
    if GlobalHydra.instance().is_initialized():
        yield lambda overrides=(): compose(config_name="train", overrides=list(overrides))
        return
    with initialize_config_dir(version_base="1.3", config_dir=str(conf_dir()), job_name="clinprompt"):
        yield lambda overrides=(): compose(config_name="train", overrides=list(overrides))


def compose_config(overrides: Sequence[str] = ()) -> DictConfig:
    with composer() as make:
        return make(overrides)
