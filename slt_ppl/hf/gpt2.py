"""GPT-2 forward pass in JAX, from transformers' models/gpt2/modeling_gpt2.py.

Token plus learned position embeddings (wte, wpe); per block the sequential pre-norm residual
h = x + attn(ln_1(x)); h + mlp(ln_2(h)); a final ln_f and the output matrix (lm_head, or wte when tied).
Weights are Conv1D, (in, out): y = x @ W + b. c_attn's output is split into q, k, v of width d each, every one
viewed as (heads, head_dim) (layout.py). Attention scores are scaled by head_dim^-1/2 when scale_attn_weights,
and further by 1 / (layer index + 1) when scale_attn_by_inverse_layer_idx (GPT2Attention.scaling).
"""

from __future__ import annotations

import jax.numpy as jnp

from slt_ppl.hf.config import Architecture
from slt_ppl.hf.layout import block_prefix, embed_key
from slt_ppl.hf.ops import activation, causal_attention, layer_norm

__all__ = ["forward"]


def _conv1d(x, params, name: str):
    return x @ params[name + ".weight"] + params[name + ".bias"]


def _scaling(arch: Architecture, i: int) -> float:
    scaling = arch.head_dim ** -0.5 if arch.scale_attn_weights else 1.0
    return scaling / (i + 1) if arch.scale_attn_by_inverse_layer_idx else scaling


def _block(x, params, arch: Architecture, i: int):
    p = block_prefix(arch, i)
    eps = arch.layer_norm_eps
    batch, seq, d = x.shape
    h = layer_norm(x, params[p + "ln_1.weight"], params[p + "ln_1.bias"], eps)
    qkv = _conv1d(h, params, p + "attn.c_attn")
    q, k, v = (qkv[..., t * d:(t + 1) * d].reshape(batch, seq, arch.num_heads, arch.head_dim) for t in range(3))
    x = x + _conv1d(causal_attention(q, k, v, _scaling(arch, i)), params, p + "attn.c_proj")
    h = layer_norm(x, params[p + "ln_2.weight"], params[p + "ln_2.bias"], eps)
    h = activation(arch.activation)(_conv1d(h, params, p + "mlp.c_fc"))
    return x + _conv1d(h, params, p + "mlp.c_proj")


def forward(params, input_ids, arch: Architecture):
    """Logits (batch, seq, vocab) of a GPT-2 causal LM for int token ids (batch, seq)."""
    seq = input_ids.shape[-1]
    if seq > arch.max_positions:
        raise ValueError(f"sequences of {seq} tokens exceed the model's n_positions = {arch.max_positions}")
    p = arch.prefix
    x = params[embed_key(arch)][input_ids] + params[p + "wpe.weight"][jnp.arange(seq)]
    for i in range(arch.num_layers):
        x = _block(x, params, arch, i)
    x = layer_norm(x, params[p + "ln_f.weight"], params[p + "ln_f.bias"], arch.layer_norm_eps)
    unembed = params[embed_key(arch)] if arch.tied else params[arch.unembed_key]
    return x @ unembed.T
