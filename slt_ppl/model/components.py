"""Restrictions by component name for transformers: "l0h1", "l1 mlp", "l0 attn", "l1", "embed", "unembed".

The refined LLC of one attention head samples that head's query, key, value and output slices with every
other weight held at w* (Wang, Farrugia-Roberts, Hoogland, Carroll, Wei, Murfet, "Differentiation and
specialization of attention heads via the refined local learning coefficient", arXiv 2410.02984;
devinterp 2.0's create_param_masks does the same for PyTorch modules). Names are resolved on the paths of
a parameter pytree, so Flax (linen dicts, NNX modules) and Equinox modules all work:

- layer i: the first path segment "<word>_<i>" (linen's block_0, layers_3) or an integer segment after
  one named like layers / blocks / h (Equinox's layers[0], a list of blocks);
- attention: a segment among ATTENTION_NAMES (attn, attention, self_attn, mha, ...); projections are named
  by QKV_NAMES (query, key, value, q_proj, query_proj, ...) and OUT_NAMES (out, o_proj, output_proj, ...);
- one head's slice: an explicit head axis where the array has one (linen DenseGeneral: q/k/v kernels
  (d_model, heads, head_dim), biases (heads, head_dim), out kernel (heads, head_dim, d_model)); otherwise a
  fused 2-D projection (Equinox's MultiheadAttention, PyTorch layout: q/k/v weight (heads*head_dim, d_in),
  output weight (d_out, heads*head_dim)) split into `num_heads` equal blocks, found on the module (an Equinox
  MultiheadAttention's num_heads field) or given; the output bias is shared by every head, so no head owns it;
- mlp: a segment among MLP_NAMES (mlp, ffn, fc_in, fc_out, ...) inside a layer; embed / unembed by
  EMBED_NAMES / UNEMBED_NAMES (positional embeddings count as embed).

A params container that knows its own layout answers for itself: one with `slt_component_masks(names)` (masks
in its pytree leaf order) and `slt_component_names()` methods is asked instead of reading paths (slt_ppl.hf's
HFParams, whose fused GPT-NeoX and GPT-2 projections need their per-head layouts).
"""

from __future__ import annotations

import re

import jax
import numpy as np

__all__ = ["COMPONENT_PATTERN", "is_component_name", "component_masks", "head_names", "path_names"]

ATTENTION_NAMES = {"attn", "attention", "self_attn", "self_attention", "mha", "multiheadattention", "attn_block"}
QKV_NAMES = {"query", "key", "value", "q", "k", "v", "q_proj", "k_proj", "v_proj", "query_proj", "key_proj",
             "value_proj", "wq", "wk", "wv"}
OUT_NAMES = {"out", "o", "o_proj", "out_proj", "output_proj", "output", "wo", "c_proj"}
MLP_NAMES = {"mlp", "ffn", "feed_forward", "feedforward", "fc_in", "fc_out", "fc1", "fc2", "mlp_in", "mlp_out",
             "w_in", "w_out"}
EMBED_NAMES = {"embed", "embedding", "embeddings", "tok_embed", "token_embed", "pos_embed", "position_embed",
               "wte", "wpe", "embed_tokens", "embed_positions"}
UNEMBED_NAMES = {"unembed", "lm_head", "readout", "head", "output_head"}
LAYER_CONTAINERS = {"layers", "blocks", "h", "layer", "block", "transformer_blocks"}

COMPONENT_PATTERN = re.compile(r"^\s*(?:(embed|unembed)|l(\d+)(?:\s*h(\d+)|\s+(mlp|attn))?)\s*$", re.IGNORECASE)


def is_component_name(name) -> bool:
    return isinstance(name, str) and COMPONENT_PATTERN.match(name) is not None


def path_names(path, *, strip_value: bool = True) -> list[str]:
    """The names along a pytree path (dict keys, attribute names, sequence indices, as strings); with
    strip_value a Flax NNX Variable's trailing ".value" is dropped (it is not a weight's name)."""
    out = []
    for entry in path:
        for attr in ("key", "name", "idx"):
            if hasattr(entry, attr):
                out.append(str(getattr(entry, attr)))
                break
    if strip_value and len(out) > 1 and out[-1] in ("value", "raw_value") and type(path[-1]).__name__ == "GetAttrKey":
        out = out[:-1]
    return out


_names = path_names


def _layer_of(names) -> int | None:
    for i, name in enumerate(names):
        m = re.fullmatch(r"[A-Za-z]+_(\d+)", name)
        if m and name.split("_")[0].lower() in LAYER_CONTAINERS | {"layers", "blocks"}:
            return int(m.group(1))
        if name.isdigit() and i > 0 and names[i - 1].lower() in LAYER_CONTAINERS:
            return int(name)
    return None


def _role(names) -> str | None:
    lower = [n.lower() for n in names]
    if any(n in UNEMBED_NAMES for n in lower):
        return "unembed"
    if any(n in EMBED_NAMES for n in lower) and _layer_of(names) is None:
        return "embed"
    in_mlp = any(n in MLP_NAMES for n in lower)
    if any(n in ATTENTION_NAMES for n in lower) or not in_mlp and any(n in QKV_NAMES | OUT_NAMES for n in lower[-3:]):
        if any(n in OUT_NAMES for n in lower):
            return "attn_out"
        if any(n in QKV_NAMES for n in lower):
            return "attn_qkv"
        return "attn"
    if in_mlp:
        return "mlp"
    return None


def _num_heads_by_path(params) -> dict:
    """{path prefix (tuple of names): num_heads} for modules that carry a num_heads field (Equinox)."""
    found = {}

    def visit(node, prefix):
        heads = getattr(node, "num_heads", None)
        if isinstance(heads, int) and not isinstance(node, (dict, list, tuple)):
            found[tuple(prefix)] = heads
        if isinstance(node, dict):
            for k, v in node.items():
                visit(v, prefix + [str(k)])
        elif isinstance(node, (list, tuple)):
            for i, v in enumerate(node):
                visit(v, prefix + [str(i)])
        elif hasattr(node, "__dataclass_fields__") or hasattr(node, "__dict__"):
            for k, v in list(getattr(node, "__dict__", {}).items()):
                if not k.startswith("_") and (hasattr(v, "__dict__") or isinstance(v, (dict, list, tuple))):
                    visit(v, prefix + [k])

    visit(params, [])
    return found


def _head_slice(names, shape, role, head, num_heads):
    """Boolean mask of `head`'s coordinates in one attention leaf of `shape`, or None when no head owns it."""
    mask = np.zeros(shape, bool)
    last = names[-1].lower()
    is_bias = last in {"bias", "b"}
    if role == "attn_qkv":
        if len(shape) == 3:  # (d_model, heads, head_dim) kernel
            mask[:, head, :] = True
        elif len(shape) == 2 and is_bias:  # (heads, head_dim)
            mask[head, :] = True
        elif num_heads is not None and shape[0] % num_heads == 0:  # fused rows (heads*hd, d_in) or bias (heads*hd,)
            block = shape[0] // num_heads
            mask[head * block:(head + 1) * block] = True
        else:
            raise ValueError(f"cannot find the head axis of {'/'.join(names)} {shape}: give num_heads=")
        return mask
    if role == "attn_out":
        if is_bias and len(shape) == 1:
            return None  # shared by every head
        if len(shape) == 3:  # (heads, head_dim, d_model)
            mask[head] = True
        elif len(shape) == 2 and num_heads is not None and shape[1] % num_heads == 0:  # (d_out, heads*hd)
            block = shape[1] // num_heads
            mask[:, head * block:(head + 1) * block] = True
        else:
            raise ValueError(f"cannot find the head axis of {'/'.join(names)} {shape}: give num_heads=")
        return mask
    return None


def component_masks(params, names, *, num_heads: int | None = None, position=None) -> list[np.ndarray]:
    """One boolean array per floating leaf of `position` (default: params' own leaves) selecting the
    union of the component `names` (module doc); a name that selects nothing is an error naming the
    components found."""
    if isinstance(names, str):
        names = [names]
    if position is None:
        position = params
    if hasattr(position, "slt_component_masks"):  # a container that knows its own layout (module doc)
        return position.slt_component_masks(names)
    leaves = jax.tree_util.tree_flatten_with_path(position)[0]
    heads_at = _num_heads_by_path(params) if num_heads is None else {}
    out = [np.zeros(np.shape(leaf), bool) for _, leaf in leaves]
    for name in names:
        kind, layer, head, part = COMPONENT_PATTERN.match(name).groups()
        hit = False
        for k, (path, leaf) in enumerate(leaves):
            path_names = _names(path)
            role, where = _role(path_names), _layer_of(path_names)
            shape = np.shape(leaf)
            if kind is not None:
                chosen = np.full(shape, role == kind)
            elif int(layer) != where:
                continue
            elif head is not None:
                if role not in ("attn_qkv", "attn_out"):
                    continue
                h = num_heads
                if h is None:
                    h = next((v for p, v in heads_at.items() if tuple(path_names[:len(p)]) == p), None)
                chosen = _head_slice(path_names, shape, role, int(head), h)
                if chosen is None:
                    continue
                if len(shape) == 3 and role == "attn_qkv" and int(head) >= shape[1] or \
                        len(shape) == 3 and role == "attn_out" and int(head) >= shape[0]:
                    raise ValueError(f"{name!r}: layer {layer} has {shape[1 if role == 'attn_qkv' else 0]} heads")
            elif part == "mlp":
                chosen = np.full(shape, role == "mlp")
            elif part == "attn":
                chosen = np.full(shape, role is not None and role.startswith("attn"))
            else:
                chosen = np.ones(shape, bool)
            if chosen.any():
                hit = True
                out[k] |= chosen
        if not hit:
            raise ValueError(f"the component {name!r} selects no parameter; components found: "
                             f"{head_names(params, position=position, num_heads=num_heads) or 'none'} (layers are "
                             "path segments like block_0 or layers/0, heads need q/k/v/out projections)")
    return out


def head_names(params, *, num_heads: int | None = None, position=None) -> list[str]:
    """The component names a transformer's params offer: embed, l0, l0 attn, l0h0 ..., l0 mlp, ..., unembed."""
    if position is None:
        position = params
    if hasattr(position, "slt_component_names"):  # a container that knows its own layout (module doc)
        return position.slt_component_names()
    leaves = jax.tree_util.tree_flatten_with_path(position)[0]
    heads_at = _num_heads_by_path(params) if num_heads is None else {}
    found: dict[int, dict] = {}
    roles = set()
    for path, leaf in leaves:
        names = _names(path)
        role, layer = _role(names), _layer_of(names)
        roles.add(role)
        if layer is None:
            continue
        entry = found.setdefault(layer, {"heads": 0, "mlp": False, "attn": False})
        if role == "mlp":
            entry["mlp"] = True
        if role in ("attn_qkv", "attn_out", "attn"):
            entry["attn"] = True
        if role == "attn_qkv":
            shape = np.shape(leaf)
            h = num_heads or next((v for p, v in heads_at.items() if tuple(names[:len(p)]) == p), None)
            if len(shape) == 3:
                h = shape[1]
            entry["heads"] = max(entry["heads"], h or 0)
    out = ["embed"] if "embed" in roles else []
    for layer in sorted(found):
        e = found[layer]
        out.append(f"l{layer}")
        if e["attn"]:
            out.append(f"l{layer} attn")
        out += [f"l{layer}h{h}" for h in range(e["heads"])]
        if e["mlp"]:
            out.append(f"l{layer} mlp")
    if "unembed" in roles:
        out.append("unembed")
    return out
