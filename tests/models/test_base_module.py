"""The one base LightningModule both task modules share: parameter groups (weight decay never on biases or
LayerNorm), the frozen-checkpoint filter, train/eval modes of a frozen backbone; and the predicted-heads swap that
reaches the next epoch's batches without the Trainer rebuilding its loaders."""

from __future__ import annotations

import torch
from omegaconf import OmegaConf

from clinprompt.config import conf_dir
from clinprompt.data.mrc import Schema
from clinprompt.models.mrc_module import MRCModule
from clinprompt.qa.module import QAModule

SCHEMA = Schema("n2c2_2018", ("Drug", "Strength"))


def cfg(repo_root, group: str, name: str) -> dict:
    return OmegaConf.to_container(OmegaConf.load(conf_dir() / group / f"{name}.yaml"))


def named_groups(lm) -> dict[str, set[str]]:
    names = {id(p): n for n, p in lm.named_parameters()}
    return {g["name"]: {names[id(p)] for p in g["params"]} for g in lm.parameter_groups()}


def test_no_weight_decay_on_biases_or_layernorm_of_a_tiny_bert(repo_root):
    lm = MRCModule(cfg(repo_root, "model", "tiny_bert"), cfg(repo_root, "strategy", "no_prompt"), SCHEMA)
    groups = named_groups(lm)
    decay = {n for g in lm.parameter_groups() if g["weight_decay"] > 0 for n in groups[g["name"]]}
    trainable = {n for n, p in lm.named_parameters() if p.requires_grad}
    # the conventional rule, by name: every weight matrix and embedding decays, no bias and no LayerNorm does
    expected = {n for n in trainable if n.endswith(".weight") and "LayerNorm" not in n}
    assert decay == expected
    assert "net.backbone.encoder.layer.0.attention.self.query.weight" in decay
    assert "net.backbone.embeddings.word_embeddings.weight" in decay
    assert "net.backbone.embeddings.LayerNorm.weight" in groups["backbone.no_decay"]
    assert "net.backbone.encoder.layer.0.output.dense.bias" in groups["backbone.no_decay"]
    assert "net.concept_heads.start.bias" in groups["head.no_decay"]
    assert set().union(*groups.values()) == trainable  # every trainable parameter in exactly one group
    assert sum(len(v) for v in groups.values()) == len(trainable)
    lrs = {g["name"]: g["lr"] for g in lm.parameter_groups()}
    assert lrs["backbone"] == lrs["backbone.no_decay"] == 5e-5 and lrs["head"] == lrs["head.no_decay"] == 3e-3


def test_the_qa_module_gets_the_same_groups_and_its_strategy_rates(repo_root, model_config):
    model = model_config("tiny_bert")
    frozen = QAModule(model, cfg(repo_root, "strategy", "qa_soft_frozen"), prompt_len=4)
    groups = {g["name"]: g for g in frozen.parameter_groups()}
    assert set(groups) == {"prompt", "head", "head.no_decay"}  # frozen backbone; MLP at the prompt rate (no fan-in)
    assert groups["prompt"]["lr"] == 1e-2 and groups["prompt"]["weight_decay"] == 0.0
    assert groups["head"]["lr"] == 3e-3
    tuned = QAModule(model, cfg(repo_root, "strategy", "qa_finetune"), prompt_len=4)
    lrs = {g["name"]: g["lr"] for g in tuned.parameter_groups()}
    assert lrs == {"backbone": 5e-5, "backbone.no_decay": 5e-5, "head": 1e-3, "head.no_decay": 1e-3}


def test_a_frozen_qa_checkpoint_holds_only_what_trained_and_reloads(repo_root, model_config):
    lm = QAModule(model_config("tiny_bert"), cfg(repo_root, "strategy", "qa_soft_frozen"), prompt_len=4)
    ckpt = {"state_dict": lm.state_dict()}
    lm.on_save_checkpoint(ckpt)
    trained = {n for n, p in lm.named_parameters() if p.requires_grad}
    assert ckpt["prompt_only"] and set(ckpt["state_dict"]) == trained
    assert not any(k.startswith("net.backbone.") for k in ckpt["state_dict"])
    lm.on_load_checkpoint(ckpt)
    assert set(ckpt["state_dict"]) == set(lm.state_dict())  # the frozen backbone filled in from the fresh model


def test_a_frozen_backbone_trains_without_dropout_noise(repo_root, model_config):
    mrc = MRCModule(cfg(repo_root, "model", "tiny_bert"), cfg(repo_root, "strategy", "soft_frozen"), SCHEMA,
                    prompt_len=4)
    mrc.eval()
    mrc.on_train_epoch_start()
    assert not mrc.net.backbone.training and mrc.net.prompt.training and mrc.net.concept_heads.training
    qa = QAModule(model_config("tiny_bert"), cfg(repo_root, "strategy", "qa_soft_frozen"), prompt_len=4)
    qa.eval()
    qa.on_train_epoch_start()
    assert not qa.net.backbone.training and not qa.net.dropout.training
    assert qa.net.head.training and qa.net.deep_prompt.training
    unfrozen = MRCModule(cfg(repo_root, "model", "tiny_bert"), cfg(repo_root, "strategy", "soft_unfrozen"), SCHEMA,
                         prompt_len=4)
    unfrozen.eval()
    unfrozen.on_train_epoch_start()
    assert unfrozen.net.backbone.training


def test_predicted_heads_reach_the_next_epoch_of_the_same_loader(repo_root, tmp_path):
    """The swap happens in the loader's own lists: no reload_dataloaders_every_n_epochs needed."""
    from clinprompt.data.datamodule import MRCDataModule
    from clinprompt.data.document import Entity

    dataset = cfg(repo_root, "dataset", "synthetic")
    dataset["loader"].update(cache_dir=str(tmp_path), n_train=4, n_dev=1, n_test=1)
    dataset["negatives"] = 1.0
    dm = MRCDataModule(dataset, cfg(repo_root, "model", "tiny_bert"), cfg(repo_root, "strategy", "hard_prompt"),
                       task="end_to_end", batch_size=4, train_with_predicted_heads=True)
    dm.setup("fit")
    data = dm.eval_data()
    assert data.use_predicted_heads is not None and set(data.docs) == {"train", "dev", "test"}
    loader = dm.train_dataloader()
    n_batches = len(loader)
    before = {(e.doc_id, e.head_id) for batch in _examples(loader) for e in batch}
    doc = dm.train_docs[0]
    drug = next(e for e in doc.entities.values() if e.type == "Drug")
    # a spurious head: one token of free text far from any gold Drug (a predicted head that overlaps none)
    start = next(i for i in range(len(doc.text) - 3)
                 if doc.text[i:i + 3].isalpha() and all(e.end <= i or e.start >= i + 3 for e in doc.entities.values()))
    spurious = Entity("p1", "Drug", ((start, start + 3),))
    assert data.use_predicted_heads({doc.doc_id: [spurious, drug]}) > 0
    after = {(e.doc_id, e.head_id) for batch in _examples(loader) for e in batch}
    assert len(loader) == n_batches
    assert (doc.doc_id, "predicted-0") in after - before


def _examples(loader) -> list[list]:
    """The examples of each batch (the collate function is replaced by identity for this look)."""
    loader.collate_fn = list
    return [batch for batch in loader]


def test_optimizer_has_one_group_per_role_and_steps(repo_root):
    lm = MRCModule(cfg(repo_root, "model", "tiny_bert"), cfg(repo_root, "strategy", "soft_unfrozen"), SCHEMA,
                   prompt_len=4)
    opt = torch.optim.AdamW(lm.parameter_groups())
    names = [g["name"] for g in opt.param_groups]
    assert names[:2] == ["backbone", "backbone.no_decay"] and names[-2:] == ["head", "head.no_decay"]
    assert any(n.startswith("prompt_mlp.") for n in names)  # soft_unfrozen: mlp_lr fan_in
