"""Where each weight of a GPT-NeoX or GPT-2 checkpoint lives, and which coordinates a component name selects.

Parameter names and shapes follow transformers' modeling_gpt_neox.py and modeling_gpt2.py:

- GPT-NeoX: nn.Linear weights are (out, in). query_key_value (3 d, d) is read as `.view(..., heads, 3 head_dim)`
  then `.chunk(3)`: the rows run per head as [q_h, k_h, v_h], so head h owns rows h*3*hd .. (h+1)*3*hd (weight
  and bias). attention.dense (d, d) takes the heads' concatenated outputs as its input: head h owns its
  columns h*hd .. (h+1)*hd; its bias is shared by every head (no head owns it).
- GPT-2: Conv1D weights are (in, out). attn.c_attn (d, 3 d) is `.split(d, dim=2)` into q, k, v, each viewed as
  (heads, hd): head h owns the columns t*d + h*hd .. t*d + (h+1)*hd for t = q, k, v (weight and bias); attn.c_proj
  (d, d) owns rows h*hd .. (h+1)*hd.

Component names are devinterp's (slt_ppl.model.components): "l{i}h{j}" one head's q, k, v and output slices;
"l{i} attn" the attention block's projections (layer norms excluded); "l{i} mlp" the MLP's two projections;
"l{i}" every weight of block i (its layer norms included); "embed" the token embedding (GPT-2: and the position
embedding); "unembed" the output matrix, which for tied embeddings is the token embedding itself.
"""

from __future__ import annotations

import numpy as np

from slt_ppl.hf.config import Architecture
from slt_ppl.model.components import COMPONENT_PATTERN

__all__ = ["parameter_shapes", "block_prefix", "component_masks", "component_names", "embed_key"]


def block_prefix(arch: Architecture, i: int) -> str:
    return f"{arch.prefix}{'layers' if arch.model_type == 'gpt_neox' else 'h'}.{i}."


def embed_key(arch: Architecture) -> str:
    return arch.prefix + ("embed_in.weight" if arch.model_type == "gpt_neox" else "wte.weight")


def _block_shapes(arch: Architecture) -> dict:
    d, inner = arch.hidden_size, arch.intermediate_size
    if arch.model_type == "gpt_neox":
        out = {"input_layernorm.weight": (d,), "input_layernorm.bias": (d,), "post_attention_layernorm.weight": (d,),
               "post_attention_layernorm.bias": (d,), "attention.query_key_value.weight": (3 * d, d),
               "attention.dense.weight": (d, d), "mlp.dense_h_to_4h.weight": (inner, d),
               "mlp.dense_h_to_4h.bias": (inner,), "mlp.dense_4h_to_h.weight": (d, inner), "mlp.dense_4h_to_h.bias": (d,)}
        if arch.attention_bias:
            out.update({"attention.query_key_value.bias": (3 * d,), "attention.dense.bias": (d,)})
        return out
    return {"ln_1.weight": (d,), "ln_1.bias": (d,), "ln_2.weight": (d,), "ln_2.bias": (d,),
            "attn.c_attn.weight": (d, 3 * d), "attn.c_attn.bias": (3 * d,), "attn.c_proj.weight": (d, d),
            "attn.c_proj.bias": (d,), "mlp.c_fc.weight": (d, inner), "mlp.c_fc.bias": (inner,),
            "mlp.c_proj.weight": (inner, d), "mlp.c_proj.bias": (d,)}


def parameter_shapes(arch: Architecture) -> dict:
    """{checkpoint key: shape} of every weight the forward pass reads, in the checkpoint's own names."""
    d, p = arch.hidden_size, arch.prefix
    out = {embed_key(arch): (arch.vocab_size, d)}
    if arch.model_type == "gpt2":
        out[p + "wpe.weight"] = (arch.max_positions, d)
    for i in range(arch.num_layers):
        out.update({block_prefix(arch, i) + k: s for k, s in _block_shapes(arch).items()})
    final = "final_layer_norm" if arch.model_type == "gpt_neox" else "ln_f"
    out.update({f"{p}{final}.weight": (d,), f"{p}{final}.bias": (d,)})
    if not arch.tied:
        out[arch.unembed_key] = (arch.vocab_size, d)
    return out


def _head_mask(arch: Architecture, local: str, shape, head: int):
    """`head`'s coordinates in one attention weight of block-local name `local` (module doc), or None."""
    hd, d = arch.head_dim, arch.hidden_size
    mask = np.zeros(shape, bool)
    if local.startswith(("attention.query_key_value", )):
        mask[head * 3 * hd:(head + 1) * 3 * hd] = True
    elif local == "attention.dense.weight":
        mask[:, head * hd:(head + 1) * hd] = True
    elif local.startswith("attn.c_attn"):
        for t in range(3):
            mask[..., t * d + head * hd:t * d + (head + 1) * hd] = True
    elif local == "attn.c_proj.weight":
        mask[head * hd:(head + 1) * hd] = True
    else:
        return None
    return mask


def _is_attention(local: str) -> bool:
    return local.startswith(("attention.", "attn."))


def _one_name(arch: Architecture, keys, shapes, name: str) -> list:
    m = COMPONENT_PATTERN.match(name)
    kind, layer, head, part = m.groups()
    if kind == "embed":
        chosen = {embed_key(arch)} | ({arch.prefix + "wpe.weight"} if arch.model_type == "gpt2" else set())
        return [np.full(s, k in chosen) for k, s in zip(keys, shapes)]
    if kind == "unembed":
        target = embed_key(arch) if arch.tied else arch.unembed_key
        return [np.full(s, k == target) for k, s in zip(keys, shapes)]
    layer = int(layer)
    if layer >= arch.num_layers:
        raise ValueError(f"{name!r}: the model has {arch.num_layers} layers (l0 .. l{arch.num_layers - 1})")
    if head is not None and int(head) >= arch.num_heads:
        raise ValueError(f"{name!r}: layer {layer} has {arch.num_heads} heads (h0 .. h{arch.num_heads - 1})")
    prefix = block_prefix(arch, layer)
    out = []
    for k, s in zip(keys, shapes):
        local = k[len(prefix):] if k.startswith(prefix) else None
        if local is None:
            out.append(np.zeros(s, bool))
        elif head is not None:
            mask = _head_mask(arch, local, s, int(head))
            out.append(np.zeros(s, bool) if mask is None else mask)
        elif part == "attn":
            out.append(np.full(s, _is_attention(local)))
        elif part == "mlp":
            out.append(np.full(s, local.startswith("mlp.")))
        else:
            out.append(np.ones(s, bool))
    return out


def component_masks(arch: Architecture, keys, shapes, names) -> list:
    """One boolean array per key (in the order of `keys`) selecting the union of the component `names`."""
    out = [np.zeros(s, bool) for s in shapes]
    for name in names:
        out = [a | b for a, b in zip(out, _one_name(arch, keys, shapes, name))]
    return out


def component_names(arch: Architecture) -> list:
    """Every component name the model offers: embed, l0, l0 attn, l0h0 ..., l0 mlp, ..., unembed."""
    out = ["embed"]
    for i in range(arch.num_layers):
        out += [f"l{i}", f"l{i} attn", *(f"l{i}h{j}" for j in range(arch.num_heads)), f"l{i} mlp"]
    return out + ["unembed"]
