"""Hugging Face causal LMs (GPT-NeoX / Pythia, GPT-2) in JAX, for LLCs and restricted LLCs of real checkpoints.

    config.py      config.json -> Architecture (both the older and transformers 5 spellings)
    load.py        a directory or Hub snapshot -> checked NumPy weights (safetensors, no torch)
    layout.py      expected names and shapes; the coordinates of "l{i}h{j}", "l{i} attn", "embed", ...
    params.py      HFParams: the weights keyed by the checkpoint's names, a pytree that knows its layout
    ops.py         layer norm, activations, causal attention (transformers' numerics)
    gpt_neox.py    GPT-NeoX forward pass (rotary, parallel or sequential residual)
    gpt2.py        GPT-2 forward pass (Conv1D weights, fused c_attn)
    model.py       from_hf, HFCausalLM (.params, .logits, .likelihood)
    trajectory.py  hf_trajectory: the LLC over a list of checkpoints, compiled once
    save.py        init_params, save_checkpoint: JAX-trained weights as a Hugging Face checkpoint
"""

from slt_ppl.hf.model import HFCausalLM, from_hf
from slt_ppl.hf.params import HFParams
from slt_ppl.hf.save import init_params, save_checkpoint
from slt_ppl.hf.trajectory import HFTrajectory, hf_trajectory

__all__ = ["from_hf", "HFCausalLM", "HFParams", "hf_trajectory", "HFTrajectory", "init_params", "save_checkpoint"]
