"""Li & Liang prefix tuning for T5: learned key/value prefixes in every encoder self-attention, decoder
self-attention and decoder cross-attention layer, the backbone frozen.

peft's PrefixTuning (0.21) on an encoder-decoder model builds an ``EncoderDecoderCache`` whose self-attention
part holds the prefix and then empties the cross-attention part (``cross_attention_cache = DynamicCache()``),
so only the decoder's self-attention sees a prefix; the encoder never does. Here the prefix enters inside
the attention function instead of through the cache: ``T5Prefix.attach`` switches the model to the
registered ``clinprompt_prefix`` attention implementation, which prepends the layer's prefix keys/values
to whatever keys/values the layer computed (fresh or cached), widens the mask (prefixes always visible) and
the position bias (zero: a prefix has no position), then runs T5's eager attention. Because the cache never
holds a prefix, ``generate()`` with a KV cache sees the same prefixes as a plain forward pass.

Trained parameters without projection: prompt_len x (encoder layers + 2 x decoder layers) x 2 x heads x d_kv
(FLAN-T5-XL, prompt_len 50: 50 x 72 x 2 x 2048 = 14,745,600; peft's decoder-only variant: 4,915,200).
With ``projection`` (Li & Liang's MLP reparameterisation) an embedding [prompt_len, d_model] feeds a
two-layer MLP to the same prefixes; its weights are the trained parameters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AttentionInterface, T5Config
from transformers.masking_utils import AttentionMaskInterface, eager_mask
from transformers.models.t5.modeling_t5 import T5Attention, eager_attention_forward

ATTN_NAME = "clinprompt_prefix"
KINDS = ("encoder_self", "decoder_self", "decoder_cross")
CONFIG_FILE, WEIGHTS_FILE = "prefix_config.json", "prefix.safetensors"


@dataclass
class _Slot:
    """Which prefix an attention module reads (a plain object: not registered as a submodule)."""
    prefix: T5Prefix
    kind: str
    layer: int


def _pad_last(t: torch.Tensor | None, n: int, value: float | bool) -> torch.Tensor | None:
    if t is None:
        return None
    pad = torch.full((*t.shape[:-1], n), value, dtype=t.dtype, device=t.device)
    return torch.cat([pad, t], dim=-1)


def prefix_attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                     attention_mask: torch.Tensor | None, position_bias: torch.Tensor | None = None, **kwargs: Any):
    """T5's eager attention with the module's prefix keys/values (if it has one) in front."""
    slot: _Slot | None = getattr(module, "clinprompt_prefix", None)
    if slot is not None:
        pk, pv = slot.prefix.kv(slot.kind, slot.layer)  # [heads, n, d_kv] each
        n, b = pk.shape[1], key.shape[0]
        key = torch.cat([pk.to(key.dtype).unsqueeze(0).expand(b, -1, -1, -1), key], dim=2)
        value = torch.cat([pv.to(value.dtype).unsqueeze(0).expand(b, -1, -1, -1), value], dim=2)
        keep = True if attention_mask is not None and attention_mask.dtype == torch.bool else 0.0
        attention_mask = _pad_last(attention_mask, n, keep)
        position_bias = _pad_last(position_bias, n, 0.0)
    return eager_attention_forward(module, query, key, value, attention_mask, position_bias=position_bias, **kwargs)


AttentionInterface.register(ATTN_NAME, prefix_attention)
AttentionMaskInterface.register(ATTN_NAME, eager_mask)  # T5's eager masks: additive floats


class T5Prefix(nn.Module):
    def __init__(self, config: T5Config, n_tokens: int, projection: bool = False, projection_hidden: int = 512):
        super().__init__()
        if n_tokens < 1:
            raise ValueError(f"prompt_len must be >= 1 for prefix tuning, got {n_tokens}")
        self.n_tokens, self.heads, self.d_kv = n_tokens, config.num_heads, config.d_kv
        self.layers = {"encoder_self": config.num_layers, "decoder_self": config.num_decoder_layers,
                       "decoder_cross": config.num_decoder_layers}
        self.projection, self.projection_hidden = projection, projection_hidden
        width = sum(self.layers.values()) * 2 * self.heads * self.d_kv  # keys and values of every layer
        if projection:  # Li & Liang's reparameterisation: a small MLP over a [n, d_model] embedding
            self.embedding = nn.Parameter(torch.randn(n_tokens, config.d_model) * config.initializer_factor)
            self.mlp = nn.Sequential(nn.Linear(config.d_model, projection_hidden), nn.Tanh(),
                                     nn.Linear(projection_hidden, width))
        else:  # T5's attention has no 1/sqrt(d) scaling, so start small
            self.prefix = nn.Parameter(torch.randn(n_tokens, width) * 0.02)
        self._cached: dict[tuple[str, int], tuple[torch.Tensor, torch.Tensor]] | None = None

    def config_dict(self) -> dict[str, Any]:
        return {"method": "prefix_tuning_full", "n_tokens": self.n_tokens, "heads": self.heads, "d_kv": self.d_kv,
                "layers": self.layers, "projection": self.projection, "projection_hidden": self.projection_hidden}

    def _all(self) -> dict[tuple[str, int], tuple[torch.Tensor, torch.Tensor]]:
        flat = self.mlp(self.embedding) if self.projection else self.prefix  # [n, width]
        per = flat.view(self.n_tokens, -1, 2, self.heads, self.d_kv).permute(1, 2, 3, 0, 4)  # [L, 2, H, n, d]
        out, i = {}, 0
        for kind in KINDS:
            for layer in range(self.layers[kind]):
                out[(kind, layer)] = (per[i, 0], per[i, 1])
                i += 1
        return out

    def kv(self, kind: str, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self._cached is None:  # one projection per encoder/decoder call, not one per layer
            self._cached = self._all()
        return self._cached[(kind, layer)]

    def _reset(self, *_: Any, **__: Any) -> None:
        self._cached = None

    def attach(self, model: nn.Module) -> None:
        """Give every T5 attention module of ``model`` its prefix slot and switch it to the prefix attention."""
        counts = dict.fromkeys(KINDS, 0)
        for name, mod in model.named_modules():
            if not isinstance(mod, T5Attention):
                continue
            kind = ("encoder_self" if name.startswith("encoder.") else
                    "decoder_cross" if name.endswith("EncDecAttention") else "decoder_self")
            mod.clinprompt_prefix = _Slot(self, kind, mod.layer_idx)
            counts[kind] += 1
        if counts != self.layers:
            raise ValueError(f"prefix for {self.layers} attention layers, the model has {counts}")
        model.set_attn_implementation(ATTN_NAME)
        for stack in (model.encoder, model.decoder):  # each stack call projects once (generate() calls them apart)
            stack.register_forward_pre_hook(self._reset)
            stack.register_forward_hook(self._reset)

    def save(self, out_dir: str | Path) -> Path:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / CONFIG_FILE).write_text(json.dumps(self.config_dict(), indent=1))
        save_file({k: v.detach().contiguous() for k, v in self.state_dict().items()}, str(out / WEIGHTS_FILE))
        return out


def load_prefix(model: nn.Module, adapter_dir: str | Path) -> T5Prefix:
    """The saved prefix attached to ``model`` (the same frozen T5 it was trained on)."""
    d = Path(adapter_dir)
    cfg = json.loads((d / CONFIG_FILE).read_text())
    mc = model.config
    if (cfg["heads"], cfg["d_kv"]) != (mc.num_heads, mc.d_kv):
        raise ValueError(f"{d / CONFIG_FILE}: prefix for heads={cfg['heads']} d_kv={cfg['d_kv']}, "
                         f"the model has heads={mc.num_heads} d_kv={mc.d_kv}")
    prefix = T5Prefix(mc, cfg["n_tokens"], cfg["projection"], cfg["projection_hidden"])
    prefix.load_state_dict(load_file(str(d / WEIGHTS_FILE)))
    prefix.attach(model)
    return prefix
