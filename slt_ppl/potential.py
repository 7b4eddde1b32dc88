"""The one object every sampler and estimator works with: a model reduced to per-datum log-likelihoods.

A `Potential` knows the size n of the data plate, the point w* in unconstrained coordinates,
the log-likelihood of any subset of data indices, and (when the model has one) the log prior.
Samplers and estimators never see NumPyro or user models, only this.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Potential", "Likelihood", "from_likelihood", "check_finite_tree", "minibatch_fn"]


class Potential(NamedTuple):
    """A model seen by the samplers.

    loglik_fn(position, idx) -> (len(idx),) per-datum log p(X_i | w), unscaled.
    log_prior_fn(position) -> scalar log prior density in unconstrained coordinates
    (Jacobian included), or None when the model has no prior (a bare Likelihood).
    to_constrained(position) -> the parameters in the user's coordinates.
    loglik_at_position: loglik_fn(position, all n indices) when the adapter already computed it.
    """

    n: int
    position: Any
    loglik_fn: Callable
    log_prior_fn: Optional[Callable]
    to_constrained: Callable
    description: str
    loglik_at_position: Any = None

    def loglik_star(self) -> jax.Array:
        """Per-datum log-likelihoods at `position` over all n data, computed once in one compiled call."""
        if self.loglik_at_position is not None:
            return self.loglik_at_position
        return jax.jit(self.loglik_fn)(self.position, jnp.arange(self.n))

    @property
    def num_params(self) -> int:
        return int(sum(np.size(x) for x in jax.tree.leaves(self.position)))

    def mean_nll(self, position, idx) -> jax.Array:
        """L_B(w) = -(1/|B|) sum_{i in B} log p(X_i | w): the minibatch mean NLL, unbiased for L_n."""
        return -jnp.mean(self.loglik_fn(position, idx))


def minibatch_fn(n: int, batch_size):
    """key -> indices of a minibatch of `batch_size` data points (with replacement); all n when None."""
    if batch_size is None or batch_size >= n:
        full = jnp.arange(n)
        return lambda key: full
    return lambda key: jax.random.randint(key, (batch_size,), 0, n)


def check_finite_tree(tree, what: str) -> None:
    """Raise a ValueError naming `what` when any floating leaf of `tree` holds NaN or infinity."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(tree)
    for path, leaf in leaves:
        arr = np.asarray(leaf)
        if np.issubdtype(arr.dtype, np.inexact) and not np.all(np.isfinite(arr)):
            where = jax.tree_util.keystr(path) or "(root)"
            count = int(np.size(arr) - np.isfinite(arr).sum())
            raise ValueError(
                f"{what}{where} contains {count} NaN or infinite value(s); "
                "remove or impute them before estimating"
            )


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
