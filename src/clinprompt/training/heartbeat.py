"""A running run says it is alive: ``run.heartbeat`` in results.json, refreshed at most every ``interval_s``.

A run killed with SIGKILL (or by a node failure) cannot record that it stopped; ``clinprompt-report`` marks a
``running`` run whose heartbeat is older than its ``--stale-after`` as ``stale`` instead of listing it as
running forever."""

from __future__ import annotations

import time
from typing import Any

import lightning as L

from clinprompt.training.results import RunRecord


class Heartbeat(L.Callback):
    def __init__(self, record: RunRecord, interval_s: float = 60.0):
        self.record, self.interval_s = record, interval_s
        self._last = 0.0

    def _beat(self, trainer: L.Trainer, force: bool = False) -> None:
        now = time.monotonic()
        if trainer.is_global_zero and (force or now - self._last >= self.interval_s):
            self._last = now
            self.record.beat()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._beat(trainer, force=True)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self._beat(trainer)

    def on_validation_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                                batch_idx: int, dataloader_idx: int = 0) -> None:
        self._beat(trainer)

    def on_test_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                          batch_idx: int, dataloader_idx: int = 0) -> None:
        self._beat(trainer)
