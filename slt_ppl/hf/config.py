"""A Hugging Face config.json read into the few numbers the JAX forward pass needs: `Architecture`.

Both spellings of each setting are read, the older one (Pythia's own config.json) and the one transformers 5
writes: rotary_pct / partial_rotary_factor / rope_parameters["partial_rotary_factor"] and rotary_emb_base /
rope_theta / rope_parameters["rope_theta"] (transformers' configuration_gpt_neox.py, convert_rope_params_to_dict);
GPT-2's n_embd / n_layer / n_head / n_inner / activation_function / layer_norm_epsilon (configuration_gpt2.py).
Defaults are transformers' own. The Architecture is hashable: it keys the compiled forward pass, so two checkpoints
of one architecture share every program.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["Architecture", "parse_config", "SUPPORTED", "ACTIVATIONS"]

SUPPORTED = ("gpt_neox", "gpt2")
ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu", "silu")


@dataclass(frozen=True)
class Architecture:
    """What the forward pass depends on (not the weights): the family, sizes, and the checkpoint's key names.

    prefix: the key prefix of the body ("gpt_neox." / "transformer." or "" for GPT-2 saved from GPT2Model);
    unembed_key: the untied output matrix's key (None when tied to the token embedding).
    """

    model_type: str
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    activation: str
    layer_norm_eps: float
    max_positions: int
    tied: bool
    prefix: str = ""
    unembed_key: str | None = None
    # GPT-NeoX
    rotary_ndims: int = 0
    rope_theta: float = 10000.0
    parallel_residual: bool = True
    attention_bias: bool = True
    # GPT-2
    scale_attn_weights: bool = True
    scale_attn_by_inverse_layer_idx: bool = False

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    def differences(self, other: "Architecture") -> dict:
        """{field: (self's, other's)} where the two differ."""
        a, b = asdict(self), asdict(other)
        return {k: (a[k], b[k]) for k in a if a[k] != b[k]}


def _rope(cfg: dict, key: str, old: str, default):
    rope = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
    for value in (rope.get(key) if isinstance(rope, dict) else None, cfg.get(key), cfg.get(old)):
        if value is not None:
            return value
    return default


def _activation(name, where: str) -> str:
    if name not in ACTIVATIONS:
        raise ValueError(f"config.json {where}={name!r} is not supported; supported activations: {list(ACTIVATIONS)}")
    return name


def parse_config(cfg: dict, source: str = "config.json") -> Architecture:
    """The Architecture of a GPT-NeoX or GPT-2 config dict; any other model_type is an error naming the supported."""
    model_type = cfg.get("model_type")
    if model_type not in SUPPORTED:
        raise ValueError(f"{source}: model_type {model_type!r} ({cfg.get('architectures')}) is not supported; "
                         f"from_hf loads the causal LMs {list(SUPPORTED)} (GPT-NeoX / Pythia and GPT-2)")
    rope_type = (cfg.get("rope_parameters") or {}).get("rope_type", "default") if model_type == "gpt_neox" else None
    if rope_type not in (None, "default"):
        raise ValueError(f"{source}: rope_type {rope_type!r} is not supported (only the default rotary embedding)")
    try:
        if model_type == "gpt_neox":
            hidden, heads = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
            return Architecture(
                model_type=model_type, vocab_size=int(cfg["vocab_size"]), hidden_size=hidden,
                num_layers=int(cfg["num_hidden_layers"]), num_heads=heads,
                intermediate_size=int(cfg.get("intermediate_size") or 4 * hidden),
                activation=_activation(cfg.get("hidden_act", "gelu"), "hidden_act"),
                layer_norm_eps=float(cfg.get("layer_norm_eps", 1e-5)),
                max_positions=int(cfg.get("max_position_embeddings", 2048)),
                tied=bool(cfg.get("tie_word_embeddings", False)), prefix="gpt_neox.",
                rotary_ndims=int((hidden // heads) * float(_rope(cfg, "partial_rotary_factor", "rotary_pct", 0.25))),
                rope_theta=float(_rope(cfg, "rope_theta", "rotary_emb_base", 10000.0)),
                parallel_residual=bool(cfg.get("use_parallel_residual", True)),
                attention_bias=bool(cfg.get("attention_bias", True)))
        hidden = int(cfg["n_embd"])
        return Architecture(
            model_type=model_type, vocab_size=int(cfg["vocab_size"]), hidden_size=hidden,
            num_layers=int(cfg["n_layer"]), num_heads=int(cfg["n_head"]),
            intermediate_size=int(cfg.get("n_inner") or 4 * hidden),
            activation=_activation(cfg.get("activation_function", "gelu_new"), "activation_function"),
            layer_norm_eps=float(cfg.get("layer_norm_epsilon", 1e-5)),
            max_positions=int(cfg.get("n_positions", 1024)),
            tied=bool(cfg.get("tie_word_embeddings", True)), prefix="transformer.",
            scale_attn_weights=bool(cfg.get("scale_attn_weights", True)),
            scale_attn_by_inverse_layer_idx=bool(cfg.get("scale_attn_by_inverse_layer_idx", False)))
    except KeyError as err:
        raise ValueError(f"{source}: the {model_type} config has no {err.args[0]!r}") from None
