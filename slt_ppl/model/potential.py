"""The one object every sampler and estimator works with: a model reduced to per-datum log-likelihoods.

A `Potential` knows the size n of the data plate, the point w* in unconstrained coordinates,
the log-likelihood of any subset of data indices, and (when the model has one) the log prior.
Samplers and estimators never see NumPyro or user models, only this.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from slt_ppl.caching import LRUCache

__all__ = ["Potential", "check_finite_tree", "minibatch_fn", "compiled_loglik", "static_fingerprint"]


class Potential(NamedTuple):
    """A model seen by the samplers: the one object every estimator builds from a model and its data.

    Users rarely build one: ``estimate_llc`` and the other estimators make it from a NumPyro program or an
    ``slt.Likelihood``. It is public so that custom samplers and diagnostics can read the same model.

    Attributes
    ----------
    n : int
        The size of the data plate.
    position : pytree
        w*, in unconstrained coordinates.
    loglik_fn : callable
        ``loglik_fn(position, idx) -> (len(idx),)`` per-datum log p(X_i | w), unscaled.
    log_prior_fn : callable or None
        ``log_prior_fn(position) ->`` scalar log prior density in unconstrained coordinates (Jacobian
        included), or None when the model has no prior (a bare Likelihood).
    to_constrained : callable
        ``to_constrained(position) ->`` the parameters in the user's coordinates.
    description : str
        What the model is, for messages.
    loglik_at_position : array or None
        ``loglik_fn(position, all n indices)`` when the adapter already computed it.
    subsample_size : int or None
        The data plate's ``subsample_size`` (NumPyro's minibatch idiom), if any.

    Notes
    -----
    Data as arguments: ``loglik_data_fn(position, idx, data)`` is the same log-likelihood with the data (every
    array it reads: the model's data, and for a restricted Potential the full w*) passed in rather than closed
    over, and ``cache_id`` names everything else it closes over (the model function, static settings),
    hashable. Compiled programs built on these take ``data`` as an argument and are cached by ``cache_id``,
    so new arrays of the same shapes and dtypes reuse them (no recompilation); ``cache_refs`` keeps the
    objects named by id() in ``cache_id`` alive. ``cache_id`` None: not cacheable.

    Data on the host (a Likelihood over np.memmap or large NumPy arrays, model/host_data.py): ``host_data``
    holds the rows (NumPy, leading axis n) and ``data`` everything else; ``place_rows(data, rows)`` is the
    data argument with ``rows`` in place. Minibatch samplers stream the rows from the host; ``device_data()``
    moves them all to the device for the paths that read every row each step. ``mean_loglik_star``: the mean
    per-datum log-likelihood at w*, computed block by block.
    """

    n: int
    position: Any
    loglik_fn: Callable
    log_prior_fn: Optional[Callable]
    to_constrained: Callable
    description: str
    loglik_at_position: Any = None
    subsample_size: Optional[int] = None  # the data plate's subsample_size (NumPyro's minibatch idiom), if any
    loglik_data_fn: Optional[Callable] = None
    data: Any = None
    cache_id: Optional[Hashable] = None
    cache_refs: Any = None
    host_data: Any = None
    place_rows: Optional[Callable] = None
    mean_loglik_star: Optional[float] = None

    @property
    def on_host(self) -> bool:
        return self.host_data is not None

    def device_data(self):
        """The data argument of loglik_data_fn over all n rows on the device (host rows moved there)."""
        if self.host_data is None:
            return self.data
        from slt_ppl.model.data import as_jax_data

        return self.place_rows(self.data, as_jax_data(self.host_data))

    def loglik_star(self) -> jax.Array:
        """Per-datum log-likelihoods at `position` over all n data, computed once in one compiled call."""
        if self.loglik_at_position is not None:
            return self.loglik_at_position
        if self.loglik_data_fn is not None:
            return compiled_loglik(self)(self.position, jnp.arange(self.n), self.device_data())
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


_COMPILED_LOGLIK = LRUCache(16)  # cache_id -> jit(loglik_data_fn)


def compiled_loglik(pot: Potential):
    """jit(pot.loglik_data_fn), one per cache_id: (position, idx, data) -> per-datum log-likelihoods."""
    key = None if pot.cache_id is None else ("loglik", pot.cache_id)
    return _COMPILED_LOGLIK.get_or_make(key, lambda: jax.jit(pot.loglik_data_fn), refs=pot.cache_refs)


def _is_array(x) -> bool:
    return isinstance(x, (jax.Array, np.ndarray))


def static_fingerprint(leaves) -> tuple:
    """A hashable name of the non-array leaves a compiled program closes over: by value where they are
    hashable (numbers, strings, tuples, functions by identity), small arrays by their bytes, else by id()."""
    out = []
    for leaf in leaves:
        if _is_array(leaf):
            arr = np.asarray(leaf)
            out.append(("array", arr.shape, str(arr.dtype), arr.tobytes() if arr.size <= 4096 else id(leaf)))
            continue
        try:
            hash(leaf)
            out.append((type(leaf).__name__, leaf))
        except TypeError:
            out.append(("id", id(leaf)))
    return tuple(out)
