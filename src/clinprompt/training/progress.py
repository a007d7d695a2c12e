"""Progress a batch job can show: plain log lines when stdout is not a terminal (SLURM, nohup, CI).

Lightning's rich bar redraws one terminal line; written to a file it shows nothing until the end. On a
terminal ``progress_bar()`` keeps the rich bar; elsewhere it returns ``LineProgress``, a Lightning
``ProgressBar`` that logs a line every ``every_n_steps`` training batches or ``every_s`` seconds (whichever
comes first) and one line per validation with the monitored dev metric. Lines go through the
``clinprompt.progress`` logger, so they also land in the run's train.log. Only numbers are logged.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import sys
import time
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ProgressBar, RichProgressBar, TQDMProgressBar

log = logging.getLogger("clinprompt.progress")


def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _examples(batch: Any) -> int:
    """Examples in one batch: the collator's ``n_examples`` (MRC), else the first tensor's length."""
    if isinstance(batch, dict):
        if "n_examples" in batch:
            return int(batch["n_examples"])
        batch = next((v for v in batch.values() if hasattr(v, "shape") and len(v.shape) > 0), [])
    return len(batch) if hasattr(batch, "__len__") else 0


class LineProgress(ProgressBar):
    """One plain line per ``every_n_steps`` batches or ``every_s`` seconds, one per validation."""

    def __init__(self, every_n_steps: int = 50, every_s: float = 60.0, metric: str | None = None) -> None:
        super().__init__()
        if every_n_steps < 1 or every_s <= 0:
            raise ValueError(f"progress: every_n_steps must be >= 1 and every_s > 0, got {every_n_steps}, {every_s}")
        self.every_n_steps, self.every_s, self.metric = every_n_steps, every_s, metric
        self._enabled = True
        self._t0 = self._last = 0.0
        self._batches = self._examples = 0

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def _fit_batches(self, trainer: L.Trainer) -> float:
        """Training batches in the whole fit (inf when unknown: an iterable dataset, max_epochs=-1)."""
        per_epoch = self.total_train_batches
        epochs = trainer.max_epochs if trainer.max_epochs is not None and trainer.max_epochs >= 0 else math.inf
        total = per_epoch * epochs
        if trainer.max_steps is not None and trainer.max_steps > 0:  # optimizer steps -> batches
            total = min(total, trainer.max_steps * trainer.accumulate_grad_batches)
        return total

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._t0 = self._last = time.perf_counter()
        self._batches = self._examples = 0  # counted from this start: a resumed run's rate is its own

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self._batches += 1
        self._examples += _examples(batch)
        now = time.perf_counter()
        if not self._enabled or (self._batches % self.every_n_steps and now - self._last < self.every_s):
            return
        self._last = now
        elapsed = max(now - self._t0, 1e-9)
        per_epoch = self.total_train_batches
        left = self._fit_batches(trainer) - (trainer.current_epoch * per_epoch + batch_idx + 1)
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        loss_s = f"{float(loss):.4f}" if loss is not None else "n/a"
        epochs = trainer.max_epochs if trainer.max_epochs is not None and trainer.max_epochs >= 0 else "?"
        log.info("epoch %d/%s step %d/%s loss %s %.1f examples/s ETA %s", trainer.current_epoch + 1, epochs,
                 batch_idx + 1, per_epoch if math.isfinite(per_epoch) else "?", loss_s, self._examples / elapsed,
                 _clock(left * elapsed / self._batches))

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._enabled or trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.metric) if self.metric else None
        shown = f"{self.metric} {float(value):.4f}" if value is not None else f"{self.metric} not logged"
        if trainer.state.fn == "fit":
            log.info("validation epoch %d: %s", trainer.current_epoch + 1, shown)
        else:
            log.info("validation (%s): %s", trainer.state.fn.value, shown)


def progress_bar(every_n_steps: int = 50, every_s: float = 60.0, metric: str | None = None,
                 interactive: bool | None = None, enabled: bool = True) -> ProgressBar | None:
    """The rich bar on a terminal, plain lines otherwise (``interactive`` overrides the terminal check);
    None when the trainer has ``enable_progress_bar: false`` (Lightning refuses a progress bar then)."""
    if not enabled:
        return None
    if interactive is None:
        interactive = sys.stdout.isatty()
    if interactive:
        return RichProgressBar() if importlib.util.find_spec("rich") else TQDMProgressBar()
    return LineProgress(every_n_steps, every_s, metric)


class WallClock(L.Callback):
    """Logs ``time/elapsed_s`` (wall seconds of training so far, validation included) with every fit
    validation, so metrics.csv holds the time axis of the learning curves. The count survives a resume."""

    def __init__(self) -> None:
        self.before = 0.0  # seconds spent in earlier processes of this run (restored from the checkpoint)
        self._t0: float | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._t0 = time.perf_counter()

    def elapsed(self) -> float:
        return self.before + (time.perf_counter() - self._t0 if self._t0 is not None else 0.0)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn == "fit" and not trainer.sanity_checking and self._t0 is not None:
            pl_module.log("time/elapsed_s", round(self.elapsed(), 3), on_epoch=True, sync_dist=False)

    def state_dict(self) -> dict[str, float]:
        return {"elapsed_s": self.elapsed()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.before = float(state_dict.get("elapsed_s", 0.0))
