"""Reference fixtures for tests/test_hf.py: tiny random GPT-NeoX and GPT-2 causal LMs and torch's logits.

Runs under an environment with torch, transformers, safetensors and numpy (not slt_ppl's own):

    python tests/hf_reference.py OUTDIR

writes OUTDIR/<name>/ (config.json, model.safetensors via save_pretrained) and OUTDIR/<name>/reference.npz
(input_ids (2, 12) int64, logits (2, 12, vocab) float32 from the eager attention path) for each config in
CONFIGS. Every weight, layer norms included, is drawn from a fixed seed with a spread large enough that a wrong
layout, scale or activation shows in the logits. tests/data/hf/ holds the committed output.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch
import transformers
from transformers import GPT2Config, GPT2LMHeadModel, GPTNeoXConfig, GPTNeoXForCausalLM

VOCAB, HIDDEN, LAYERS, HEADS, INNER, SEQ = 64, 32, 2, 4, 64, 12

NEOX = dict(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
            intermediate_size=INNER, max_position_embeddings=64, layer_norm_eps=1e-5)
GPT2 = dict(vocab_size=VOCAB, n_embd=HIDDEN, n_layer=LAYERS, n_head=HEADS, n_inner=INNER, n_positions=64,
            layer_norm_epsilon=1e-5, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0)

CONFIGS = {
    "neox_parallel_rot25_untied": ("gpt_neox", dict(use_parallel_residual=True, rotary_pct=0.25,
                                                    tie_word_embeddings=False, hidden_act="gelu")),
    "neox_sequential_rot100_tied": ("gpt_neox", dict(use_parallel_residual=False, rotary_pct=1.0,
                                                     tie_word_embeddings=True, hidden_act="gelu")),
    "neox_parallel_rot100_gelunew_base500": ("gpt_neox", dict(use_parallel_residual=True, rotary_pct=1.0,
                                                              rotary_emb_base=500, tie_word_embeddings=False,
                                                              hidden_act="gelu_new")),
    "gpt2_tied_gelunew": ("gpt2", dict(tie_word_embeddings=True, activation_function="gelu_new")),
    "gpt2_untied_gelu_layerscale": ("gpt2", dict(tie_word_embeddings=False, activation_function="gelu",
                                                 scale_attn_by_inverse_layer_idx=True)),
}


def build(kind: str, extra: dict, seed: int):
    torch.manual_seed(seed)
    if kind == "gpt_neox":
        model = GPTNeoXForCausalLM(GPTNeoXConfig(**NEOX, **extra, attn_implementation="eager"))
    else:
        model = GPT2LMHeadModel(GPT2Config(**GPT2, **extra, attn_implementation="eager"))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or ".ln_" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(0.3 * torch.randn_like(p))
    return model.eval()


def main(outdir: str) -> None:
    os.makedirs(outdir, exist_ok=True)
    versions = {"torch": torch.__version__, "transformers": transformers.__version__}
    for seed, (name, (kind, extra)) in enumerate(CONFIGS.items()):
        model = build(kind, extra, seed)
        path = os.path.join(outdir, name)
        try:
            model.save_pretrained(path, safe_serialization=True)
        except TypeError:  # releases that always write safetensors take no such argument
            model.save_pretrained(path)
        rng = np.random.default_rng(100 + seed)
        input_ids = rng.integers(0, VOCAB, size=(2, SEQ)).astype(np.int64)
        with torch.no_grad():
            logits = model(torch.from_numpy(input_ids)).logits.float().numpy()
        np.savez(os.path.join(path, "reference.npz"), input_ids=input_ids, logits=logits)
        print(name, logits.shape, float(np.abs(logits).max()))
    with open(os.path.join(outdir, "versions.json"), "w") as f:
        json.dump(versions, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "data", "hf"))
