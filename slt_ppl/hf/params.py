"""`HFParams`: a checkpoint's weights as a flat mapping keyed by its own parameter names, and a JAX pytree.

A flat mapping keeps the names exactly as the checkpoint spells them ("gpt_neox.layers.0.attention.query_key_value
.weight"), so restrict= by a checkpoint name, preview_restriction and results all show the same strings. The
container carries the model's Architecture through every pytree operation (jax.tree.map, jit, vmap, the
sampler's positions): that is how restrict="l1h2" finds the head layout of a position it only sees as arrays
(slt_ppl.model.components asks a position for `slt_component_masks` / `slt_component_names`).
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import numpy as np

from slt_ppl.hf.config import Architecture
from slt_ppl.hf.layout import component_masks, component_names

__all__ = ["HFParams"]


class HFParams(Mapping):
    """{checkpoint key: array}, sorted by key, with the model's Architecture (`.arch`) as static pytree data."""

    def __init__(self, arrays: Mapping, arch: Architecture):
        self._arrays = {k: arrays[k] for k in sorted(arrays)}
        self.arch = arch

    def __getitem__(self, key):
        return self._arrays[key]

    def __iter__(self):
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def __repr__(self) -> str:
        size = sum(int(np.prod(np.shape(v))) for v in self._arrays.values() if v is not None)
        return f"HFParams({self.arch.model_type}, {len(self)} arrays, {size:,} parameters)"

    def slt_component_masks(self, names) -> list:
        """Boolean masks, one per leaf in pytree order, for devinterp component names (slt_ppl.hf.layout)."""
        keys = list(self._arrays)
        return component_masks(self.arch, keys, [np.shape(self._arrays[k]) for k in keys], names)

    def slt_component_names(self) -> list:
        return component_names(self.arch)


def _flatten_with_keys(p: HFParams):
    return [(jax.tree_util.DictKey(k), v) for k, v in p._arrays.items()], (tuple(p._arrays), p.arch)


def _flatten(p: HFParams):
    return list(p._arrays.values()), (tuple(p._arrays), p.arch)


def _unflatten(aux, leaves) -> HFParams:
    keys, arch = aux
    out = HFParams.__new__(HFParams)
    out._arrays, out.arch = dict(zip(keys, leaves)), arch
    return out


jax.tree_util.register_pytree_with_keys(HFParams, _flatten_with_keys, _unflatten, _flatten)
