"""Config checks that run before any work: each failure is one line naming the key, the value and the fix.

Shared by train.py (``clinprompt.training.run``) and ``clinprompt-plan``, so a value the planner accepts is a
value a run accepts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clinprompt.strategy import StrategyError, build_strategy

TASKS = ("concepts", "relations", "end_to_end")


class ConfigError(ValueError):
    """A config value that cannot work; the message is one line: ``key=value: why; fix``."""


def _get(cfg: Mapping, dotted: str) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        try:
            node = node[part]
        except Exception:  # an interpolation only Hydra's runtime resolves (the planner composes without it)
            return None
    return node


def _int(cfg: Mapping, key: str, minimum: int, fix: str, optional: bool = False) -> int | None:
    value = _get(cfg, key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key}={value!r}: not a whole number; {fix}")
    if value < minimum:
        raise ConfigError(f"{key}={value}: must be at least {minimum}; {fix}")
    return value


def validate(cfg: Mapping, corpus: bool = True) -> None:
    """Raise :class:`ConfigError` for the first value that cannot work. ``corpus=False`` (the planner, which
    needs no data) skips the check that ``dataset.root`` exists."""
    _int(cfg, "batch_size", 1, "set batch_size to a positive number, e.g. batch_size=8")
    task = _get(cfg, "task")
    if task not in TASKS:
        raise ConfigError(f"task={task!r}: unknown task; use one of task={'|'.join(TASKS)}")
    try:
        prompted = build_strategy(_get(cfg, "strategy") or {}).uses_prompt_len
    except StrategyError as err:  # an unknown key or value: one line naming it
        raise ConfigError(f"{err}; see src/clinprompt/conf/strategy/ for the options") from err
    need = " (prompt strategies need at least 1)" if prompted else ""
    _int(cfg, "prompt_len", 1 if prompted else 0, f"set prompt_len to the prompt tokens per layer, e.g. 16{need}")
    _int(cfg, "shots", 1, "set shots to a number of training documents, or shots=null for all", optional=True)
    folds = _get(cfg, "dataset.folds")
    fold = _int(cfg, "fold", 0, "set fold=null (dev split) or a fold index from 0", optional=True)
    if fold is not None and isinstance(folds, int) and fold >= folds:
        raise ConfigError(f"fold={fold}: dataset.folds={folds} has folds 0..{folds - 1}; choose one of them")
    window = _get(cfg, "dataset.window") or {}
    if window:
        size = _int(cfg, "dataset.window.size", 8, "set dataset.window.size to the window length in tokens, e.g. 256")
        stride = _int(cfg, "dataset.window.stride", 1, "set dataset.window.stride to the step between windows")
        if stride > size:
            raise ConfigError(f"dataset.window.stride={stride} > dataset.window.size={size}: text between windows "
                              "would never be read; use a stride no larger than the size")
    if _get(cfg, "dataset.max_span_width") is not None:
        _int(cfg, "dataset.max_span_width", 1, "set dataset.max_span_width to the longest span in tokens")
    local = _get(cfg, "model.local_path")
    if local and not Path(str(local)).is_dir():
        raise ConfigError(f"model.local_path={local}: the folder {local} does not exist; "
                          "point it at the folder holding the model's config.json and weights")
    root = _get(cfg, "dataset.root") if corpus else None
    if isinstance(root, str) and root != "???" and not Path(root).exists():
        raise ConfigError(f"dataset.root={root}: the folder {root} does not exist; point it at the corpus folder")
    epochs = _get(cfg, "trainer.max_epochs")
    if epochs is not None and epochs != -1:
        _int(cfg, "trainer.max_epochs", 1, "set trainer.max_epochs to a positive number of epochs")


def validate_schema(task: str, relation_types: tuple[str, ...], dataset: str) -> None:
    """After the corpus is read: relation tasks need relation types."""
    if task != "concepts" and not relation_types:
        raise ConfigError(f"task={task}: dataset {dataset} has no relation types; use task=concepts "
                          "or a corpus with relations")
