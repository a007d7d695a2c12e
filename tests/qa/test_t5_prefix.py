"""Li & Liang prefix tuning on tiny_t5 (qa/t5_prefix.py) next to peft's decoder-only variant: the encoder
sees the prefix (checked against a hand-written attention), only prefix weights train, save/reload gives
identical outputs, generate() with a KV cache agrees with the forward pass, parameter counts per variant."""

from __future__ import annotations

import pytest
import torch

from clinprompt.backbone import load_tokenizer
from clinprompt.qa.datamodule import end_token_id
from clinprompt.qa.seq2seq import Seq2SeqQA, greedy_decode, load_seq2seq, t5_config
from clinprompt.qa.t5_prefix import T5Prefix, load_prefix

LABELS = ("yes", "no")



@pytest.fixture(scope="module")
def tiny(model_config):
    cfg = model_config("tiny_t5")
    tok = load_tokenizer(cfg)
    enc = tok(["Question: is aspirin effective? Answer yes or no.", "Question: does it hurt?"],
              return_tensors="pt", padding=True, return_token_type_ids=False)
    assert not bool(enc["attention_mask"].all())  # the second row is padded: masks must widen correctly
    eos = end_token_id(tok)
    targets = torch.tensor([tok("yes", add_special_tokens=False)["input_ids"] + [eos],
                            tok("no", add_special_tokens=False)["input_ids"] + [eos]])
    return cfg, tok, enc, targets


def build(tiny, method, **strategy):
    cfg, tok, _, _ = tiny
    return Seq2SeqQA(load_seq2seq(cfg, tok), tok, LABELS, {"method": method, "prompt": {"init": "random", **strategy}},
                     4, cfg)


def encoder_states(model, enc):
    with torch.no_grad():
        return model.get_encoder()(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state


def test_encoder_sees_the_full_prefix_but_not_peft_prefix(tiny):
    cfg, tok, enc, _ = tiny
    base = encoder_states(load_seq2seq(cfg, tok).eval(), enc)
    full = build(tiny, "prefix_tuning_full").eval()
    assert (encoder_states(full.model, enc) - base).abs().max() > 1e-3
    peft = build(tiny, "prefix_tuning").eval()  # peft 0.21 puts the prefix in the decoder only
    assert torch.equal(encoder_states(peft.model.get_base_model(), enc), base)
    with torch.no_grad():  # ... while its decoder does see it
        for p in peft.prompt_parameters():
            p.mul_(50.0)
        start = torch.full((2, 1), tok.pad_token_id)
        with_adapter = peft.model(**enc, decoder_input_ids=start).logits
        with peft.model.disable_adapter():
            without = peft.model(**enc, decoder_input_ids=start).logits
    assert (with_adapter - without).abs().max() > 1e-3


def test_first_encoder_attention_matches_a_hand_written_one(tiny):
    """Layer 0 of the encoder against softmax(q [pk; k]^T + [0; bias] + [0; mask]) [pv; v], written out here."""
    _, _, enc, _ = tiny
    net = build(tiny, "prefix_tuning_full").eval()
    attn = net.model.encoder.block[0].layer[0].SelfAttention
    seen = {}
    attn.register_forward_hook(lambda m, args, kwargs, out: seen.update(h=args[0], out=out[0]), with_kwargs=True)
    with torch.no_grad():
        net.model.get_encoder()(**enc)
        h, b, n = seen["h"], seen["h"].shape[0], net.prefix.n_tokens
        heads, d = attn.n_heads, attn.key_value_proj_dim

        def split(x):
            return x.view(b, -1, heads, d).transpose(1, 2)

        pk, pv = net.prefix.kv("encoder_self", 0)
        k = torch.cat([pk.expand(b, -1, -1, -1), split(attn.k(h))], dim=2)
        v = torch.cat([pv.expand(b, -1, -1, -1), split(attn.v(h))], dim=2)
        seq = h.shape[1]
        bias = torch.cat([torch.zeros(1, heads, seq, n), attn.compute_bias(seq, seq)], dim=-1)
        visible = torch.cat([torch.ones(b, n, dtype=torch.bool), enc["attention_mask"].bool()], dim=1)
        scores = split(attn.q(h)) @ k.transpose(-1, -2) + bias  # T5 does not scale by 1/sqrt(d)
        scores = scores.masked_fill(~visible[:, None, None, :], float("-inf"))
        expected = attn.o((scores.softmax(-1) @ v).transpose(1, 2).reshape(b, seq, heads * d))
    torch.testing.assert_close(seen["out"], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("projection", [False, True])
def test_training_moves_only_the_prefix_and_it_reloads_identically(tiny, projection, tmp_path):
    cfg, tok, enc, targets = tiny
    net = build(tiny, "prefix_tuning_full", reparam=projection, reparam_hidden=16)
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("prefix.") for n in trainable)
    assert {id(p) for p in net.prompt_parameters()} == {id(p) for n, p in net.named_parameters() if n in trainable}
    assert net.backbone_parameters() == [] and net.frozen_backbone
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    opt = torch.optim.Adam(net.prompt_parameters(), lr=0.1)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = net.loss(enc["input_ids"], enc["attention_mask"], targets)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]
    for n, p in net.named_parameters():
        assert torch.equal(p, before[n]) != (n in trainable), n  # prefix moved, T5 weights did not

    net.eval()
    with torch.no_grad():
        logits = net.model(**enc, labels=targets).logits
    texts = net.generate_text(enc["input_ids"], enc["attention_mask"])
    assert net.save_adapter(tmp_path / "adapter") == tmp_path / "adapter"
    fresh = load_seq2seq(cfg, tok).eval()
    load_prefix(fresh, tmp_path / "adapter")
    with torch.no_grad():
        again = fresh(**enc, labels=targets).logits
    assert torch.equal(logits, again)
    out = greedy_decode(fresh, enc["input_ids"], enc["attention_mask"], tok.pad_token_id, end_token_id(tok),
                        tok.pad_token_id, 4)
    assert tok.batch_decode(out, skip_special_tokens=True) == texts
    assert len(net.predict(enc["input_ids"], enc["attention_mask"])) == 2


def test_generate_with_a_kv_cache_sees_the_prefix(tiny):
    """generate() (cached keys/values, one new token per step) gives, step by step, the logits of a full
    forward pass over the tokens so far, and the greedy tokens."""
    _, tok, enc, _ = tiny
    net = build(tiny, "prefix_tuning_full").eval()
    with torch.no_grad():
        net.prefix.prefix.mul_(100.0)  # a prefix strong enough to matter
        out = net.model.generate(**enc, max_new_tokens=5, min_new_tokens=5, do_sample=False, output_logits=True,
                                 return_dict_in_generate=True)
        full = net.model(**enc, decoder_input_ids=out.sequences[:, :-1]).logits
        base = load_seq2seq(*tiny[:2]).eval()(**enc, decoder_input_ids=out.sequences[:, :-1]).logits
    assert out.sequences.shape[1] == 6
    torch.testing.assert_close(torch.stack(out.logits, dim=1), full, rtol=1e-4, atol=1e-4)
    assert (full - base).abs().max() > 1e-2
    greedy = greedy_decode(net.model, enc["input_ids"], enc["attention_mask"], tok.pad_token_id, -1,
                           tok.pad_token_id, 5)
    assert torch.equal(greedy, out.sequences[:, 1:])


def test_parameter_counts_per_variant(model_config, tiny):
    """prompt_len x (encoder + 2 x decoder layers) x 2 (keys, values) x heads x d_kv."""
    full = build(tiny, "prefix_tuning_full")
    assert sum(p.numel() for p in full.prompt_parameters()) == 4 * (2 + 2 * 2) * 2 * 4 * 8  # 1,536
    peft = build(tiny, "prefix_tuning")  # decoder self-attention only
    assert sum(p.numel() for p in peft.prompt_parameters()) == 4 * 2 * 2 * 4 * 8  # 512
    xl = t5_config(model_config("flan_t5_xl"))
    with torch.device("meta"):
        prefix = T5Prefix(xl, 50)
    assert sum(p.numel() for p in prefix.parameters()) == 50 * (24 + 2 * 24) * 2 * 32 * 64 == 14_745_600
