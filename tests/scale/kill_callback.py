"""Test helper (put on PYTHONPATH by test_resume.py): SIGKILL this very process at a chosen global step,
at a batch end before any checkpoint of that step is written (Lightning runs checkpoint callbacks last)."""

from __future__ import annotations

import os
import signal

import lightning as L


class KillAt(L.Callback):
    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)
