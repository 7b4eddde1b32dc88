"""The pieces GPT-NeoX and GPT-2 share, written to match PyTorch/transformers numerically.

layer_norm is torch.nn.LayerNorm (biased variance, eps inside the square root); the activations are
transformers' activations.py: "gelu" the exact erf form (GELUActivation), "gelu_new" / "gelu_pytorch_tanh" /
"gelu_fast" the tanh approximation (NewGELUActivation and friends); causal_attention is the eager path of
eager_attention_forward in modeling_gpt_neox.py / modeling_gpt2.py: softmax(q k^T * scaling + causal mask) v,
the softmax taken in float32 whatever the weights' dtype.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["layer_norm", "activation", "causal_attention"]


def layer_norm(x, weight, bias, eps: float):
    x32 = x.astype(jnp.float32)
    mean = x32.mean(-1, keepdims=True)
    var = jnp.square(x32 - mean).mean(-1, keepdims=True)
    return ((x32 - mean) * jax.lax.rsqrt(var + eps)).astype(x.dtype) * weight + bias


def activation(name: str):
    """The elementwise nonlinearity named by the config (config.ACTIVATIONS)."""
    if name == "gelu":
        return lambda x: jax.nn.gelu(x, approximate=False)
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return lambda x: jax.nn.gelu(x, approximate=True)
    return {"relu": jax.nn.relu, "silu": jax.nn.silu}[name]


def causal_attention(q, k, v, scaling: float):
    """q, k, v: (batch, seq, heads, head_dim) -> (batch, seq, heads * head_dim), each position attending to
    itself and the positions before it."""
    seq = q.shape[1]
    scores = jnp.einsum("bqhd,bkhd->bhqk", q, k).astype(jnp.float32) * scaling
    causal = jnp.tril(jnp.ones((seq, seq), bool))
    scores = jnp.where(causal, scores, jnp.finfo(jnp.float32).min)
    weights = jax.nn.softmax(scores, axis=-1).astype(v.dtype)
    out = jnp.einsum("bhqk,bkhd->bqhd", weights, v)
    return out.reshape(*out.shape[:2], -1)
