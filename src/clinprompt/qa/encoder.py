"""Encoder classifier for yes/no(/maybe) QA: backbone -> mean of the real tokens' states -> linear head.

Methods (``strategy.method``):
  ``finetune``       everything trains.
  ``deep_prompt``    the project's deep prompts (P-tuning v2 key/value prefixes at every layer, one block),
                     backbone frozen; prompt and head train.
  ``prompt_tuning``  peft PromptTuning: learned input embeddings prepended to the tokens, backbone frozen;
                     prompt and head train.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from peft import PromptTuningConfig, PromptTuningInit, TaskType, get_peft_model
from torch import nn
from transformers import PreTrainedModel

from clinprompt.backbone import default_tokenizer_source, model_source, position_limit
from clinprompt.models.mrc_model import prompt_cache_kwarg
from clinprompt.prompts.deep_prompt import DeepPrompt

ENCODER_METHODS = ("finetune", "deep_prompt", "prompt_tuning")


def peft_prompt_tuning(strategy: Mapping[str, Any], n_tokens: int, model_cfg: Mapping[str, Any],
                       task_type: TaskType) -> PromptTuningConfig:
    """peft's PromptTuningConfig from a strategy: ``init: text`` starts from the embeddings of
    ``init_text`` (Lester et al. 2021), ``random`` from random vectors."""
    init = strategy.get("init", "random")
    if init == "text":
        # a str: peft writes it into adapter_config.json (the package path may be a Path)
        tok_src = str(default_tokenizer_source() if model_cfg.get("tiny") else model_source(model_cfg))
        return PromptTuningConfig(task_type=task_type, num_virtual_tokens=n_tokens,
                                  prompt_tuning_init=PromptTuningInit.TEXT,
                                  prompt_tuning_init_text=strategy["init_text"], tokenizer_name_or_path=tok_src)
    if init != "random":
        raise ValueError(f"strategy.init={init!r}: use 'random' or 'text'")
    return PromptTuningConfig(task_type=task_type, num_virtual_tokens=n_tokens,
                              prompt_tuning_init=PromptTuningInit.RANDOM)


class EncoderClassifier(nn.Module):
    def __init__(self, backbone: PreTrainedModel, n_labels: int, strategy: Mapping[str, Any], prompt_len: int,
                 model_cfg: Mapping[str, Any], dropout: float = 0.1):
        super().__init__()
        method = strategy["method"]
        if method not in ENCODER_METHODS:
            raise ValueError(f"strategy.method={method!r} is not for an encoder classifier: use one of "
                             f"{ENCODER_METHODS} (prefix tuning of an encoder is method deep_prompt)")
        self.method, self.n_virtual = method, 0
        self.config = backbone.config
        self.deep_prompt: DeepPrompt | None = None
        if method == "deep_prompt":
            opts = dict(strategy.get("prompt") or {})
            backbone.requires_grad_(False)
            self.deep_prompt = DeepPrompt(backbone.config, 1, prompt_len, reparam=opts.get("reparam", True),
                                          reparam_hidden=opts.get("reparam_hidden", 256),
                                          dropout=opts.get("dropout", 0.0))
            self.cache_kwarg = prompt_cache_kwarg(backbone)
        elif method == "prompt_tuning":
            backbone = get_peft_model(backbone, peft_prompt_tuning(strategy, prompt_len, model_cfg,
                                                                   TaskType.FEATURE_EXTRACTION))
            self.n_virtual = prompt_len
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.config.hidden_size, n_labels)
        self.prompt_positions = prompt_len if method != "finetune" else 0

    @property
    def frozen_backbone(self) -> bool:
        return self.method != "finetune"

    def max_input_tokens(self) -> int:
        """Positions left for real tokens once the prompt takes its share."""
        return position_limit(self.config) - self.prompt_positions

    def prompt_parameters(self) -> list[nn.Parameter]:
        if self.deep_prompt is not None:
            return list(self.deep_prompt.parameters())
        if self.method == "prompt_tuning":
            return [p for n, p in self.backbone.named_parameters() if "prompt_encoder" in n]
        return []

    def backbone_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.backbone.named_parameters() if p.requires_grad and "prompt_encoder" not in n]

    def head_parameters(self) -> list[nn.Parameter]:
        return list(self.head.parameters())

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        kwargs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.deep_prompt is not None:
            block = torch.zeros(input_ids.shape[0], dtype=torch.long, device=input_ids.device)
            dtype = next(self.backbone.parameters()).dtype
            kwargs[self.cache_kwarg] = self.deep_prompt(block, dtype=dtype)
            kwargs["attention_mask"] = self.deep_prompt.extend_mask(attention_mask)
            kwargs["use_cache"] = False
        hidden = self.backbone(**kwargs).last_hidden_state
        hidden = hidden[:, self.n_virtual:]  # peft prompt tuning prepends its virtual tokens' states
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # MiniLM was trained with mean pooling
        return self.head(self.dropout(pooled.float()))
