"""Build what train.py builds (DataModule, MRCModule) from the same Hydra config, in-process, so a
benchmark can time one piece of it; plus fixed training batches and a timed Lightning fit."""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from torch.utils.data import DataLoader

from common import compose


def build(overrides: Sequence[str], seed: int = 0):
    """(cfg, datamodule after setup, MRCModule) exactly as clinprompt.training.run instantiates them."""
    cfg = compose(overrides)
    L.seed_everything(seed, workers=True, verbose=False)
    dm = instantiate(cfg.module.datamodule, _recursive_=False)
    dm.setup("fit")
    module = instantiate(cfg.module.lightning_module, _recursive_=False, _partial_=True)(schema=dm.schema)
    return cfg, dm, module


def fixed_batches(dm, n: int) -> list[dict]:
    """The first ``n`` batches of the DataModule's (seeded) training loader, collated once."""
    out = []
    for batch in dm.train_dataloader():
        out.append(batch)
        if len(out) == n:
            break
    return out


class StepClock(L.Callback):
    """Wall time of every training step: from one batch's start to the next (the whole loop iteration:
    data fetch, hooks, logging, forward, backward, optimizer), the last one to its batch end."""

    def __init__(self):
        self.marks: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.marks.append(time.perf_counter())

    def on_train_end(self, trainer, pl_module) -> None:
        self.marks.append(time.perf_counter())

    @property
    def steps(self) -> list[float]:
        return [b - a for a, b in zip(self.marks, self.marks[1:], strict=False)]


def trainer_for(steps: int, clock: StepClock, grad_clip: float = 1.0) -> L.Trainer:
    """A Trainer as conf/trainer/cpu.yaml configures one, without loggers, checkpoints or validation."""
    return L.Trainer(accelerator="cpu", devices=1, max_steps=steps, max_epochs=1, precision="32-true",
                     gradient_clip_val=grad_clip, logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                     num_sanity_val_steps=0, callbacks=[clock])


def batch_loader(batches: list[dict]) -> DataLoader:
    """Pre-collated batches served as they are (no re-collation inside the timed loop)."""
    return DataLoader(batches, batch_size=None, shuffle=False)


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return copy.deepcopy(module.state_dict())


def token_count(batches: list[dict]) -> int:
    return int(sum(int(b["attention_mask"].sum()) for b in batches))


def describe_batches(batches: list[dict]) -> dict[str, Any]:
    return {"batches": len(batches), "examples": sum(b["n_examples"] for b in batches),
            "tokens": token_count(batches), "tasks": sorted({b["task"] for b in batches}),
            "max_seq_len": max(b["input_ids"].shape[1] for b in batches)}
