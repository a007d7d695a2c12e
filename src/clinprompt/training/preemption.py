"""Preemption: a signal mid-epoch becomes a checkpoint the restarted run resumes from exactly.

SLURM preempts or times out a job with a signal (SIGTERM; SIGUSR1 via ``--signal`` for Lightning's
requeue; SIGUSR2 for submitit's). ``PreemptionCheckpoint`` notes the signal, and at the end of the
current training batch writes ``checkpoints/last.ckpt`` (the file ``run.py`` resumes from), hands the
signal on to whoever handled it before (Lightning's or submitit's requeue) and stops the run with
``Preempted``; ``run.py`` records the run as "interrupted".

Resuming from any checkpoint (this callback's, the periodic and end-of-epoch ``ModelCheckpoint``s'
``last.ckpt``) reproduces the uninterrupted run because every checkpoint carries
- where the epoch stood: the train loader's own ``state_dict`` (``data/loader.py``'s ``ResumableDataLoader``: epoch and
  batches consumed), which Lightning saves and restores for any loader that has one;
- the random number generators (dropout masks), in this callback's ``state_dict``, restored right
  before the next batch;
- how far the CSV log got (``ResumableCSVLogger``), so the resumed run appends each step once.
"""

from __future__ import annotations

import logging
import random
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from clinprompt.data.loader import ResumableDataLoader
from clinprompt.training.csv_log import ResumableCSVLogger, flush_csv

log = logging.getLogger(__name__)
DEFAULT_SIGNALS = ("SIGTERM", "SIGUSR1", "SIGUSR2")


class Preempted(Exception):
    """Training stopped on a signal after writing a checkpoint; the same command resumes it."""


def _rng_state() -> dict[str, Any]:
    # plain tensors, lists and ints only: checkpoints must load with torch.load(weights_only=True)
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(gauss)]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class PreemptionCheckpoint(L.Callback):
    """Signals become checkpoints; every checkpoint carries the random state and the CSV log's extent;
    a resumed run gets both back and its loader's epoch set (Lightning sets only plain samplers')."""

    def __init__(self, dirpath: str | Path, filename: str = "last", signals: Sequence[str] = DEFAULT_SIGNALS):
        self.path = Path(dirpath) / f"{filename}.ckpt"
        self.signals = [getattr(signal, s) for s in signals if hasattr(signal, s)]
        self.received: int | None = None
        self._previous: dict[int, Any] = {}
        self._restore_rng: dict[str, Any] | None = None
        self._csv_rows: int | None = None
        self._saved_step: int | None = None
        self._trainer: L.Trainer | None = None
        self._loader_state: list[dict[str, Any]] | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._trainer = trainer

    # ---- signals ----------------------------------------------------------------------------------
    def _note(self, signum: int, _frame: Any) -> None:
        log.warning("received signal %d: checkpointing at the end of this batch", signum)
        self.received = signum

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # installed after Lightning's own handlers, which we call on once the checkpoint is written
        for s in self.signals:
            self._previous[s] = signal.signal(s, self._note)
        loader = trainer.train_dataloader
        if isinstance(loader, ResumableDataLoader) and self._loader_state:
            # Lightning restores a stateful train loader itself, except when configure_optimizers asked for
            # trainer.estimated_stepping_batches (ours does: the warmup schedule), which builds the loader before
            # the checkpoint is read: https://github.com/Lightning-AI/pytorch-lightning/issues/20550.
            # Loading the same state again is harmless once upstream fixes it.
            loader.load_state_dict(self._loader_state[0])
        self._loader_state = None
        if isinstance(loader, ResumableDataLoader) and loader.resuming_mid_epoch:
            log.info("resuming mid-epoch %d after %d batches", loader.epoch, loader.consumed)
            # Lightning skips on_train_epoch_start when it resumes mid-epoch; the module sets its modes there
            pl_module.on_train_epoch_start()
        elif self._restore_rng is not None and loader is not None and not isinstance(loader, ResumableDataLoader):
            log.warning("the train loader cannot record its position: a run resumed mid-epoch restarts the epoch")
        self._truncate_csv(trainer)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        loader = trainer.train_dataloader  # also after a dataloader reload
        if isinstance(loader, ResumableDataLoader):
            loader.set_epoch(trainer.current_epoch)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._uninstall()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._uninstall()

    def _uninstall(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        self._previous = {}

    # ---- the checkpoint -------------------------------------------------------------------------------
    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if self._restore_rng is not None:  # first batch after a resume: the dropout masks it would have had
            _set_rng_state(self._restore_rng)
            self._restore_rng = None

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        # any rank's signal stops every rank at the same step (one tiny all-reduce per step under DDP)
        if not trainer.strategy.reduce_boolean_decision(self.received is not None, all=False):
            return
        trainer.save_checkpoint(self.path)
        signum = self.received if self.received is not None else signal.SIGTERM
        self.received = None
        previous = self._previous.get(signum)
        self._uninstall()
        if callable(previous):  # Lightning's SLURM requeue, submitit's checkpoint-and-requeue
            previous(signum, None)
        raise Preempted(f"stopped on signal {signum} at step {trainer.global_step}; checkpoint {self.path}")

    def state_dict(self) -> dict[str, Any]:
        # read while a checkpoint is written: the random state the next batch starts from, and the CSV rows
        # logged so far (written out first, so a SIGKILL after this checkpoint loses none of them)
        trainer = self._trainer
        rows = flush_csv(trainer.loggers) if trainer is not None else None
        return {"rng": _rng_state(), "csv_rows": rows, "step": trainer.global_step if trainer is not None else 0}

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule,
                           checkpoint: dict[str, Any]) -> None:
        fit = (checkpoint.get("loops") or {}).get("fit_loop") or {}
        self._loader_state = (fit.get("state_dict") or {}).get("combined_loader") or None

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._restore_rng = state_dict.get("rng")
        self._csv_rows = state_dict.get("csv_rows")
        self._saved_step = state_dict.get("step")

    def _truncate_csv(self, trainer: L.Trainer) -> None:
        """The CSV log continues where the checkpoint left it: rows logged after it (the resumed run logs
        them again) are dropped; a run that starts from scratch in the same directory starts an empty log."""
        rows, self._csv_rows = self._csv_rows or 0, None
        step = self._saved_step - 1 if self._saved_step else None  # the row of a batch saved at its end
        for lg in trainer.loggers:
            if isinstance(lg, ResumableCSVLogger):
                lg.truncate(rows, step)
