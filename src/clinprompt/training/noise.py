"""Known third-party noise, silenced by default so the lines that matter stay visible.

``quiet_third_party()`` drops exactly the messages listed in ``NOISE_LOGS`` / ``NOISE_WARNINGS`` (matched
by text, nothing broader); every other warning and log line is untouched. ``python train.py
third_party_noise=true`` (or ``quiet_third_party(show=True)``) shows them again.
"""

from __future__ import annotations

import logging
import re
import warnings

from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger

# (logger name, message pattern): Lightning advertises LitLogger / LitModelCheckpoint in every run
NOISE_LOGS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("lightning.pytorch.utilities.rank_zero", re.compile(r"💡 Tip: For seamless cloud")),
)
# (message pattern, category): Lightning 2.6's own pytree helper uses a torch name torch 2.13 deprecates
NOISE_WARNINGS: tuple[tuple[str, type[Warning]], ...] = (
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning),
)


class _DropMatching(logging.Filter):
    def __init__(self, pattern: re.Pattern[str]) -> None:
        super().__init__()
        self.pattern = pattern

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.search(record.getMessage())


def quiet_third_party(show: bool = False) -> None:
    """Install the filters (idempotent); ``show=True`` leaves everything as the libraries print it."""
    if show:
        return
    for name, pattern in NOISE_LOGS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMatching) and f.pattern is pattern for f in logger.filters):
            logger.addFilter(_DropMatching(pattern))
    for message, category in NOISE_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)


class WandbLogger(LightningWandbLogger):
    """Lightning's WandbLogger without the ``anonymous=None`` it always passes to ``wandb.init``: wandb >= 0.23
    warns that the setting has no effect (https://github.com/wandb/wandb/pull/10909). Dropping the unset
    argument changes nothing else."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self._wandb_init.get("anonymous") is None:
            self._wandb_init.pop("anonymous", None)
