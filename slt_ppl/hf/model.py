"""`from_hf` and `HFCausalLM`: a Hugging Face GPT-NeoX or GPT-2 causal LM as JAX weights, logits and an slt.Likelihood.

The likelihood of one sequence x_1..x_T is the model's own: -log p(x) = -sum_t log p(x_{t+1} | x_1..x_t), the
sum of the next-token losses (reduction="sum", the default). The data axis n is the number of sequences, so
n beta = n / log n tempers whole sequences, which is the Bayesian posterior of n i.i.d. sequences;
reduction="mean" divides by the T - 1 predicted positions (a per-token loss, devinterp's and the training loss's
unit: the estimate is then that of a model whose likelihood is the per-token average, smaller by T - 1).
The nll function is one object per (architecture, reduction), so every checkpoint of one architecture reuses
the same compiled sampling programs.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from slt_ppl.hf import gpt2, gpt_neox
from slt_ppl.hf.config import Architecture
from slt_ppl.hf.load import read_checkpoint, resolve_source
from slt_ppl.hf.params import HFParams

__all__ = ["from_hf", "HFCausalLM", "DTYPES"]

DTYPES = ("float32", "float64", "bfloat16")
_FORWARD = {"gpt_neox": gpt_neox.forward, "gpt2": gpt2.forward}


def _dtype(dtype):
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in DTYPES:
        raise ValueError(f"dtype={dtype!r}: from_hf loads weights as one of {list(DTYPES)}")
    if name == "float64" and not jax.config.jax_enable_x64:
        raise ValueError("dtype='float64' needs JAX's 64-bit mode: jax.config.update('jax_enable_x64', True) before "
                         "loading (without it JAX would store the weights as float32)")
    return jnp.dtype(name)


@functools.lru_cache(maxsize=64)
def sequence_nll(arch: Architecture, reduction: str = "sum"):
    """nll(params, token_ids (b, T)) -> (b,): each sequence's next-token negative log-likelihood (module doc)."""
    forward = _FORWARD[arch.model_type]

    def nll(params, input_ids):
        logits = forward(params, input_ids[:, :-1], arch).astype(jnp.float32)
        targets = input_ids[:, 1:]
        logp = jax.nn.log_softmax(logits, axis=-1)
        picked = jnp.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
        return -picked.sum(-1) if reduction == "sum" else -picked.mean(-1)

    nll.__name__ = nll.__qualname__ = f"{arch.model_type}_sequence_nll"
    return nll


def _token_array(input_ids, vocab_size: int):
    """(n, T) integer token ids from NumPy, jnp, np.memmap, a list of lists or a datasets column."""
    if not isinstance(input_ids, (np.ndarray, jax.Array)):
        input_ids = np.asarray(list(input_ids) if not hasattr(input_ids, "to_numpy") else input_ids.to_numpy())
    if input_ids.ndim != 2 or input_ids.shape[1] < 2:
        raise ValueError(f"input_ids must be (n sequences, T >= 2 tokens); got shape {tuple(input_ids.shape)}")
    if not np.issubdtype(np.dtype(input_ids.dtype), np.integer):
        raise ValueError(f"input_ids must be integer token ids, got {input_ids.dtype}")
    if not isinstance(input_ids, np.memmap):  # a memmap is not read whole here
        lo, hi = int(input_ids.min()), int(input_ids.max())
        if lo < 0 or hi >= vocab_size:
            raise ValueError(f"input_ids hold token ids in [{lo}, {hi}], outside the vocabulary [0, {vocab_size})")
    return input_ids


class HFCausalLM:
    """A causal LM loaded by `from_hf`: `.params` (HFParams, keyed by the checkpoint's names), `.arch`, `.config`
    (config.json as a dict), `.logits(params, input_ids)`, `.likelihood(input_ids)`, `.component_names`."""

    def __init__(self, params: HFParams, config: dict, source: str = ""):
        self.params, self.arch, self.config, self.source = params, params.arch, config, source

    def logits(self, params, input_ids):
        """(batch, seq, vocab) logits for int token ids (batch, seq); a pure function of params, jit-able."""
        return _FORWARD[self.arch.model_type](params, jnp.asarray(input_ids), self.arch)

    def likelihood(self, input_ids, *, reduction: str = "sum", on_host=None):
        """slt.Likelihood over sequences: per-sequence next-token NLL (module doc), data the (n, T) token ids
        (kept on the host when an np.memmap or large, as slt.Likelihood decides; on_host overrides)."""
        from slt_ppl.model import Likelihood

        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction={reduction!r}: 'sum' (the sequence's log-likelihood) or 'mean' (per token)")
        return Likelihood(sequence_nll(self.arch, reduction), _token_array(input_ids, self.arch.vocab_size),
                          on_host=on_host)

    @property
    def component_names(self) -> list:
        """The restriction names this model offers: embed, l0, l0 attn, l0h0 ..., l0 mlp, ..., unembed."""
        return self.params.slt_component_names()

    @property
    def num_params(self) -> int:
        return int(sum(np.prod(v.shape) for v in self.params.values()))

    def __repr__(self) -> str:
        a = self.arch
        return (f"HFCausalLM({a.model_type}: {a.num_layers} layers, {a.num_heads} heads, d={a.hidden_size}, "
                f"vocab={a.vocab_size}, {'tied' if a.tied else 'untied'} embeddings, {self.num_params:,} parameters, "
                f"{jax.tree.leaves(self.params)[0].dtype}, from {self.source!r})")


def from_hf(path_or_repo_id, *, revision=None, dtype="float32") -> HFCausalLM:
    """A GPT-NeoX (Pythia) or GPT-2 causal LM from a Hugging Face directory or Hub repo id, in JAX, without torch.

    path_or_repo_id: a directory with config.json and ``*.safetensors`` (sharded with model.safetensors.index.json
    too), or a Hub repo id (needs huggingface_hub and network, or HF_HUB_OFFLINE=1 and a cached snapshot);
    revision: a Hub branch, tag or commit (Pythia's "step1000" ... "step143000"); dtype: "float32", "float64"
    (with jax_enable_x64) or "bfloat16". Errors name an unsupported model_type, a missing weight or a shape that
    disagrees with config.json, and a Hub source that cannot be reached.
    """
    wanted = _dtype(dtype)
    directory = resolve_source(path_or_repo_id, revision)
    arrays, arch, config = read_checkpoint(directory)
    params = HFParams({k: jnp.asarray(v, dtype=wanted) for k, v in arrays.items()}, arch)
    source = f"{path_or_repo_id}@{revision}" if revision else str(path_or_repo_id)
    return HFCausalLM(params, config, source)
