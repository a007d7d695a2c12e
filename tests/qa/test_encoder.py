"""The encoder classifier's three methods on tiny_bert: what trains, and that frozen weights stay put."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from clinprompt.backbone import load_backbone
from clinprompt.qa.encoder import EncoderClassifier

STRATEGIES = {"finetune": {"method": "finetune"},
              "deep_prompt": {"method": "deep_prompt", "prompt": {"reparam": True, "reparam_hidden": 16}},
              "prompt_tuning": {"method": "prompt_tuning", "prompt": {"init": "text", "init_text": "answer yes or no"}}}


@pytest.fixture(scope="module")
def cfg(conf_dir):
    return OmegaConf.to_container(OmegaConf.load(conf_dir / "model" / "tiny_bert.yaml"))


@pytest.mark.parametrize("method", list(STRATEGIES))
def test_only_the_strategy_parameters_train(cfg, tokenizer, method):
    net = EncoderClassifier(load_backbone(cfg), 2, STRATEGIES[method], 4, cfg, dropout=0.0)
    enc = tokenizer(["is it yes?", "a longer question about no"], return_tensors="pt", padding=True)
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    if method == "finetune":
        assert trainable == {n for n, _ in net.named_parameters()}
    else:
        assert trainable and all(n.startswith(("head.", "deep_prompt.")) or "prompt_encoder" in n for n in trainable)
    assert {id(p) for p in net.prompt_parameters() + net.backbone_parameters() + net.head_parameters()} == {
        id(p) for p in net.parameters() if p.requires_grad}
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    logits = net(enc["input_ids"], enc["attention_mask"])
    assert logits.shape == (2, 2)
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1])).backward()
    torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=1.0).step()
    for n, p in net.named_parameters():
        assert torch.equal(p, before[n]) == (n not in trainable), n


def test_padding_does_not_change_the_answer(cfg, tokenizer):
    """Mean pooling over real tokens only: an example scores the same alone and padded in a batch."""
    net = EncoderClassifier(load_backbone(cfg), 2, STRATEGIES["prompt_tuning"], 4, cfg).eval()
    both = tokenizer(["short", "a much longer question with many words"], return_tensors="pt", padding=True)
    alone = tokenizer(["short"], return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(net(both["input_ids"], both["attention_mask"])[0],
                                   net(alone["input_ids"], alone["attention_mask"])[0], atol=1e-5, rtol=1e-4)
