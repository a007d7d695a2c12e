"""Pad a list of MRC examples (one task per batch) into tensors."""

from __future__ import annotations

import torch

from clinprompt.data.mrc import MRCExample


def collate(examples: list[MRCExample], pad_id: int) -> dict:
    b = len(examples)
    seq = max(len(e.input_ids) for e in examples)
    ctx = max(e.ctx_len for e in examples)
    channels = max(len(e.channels) for e in examples)
    input_ids = torch.full((b, seq), pad_id, dtype=torch.long)
    attention = torch.zeros(b, seq, dtype=torch.long)
    ctx_index = torch.zeros(b, ctx, dtype=torch.long)  # where each context token sits in input_ids
    ctx_mask = torch.zeros(b, ctx, dtype=torch.bool)
    head_mask = torch.zeros(b, seq, dtype=torch.bool)
    start = torch.zeros(b, ctx, channels)
    end = torch.zeros(b, ctx, channels)
    spans, values = [], []  # values: labelled value per gold span (-1 = none), aligned with spans
    for i, e in enumerate(examples):
        n = len(e.input_ids)
        input_ids[i, :n] = torch.tensor(e.input_ids)
        attention[i, :n] = 1
        ctx_index[i] = e.ctx_offset + torch.arange(ctx).clamp(max=e.ctx_len - 1)
        ctx_mask[i, : e.ctx_len] = True
        if e.head is not None:
            head_mask[i, e.ctx_offset + e.head[0]: e.ctx_offset + e.head[1] + 1] = True
        for k, (c, s, t) in enumerate(e.spans):
            start[i, s, c] = 1.0
            end[i, t, c] = 1.0
            spans.append((i, c, s, t))
            values.append(e.values[k] if k < len(e.values) else -1)
    return {
        "task": examples[0].task,
        "input_ids": input_ids,
        "attention_mask": attention,
        "ctx_index": ctx_index,
        "ctx_mask": ctx_mask,
        "head_mask": head_mask,
        "block_ids": torch.tensor([e.block_id for e in examples], dtype=torch.long),
        "start_labels": start,
        "end_labels": end,
        "spans": torch.tensor(spans, dtype=torch.long).reshape(-1, 4),
        "span_values": torch.tensor(values, dtype=torch.long),
        "n_examples": b,
    }
