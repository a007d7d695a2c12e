"""Exact parameter counts of a run's model from configs alone: the project's own MRCModel is built on
the meta device around the backbone's published architecture, so nothing is downloaded or allocated."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
from transformers import AutoModel

from clinprompt.backbone import architecture_config
from clinprompt.models.mrc_model import MRCModel
from clinprompt.schema import Schema
from clinprompt.strategy import mrc_strategy

ADAMW_MOMENTS = 2  # exp_avg and exp_avg_sq, one element each per trainable parameter
ADAMW_STEP_BYTES = 4  # torch AdamW keeps a float32 `step` tensor per parameter tensor


@dataclass(frozen=True)
class ParamCounts:
    total: int
    trainable: int
    backbone: int
    prompt: int  # deep prompt (+ reparameterization MLP) and the relation head marker
    head: int
    trainable_tensors: int
    largest_layer: int  # most parameters held directly by one module (DeepSpeed ZeRO-3 gathers it whole)

    @property
    def frozen(self) -> int:
        return self.total - self.trainable

    @property
    def trainable_pct(self) -> float:
        return round(100.0 * self.trainable / self.total, 4) if self.total else 0.0

    def adamw_state_bytes(self, param_bytes: int = 4) -> int:
        """Bytes torch.optim.AdamW holds after its first step (what results.json records)."""
        return self.trainable * ADAMW_MOMENTS * param_bytes + self.trainable_tensors * ADAMW_STEP_BYTES


def schema_for(dataset_cfg: Mapping[str, Any], task: str) -> Schema:
    """The dataset's types from its questions (``dataset.questions``; no corpus is read): entity types, and
    relation types ``Tail-Head`` unless the task is concepts only, as the DataModule builds it."""
    name = dataset_cfg.get("name")
    table = dict(dataset_cfg.get("questions") or {})
    if not table:
        raise ValueError(f"dataset '{name}': no types listed in dataset.questions; "
                         "plan with a dataset that lists them")
    entities = tuple(k for k in table if "-" not in k)
    rels = tuple(k for k in table if "-" in k and all(p in entities for p in k.split("-", 1)))
    if task == "concepts":
        rels = ()
    return Schema(name, entities, rels, {r: tuple(r.split("-", 1)) for r in rels}, questions=table)


def build_meta_model(model_cfg: Mapping[str, Any], strategy_cfg: Mapping[str, Any], schema: Schema,
                     prompt_len: int, max_span_width: int = 16) -> MRCModel:
    """The run's MRCModel with meta tensors: exact shapes, no memory, no download."""
    strategy = mrc_strategy(_plain(strategy_cfg), prompt_len)
    backbone = _meta_backbone(json.dumps(_plain(model_cfg), sort_keys=True))
    with torch.device("meta"):
        net = MRCModel.for_strategy(backbone, schema, strategy, max_span_width)
    net.backbone.requires_grad_(not strategy.frozen_backbone)  # as MRCModule does
    return net


def _plain(cfg: Any) -> Any:
    from omegaconf import DictConfig, OmegaConf

    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg


@lru_cache(maxsize=8)
def _meta_backbone(model_json: str):
    """One meta backbone per model config (tables build the same one for every strategy)."""
    with torch.device("meta"):
        return AutoModel.from_config(architecture_config(json.loads(model_json)), add_pooling_layer=False)


def _numel(params) -> int:
    return sum(p.numel() for p in {id(p): p for p in params}.values())


def count_model(net: torch.nn.Module) -> ParamCounts:
    params = {id(p): p for p in net.parameters()}.values()
    trainable = [p for p in params if p.requires_grad]
    largest = max(sum(p.numel() for p in m.parameters(recurse=False)) for m in net.modules())
    return ParamCounts(total=_numel(params), trainable=_numel(trainable),
                       backbone=_numel(net.backbone.parameters()), prompt=_numel(net.prompt_parameters()),
                       head=_numel(net.head_parameters()), trainable_tensors=len(trainable), largest_layer=largest)


def count_params(model_cfg: Mapping[str, Any], strategy_cfg: Mapping[str, Any], dataset_cfg: Mapping[str, Any],
                 task: str, prompt_len: int) -> ParamCounts:
    schema = schema_for(dataset_cfg, task)
    net = build_meta_model(model_cfg, strategy_cfg, schema, prompt_len, int(dataset_cfg.get("max_span_width", 16)))
    return count_model(net)
