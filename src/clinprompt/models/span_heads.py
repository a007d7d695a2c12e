"""BERT-MRC span heads: start, end and span-match scores, one channel per predicted type.

Nested and overlapping spans fall out naturally: every (start, end) pair is scored on its own. The
match score is computed only on candidate pairs within ``max_width`` tokens (memory O(L*W), not L^2),
from a decomposed bilinear-free form ``W_l h_i + W_r h_j`` so no [L, L, 2H] tensor is ever built.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class HeadOptions:
    """The span heads' options and their only defaults (``module.lightning_module.heads``; a test checks that
    conf/module/mrc.yaml says the same)."""

    max_span_width: int = 16  # longest span in tokens (the dataset's max_span_width)
    dropout: float = 0.1
    loss_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)  # start, end, match
    max_spans: int = 16  # decoding keeps the best spans per window and type ...
    max_tails: int = 4  # ... and per head and relation type (an untrained model predicts hundreds)
    flat: bool = True  # no two spans of one type overlap (best kept); false: same-type nesting
    pos_weight: float = 10.0  # gold start/end tokens are ~2% of a window: unweighted BCE predicts nothing

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> HeadOptions:
        cfg = dict(cfg or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ValueError(f"heads.{unknown[0]}: unknown option; heads take {', '.join(sorted(known))}")
        if "loss_weights" in cfg:
            cfg["loss_weights"] = tuple(float(w) for w in cfg["loss_weights"])
        return cls(**cfg)

    def to_config(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "loss_weights": list(self.loss_weights)}


def candidate_pairs(start: torch.Tensor, end: torch.Tensor, ctx_mask: torch.Tensor, max_width: int):
    """Pairs (b, i, j) with j - i < max_width where some channel has a start at i and an end at j.

    Returns (b, i, j, chan) with ``chan`` [N, C] marking the channels for which the pair is a candidate.
    """
    bs, length, _ = start.shape
    parts = []
    for w in range(min(max_width, length)):
        ok = start[:, : length - w] & end[:, w:] & ctx_mask[:, w:].unsqueeze(-1)
        b, i = ok.any(-1).nonzero(as_tuple=True)
        parts.append((b, i, i + w, ok[b, i]))
    if not parts:
        empty = torch.zeros(0, dtype=torch.long, device=start.device)
        return empty, empty, empty, torch.zeros(0, start.shape[-1], dtype=torch.bool, device=start.device)
    return tuple(torch.cat(x) for x in zip(*parts, strict=True))


def balanced_bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean BCE of the positives and mean BCE of the negatives, averaged: once the start/end heads fire,
    wrong (start, end) candidates outnumber gold pairs many times over, and a plain mean drives every match
    score below zero, gold pairs included, so nothing decodes."""
    loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    pos = target > 0
    parts = [loss[m].mean() for m in (pos, ~pos) if m.any()]
    return sum(parts) / len(parts)


class SpanHeads(nn.Module):
    def __init__(self, hidden: int, channels: int, max_width: int, dropout: float = 0.1):
        super().__init__()
        self.channels, self.max_width = channels, max_width
        self.dropout = nn.Dropout(dropout)
        self.start = nn.Linear(hidden, channels)
        self.end = nn.Linear(hidden, channels)
        self.left = nn.Linear(hidden, hidden)
        self.right = nn.Linear(hidden, hidden, bias=False)
        self.match = nn.Sequential(nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, channels))

    def forward(self, h: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.dropout(h)
        return {"start": self.start(h), "end": self.end(h), "left": self.left(h), "right": self.right(h)}

    def pair_logits(self, out: dict, b: torch.Tensor, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        return self.match(out["left"][b, i] + out["right"][b, j])

    def loss(self, out: dict, batch: dict, weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
             pos_weight: float = 1.0) -> dict:
        """``pos_weight`` up-weights gold start/end tokens: a type starts at ~2% of a window's tokens, and
        unweighted BCE sits at the all-negative prior for hundreds of steps before any span is predicted."""
        mask = batch["ctx_mask"].unsqueeze(-1).expand_as(out["start"]).float()
        denom = mask.sum().clamp(min=1.0)
        pw = out["start"].new_tensor(pos_weight)
        start_loss = (F.binary_cross_entropy_with_logits(out["start"], batch["start_labels"], reduction="none",
                                                         pos_weight=pw) * mask).sum() / denom
        end_loss = (F.binary_cross_entropy_with_logits(out["end"], batch["end_labels"], reduction="none",
                                                       pos_weight=pw) * mask).sum() / denom
        # match is trained on pairs that are gold or currently predicted starts/ends (BERT-MRC)
        with torch.no_grad():
            s_cand = (batch["start_labels"] > 0) | (out["start"] > 0)
            e_cand = (batch["end_labels"] > 0) | (out["end"] > 0)
            b, i, j, chan = candidate_pairs(s_cand, e_cand, batch["ctx_mask"], self.max_width)
        if len(b):
            target = torch.zeros_like(chan, dtype=out["start"].dtype)
            gold = batch["spans"]
            if len(gold):
                key = (b * out["start"].shape[1] + i) * out["start"].shape[1] + j
                gkey = (gold[:, 0] * out["start"].shape[1] + gold[:, 2]) * out["start"].shape[1] + gold[:, 3]
                hit = key.unsqueeze(1) == gkey.unsqueeze(0)  # [N, G]
                rows, cols = hit.nonzero(as_tuple=True)
                target[rows, gold[cols, 1]] = 1.0
            logits = self.pair_logits(out, b, i, j)
            match_loss = balanced_bce(logits[chan], target[chan])
        else:
            match_loss = out["start"].sum() * 0.0
        total = weights[0] * start_loss + weights[1] * end_loss + weights[2] * match_loss
        return {"loss": total, "start_loss": start_loss, "end_loss": end_loss, "match_loss": match_loss}

    @torch.no_grad()
    def decode(self, out: dict, ctx_mask: torch.Tensor, max_spans: int | None = None,
               flat: bool = False) -> list[tuple[int, int, int, int]]:
        """Predicted spans as (example, channel, first, last) in context-token coordinates.

        ``max_spans`` keeps the best-scoring spans per (example, channel): an untrained or diverging model
        predicts hundreds of spans per window, and end-to-end each predicted head spawns relation questions.
        ``flat`` keeps, among spans of one channel that overlap, only the best-scoring one: types stay free to
        nest in each other (an ADE holding a Drug) but a type's own spans do not (n2c2 2018 annotates none such,
        and boundary variants of one mention are most false positives of a half-trained model).
        A span's score is log σ(start) + log σ(end) + log σ(match): the joint probability the heads assign it.
        """
        valid = ctx_mask.unsqueeze(-1)
        b, i, j, chan = candidate_pairs((out["start"] > 0) & valid, (out["end"] > 0) & valid, ctx_mask,
                                        self.max_width)
        if not len(b):
            return []
        logits = self.pair_logits(out, b, i, j)
        keep = chan & (logits > 0)
        rows, ch = keep.nonzero(as_tuple=True)
        sb, si, sj = b[rows], i[rows], j[rows]
        score = (F.logsigmoid(out["start"][sb, si, ch]) + F.logsigmoid(out["end"][sb, sj, ch])
                 + F.logsigmoid(logits[rows, ch]))
        group = sb * self.channels + ch
        if flat and len(rows):
            sel = _best_without_overlap(group, si, sj, score)
            rows, ch, score, group = rows[sel], ch[sel], score[sel], group[sel]
        if max_spans is not None and len(rows) > max_spans:
            rows, ch = _top_per_group(rows, ch, group, score, max_spans)
        return list(zip(b[rows].tolist(), ch.tolist(), i[rows].tolist(), j[rows].tolist(), strict=True))


def _best_without_overlap(group: torch.Tensor, first: torch.Tensor, last: torch.Tensor,
                          score: torch.Tensor) -> torch.Tensor:
    """Indices (in input order) of a greedy best-first selection with no two overlapping spans in a group."""
    taken: dict[int, list[tuple[int, int]]] = {}
    keep = []
    groups, firsts, lasts = group.tolist(), first.tolist(), last.tolist()  # one copy, not one per element
    for n in torch.argsort(score, descending=True, stable=True).tolist():
        g, s, e = groups[n], firsts[n], lasts[n]
        if all(e < s2 or e2 < s for s2, e2 in taken.get(g, [])):
            taken.setdefault(g, []).append((s, e))
            keep.append(n)
    return torch.tensor(sorted(keep), dtype=torch.long, device=group.device)


def _top_per_group(rows: torch.Tensor, ch: torch.Tensor, group: torch.Tensor, score: torch.Tensor, k: int):
    """The ``k`` highest-scoring items of every group (order of the input kept)."""
    order = torch.argsort(score, descending=True, stable=True)
    order = order[torch.argsort(group[order], stable=True)]  # grouped, best first within a group
    g = group[order]
    first = torch.searchsorted(g, g, right=False)  # index of each group's first item in the sorted order
    rank = torch.arange(len(g), device=g.device) - first
    keep = torch.sort(order[rank < k]).values
    return rows[keep], ch[keep]


class SpanValueHead(nn.Module):
    """Classifies a span into one of its type's labelled values (SDoH StatusTime=current, ...) from its
    pooled boundary states [h_first; h_last]. One output layer over every (type, value) pair; a span's
    logits are restricted to its own type's values, so types never compete."""

    def __init__(self, hidden: int, labels: dict[str, tuple[str, ...]], dropout: float = 0.1):
        super().__init__()
        self.types = tuple(sorted(labels))
        self.labels = [(t, v) for t in self.types for v in labels[t]]
        self.range = {}  # type -> (first, last+1) index into ``labels``
        for n, (t, _) in enumerate(self.labels):
            lo, _hi = self.range.get(t, (n, n))
            self.range[t] = (lo, n + 1)
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * hidden, hidden), nn.GELU(),
                                 nn.Linear(hidden, len(self.labels)))

    def index(self, etype: str, value: str) -> int:
        return self.labels.index((etype, value))

    def type_mask(self, label_index: torch.Tensor) -> torch.Tensor:
        """[N, n_labels] True on the values of each label's own type."""
        owner = torch.tensor([self.types.index(t) for t, _ in self.labels], device=label_index.device)
        return owner.unsqueeze(0) == owner[label_index].unsqueeze(1)

    def logits(self, h: torch.Tensor, b: torch.Tensor, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([h[b, i], h[b, j]], dim=-1))

    def loss(self, h: torch.Tensor, spans: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Cross-entropy over the spans that carry a value (``values`` >= 0, aligned with ``spans`` rows)."""
        labelled = values >= 0
        if not labelled.any():
            return h.sum() * 0.0
        s, v = spans[labelled], values[labelled]
        logits = self.logits(h, s[:, 0], s[:, 2], s[:, 3]).masked_fill(~self.type_mask(v), float("-inf"))
        return F.cross_entropy(logits, v)

    @torch.no_grad()
    def predict(self, h: torch.Tensor, spans: list[tuple[int, int, int]], types: list[str]) -> list[str]:
        """The value of each (example, first, last) span among its type's values, in one batched pass."""
        if not spans:
            return []
        b, i, j = torch.tensor(spans, dtype=torch.long, device=h.device).T
        logits = self.logits(h, b, i, j)
        out = []
        for row, etype in zip(logits, types, strict=True):
            lo, hi = self.range[etype]
            out.append(self.labels[lo + int(row[lo:hi].argmax())][1])
        return out
