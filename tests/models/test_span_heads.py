"""Span heads: candidate pairs against brute force, nested decoding, match targets."""

from __future__ import annotations

import torch

from clinprompt.models.span_heads import SpanHeads, candidate_pairs


def test_candidate_pairs_match_brute_force():
    g = torch.Generator().manual_seed(0)
    start = torch.rand(3, 20, 2, generator=g) > 0.6
    end = torch.rand(3, 20, 2, generator=g) > 0.6
    mask = torch.ones(3, 20, dtype=torch.bool)
    mask[1, 15:] = False
    b, i, j, chan = candidate_pairs(start, end, mask, max_width=5)
    got = {(bb, ii, jj, c) for bb, ii, jj, row in zip(b.tolist(), i.tolist(), j.tolist(), chan.tolist(), strict=True)
           for c, on in enumerate(row) if on}
    want = {(bb, ii, jj, c) for bb in range(3) for ii in range(20) for jj in range(ii, min(ii + 5, 20))
            for c in range(2) if start[bb, ii, c] and end[bb, jj, c] and mask[bb, jj]}
    assert got == want


def test_nested_spans_decode_from_logits():
    heads = SpanHeads(hidden=4, channels=1, max_width=6, dropout=0.0).eval()
    # "heparin induced thrombocytopenia": outer span 0..2 and nested span 0..0
    out = {"start": torch.full((1, 5, 1), -5.0), "end": torch.full((1, 5, 1), -5.0)}
    out["start"][0, 0, 0] = 5.0
    out["end"][0, 0, 0] = 5.0
    out["end"][0, 2, 0] = 5.0
    h = torch.zeros(1, 5, 4)
    out["left"], out["right"] = heads.left(h), heads.right(h)
    with torch.no_grad():  # match everything: bias of the last layer large
        heads.match[-1].bias.fill_(5.0)
        heads.match[-1].weight.zero_()
    spans = heads.decode(out, torch.ones(1, 5, dtype=torch.bool))
    assert sorted(spans) == [(0, 0, 0, 0), (0, 0, 0, 2)]


def test_match_loss_targets_only_gold_pairs():
    heads = SpanHeads(hidden=8, channels=1, max_width=4, dropout=0.0)
    h = torch.randn(1, 6, 8)
    out = heads(h)
    batch = {"ctx_mask": torch.ones(1, 6, dtype=torch.bool), "start_labels": torch.zeros(1, 6, 1),
             "end_labels": torch.zeros(1, 6, 1), "spans": torch.tensor([[0, 0, 1, 3]])}
    batch["start_labels"][0, 1, 0] = 1
    batch["end_labels"][0, 3, 0] = 1
    loss = heads.loss(out, batch)
    assert torch.isfinite(loss["loss"])
    loss["loss"].backward()
    assert heads.match[-1].weight.grad.abs().sum() > 0
