"""A JAX model given as a per-example negative log-likelihood and its data: `slt.Likelihood`.

Any JAX model (Flax, Equinox, plain functions) enters slt_ppl this way; `from_likelihood` turns it,
at a point w*, into the Potential every sampler and estimator works with.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from slt_ppl.model.potential import Potential, check_finite_tree

__all__ = ["Likelihood", "from_likelihood"]


class Likelihood:
    """A JAX model given as a per-example negative log-likelihood and its data.

    nll_per_example(params, batch) -> (batch,) array of -log p(x_i | params); params is any
    pytree (Flax, Equinox, dicts, tuples); data is a pytree of arrays sharing a leading axis n.
    log_prior(params) -> scalar log prior density (normalised): needed only by the global
    estimators (WBIC, RLCT, free energy), which integrate over the prior; the LLC replaces it.
    """

    def __init__(self, nll_per_example: Callable, data: Any, log_prior: Optional[Callable] = None):
        if not callable(nll_per_example):
            raise TypeError(
                f"Likelihood needs a callable nll_per_example(params, batch), got {type(nll_per_example).__name__}"
            )
        if log_prior is not None and not callable(log_prior):
            raise TypeError(f"Likelihood log_prior must be a callable log_prior(params) -> scalar, got {type(log_prior).__name__}")
        self.log_prior = log_prior
        leaves = jax.tree.leaves(data)
        if not leaves:
            raise ValueError("Likelihood data is empty: give a pytree of arrays sharing a leading axis n")
        sizes = set()
        for leaf in leaves:
            shape = np.shape(leaf)
            if len(shape) == 0:
                raise ValueError("every Likelihood data array needs a leading data axis; got a scalar")
            sizes.add(shape[0])
        if len(sizes) != 1:
            raise ValueError(
                f"Likelihood data arrays disagree on the number of examples (leading axes {sorted(sizes)}); "
                "every array must share the same leading axis n"
            )
        n = sizes.pop()
        if n == 0:
            raise ValueError("Likelihood data has n = 0 examples")
        check_finite_tree(data, "Likelihood data")
        self.nll_per_example = nll_per_example
        self.data = jax.tree.map(jnp.asarray, data)
        self.n = int(n)

    def __repr__(self) -> str:
        name = getattr(self.nll_per_example, "__name__", "nll")
        return f"Likelihood({name}, n={self.n})"


def from_likelihood(lik: Likelihood, params: Any) -> Potential:
    """Wrap a `Likelihood` at the point `params` (any pytree) into a Potential."""
    leaves = jax.tree.leaves(params)
    if not leaves:
        raise ValueError("params is empty: give the point w* as a pytree of arrays")
    check_finite_tree(params, "params")
    position = jax.tree.map(lambda x: jnp.asarray(x, dtype=jnp.result_type(float)), params)

    def loglik_fn(position, idx):
        batch = jax.tree.map(lambda x: x[idx], lik.data)
        return -lik.nll_per_example(position, batch)

    probe = jax.eval_shape(loglik_fn, position, jnp.arange(min(lik.n, 2)))
    if probe.shape != (min(lik.n, 2),):
        raise ValueError(
            f"nll_per_example must return one value per example, shape (batch,); for a batch of "
            f"{min(lik.n, 2)} it returned shape {probe.shape}"
        )
    return Potential(
        n=lik.n,
        position=position,
        loglik_fn=loglik_fn,
        log_prior_fn=lik.log_prior,
        to_constrained=lambda p: p,
        description=repr(lik),
    )
