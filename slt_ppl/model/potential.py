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

__all__ = ["Potential", "check_finite_tree", "minibatch_fn"]


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
    subsample_size: Optional[int] = None  # the data plate's subsample_size (NumPyro's minibatch idiom), if any

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
