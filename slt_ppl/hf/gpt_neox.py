"""GPT-NeoX (Pythia) forward pass in JAX, from transformers' models/gpt_neox/modeling_gpt_neox.py.

Per block: attention of input_layernorm(x) with rotary position embeddings on the first rotary_ndims =
int(head_dim * partial_rotary_factor) dimensions of each head's query and key (GPTNeoXRotaryEmbedding:
inv_freq = 1 / theta^(arange(0, rotary_ndims, 2) / rotary_ndims), cos/sin of cat(freqs, freqs), rotate_half),
then either the parallel residual x + attn(ln1(x)) + mlp(ln2(x)) (use_parallel_residual) or the sequential
h = x + attn(ln1(x)); h + mlp(ln2(h)). query_key_value's output is viewed (..., heads, 3 head_dim) and chunked
into q, k, v (layout.py). Weights are read by their checkpoint names from a mapping (HFParams).
"""

from __future__ import annotations

import jax.numpy as jnp

from slt_ppl.hf.config import Architecture
from slt_ppl.hf.layout import block_prefix, embed_key
from slt_ppl.hf.ops import activation, causal_attention, layer_norm

__all__ = ["forward"]


def _linear(x, params, name: str, bias: bool = True):
    """torch.nn.Linear: x @ W^T + b with W (out, in)."""
    y = x @ params[name + ".weight"].T
    return y + params[name + ".bias"] if bias else y


def _rotary(x, arch: Architecture):
    """Rotate the first rotary_ndims dims of x (batch, seq, heads, head_dim) by position (rotate_half form)."""
    r = arch.rotary_ndims
    if r == 0:
        return x
    seq = x.shape[1]
    inv_freq = 1.0 / (arch.rope_theta ** (jnp.arange(0, r, 2, dtype=jnp.float32) / r))
    freqs = jnp.arange(seq, dtype=jnp.float32)[:, None] * inv_freq[None, :]
    emb = jnp.concatenate([freqs, freqs], axis=-1)
    cos, sin = jnp.cos(emb).astype(x.dtype)[None, :, None, :], jnp.sin(emb).astype(x.dtype)[None, :, None, :]
    x_rot, x_pass = x[..., :r], x[..., r:]
    half = x_rot.shape[-1] // 2
    rotated = jnp.concatenate([-x_rot[..., half:], x_rot[..., :half]], axis=-1)
    return jnp.concatenate([x_rot * cos + rotated * sin, x_pass], axis=-1)


def _attention(x, params, arch: Architecture, prefix: str):
    batch, seq, _ = x.shape
    hd = arch.head_dim
    qkv = _linear(x, params, prefix + "attention.query_key_value", arch.attention_bias)
    qkv = qkv.reshape(batch, seq, arch.num_heads, 3 * hd)
    q, k, v = qkv[..., :hd], qkv[..., hd:2 * hd], qkv[..., 2 * hd:]
    out = causal_attention(_rotary(q, arch), _rotary(k, arch), v, hd ** -0.5)
    return _linear(out, params, prefix + "attention.dense", arch.attention_bias)


def _mlp(x, params, arch: Architecture, prefix: str):
    h = activation(arch.activation)(_linear(x, params, prefix + "mlp.dense_h_to_4h"))
    return _linear(h, params, prefix + "mlp.dense_4h_to_h")


def _block(x, params, arch: Architecture, i: int):
    p = block_prefix(arch, i)
    eps = arch.layer_norm_eps
    ln1 = layer_norm(x, params[p + "input_layernorm.weight"], params[p + "input_layernorm.bias"], eps)
    attn = _attention(ln1, params, arch, p)
    ln2_w, ln2_b = params[p + "post_attention_layernorm.weight"], params[p + "post_attention_layernorm.bias"]
    if arch.parallel_residual:
        return x + attn + _mlp(layer_norm(x, ln2_w, ln2_b, eps), params, arch, p)
    h = x + attn
    return h + _mlp(layer_norm(h, ln2_w, ln2_b, eps), params, arch, p)


def forward(params, input_ids, arch: Architecture):
    """Logits (batch, seq, vocab) of a GPT-NeoX causal LM for int token ids (batch, seq)."""
    x = params[embed_key(arch)][input_ids]
    for i in range(arch.num_layers):
        x = _block(x, params, arch, i)
    p = arch.prefix
    x = layer_norm(x, params[p + "final_layer_norm.weight"], params[p + "final_layer_norm.bias"], arch.layer_norm_eps)
    unembed = params[embed_key(arch)] if arch.tied else params[arch.unembed_key]
    return x @ unembed.T
