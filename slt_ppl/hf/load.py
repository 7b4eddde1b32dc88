"""A Hugging Face checkpoint from disk or the Hub: config.json and safetensors weights as NumPy, checked.

Sources: a directory holding config.json and model.safetensors, or shards listed by model.safetensors.index.json
(its "weight_map"); or a Hub repo id ("EleutherAI/pythia-14m") with an optional revision ("step1000"), fetched
by huggingface_hub.snapshot_download with allow_patterns for config.json and the safetensors files only (so
neither torch nor the .bin weights are ever needed). Weights are read with safetensors' NumPy framework
(ml_dtypes supplies bfloat16). Buffers that older checkpoints store beside the weights (the causal-mask
"attention.bias" / "attn.bias", "masked_bias", "rotary_emb.inv_freq") are not parameters and are skipped.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os

import ml_dtypes  # noqa: F401  (registers bfloat16 with NumPy, which safetensors' NumPy reader needs)
import numpy as np

from slt_ppl.hf.config import Architecture, parse_config
from slt_ppl.hf.layout import parameter_shapes

__all__ = ["resolve_source", "read_checkpoint"]

_BUFFERS = (".attention.bias", ".attention.masked_bias", ".attn.bias", ".attn.masked_bias", "rotary_emb.inv_freq")
_PATTERNS = ["config.json", "*.safetensors", "*.safetensors.index.json"]


def _looks_like_repo_id(source: str) -> bool:
    parts = source.split("/")
    return (len(parts) in (1, 2) and not source.startswith((".", "~")) and all(parts)
            and not source.endswith((".json", ".safetensors")))


def _download(repo_id: str, revision) -> str:
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise ImportError(
            f"{repo_id!r} is not a local directory, and loading a repo id from the Hugging Face Hub needs "
            "huggingface_hub, which is not installed: pip install huggingface_hub (or slt-ppl[hf]), or give a "
            "local directory with config.json and *.safetensors") from None
    try:
        return snapshot_download(repo_id, revision=revision, allow_patterns=_PATTERNS)
    except Exception as err:  # offline, unknown repo or revision, no access: the Hub's own words, and the ways out
        raise OSError(
            f"could not fetch {repo_id!r} (revision {revision!r}) from the Hugging Face Hub (and no local directory "
            f"of that name exists): {type(err).__name__}: {err}. Without network access, download it where there is one (huggingface_hub.snapshot_download) and "
            "give the local directory, or set HF_HUB_OFFLINE=1 to read the local Hub cache") from err


def resolve_source(source, revision=None) -> str:
    """The local directory of `source`: itself when it is one, else a Hub snapshot of repo id `source`."""
    source = os.fspath(source)
    if os.path.isdir(source):
        if revision is not None:
            raise ValueError(f"revision={revision!r} applies to Hub repo ids; {source!r} is a local directory "
                             "(give the checkpoint's own directory instead)")
        return source
    if not _looks_like_repo_id(source):
        raise FileNotFoundError(f"{source!r} is neither a directory (with config.json and *.safetensors) nor a "
                                "Hugging Face Hub repo id like 'EleutherAI/pythia-14m'")
    return _download(source, revision)


def _weight_files(directory: str) -> list:
    index = os.path.join(directory, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        return [os.path.join(directory, s) for s in shards]
    files = sorted(glob.glob(os.path.join(directory, "*.safetensors")))
    if not files:
        raise FileNotFoundError(f"{directory!r} holds no *.safetensors weights (from_hf reads safetensors only; "
                                "convert .bin checkpoints with transformers' save_pretrained(safe_serialization=True))")
    return files


def _read_arrays(files) -> dict:
    from safetensors.numpy import load_file

    arrays = {}
    for path in files:
        if not os.path.exists(path):
            raise FileNotFoundError(f"the shard {os.path.basename(path)!r} named by the index is missing: {path}")
        arrays.update({k: v for k, v in load_file(path).items() if not k.endswith(_BUFFERS)})
    return arrays


def checkpoint_naming(arch: Architecture, keys) -> Architecture:
    """The Architecture with the checkpoint's own key prefix and output-matrix name."""
    if arch.model_type == "gpt2":
        arch = dataclasses.replace(arch, prefix="transformer." if any(k.startswith("transformer.") for k in keys)
                                   else "")
        unembed = "lm_head.weight"
    else:  # Pythia's checkpoints say embed_out; a conversion may say lm_head
        unembed = "lm_head.weight" if "lm_head.weight" in keys and "embed_out.weight" not in keys else "embed_out.weight"
    return dataclasses.replace(arch, unembed_key=None if arch.tied else unembed)


def _check(arrays: dict, arch: Architecture, where: str) -> None:
    expected = parameter_shapes(arch)
    missing = [k for k in expected if k not in arrays]
    if missing:
        raise KeyError(f"{where}: missing weight {missing[0]!r}" + (f" (and {len(missing) - 1} more)" if
                       len(missing) > 1 else "") + f" for a {arch.model_type} model with the config's "
                       f"{arch.num_layers} layers (tie_word_embeddings={arch.tied})")
    for k, shape in expected.items():
        if tuple(arrays[k].shape) != tuple(shape):
            raise ValueError(f"{where}: weight {k!r} has shape {tuple(arrays[k].shape)}, but config.json implies "
                             f"{tuple(shape)}")


def read_checkpoint(directory: str) -> tuple[dict, Architecture, dict]:
    """(weights {key: np.ndarray} the forward pass reads, its Architecture, the raw config dict)."""
    path = os.path.join(directory, "config.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{directory!r} has no config.json")
    with open(path) as f:
        config = json.load(f)
    arch = parse_config(config, path)
    arrays = _read_arrays(_weight_files(directory))
    arch = checkpoint_naming(arch, arrays)
    _check(arrays, arch, directory)
    expected = parameter_shapes(arch)
    return {k: np.asarray(arrays[k]) for k in expected}, arch, config
