"""Pytree arithmetic every layer needs (parameters are any pytree: dicts, Flax, Equinox leaves).

Pure functions of jax arrays; nothing here knows models, samplers or estimators.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["sq_norm", "sq_distance", "broadcast_leading", "stack", "where_leading"]


def sq_norm(tree) -> jax.Array:
    """sum_i x_i^2 over every leaf of `tree`."""
    leaves = jax.tree.leaves(tree)
    return sum(jnp.sum(x * x) for x in leaves) if leaves else jnp.zeros(())


def sq_distance(a, b) -> jax.Array:
    """||a - b||^2 over two pytrees of the same structure."""
    return sum(jnp.sum((x - y) ** 2) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def broadcast_leading(tree, size: int):
    """Every leaf repeated along a new leading axis of `size` (one copy per chain)."""
    return jax.tree.map(lambda x: jnp.broadcast_to(x, (size,) + jnp.shape(x)), tree)


def stack(trees):
    """A list of pytrees of one structure -> one pytree whose leaves gain a leading axis."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def where_leading(mask, new, old):
    """Per leading index (chain): `new` where mask is True, else `old`."""
    return jax.tree.map(lambda a, b: jnp.where(mask.reshape((-1,) + (1,) * (a.ndim - 1)), a, b), new, old)
