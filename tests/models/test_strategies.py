"""The four strategies on BERT, RoBERTa and MegatronBert (tiny random models built in code)."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from clinprompt.backbone import load_backbone, position_limit
from clinprompt.config import conf_dir
from clinprompt.data.collate import collate
from clinprompt.data.document import Document, Entity
from clinprompt.data.mrc import ExampleBuilder
from clinprompt.data.windows import tokenize_document
from clinprompt.models.mrc_model import MRCModel
from clinprompt.schema import Schema

ARCHS = ["tiny_bert", "tiny_roberta", "tiny_megatron"]
QUERY = {"no_prompt": "none", "hard_prompt": "hard", "soft_unfrozen": "soft", "soft_frozen": "soft"}
SCHEMA = Schema("n2c2_2018", ("Drug", "Strength"))


def model_cfg(repo_root, name):
    return OmegaConf.to_container(OmegaConf.load(conf_dir() / "model" / f"{name}.yaml"))


@pytest.fixture(scope="module")
def doc():
    text = "Metoprolol 25 mg daily. Aspirin 81 mg."
    ents = {"T1": Entity("T1", "Drug", ((0, 10),)), "T2": Entity("T2", "Strength", ((11, 16),)),
            "T3": Entity("T3", "Drug", ((24, 31),)), "T4": Entity("T4", "Strength", ((32, 37),))}
    return Document("d", text, ents)


def build(repo_root, tokenizer, doc, arch, strategy, prompt_len=4, reparam=True):
    backbone = load_backbone(model_cfg(repo_root, arch))
    query = QUERY[strategy]
    model = MRCModel(backbone, SCHEMA, query, prompt_len, {"reparam": reparam, "reparam_hidden": 16}, 8, 0.0)
    if strategy == "soft_frozen":
        model.backbone.requires_grad_(False)
    builder = ExampleBuilder(tokenizer, SCHEMA, query, 32, 24, 8, position_limit(backbone.config), prompt_len)
    batch = collate(builder.concept_examples(tokenize_document(doc, tokenizer), doc), tokenizer.pad_token_id)
    return model, batch


@pytest.mark.parametrize("arch", ARCHS)
def test_prompt_changes_hidden_states(repo_root, tokenizer, doc, arch):
    model, batch = build(repo_root, tokenizer, doc, arch, "soft_unfrozen")
    model.eval()
    with_prompt = model.encode(batch)
    assert with_prompt.shape[:2] == batch["ctx_index"].shape  # only the real context tokens come back
    prompt, model.prompt = model.prompt, None
    without = model.encode(batch)
    model.prompt = prompt
    assert (with_prompt - without).abs().max() > 1e-4
    # different prompt blocks (entity types) give different hidden states for the same window
    assert (with_prompt[0] - with_prompt[1]).abs().max() > 1e-5


def _step(model, batch):
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1.0)
    model.concept_heads.loss(model(batch), batch)["loss"].backward()
    opt.step()
    return {n: not torch.equal(before[n], p.detach()) for n, p in model.named_parameters()}


@pytest.mark.parametrize("arch", ARCHS)
def test_soft_frozen_trains_only_prompts_and_heads(repo_root, tokenizer, doc, arch):
    model, batch = build(repo_root, tokenizer, doc, arch, "soft_frozen")
    changed = _step(model, batch)
    assert not any(v for n, v in changed.items() if n.startswith("backbone."))
    assert changed["prompt.embedding"]
    assert changed["concept_heads.start.weight"]


@pytest.mark.parametrize("arch", ARCHS)
def test_soft_unfrozen_trains_backbone_and_prompts(repo_root, tokenizer, doc, arch):
    model, batch = build(repo_root, tokenizer, doc, arch, "soft_unfrozen")
    changed = _step(model, batch)
    assert any(v for n, v in changed.items() if n.startswith("backbone.encoder"))
    assert changed["prompt.embedding"]


@pytest.mark.parametrize("strategy", list(QUERY))
def test_span_labels_line_up_with_tokens(repo_root, tokenizer, doc, strategy):
    """Fails if labels were shifted by the query or the prompt: the token under each start label must
    be the first token of a gold span of that channel's type."""
    model, batch = build(repo_root, tokenizer, doc, "tiny_bert", strategy)
    tokens = batch["input_ids"].gather(1, batch["ctx_index"])
    labelled = batch["start_labels"].nonzero().tolist()
    starts = {tokenizer.convert_ids_to_tokens(int(tokens[b, i])) for b, i, _ in labelled}
    assert starts == {"met", "25", "as", "81"}  # wordpieces: met ##op ##rol ##ol, as ##pi ##rin
    assert model.encode(batch).shape[1] == batch["ctx_index"].shape[1]


@pytest.mark.parametrize("reparam", [True, False])
def test_prompt_len_changes_trainable_count_exactly(repo_root, tokenizer, doc, reparam):
    counts = {}
    for p_len in (4, 8):
        model, _ = build(repo_root, tokenizer, doc, "tiny_megatron", "soft_frozen", p_len, reparam)
        counts[p_len] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    cfg = model.backbone.config
    per_token = cfg.hidden_size if reparam else cfg.num_hidden_layers * 2 * cfg.hidden_size
    assert counts[8] - counts[4] == 4 * SCHEMA.n_blocks * per_token


def strategy_cfg(repo_root, name):
    return OmegaConf.to_container(OmegaConf.load(conf_dir() / "strategy" / f"{name}.yaml"))


@pytest.mark.parametrize("strategy", ["no_prompt", "hard_prompt", "soft_unfrozen", "soft_frozen"])
def test_backbone_learning_rate_comes_from_the_model_unless_the_strategy_sets_one(repo_root, strategy):
    from clinprompt.models.mrc_module import MRCModule

    model = {**model_cfg(repo_root, "tiny_bert"), "finetune_lr": 1.2e-4}
    strat = strategy_cfg(repo_root, strategy)
    lrs = {g["name"]: g["lr"] for g in MRCModule(model, strat, SCHEMA, prompt_len=4).parameter_groups()}
    assert lrs["head"] == strat["lr"]["head"]
    if strategy == "soft_frozen":  # a frozen backbone has no trainable group at all
        assert "backbone" not in lrs
        return
    assert lrs["backbone"] == 1.2e-4
    strat["lr"]["backbone"] = 3e-6  # a strategy (or a sweep) that sets the rate wins
    groups = MRCModule(model, strat, SCHEMA, prompt_len=4).parameter_groups()
    assert {g["name"]: g["lr"] for g in groups}["backbone"] == 3e-6


@pytest.mark.parametrize("strategy", list(QUERY))
def test_every_trainable_parameter_learns_on_a_concept_schema(repo_root, tokenizer, doc, strategy):
    """Trainable counts are what a strategy costs: a concepts-only schema must not build relation heads
    or a head marker that no loss reaches (they would inflate soft_frozen's trainable share)."""
    model, batch = build(repo_root, tokenizer, doc, "tiny_bert", strategy)
    model.concept_heads.loss(model(batch), batch)["loss"].backward()
    dead = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert dead == []


@pytest.mark.parametrize("mlp_lr", [None, "fan_in"])
def test_reparameterization_mlp_learning_rate_scales_with_fan_in(repo_root, mlp_lr):
    from clinprompt.models.mrc_module import MRCModule

    model = model_cfg(repo_root, "tiny_bert")
    strat = strategy_cfg(repo_root, "soft_frozen")
    strat["prompt"] = {**strat["prompt"], "reparam_hidden": 24, "mlp_lr": mlp_lr}
    lm = MRCModule(model, strat, SCHEMA, prompt_len=4)
    groups = lm.parameter_groups()
    params = [id(p) for g in groups for p in g["params"]]
    trainable = [id(p) for p in lm.parameters() if p.requires_grad]
    assert sorted(params) == sorted(trainable)  # every trainable parameter in exactly one group
    lrs = {g["name"]: g["lr"] for g in groups}
    base = strat["lr"]["prompt"]
    if mlp_lr is None:
        assert "prompt_mlp.0" not in lrs and lrs["prompt"] == base
        return
    hidden = model["tiny"]["hidden_size"]
    mlp = lm.net.prompt.mlp
    by_param = {id(p): g["lr"] for g in groups for p in g["params"]}
    assert by_param[id(mlp[0].weight)] == pytest.approx(base / hidden)  # 32 -> 24
    assert by_param[id(mlp[2].weight)] == pytest.approx(base / 24)  # 24 -> layers x 2 x hidden
    assert by_param[id(mlp[2].bias)] == by_param[id(lm.net.prompt.embedding)] == base
