"""Deep soft prompts (P-tuning v2 / prefix tuning): learned key/value prefixes at every layer.

One prompt *block* per entity or relation type, so the type is carried by the prompt rather than by
text. The prefixes go into the encoder as a ``DynamicCache`` in ``past_key_values``: the backbone
attends to them at every layer but returns hidden states for the real tokens only, so span labels
never shift by the prompt length.

peft's prefix tuning keeps one prompt per adapter and cannot mix prompt blocks inside a batch, which
MRC needs (every example in a batch may ask about a different type); hence this small module.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import DynamicCache, PretrainedConfig


class DeepPrompt(nn.Module):
    def __init__(
        self,
        config: PretrainedConfig,
        n_blocks: int,
        prompt_len: int,
        reparam: bool = True,
        reparam_hidden: int = 256,
        init: str = "random",
        dropout: float = 0.0,
        init_embeddings: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        if prompt_len < 1:
            raise ValueError(f"prompt_len must be >= 1 for a soft-prompt strategy, got {prompt_len}")
        self.n_layers = config.num_hidden_layers
        self.n_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.n_blocks, self.prompt_len, self.reparam = n_blocks, prompt_len, reparam
        out_dim = self.n_layers * 2 * config.hidden_size
        if reparam:
            # Reparameterization: a small MLP maps per-token prompt embeddings to all layers' keys and
            # values; it stabilises training of deep prompts (P-tuning v2, Li & Liang 2021).
            self.embedding = nn.Parameter(self._initial(n_blocks, prompt_len, config.hidden_size, init,
                                                        init_embeddings))
            self.mlp = nn.Sequential(
                nn.Linear(config.hidden_size, reparam_hidden), nn.Tanh(), nn.Linear(reparam_hidden, out_dim)
            )
        else:
            if init == "vocab":
                raise ValueError("prompt init 'vocab' needs reparam=true (prefixes live in key/value space)")
            self.embedding = nn.Parameter(self._initial(n_blocks, prompt_len, out_dim, "random", None))
            self.mlp = None
        self.dropout = nn.Dropout(dropout)

    @staticmethod
    def _initial(n_blocks: int, prompt_len: int, dim: int, init: str,
                 vocab: torch.Tensor | None) -> torch.Tensor:
        if init == "vocab":
            if vocab is None:
                raise ValueError("prompt init 'vocab' needs the backbone's word embeddings")
            # Start from real token embeddings (sampled with a fixed generator) so the prompt begins in
            # the region of embedding space the frozen backbone was trained on.
            g = torch.Generator().manual_seed(0)
            idx = torch.randint(0, vocab.shape[0], (n_blocks * prompt_len,), generator=g)
            return vocab[idx].detach().clone().reshape(n_blocks, prompt_len, dim).float()
        if init != "random":
            raise ValueError(f"unknown prompt init {init!r}: use 'random' or 'vocab'")
        return torch.randn(n_blocks, prompt_len, dim) * 0.02

    def key_values(self, block_ids: torch.Tensor) -> torch.Tensor:
        """[B, n_layers, 2, n_heads, prompt_len, head_dim] for the given prompt blocks."""
        emb = self.embedding[block_ids]  # [B, P, D]
        kv = self.mlp(emb) if self.mlp is not None else emb
        kv = self.dropout(kv)
        b = block_ids.shape[0]
        kv = kv.view(b, self.prompt_len, self.n_layers, 2, self.n_heads, self.head_dim)
        return kv.permute(0, 2, 3, 4, 1, 5)

    def forward(self, block_ids: torch.Tensor, dtype: torch.dtype | None = None,
                as_cache: bool = True) -> DynamicCache | torch.Tensor:
        kv = self.key_values(block_ids)
        if dtype is not None:
            kv = kv.to(dtype)
        # as_cache=False returns the tensor: DeepSpeed ZeRO-3 re-gathers a module's parameters for backward
        # only through hooks on tensor outputs, so a sharded prompt must leave forward as a tensor
        return self.to_cache(kv) if as_cache else kv

    def to_cache(self, kv: torch.Tensor) -> DynamicCache:
        return DynamicCache(ddp_cache_data=[(kv[:, i, 0], kv[:, i, 1]) for i in range(self.n_layers)])

    def extend_mask(self, attention_mask: torch.Tensor) -> torch.Tensor:
        ones = attention_mask.new_ones(attention_mask.shape[0], self.prompt_len)
        return torch.cat([ones, attention_mask], dim=1)
