"""Weight-restricted (refined) LLC: sample a chosen subset of the parameters, the rest held at w*.

The restricted coefficient measures the degeneracy the chosen weights carry given the others
(Wang et al., "Differentiation and specialization of attention heads via the refined local
learning coefficient", arXiv 2410.02984). A Potential over all parameters becomes one over a flat
vector of the selected coordinates: the sampler, calibration and estimator run unchanged.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from slt_ppl.model.potential import Potential

__all__ = ["restrict_potential"]


def _top_key(path) -> str | None:
    if not path:
        return None
    first = path[0]
    for attr in ("key", "name", "idx"):
        if hasattr(first, attr):
            return str(getattr(first, attr))
    return None


def _masks(position, restrict) -> list[np.ndarray]:
    """One boolean array per leaf of `position`: True where the coordinate is sampled."""
    leaves = jax.tree_util.tree_flatten_with_path(position)[0]
    if isinstance(restrict, str):
        restrict = [restrict]
    if callable(restrict):
        out = []
        for path, leaf in leaves:
            chosen = restrict(jax.tree_util.keystr(path), leaf)
            out.append(np.broadcast_to(np.asarray(chosen, dtype=bool), np.shape(leaf)).copy())
        return out
    if isinstance(restrict, (list, tuple, set)) and all(isinstance(r, str) for r in restrict):
        names = {_top_key(path) for path, _ in leaves}
        unknown = sorted(set(restrict) - names)
        if unknown:
            raise ValueError(f"restrict names {unknown}, which are not parameters (sites: {sorted(n for n in names if n)})")
        return [np.full(np.shape(leaf), _top_key(path) in restrict) for path, leaf in leaves]
    try:  # a pytree of booleans shaped like params
        mask_leaves = jax.tree.leaves(jax.tree.map(lambda m, p: m, restrict, position))
    except ValueError as err:
        raise ValueError(
            "restrict must be site names, a predicate (path, leaf) -> bool (or a bool array), or a pytree of "
            f"booleans with the structure of params; got {type(restrict).__name__} ({err})"
        ) from None
    out = []
    for m, (path, leaf) in zip(mask_leaves, leaves):
        m = np.asarray(m)
        if m.dtype != bool:
            raise ValueError(f"restrict mask at {jax.tree_util.keystr(path)} must be boolean, got {m.dtype}")
        out.append(np.broadcast_to(m, np.shape(leaf)).copy())
    return out


def restrict_potential(pot: Potential, restrict) -> Potential:
    """The Potential over the coordinates `restrict` selects (module doc); the others stay at w*."""
    if restrict is None:
        return pot
    masks = _masks(pot.position, restrict)
    leaves, treedef = jax.tree.flatten(pot.position)
    indices = [np.flatnonzero(m.ravel()) for m in masks]
    sizes = [len(i) for i in indices]
    total = int(sum(sizes))
    if total == 0:
        raise ValueError("restrict selects no parameter: choose at least one site or coordinate to sample")
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    w_star = [jnp.asarray(leaf) for leaf in leaves]
    sub0 = jnp.concatenate([leaf.ravel()[idx] for leaf, idx in zip(w_star, indices)])

    def merge(sub):
        out = []
        for k, (leaf, idx) in enumerate(zip(w_star, indices)):
            if len(idx):
                flat = leaf.ravel().at[idx].set(sub[offsets[k]:offsets[k + 1]])
                leaf = flat.reshape(leaf.shape)
            out.append(leaf)
        return jax.tree.unflatten(treedef, out)

    prior: Callable | None = None
    if pot.log_prior_fn is not None:
        prior = lambda sub: pot.log_prior_fn(merge(sub))  # noqa: E731
    return Potential(
        n=pot.n,
        position=sub0,
        loglik_fn=lambda sub, idx: pot.loglik_fn(merge(sub), idx),
        log_prior_fn=prior,
        to_constrained=lambda sub: pot.to_constrained(merge(sub)),
        description=f"{pot.description}, restricted to {total} of {pot.num_params} parameters",
        loglik_at_position=pot.loglik_at_position,  # the restricted point is w* itself
    )
