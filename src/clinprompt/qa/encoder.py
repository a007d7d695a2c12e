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
from clinprompt.strategy import QAStrategy, qa_strategy

ENCODER_METHODS = ("finetune", "deep_prompt", "prompt_tuning")


def peft_prompt_tuning(strategy: QAStrategy | Mapping[str, Any], n_tokens: int, model_cfg: Mapping[str, Any],
                       task_type: TaskType) -> PromptTuningConfig:
    """peft's PromptTuningConfig from a strategy: ``prompt.init: text`` starts from the embeddings of
    ``prompt.init_text`` (Lester et al. 2021), ``random`` from random vectors."""
    opts = qa_strategy(strategy).prompt_options
    init = opts.init
    if init == "text":
        # a str: peft writes it into adapter_config.json (the package path may be a Path)
        tok_src = str(default_tokenizer_source() if model_cfg.get("tiny") else model_source(model_cfg))
        return PromptTuningConfig(task_type=task_type, num_virtual_tokens=n_tokens,
                                  prompt_tuning_init=PromptTuningInit.TEXT,
                                  prompt_tuning_init_text=opts.init_text, tokenizer_name_or_path=tok_src)
    if init != "random":
        raise ValueError(f"strategy.prompt.init={init!r}: use 'random' or 'text'")
    return PromptTuningConfig(task_type=task_type, num_virtual_tokens=n_tokens,
                              prompt_tuning_init=PromptTuningInit.RANDOM)


class EncoderClassifier(nn.Module):
    def __init__(self, backbone: PreTrainedModel, n_labels: int, strategy: QAStrategy | Mapping[str, Any],
                 prompt_len: int, model_cfg: Mapping[str, Any], dropout: float = 0.1):
        super().__init__()
        strategy = qa_strategy(strategy, prompt_len)
        method = strategy.method
        if method not in ENCODER_METHODS:
            raise ValueError(f"strategy.method={method!r} is not for an encoder classifier: use one of "
                             f"{ENCODER_METHODS} (prefix tuning of an encoder is method deep_prompt)")
        self.method, self.n_virtual = method, 0
        self.config = backbone.config
        self.deep_prompt: DeepPrompt | None = None
        if method == "deep_prompt":
            opts = strategy.prompt_options
            backbone.requires_grad_(False)
            self.deep_prompt = DeepPrompt(backbone.config, 1, prompt_len, reparam=opts.reparam,
                                          reparam_hidden=opts.reparam_hidden, dropout=opts.dropout)
            self.cache_kwarg = prompt_cache_kwarg(backbone)
        elif method == "prompt_tuning":
            backbone = get_peft_model(backbone, peft_prompt_tuning(strategy, prompt_len, model_cfg,
                                                                   TaskType.FEATURE_EXTRACTION))
            self.n_virtual = prompt_len
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.config.hidden_size, n_labels)
        self.strategy = strategy
        self.prompt_positions = strategy.effective_prompt_len

    @property
    def frozen_backbone(self) -> bool:
        return self.strategy.frozen_backbone

    def max_input_tokens(self) -> int:
        """Positions left for real tokens once the prompt takes its share."""
        return position_limit(self.config) - self.prompt_positions

    def prompt_parameters(self) -> list[nn.Parameter]:
        if self.deep_prompt is not None:
            return list(self.deep_prompt.parameters())
        if self.n_virtual:  # peft prompt tuning keeps its prompt inside the wrapped backbone
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
