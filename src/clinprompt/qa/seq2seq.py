"""A seq2seq model (FLAN-T5) answering yes/no(/maybe) by greedy generation, frozen and adapted with peft.

Methods (``strategy.method``): ``base`` (zero-shot, nothing trains), ``prompt_tuning`` (peft
PromptTuning), ``prefix_tuning`` (peft PrefixTuning: on T5 a prefix in the decoder's self-attention only),
``prefix_tuning_full`` (Li & Liang: prefixes in the encoder's self-attention and the decoder's self- and
cross-attention, ``qa/t5_prefix.py``), ``finetune`` (every weight trains). Generations are normalised to
the label set by their first word; anything else is the answer ``invalid`` (counted, never dropped). peft
adapters are saved in peft's own format (``PeftModel.from_pretrained`` reloads them); a full prefix as
``prefix_config.json`` + ``prefix.safetensors`` (``t5_prefix.load_prefix`` reloads it).

Decoding is greedy through the model's forward pass (``greedy_decode``), not ``generate()``: with peft 0.21
and transformers 5.24, ``generate()`` on a prefix-tuned T5 drops the prefix (its legacy ``past_key_values``
is ignored in favour of a fresh cache), so it would answer as the untuned base (the full prefix enters
inside attention and survives ``generate()``; greedy decoding stays the same for every method). The forward
pass is the one training uses; answers are a word and an end token, so the few steps without a KV cache
cost little.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from peft import PeftModel, PrefixTuningConfig, TaskType, get_peft_model
from torch import nn
from transformers import AutoModelForSeq2SeqLM, PreTrainedModel, T5Config, T5ForConditionalGeneration

from clinprompt.backbone import model_source, quiet_loading, resolve_dtype, unavailable_error
from clinprompt.qa.data import INVALID
from clinprompt.qa.datamodule import end_token_id
from clinprompt.qa.encoder import peft_prompt_tuning
from clinprompt.qa.t5_prefix import T5Prefix
from clinprompt.strategy import QAStrategy, qa_strategy

SEQ2SEQ_METHODS = ("base", "prompt_tuning", "prefix_tuning", "prefix_tuning_full", "finetune")
_WORD = re.compile(r"[a-z]+")


def normalise_answer(text: str, labels: Sequence[str]) -> str:
    """'Yes.' / ' yes, because' -> 'yes'; an empty or off-label generation -> 'invalid'."""
    m = _WORD.search(text.lower())
    return m.group(0) if m and m.group(0) in labels else INVALID


@torch.no_grad()
def greedy_decode(model: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, start_id: int,
                  end_id: int, pad_id: int, max_new_tokens: int) -> torch.Tensor:
    """Greedy answer tokens [B, <= max_new_tokens]: argmax of the forward pass, one token at a time;
    a finished row is padded."""
    dec = torch.full((input_ids.shape[0], 1), start_id, dtype=torch.long, device=input_ids.device)
    done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
    for _ in range(max_new_tokens):
        logits = model(input_ids=input_ids, attention_mask=attention_mask, decoder_input_ids=dec).logits[:, -1]
        nxt = torch.where(done, torch.full_like(done, pad_id, dtype=torch.long), logits.argmax(-1))
        dec = torch.cat([dec, nxt[:, None]], dim=1)
        done |= nxt == end_id
        if bool(done.all()):
            break
    return dec[:, 1:]


def t5_config(model_cfg: Mapping[str, Any], tokenizer=None) -> T5Config:
    """The architecture offline: ``tiny`` (random test model sized to a borrowed tokenizer) or ``arch``
    (the published config.json dimensions, for parameter counts without weights)."""
    if model_cfg.get("tiny"):
        if tokenizer is None:
            raise ValueError("a tiny T5 needs the tokenizer it borrows (vocabulary and special ids)")
        kwargs = {k: v for k, v in dict(model_cfg["tiny"]).items() if k != "architecture"}
        # T5 starts decoding from the pad id; answers end with the tokenizer's eos (or [SEP])
        return T5Config(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                        decoder_start_token_id=tokenizer.pad_token_id, eos_token_id=end_token_id(tokenizer),
                        **kwargs)
    return T5Config(**dict(model_cfg["arch"]))


def load_seq2seq(model_cfg: Mapping[str, Any], tokenizer) -> PreTrainedModel:
    if model_cfg.get("tiny"):
        torch.manual_seed(int(model_cfg.get("init_seed", 0)))  # the same random weights in every process
        model = T5ForConditionalGeneration(t5_config(model_cfg, tokenizer))
    else:
        try:
            with quiet_loading():
                model = AutoModelForSeq2SeqLM.from_pretrained(model_source(model_cfg),
                                                              dtype=resolve_dtype(model_cfg.get("dtype")))
        except (OSError, ValueError) as err:
            raise unavailable_error(model_cfg, err) from err
    gen = model.generation_config
    gen.eos_token_id, gen.pad_token_id = end_token_id(tokenizer), tokenizer.pad_token_id
    gen.decoder_start_token_id = model.config.decoder_start_token_id
    return model


def peft_config(strategy: QAStrategy | Mapping[str, Any], n_tokens: int, model_cfg: Mapping[str, Any]):
    strategy = qa_strategy(strategy)
    if strategy.method == "prompt_tuning":
        return peft_prompt_tuning(strategy, n_tokens, model_cfg, TaskType.SEQ_2_SEQ_LM)
    if strategy.method == "prefix_tuning":
        opts = strategy.prompt_options
        return PrefixTuningConfig(task_type=TaskType.SEQ_2_SEQ_LM, num_virtual_tokens=n_tokens,
                                  prefix_projection=opts.reparam, encoder_hidden_size=opts.reparam_hidden)
    return None


class Seq2SeqQA(nn.Module):
    def __init__(self, model: PreTrainedModel, tokenizer, labels: Sequence[str],
                 strategy: QAStrategy | Mapping[str, Any], n_tokens: int, model_cfg: Mapping[str, Any],
                 max_new_tokens: int = 4):
        super().__init__()
        strategy = qa_strategy(strategy, n_tokens)
        method = strategy.method
        if method not in SEQ2SEQ_METHODS:
            raise ValueError(f"strategy.method={method!r} is not for a seq2seq model: use one of {SEQ2SEQ_METHODS}")
        self.method, self.labels, self.tokenizer, self.max_new_tokens = method, tuple(labels), tokenizer, max_new_tokens
        cfg = peft_config(strategy, n_tokens, model_cfg)
        self.prefix: T5Prefix | None = None
        if cfg is not None:
            model = get_peft_model(model, cfg)  # freezes every base weight
        elif method in ("base", "prefix_tuning_full"):
            model.requires_grad_(False)
        if method == "prefix_tuning_full":
            opts = strategy.prompt_options
            self.prefix = T5Prefix(model.config, n_tokens, opts.reparam, opts.reparam_hidden)
            self.prefix.attach(model)
        self.model, self.strategy = model, strategy

    @property
    def frozen_backbone(self) -> bool:
        return self.strategy.frozen_backbone

    @property
    def is_peft(self) -> bool:
        return isinstance(self.model, PeftModel)

    def prompt_parameters(self) -> list[nn.Parameter]:
        if self.prefix is not None:
            return list(self.prefix.parameters())
        return [p for p in self.model.parameters() if p.requires_grad] if self.is_peft else []

    def backbone_parameters(self) -> list[nn.Parameter]:
        return [] if self.is_peft else [p for p in self.model.parameters() if p.requires_grad]

    def head_parameters(self) -> list[nn.Parameter]:
        return []

    def loss(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, target_ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask, labels=target_ids).loss

    def generate_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> list[str]:
        config = self.model.get_base_model().config if self.is_peft else self.model.config
        out = greedy_decode(self.model, input_ids, attention_mask, config.decoder_start_token_id,
                            end_token_id(self.tokenizer), self.tokenizer.pad_token_id, self.max_new_tokens)
        return self.tokenizer.batch_decode(out, skip_special_tokens=True)

    def predict(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> list[str]:
        return [normalise_answer(t, self.labels) for t in self.generate_text(input_ids, attention_mask)]

    def save_adapter(self, out_dir: str | Path) -> Path | None:
        """The adapter only (peft's files, or the full prefix's); None when there is no adapter."""
        if self.prefix is not None:
            return self.prefix.save(out_dir)
        if not self.is_peft:
            return None
        self.model.save_pretrained(str(out_dir))
        return Path(out_dir)
