"""A small pre-LayerNorm transformer in Flax linen, shared by the in-context-regression and language-model zoos.

Why linen: its parameters are a plain nested dict (``params/block_0/attn/query/kernel``), so checkpoints
save as .npz, the batched trajectory stacks them, and `restrict=` names them by path; the attention
projections are `nn.DenseGeneral` with the head axis explicit (query/key/value kernels (d_model, heads,
head_dim), the output kernel (heads, head_dim, d_model)), so one head's Q/K/V/O slices are array slices
(slt_ppl's component names "l0h1" select them, model/components.py).

Layout per block (pre-LN, GPT-2 style): x + Attn(LN(x)), then x + MLP(LN(x)) unless attention_only.
Needs flax (pip install slt_ppl[flax]).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

try:
    import flax.linen as nn
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError("the transformer zoo needs flax: pip install 'slt_ppl[flax]'") from err

__all__ = ["TransformerConfig", "CausalSelfAttention", "Block", "Transformer", "count_params"]


class TransformerConfig(NamedTuple):
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 2
    d_mlp: int = 128  # hidden width of each MLP block; unused when attention_only
    max_len: int = 32  # positions with a learned embedding
    attention_only: bool = False  # the language model of arXiv 2402.02364 has no MLPs
    layer_norm: bool = True


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with explicit head axes (query/key/value (D, H, hd), out (H, hd, D))."""

    num_heads: int

    @nn.compact
    def __call__(self, x):
        d_model = x.shape[-1]
        head_dim = d_model // self.num_heads
        proj = lambda name: nn.DenseGeneral((self.num_heads, head_dim), name=name)  # noqa: E731
        q, k, v = proj("query")(x), proj("key")(x), proj("value")(x)  # (..., T, H, hd)
        scores = jnp.einsum("...qhd,...khd->...hqk", q, k) / jnp.sqrt(head_dim).astype(x.dtype)
        T = x.shape[-2]
        causal = jnp.tril(jnp.ones((T, T), bool))
        scores = jnp.where(causal, scores, jnp.finfo(scores.dtype).min)
        weights = jax.nn.softmax(scores, axis=-1)
        mixed = jnp.einsum("...hqk,...khd->...qhd", weights, v)
        return nn.DenseGeneral(d_model, axis=(-2, -1), name="out")(mixed)


class Block(nn.Module):
    config: TransformerConfig

    @nn.compact
    def __call__(self, x):
        cfg = self.config
        norm = (lambda name: nn.LayerNorm(name=name)) if cfg.layer_norm else (lambda name: (lambda h: h))  # noqa: E731
        x = x + CausalSelfAttention(cfg.num_heads, name="attn")(norm("ln_attn")(x))
        if not cfg.attention_only:
            h = nn.Dense(cfg.d_mlp, name="fc_in")(norm("ln_mlp")(x))
            x = x + nn.Dense(x.shape[-1], name="fc_out")(nn.gelu(h))
        return x


class Transformer(nn.Module):
    """Tokens (..., T, d_in) real vectors (in-context regression) or (..., T) ints (vocab_size given) ->
    outputs (..., T, d_out)."""

    config: TransformerConfig
    d_out: int
    vocab_size: int | None = None

    @nn.compact
    def __call__(self, tokens):
        cfg = self.config
        if self.vocab_size is None:
            x = nn.Dense(cfg.d_model, name="embed")(tokens)
        else:
            x = nn.Embed(self.vocab_size, cfg.d_model, name="embed")(tokens)
        T = x.shape[-2]
        pos = self.param("pos_embed", nn.initializers.normal(0.02), (cfg.max_len, cfg.d_model))
        x = x + pos[:T].astype(x.dtype)
        for i in range(cfg.num_layers):
            x = Block(cfg, name=f"block_{i}")(x)
        if cfg.layer_norm:
            x = nn.LayerNorm(name="ln_final")(x)
        return nn.Dense(self.d_out, name="unembed")(x)


def count_params(params) -> int:
    return int(sum(x.size for x in jax.tree.leaves(params)))
