"""The train loader a checkpoint can resume mid-epoch (``training/preemption.py`` saves and restores the rest
of a run's state: random generators, the CSV log's extent)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader


class ResumableDataLoader(DataLoader):
    """A DataLoader Lightning can checkpoint: its ``state_dict`` is (epoch, batches consumed this epoch).

    Lightning 2.x saves the ``state_dict`` of every train loader that has one in each checkpoint (the fit
    loop's ``combined_loader`` entry) and hands it back through ``load_state_dict`` before the first batch
    of a resumed run, so a run restarts after the batches it already trained on, whatever saved the
    checkpoint. The batch order must be a pure function of (seed, epoch) -- ``TaskBatchSampler``'s is --
    so the state does not depend on how batches are formed. Lightning prefetches only from loaders
    without a length; ours has one, so at a batch end every batch yielded is a batch trained on.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # every iter() of a DataLoader draws a base seed from its generator: from the global torch RNG unless
        # it has its own, which would put one draw between an end-of-epoch checkpoint and the next batch
        kwargs.setdefault("generator", torch.Generator().manual_seed(0))
        super().__init__(*args, **kwargs)
        self.epoch = 0
        self.consumed = 0
        self._resume: tuple[int, int] | None = None  # (epoch, batches to skip) from a checkpoint

    def set_epoch(self, epoch: int) -> None:
        """Lightning calls ``set_epoch`` on samplers only, not on batch samplers: the callback calls this."""
        self.epoch = int(epoch)
        if callable(getattr(self.batch_sampler, "set_epoch", None)):
            self.batch_sampler.set_epoch(self.epoch)

    @property
    def resuming_mid_epoch(self) -> bool:
        return self._resume is not None and self._resume[1] > 0

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "batches": self.consumed}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        self._resume = (int(state_dict["epoch"]), int(state_dict["batches"]))
        self.set_epoch(self._resume[0])
        self.consumed = self._resume[1]

    def __iter__(self) -> Iterator:
        # a generator: nothing below runs until the first batch is asked for, after Lightning (iter() in
        # setup, load_state_dict) and the callback (set_epoch at the epoch start) have had their say
        skip = 0
        if self._resume is not None and self._resume[0] == self.epoch:
            skip = self._resume[1]  # a checkpoint from the end of an earlier epoch leaves nothing to skip
        self._resume = None
        self.set_epoch(self.epoch)  # the batch sampler shuffles as this epoch, not as its own counter says
        self.consumed = 0
        for i, batch in enumerate(super().__iter__()):
            self.consumed = i + 1
            if i >= skip:
                yield batch
