"""Test helper (put on PYTHONPATH by test_resume.py): hold training at a chosen batch until a signal arrives,
so the test can send a real signal at a known point mid-epoch."""

from __future__ import annotations

import time
from pathlib import Path

import lightning as L

from clinprompt.training.preemption import PreemptionCheckpoint


class PauseAt(L.Callback):
    def __init__(self, epoch: int, batch: int, marker: str, timeout_s: float = 300.0):
        self.epoch, self.batch, self.marker, self.timeout_s = epoch, batch, Path(marker), timeout_s

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if (trainer.current_epoch, batch_idx) != (self.epoch, self.batch):
            return
        watcher = next(c for c in trainer.callbacks if isinstance(c, PreemptionCheckpoint))
        self.marker.write_text(str(trainer.global_step))
        deadline = time.monotonic() + self.timeout_s
        while watcher.received is None and time.monotonic() < deadline:
            time.sleep(0.05)
