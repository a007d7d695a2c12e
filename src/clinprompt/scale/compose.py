"""Compose the project's Hydra config outside the Hydra entry points (planner CLI, tables, tests)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

from clinprompt.config import CONFIG_MODULE, register_resolvers


@contextmanager
def composer() -> Iterator:
    """Yields ``compose(overrides) -> DictConfig``; Hydra is initialised once for many compositions
    (and not again inside an already initialised Hydra, e.g. a running app or an outer composer)."""
    register_resolvers()
    if GlobalHydra.instance().is_initialized():
        yield lambda overrides=(): compose(config_name="train", overrides=list(overrides))
        return
    # the configs shipped in the package, the same ones clinprompt-train composes (wherever it is installed)
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3", job_name="clinprompt"):
        yield lambda overrides=(): compose(config_name="train", overrides=list(overrides))


def compose_config(overrides: Sequence[str] = ()) -> DictConfig:
    with composer() as make:
        return make(overrides)
