"""Span heads: candidate pairs against brute force, nested decoding, match targets."""

from __future__ import annotations

import math

import pytest
import torch

from clinprompt.models.span_heads import SpanHeads, balanced_bce, candidate_pairs


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


def test_balanced_match_loss_weighs_positives_and_negatives_equally():
    # one gold pair among four candidates: logits 2 (gold), and -1, 0, 1 (wrong pairs)
    logits = torch.tensor([2.0, -1.0, 0.0, 1.0])
    target = torch.tensor([1.0, 0.0, 0.0, 0.0])
    pos = math.log1p(math.exp(-2.0))  # -log sigmoid(2)
    neg = sum(math.log1p(math.exp(x)) for x in (-1.0, 0.0, 1.0)) / 3  # -log(1 - sigmoid(x)), averaged
    assert balanced_bce(logits, target).item() == pytest.approx((pos + neg) / 2, rel=1e-6)
    # all-negative candidates (no gold span in the batch): the plain mean of the negatives
    assert balanced_bce(logits[1:], target[1:]).item() == pytest.approx(neg, rel=1e-6)


def test_balanced_match_loss_keeps_an_ambiguous_gold_pair_above_threshold():
    # a gold pair that looks exactly like 3 wrong pairs (one shared logit z) among 39 wrong candidates: the
    # plain mean's optimum is sigmoid(z) = 1/4 (nothing decodes); the balanced one is
    # (1/2) / (1/2 + 3/(2*39)) = 0.9286, so the span is predicted and precision is left to start/end
    target = torch.zeros(40)
    target[0] = 1.0
    plain = torch.nn.functional.binary_cross_entropy_with_logits
    for loss_fn, expected in ((balanced_bce, 0.5 / (0.5 + 3 / 78)), (plain, 0.25)):
        z = torch.zeros(1, requires_grad=True)
        opt = torch.optim.LBFGS([z], max_iter=100)

        def closure(z=z, loss_fn=loss_fn, opt=opt):
            opt.zero_grad()
            logits = torch.cat([z.expand(4), torch.full((36,), -10.0)])
            loss = loss_fn(logits, target)
            loss.backward()
            return loss

        opt.step(closure)
        assert torch.sigmoid(z).item() == pytest.approx(expected, abs=1e-3)


def test_flat_decoding_keeps_the_best_of_overlapping_spans_per_type_only():
    heads = SpanHeads(hidden=4, channels=2, max_width=6, dropout=0.0).eval()
    out = {"start": torch.full((1, 6, 2), -5.0), "end": torch.full((1, 6, 2), -5.0)}
    # channel 0: starts 0, 4 and ends 0, 2, 4 give candidates 0..0, 0..2, 0..4 (overlapping) and 4..4; channel 1: 0..2
    out["start"][0, 0, 0], out["end"][0, 0, 0], out["end"][0, 2, 0] = 5.0, 4.0, 1.0
    out["start"][0, 4, 0], out["end"][0, 4, 0] = 2.0, 2.0
    out["start"][0, 0, 1], out["end"][0, 2, 1] = 3.0, 3.0
    h = torch.zeros(1, 6, 4)
    out["left"], out["right"] = heads.left(h), heads.right(h)
    with torch.no_grad():
        heads.match[-1].bias.fill_(5.0)
        heads.match[-1].weight.zero_()
    mask = torch.ones(1, 6, dtype=torch.bool)
    assert sorted(heads.decode(out, mask)) == [(0, 0, 0, 0), (0, 0, 0, 2), (0, 0, 0, 4), (0, 0, 4, 4), (0, 1, 0, 2)]
    # flat: 0..0 (end logit 4) beats 0..2 (1) and 0..4 (2) in channel 0; 4..4 overlaps nothing kept; the other
    # type's 0..2 still nests
    assert sorted(heads.decode(out, mask, flat=True)) == [(0, 0, 0, 0), (0, 0, 4, 4), (0, 1, 0, 2)]
    out["end"][0, 2, 0] = 4.5  # now the outer span scores higher and wins
    assert sorted(heads.decode(out, mask, flat=True)) == [(0, 0, 0, 2), (0, 0, 4, 4), (0, 1, 0, 2)]
    # the cap ranks by the same joint score: the best span of each (example, channel) survives max_spans=1
    assert sorted(heads.decode(out, mask, max_spans=1, flat=True)) == [(0, 0, 0, 2), (0, 1, 0, 2)]
