"""Writing checkpoints in the Hugging Face layout: config.json and model.safetensors (safetensors' NumPy writer).

A model trained in JAX and saved this way loads with from_hf and with transformers' from_pretrained (both read
the same names and shapes, layout.py), so a training run's checkpoints can be studied like Pythia's. init_params
draws transformers' default initialisation (_init_weights in modeling_gpt_neox.py / modeling_gpt2.py): weights
normal(0, initializer_range), biases zero, layer norms weight one and bias zero.
"""

from __future__ import annotations

import json
import os

import numpy as np

from slt_ppl.hf.config import parse_config
from slt_ppl.hf.layout import parameter_shapes
from slt_ppl.hf.load import checkpoint_naming
from slt_ppl.hf.params import HFParams

__all__ = ["init_params", "save_checkpoint"]


def init_params(config: dict, seed: int = 0) -> HFParams:
    """Freshly initialised float32 weights for a GPT-NeoX or GPT-2 config dict (module doc)."""
    arch = checkpoint_naming(parse_config(config, "config"), ["transformer."] if config.get("model_type") == "gpt2" else [])
    rng = np.random.default_rng(seed)
    std = float(config.get("initializer_range", 0.02))
    out = {}
    for key, shape in parameter_shapes(arch).items():
        if key.endswith("bias"):
            out[key] = np.zeros(shape, np.float32)
        elif len(shape) == 1:  # a layer norm's weight
            out[key] = np.ones(shape, np.float32)
        else:
            out[key] = (std * rng.standard_normal(shape)).astype(np.float32)
    return HFParams(out, arch)


def save_checkpoint(directory, params, config: dict) -> str:
    """Write `config` as config.json and `params` ({checkpoint key: array}) as model.safetensors (float32)."""
    from safetensors.numpy import save_file

    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    save_file({k: np.ascontiguousarray(np.asarray(v, np.float32)) for k, v in params.items()},
              os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
    return str(directory)
