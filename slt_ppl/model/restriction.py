"""Weight-restricted (refined) LLC: sample a chosen subset of the parameters, the rest held at w*.

The restricted coefficient measures the degeneracy the chosen weights carry given the others
(Wang et al., "Differentiation and specialization of attention heads via the refined local
learning coefficient", arXiv 2410.02984). A Potential over all parameters becomes one over a flat
vector of the selected coordinates: the sampler, calibration and estimator run unchanged.
"""

from __future__ import annotations

import hashlib

import re
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from slt_ppl.model.components import component_masks, is_component_name, path_names
from slt_ppl.model.potential import Potential

__all__ = ["restrict_potential", "resolve_masks", "preview_restriction"]


def _key_names(path) -> list[str]:
    """The names along a pytree path: dict keys, attribute names, sequence indices (as strings)."""
    return path_names(path, strip_value=False)


def _slash_path(path) -> str:
    """'params/hidden/kernel' for keystr "['params']['hidden']['kernel']" (Flax linen), 'layers/0/weight' for
    Equinox's '.layers[0].weight', 'hidden/kernel/value' for an NNX module."""
    return "/".join(_key_names(path))


def _selects(spec, path) -> bool:
    """Whether one restriction by name selects the leaf at `path` (see `resolve_masks`)."""
    if isinstance(spec, re.Pattern):
        return bool(spec.search(jax.tree_util.keystr(path)) or spec.search(_slash_path(path)))
    names = _key_names(path)
    if "/" in spec:
        parts = [p for p in spec.strip("/").split("/") if p]
        return names[: len(parts)] == parts or any(names[i:i + len(parts)] == parts for i in range(len(names)))
    return spec in names


def resolve_masks(position, restrict) -> list[np.ndarray]:
    """One boolean array per leaf of `position`: True where the coordinate is sampled.

    restrict may be:
    - transformer components: "l0h1" (head 1 of layer 0: its query, key, value and output slices), "l1 mlp",
      "l0 attn", "l1" (a whole layer), "embed", "unembed" (model/components.py; head_names lists them).
    - names: a str or a list of str and compiled regexes. A plain name selects every leaf with that key
      anywhere on its path ("hidden" selects params/hidden/kernel and params/hidden/bias of a Flax linen
      layer; "w" a NumPyro site); a name with "/" is a path segment ("params/hidden/kernel",
      "layers/0"); a `re.compile(...)` pattern is searched in the keystr path ("['params']['hidden']
      ['kernel']", ".layers[0].weight") and in the slash path.
    - a predicate (path, leaf) -> bool or bool array, path the keystr of the leaf.
    - a pytree of booleans (or boolean arrays) with the structure of params.
    `preview_restriction(params, restrict)` shows what a restriction selects.
    """
    leaves = jax.tree_util.tree_flatten_with_path(position)[0]
    if isinstance(restrict, (str, re.Pattern)):
        restrict = [restrict]
    if callable(restrict) and not isinstance(restrict, re.Pattern):
        out = []
        for path, leaf in leaves:
            where = jax.tree_util.keystr(path)
            chosen = np.asarray(restrict(where, leaf))
            if chosen.dtype != bool:
                raise ValueError(
                    f"the restrict predicate returned {chosen.dtype} ({chosen.ravel()[:3].tolist()}...) for {where}; "
                    "it must return a bool, or a bool array shaped like the leaf (True: sample this coordinate)")
            out.append(np.broadcast_to(chosen, np.shape(leaf)).copy())
        return out
    if isinstance(restrict, (list, tuple, set)) and restrict and all(isinstance(r, (str, re.Pattern)) for r in restrict):
        components = [r for r in restrict if is_component_name(r)]
        if components:  # transformer components by name: "l0h1", "l1 mlp", "embed" (model/components.py)
            masks = component_masks(position, components)
            rest = [r for r in restrict if not is_component_name(r)]
            return masks if not rest else [a | b for a, b in zip(masks, resolve_masks(position, rest))]
        unknown = [r for r in restrict if not any(_selects(r, path) for path, _ in leaves)]
        if unknown:
            shown = [_slash_path(path) for path, _ in leaves]
            raise ValueError(
                f"restrict names {[getattr(u, 'pattern', u) for u in unknown]} select no parameter; the parameters' "
                f"paths are {shown[:20]}{' ...' if len(shown) > 20 else ''} (a name matches any key on a path, "
                "'a/b' a path segment, re.compile(...) a pattern)")
        return [np.full(np.shape(leaf), any(_selects(r, path) for r in restrict)) for path, leaf in leaves]
    try:  # a pytree of booleans shaped like params
        mask_leaves = jax.tree.leaves(jax.tree.map(lambda m, p: m, restrict, position))
    except ValueError as err:
        raise ValueError(
            "restrict must be names (str or re.compile patterns), a predicate (path, leaf) -> bool (or a bool "
            f"array), or a pytree of booleans with the structure of params; got {type(restrict).__name__} ({err})"
        ) from None
    out = []
    for m, (path, leaf) in zip(mask_leaves, leaves):
        m = np.asarray(m)
        if m.dtype != bool:
            raise ValueError(f"restrict mask at {jax.tree_util.keystr(path)} must be boolean, got {m.dtype}")
        out.append(np.broadcast_to(m, np.shape(leaf)).copy())
    return out


def preview_restriction(params, restrict) -> str:
    """A table of what `restrict` selects in `params`: each leaf's path, shape, and how many of its
    coordinates are sampled. For a NumPyro model pass the params dict; for any pytree, the pytree."""
    from slt_ppl.model.likelihood import split_params

    position, _ = split_params(params)
    masks = resolve_masks(position, restrict)
    leaves = jax.tree_util.tree_flatten_with_path(position)[0]
    rows = [(_slash_path(path) or "(root)", str(tuple(np.shape(leaf))), int(m.sum()), int(m.size))
            for (path, leaf), m in zip(leaves, masks)]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'path':<{width}}  {'shape':<14} sampled"]
    lines += [f"{p:<{width}}  {shape:<14} {k}/{total}{'  <-' if k else ''}" for p, shape, k, total in rows]
    chosen = sum(r[2] for r in rows)
    lines.append(f"{chosen} of {sum(r[3] for r in rows)} coordinates sampled; the rest held at w*")
    return "\n".join(lines)


def restrict_potential(pot: Potential, restrict) -> Potential:
    """The Potential over the coordinates `restrict` selects (module doc); the others stay at w*."""
    if restrict is None:
        return pot
    masks = resolve_masks(pot.position, restrict)
    leaves, treedef = jax.tree.flatten(pot.position)
    indices = [np.flatnonzero(m.ravel()) for m in masks]
    sizes = [len(i) for i in indices]
    total = int(sum(sizes))
    if total == 0:
        raise ValueError("restrict selects no parameter: choose at least one site or coordinate to sample")
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    w_star = [jnp.asarray(leaf) for leaf in leaves]
    sub0 = jnp.concatenate([leaf.ravel()[idx] for leaf, idx in zip(w_star, indices)])

    def merge(sub, w_full=w_star):
        out = []
        for k, (leaf, idx) in enumerate(zip(w_full, indices)):
            if len(idx):
                flat = leaf.ravel().at[idx].set(sub[offsets[k]:offsets[k + 1]])
                leaf = flat.reshape(leaf.shape)
            out.append(leaf)
        return jax.tree.unflatten(treedef, out)

    prior: Callable | None = None
    if pot.log_prior_fn is not None:
        prior = lambda sub: pot.log_prior_fn(merge(sub))  # noqa: E731
    data_fn, data, cache_id = None, None, None
    if pot.loglik_data_fn is not None:  # the full w* joins the data: a new w* of the same shapes reuses the programs
        inner = pot.loglik_data_fn
        data_fn = lambda sub, idx, d: inner(merge(sub, d[1]), idx, d[0])  # noqa: E731
        data = (pot.data, w_star)  # host rows, if any, stay out of it: place_rows below puts them in d[0]
        if pot.cache_id is not None:
            masks_key = hashlib.sha1(b"".join(np.packbits(m.ravel()).tobytes() + str(m.shape).encode()
                                              for m in masks)).hexdigest()
            cache_id = ("restricted", pot.cache_id, masks_key)
    return Potential(
        n=pot.n,
        position=sub0,
        loglik_fn=lambda sub, idx: pot.loglik_fn(merge(sub), idx),
        log_prior_fn=prior,
        to_constrained=lambda sub: pot.to_constrained(merge(sub)),
        description=f"{pot.description}, restricted to {total} of {pot.num_params} parameters",
        loglik_at_position=pot.loglik_at_position,  # the restricted point is w* itself
        subsample_size=pot.subsample_size,
        loglik_data_fn=data_fn,
        data=data,
        cache_id=cache_id,
        cache_refs=pot.cache_refs,
        host_data=pot.host_data,
        place_rows=None if pot.place_rows is None else (lambda d, rows: (pot.place_rows(d[0], rows), d[1])),
        mean_loglik_star=pot.mean_loglik_star,
    )
