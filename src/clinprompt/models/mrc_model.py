"""Backbone + (optional) deep prompt + head marker + span heads: the one architecture all four
strategies share. A strategy only decides the query kind and what is trainable."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedModel

from clinprompt.models.span_heads import SpanHeads, SpanValueHead
from clinprompt.prompts.deep_prompt import DeepPrompt
from clinprompt.schema import Schema
from clinprompt.strategy import MRCStrategy, PromptOptions, Query


def prompt_cache_kwarg(backbone: PreTrainedModel) -> str:
    """transformers renamed ``past_key_values`` to ``cache`` in 5.24 (the old name warns until 5.40)."""
    return "cache" if "cache" in inspect.signature(backbone.forward).parameters else "past_key_values"


def output_channels(schema: Schema, query: Query | str) -> tuple[int, int]:
    """Channels of the concept and relation heads: one per type without a query, else one; no relation
    head at all for a concepts-only schema (an unreached head would count as trained parameters)."""
    if Query(query).per_type:
        return 1, int(bool(schema.relation_types))
    rel = max((len(schema.relations_for_head(h)) for h in schema.head_types), default=0)
    return len(schema.entity_types), rel


class MRCModel(nn.Module):
    def __init__(self, backbone: PreTrainedModel, schema: Schema, query: Query | str, prompt_len: int = 0,
                 prompt: PromptOptions | Mapping[str, Any] | None = None, max_span_width: int = 16,
                 dropout: float = 0.1):
        super().__init__()
        query = Query(query)
        self.backbone, self.schema, self.query = backbone, schema, query
        hidden = backbone.config.hidden_size
        self.prompt = None
        if query.deep_prompt:
            opts = prompt if isinstance(prompt, PromptOptions) else PromptOptions(**dict(prompt or {}))
            vocab = backbone.get_input_embeddings().weight if opts.init == "vocab" else None
            self.prompt = DeepPrompt(backbone.config, schema.n_blocks, prompt_len, reparam=opts.reparam,
                                     reparam_hidden=opts.reparam_hidden, init=opts.init, dropout=opts.dropout,
                                     init_embeddings=vocab)
        n_concept, n_rel = output_channels(schema, query)
        self.concept_heads = SpanHeads(hidden, n_concept, max_span_width, dropout)
        self.relation_heads = SpanHeads(hidden, n_rel, max_span_width, dropout) if n_rel else None
        # a learned vector added to the head entity's token embeddings: an entity marker that needs
        # no new vocabulary, so it works unchanged on BERT, RoBERTa and MegatronBert
        self.head_marker = nn.Parameter(torch.randn(hidden) * 0.02) if n_rel else None
        # labelled tails (SDoH StatusTime=current): a value classifier over the tail span's boundary states
        self.value_head = SpanValueHead(hidden, schema.value_labels, dropout) if n_rel and schema.value_labels else None

    @classmethod
    def for_strategy(cls, backbone: PreTrainedModel, schema: Schema, strategy: MRCStrategy,
                     max_span_width: int = 16, dropout: float = 0.1) -> MRCModel:
        """The model a strategy asks for: its query kind, its effective prompt length and prompt options."""
        return cls(backbone, schema, strategy.query, strategy.effective_prompt_len, strategy.prompt, max_span_width,
                   dropout)

    def prompt_parameters(self) -> list[nn.Parameter]:
        params = list(self.prompt.parameters()) if self.prompt is not None else []
        return params + ([self.head_marker] if self.head_marker is not None else [])

    def head_parameters(self) -> list[nn.Parameter]:
        heads = [self.concept_heads] + [h for h in (self.relation_heads, self.value_head) if h is not None]
        return [p for h in heads for p in h.parameters()]

    def encode(self, batch: dict) -> torch.Tensor:
        """Hidden states of the context tokens only, [B, ctx_len, H]: never the query or prompt."""
        kwargs: dict[str, Any] = {"attention_mask": batch["attention_mask"]}
        if self.head_marker is not None and batch["head_mask"].any():
            emb = self.backbone.get_input_embeddings()(batch["input_ids"])
            kwargs["inputs_embeds"] = emb + batch["head_mask"].unsqueeze(-1).to(emb.dtype) * self.head_marker
        else:
            kwargs["input_ids"] = batch["input_ids"]
        if self.prompt is not None:
            dtype = next(self.backbone.parameters()).dtype
            kv = self.prompt(batch["block_ids"], dtype=dtype, as_cache=False)
            kwargs[prompt_cache_kwarg(self.backbone)] = self.prompt.to_cache(kv)
            kwargs["attention_mask"] = self.prompt.extend_mask(batch["attention_mask"])
        hidden = self.backbone(**kwargs, use_cache=False).last_hidden_state
        index = batch["ctx_index"].unsqueeze(-1).expand(-1, -1, hidden.shape[-1])
        # heads run in their own dtype: float32 over a bf16 backbone, bf16 when DeepSpeed casts the whole module
        return hidden.gather(1, index).to(self.concept_heads.start.weight.dtype)

    def heads_for(self, task: str) -> SpanHeads:
        return self.concept_heads if task == "concepts" else self.relation_heads

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        h = self.encode(batch)
        return {**self.heads_for(batch["task"])(h), "hidden": h}

    def value_loss(self, out: dict, batch: dict) -> torch.Tensor | None:
        """Value cross-entropy on gold relation tails that carry a labelled value (None without a value head)."""
        if self.value_head is None or batch["task"] != "relations":
            return None
        return self.value_head.loss(out["hidden"], batch["spans"], batch["span_values"])
