"""The seq2seq path on tiny_t5 (a random T5 built in code): peft adapters train alone, save and reload with
identical outputs; generations are normalised and invalid answers counted; offline footprints match the
reference study's FLAN-T5-XL figures."""

from __future__ import annotations

import pytest
import torch
from peft import PeftModel

from clinprompt.backbone import load_tokenizer
from clinprompt.qa.data import INVALID
from clinprompt.qa.datamodule import end_token_id
from clinprompt.qa.metrics import classification_metrics
from clinprompt.qa.seq2seq import (
    Seq2SeqQA,
    greedy_decode,
    load_seq2seq,
    normalise_answer,
    peft_config,
    t5_config,
)

LABELS = ("yes", "no")



@pytest.fixture(scope="module")
def tiny(model_config):
    cfg = model_config("tiny_t5")
    tok = load_tokenizer(cfg)
    enc = tok(["Question: is aspirin effective? Answer yes or no.", "Question: does it hurt? Answer yes or no."],
              return_tensors="pt", padding=True)
    eos = end_token_id(tok)
    targets = torch.tensor([tok("yes", add_special_tokens=False)["input_ids"] + [eos],
                            tok("no", add_special_tokens=False)["input_ids"] + [eos]])
    return cfg, tok, enc, targets


def build(tiny, method):
    cfg, tok, _, _ = tiny
    return Seq2SeqQA(load_seq2seq(cfg, tok), tok, LABELS, {"method": method, "prompt": {"init": "random"}}, 4, cfg)


@pytest.mark.parametrize("method", ["prompt_tuning", "prefix_tuning"])
def test_adapter_trains_alone_and_reloads_with_identical_outputs(tiny, method, tmp_path):
    cfg, tok, enc, targets = tiny
    net = build(tiny, method)
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    assert trainable and all("prompt_encoder" in n for n in trainable)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        net.loss(enc["input_ids"], enc["attention_mask"], targets).backward()
        opt.step()
    for n, p in net.named_parameters():
        assert torch.equal(p, before[n]) != (n in trainable), n  # adapter moved, base weights did not

    net.eval()
    with torch.no_grad():
        logits = net.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], labels=targets).logits
    texts = net.generate_text(enc["input_ids"], enc["attention_mask"])
    net.save_adapter(tmp_path / "adapter")
    reloaded = PeftModel.from_pretrained(load_seq2seq(cfg, tok), str(tmp_path / "adapter")).eval()
    with torch.no_grad():
        again = reloaded(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], labels=targets).logits
    assert torch.equal(logits, again)
    out = greedy_decode(reloaded, enc["input_ids"], enc["attention_mask"], tok.pad_token_id, end_token_id(tok),
                        tok.pad_token_id, 4)
    assert tok.batch_decode(out, skip_special_tokens=True) == texts


@pytest.mark.parametrize("method", ["prompt_tuning", "prefix_tuning"])
def test_decoding_uses_the_adapter(tiny, method):
    """Greedy answers follow the adapter: an amplified prompt changes the first-step logits, and they equal
    an independent argmax over the forward pass (generate() of a prefix-tuned T5 ignores the prefix)."""
    cfg, tok, enc, _ = tiny
    net = build(tiny, method).eval()
    with torch.no_grad():
        for p in net.prompt_parameters():
            p.mul_(50.0)
        start = torch.full((2, 1), tok.pad_token_id)
        with_adapter = net.model(**enc, decoder_input_ids=start).logits[:, -1]
        with net.model.disable_adapter():
            base = net.model.get_base_model()(**enc, decoder_input_ids=start).logits[:, -1]
    assert (with_adapter - base).abs().max() > 1e-3
    first = greedy_decode(net.model, enc["input_ids"], enc["attention_mask"], tok.pad_token_id, end_token_id(tok),
                          tok.pad_token_id, 1)[:, 0]
    assert torch.equal(first, with_adapter.argmax(-1))


def test_normalisation():
    assert normalise_answer("Yes.", LABELS) == "yes"
    assert normalise_answer("  no, because", LABELS) == "no"
    assert normalise_answer("maybe", LABELS) == INVALID  # outside the yes/no label set
    assert normalise_answer("", LABELS) == INVALID
    assert normalise_answer("##yes", LABELS) == "yes"


def test_invalid_generations_are_counted_not_dropped(tiny):
    _, _, enc, _ = tiny
    net = build(tiny, "base").eval()
    raw = net.generate_text(enc["input_ids"], enc["attention_mask"])
    preds = net.predict(enc["input_ids"], enc["attention_mask"])
    assert len(preds) == 2
    expected_invalid = sum(normalise_answer(t, LABELS) == INVALID for t in raw)
    res = classification_metrics(["yes", "no"], preds, LABELS)
    assert res["n"] == 2 and res["invalid"] == expected_invalid
    assert sum(map(sum, res["confusion"]["matrix"])) == 2
    assert not any(p.requires_grad for p in net.parameters())


@pytest.mark.parametrize("method,expected", [("prompt_tuning", 204_800), ("prefix_tuning", 4_915_200)])
def test_flan_t5_xl_footprints_match_the_reference_study(model_config, method, expected):
    """0.205M (prompt tuning) and 4.9M (prefix tuning) trained parameters at prompt_len=50, counted offline
    on the published architecture (meta device: no weights)."""
    from peft import get_peft_model
    from transformers import T5ForConditionalGeneration

    cfg = model_config("flan_t5_xl")
    with torch.device("meta"):
        model = get_peft_model(T5ForConditionalGeneration(t5_config(cfg)),
                               peft_config({"method": method, "prompt": {"init": "random"}}, 50, cfg))
    trainable, total = model.get_nb_trainable_parameters()
    assert trainable == expected and 2.7e9 < total < 2.9e9
