"""Parameter and optimizer-state accounting: what a strategy trains and what it costs to train it."""

from __future__ import annotations

import torch
from torch import nn


def count_parameters(module: nn.Module) -> dict[str, float]:
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable,
            "trainable_pct": round(100.0 * trainable / total, 4) if total else 0.0}


def optimizer_state_bytes(trainer) -> int:
    """Bytes held by the optimizers' state tensors (e.g. Adam's two moments) after training."""
    total = 0
    for opt in getattr(trainer, "optimizers", []):
        for state in opt.state.values():
            total += sum(v.numel() * v.element_size() for v in state.values() if torch.is_tensor(v))
    return int(total)
