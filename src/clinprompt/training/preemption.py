"""Preemption: a signal mid-epoch becomes a checkpoint the restarted run resumes from exactly.

SLURM preempts or times out a job with a signal (SIGTERM; SIGUSR1 via ``--signal`` for Lightning's
requeue; SIGUSR2 for submitit's). ``PreemptionCheckpoint`` notes the signal, and at the end of the
current training batch writes ``checkpoints/last.ckpt`` (the file ``run.py`` resumes from), hands the
signal on to whoever handled it before (Lightning's or submitit's requeue) and stops the run with
``Preempted``; ``run.py`` records the run as "interrupted".

Resuming mid-epoch reproduces the uninterrupted run because the checkpoint also carries
- where the epoch stood: ``ResumableDataLoader`` skips the batches already trained on (Lightning's
  loop counters say how many), and the batch sampler is set to the epoch (``set_epoch``);
- the random number generators (dropout masks), restored right before the next batch.
"""

from __future__ import annotations

import logging
import random
import signal
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

log = logging.getLogger(__name__)
DEFAULT_SIGNALS = ("SIGTERM", "SIGUSR1", "SIGUSR2")


class Preempted(Exception):
    """Training stopped on a signal after writing a checkpoint; the same command resumes it."""


class ResumableDataLoader(DataLoader):
    """A DataLoader that can start an epoch part-way: ``skip_batches(n)`` before the epoch's first batch.

    Iteration is lazy, so the batch sampler is asked for its order only after Lightning has called
    ``set_epoch`` for the epoch being resumed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._skip = 0

    def skip_batches(self, n: int) -> None:
        self._skip = max(0, int(n))

    def __iter__(self) -> Iterator:
        # a generator: nothing below runs until the first batch is asked for, after Lightning (iter()
        # in setup) and the callbacks (skip, epoch in on_train_start) have had their say
        skip, self._skip = self._skip, 0
        for i, batch in enumerate(super().__iter__()):
            if i >= skip:
                yield batch


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


def _set_epoch(loader: Any, epoch: int) -> None:
    """Lightning calls set_epoch on samplers only, not on batch samplers: a resumed (or reloaded) loader
    must shuffle as its epoch, not as epoch 0. Iteration is lazy, so this lands before the first batch."""
    batch_sampler = getattr(loader, "batch_sampler", None)
    if callable(getattr(batch_sampler, "set_epoch", None)):
        batch_sampler.set_epoch(epoch)


def batches_done_this_epoch(trainer: L.Trainer) -> int:
    """Training batches of the current epoch a restored checkpoint already covers (0 unless it was
    saved mid-epoch), by Lightning's own loop counters."""
    fit = trainer.fit_loop
    if not fit.restarted_mid_epoch:
        return 0
    epoch = fit.epoch_loop
    return int(epoch.batch_progress.current.completed) + int(epoch.restarted_on_train_batch_end)


class PreemptionCheckpoint(L.Callback):
    def __init__(self, dirpath: str | Path, filename: str = "last", signals: Sequence[str] = DEFAULT_SIGNALS):
        self.path = Path(dirpath) / f"{filename}.ckpt"
        self.signals = [getattr(signal, s) for s in signals if hasattr(signal, s)]
        self.received: int | None = None
        self._previous: dict[int, Any] = {}
        self._restore_rng: dict[str, Any] | None = None
        self._saving = False

    # ---- signals ----------------------------------------------------------------------------------
    def _note(self, signum: int, _frame: Any) -> None:
        log.warning("received signal %d: checkpointing at the end of this batch", signum)
        self.received = signum

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # installed after Lightning's own handlers, which we call on once the checkpoint is written
        for s in self.signals:
            self._previous[s] = signal.signal(s, self._note)
        loader = trainer.train_dataloader
        _set_epoch(loader, trainer.current_epoch)
        done = batches_done_this_epoch(trainer)
        if done:
            if isinstance(loader, ResumableDataLoader):
                loader.skip_batches(done)
                log.info("resuming mid-epoch %d after %d batches", trainer.current_epoch, done)
            else:
                log.warning("resuming mid-epoch with a DataLoader that cannot skip batches: the epoch restarts")
            # Lightning skips on_train_epoch_start when it resumes mid-epoch; the module sets its modes there
            pl_module.on_train_epoch_start()

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        _set_epoch(trainer.train_dataloader, trainer.current_epoch)  # also after a dataloader reload

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
        if self._restore_rng is not None:  # first batch after a mid-epoch resume: same dropout as before
            _set_rng_state(self._restore_rng)
            self._restore_rng = None

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        # any rank's signal stops every rank at the same step (one tiny all-reduce per step under DDP)
        if not trainer.strategy.reduce_boolean_decision(self.received is not None, all=False):
            return
        self._saving = True
        try:
            trainer.save_checkpoint(self.path)
        finally:
            self._saving = False
        signum = self.received if self.received is not None else signal.SIGTERM
        self.received = None
        previous = self._previous.get(signum)
        self._uninstall()
        if callable(previous):  # Lightning's SLURM requeue, submitit's checkpoint-and-requeue
            previous(signum, None)
        raise Preempted(f"stopped on signal {signum} at step {trainer.global_step}; checkpoint {self.path}")

    def state_dict(self) -> dict[str, Any]:
        # only our own mid-epoch checkpoint knows nothing runs between it and the next batch
        return {"rng": _rng_state(), "mid_epoch": self._saving}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict.get("mid_epoch"):
            self._restore_rng = state_dict["rng"]
