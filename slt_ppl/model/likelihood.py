"""A JAX model given as a per-example negative log-likelihood and its data: `slt.Likelihood`.

Any JAX model (Flax, Equinox, plain functions) enters slt_ppl this way; `from_likelihood` turns it,
at a point w*, into the Potential every sampler and estimator works with.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from slt_ppl.model.data import as_jax_data
from slt_ppl.model.host_data import blockwise_mean_loglik, host_rows_decision
from slt_ppl.model.potential import Potential, check_finite_tree, compiled_loglik, static_fingerprint

__all__ = ["Likelihood", "from_likelihood", "split_params"]


class Likelihood:
    """A JAX model given as a per-example negative log-likelihood and its data.

    The way to bring any JAX model (Flax, Equinox, plain functions) to the estimators: L_n(w) is the mean of
    ``nll_per_example`` over the n rows of ``data``, and minibatches are rows drawn from it. The LLC replaces the
    prior by the localization term; the global estimators (WBIC, RLCT, free energy) integrate over the prior and
    need ``log_prior``.

    Parameters
    ----------
    nll_per_example : callable
        ``nll_per_example(params, batch) -> (batch,)`` array of -log p(x_i | params); ``params`` is any pytree
        (Flax, Equinox, dicts, tuples).
    data : pytree of arrays
        Arrays sharing a leading axis n: NumPy, JAX, np.memmap, lists, or pandas via ``to_numpy``.
    log_prior : callable, optional
        ``log_prior(params) -> scalar``, the normalised log prior density; needed only by the global estimators.
    on_host : bool, optional
        Data that stay on the host (``slt_ppl/model/host_data.py``). None (default) keeps every np.memmap and
        NumPy data over 1 GiB there and moves the rest to the device as JAX arrays; True keeps NumPy data on the
        host whatever their size; False always moves them. Minibatch LLC runs stream host rows chunk by chunk
        (peak memory flat in n); the paths that read every row each step (full batch, MALA/HMC/NUTS, the global
        estimators) move them to the device once, on first use (``.data``).

    Examples
    --------
    >>> def nll(params, batch):
    ...     X, y = batch
    ...     return 0.5 * (y - X @ params["w"]) ** 2
    >>> lik = slt.Likelihood(nll, (X, y))  # doctest: +SKIP
    >>> slt.estimate_llc(lik, {"w": w_star}).llc  # doctest: +SKIP
    """

    def __init__(self, nll_per_example: Callable, data: Any, log_prior: Optional[Callable] = None, *,
                 on_host: Optional[bool] = None):
        if not callable(nll_per_example):
            raise TypeError(
                f"Likelihood needs a callable nll_per_example(params, batch), got {type(nll_per_example).__name__}"
            )
        if log_prior is not None and not callable(log_prior):
            raise TypeError(f"Likelihood log_prior must be a callable log_prior(params) -> scalar, got {type(log_prior).__name__}")
        self.log_prior = log_prior
        self.on_host = host_rows_decision(data, on_host)
        if not self.on_host:
            data = as_jax_data(data)  # NumPy, memmap, pandas, lists of numbers: JAX arrays (model/data.py)
        leaves = jax.tree.leaves(data)
        if not leaves:
            raise ValueError("Likelihood data is empty: give a pytree of arrays sharing a leading axis n")
        sizes = set()
        for leaf in leaves:
            shape = np.shape(leaf)
            if len(shape) == 0:
                raise ValueError(f"every Likelihood data array needs a leading data axis n; got a scalar ({leaf!r}): "
                                 "give the data as arrays of shape (n, ...), e.g. (X, y) with X.shape = (n, d)")
            sizes.add(shape[0])
        if len(sizes) != 1:
            raise ValueError(
                f"Likelihood data arrays disagree on the number of examples (leading axes {sorted(sizes)}); "
                "every array must share the same leading axis n"
            )
        n = sizes.pop()
        if n == 0:
            raise ValueError("Likelihood data has n = 0 examples")
        self.nll_per_example = nll_per_example
        self.n = int(n)
        if self.on_host:  # checked for NaN on the blockwise pass at w* (from_likelihood), never copied whole
            self.host_data, self._data = data, None
        else:
            check_finite_tree(data, "Likelihood data")
            self.host_data, self._data = None, jax.tree.map(jnp.asarray, data)

    @property
    def data(self):
        """The data as device (JAX) arrays; host data are moved to the device here, once, on first use."""
        if self._data is None:
            check_finite_tree(self.host_data, "Likelihood data")
            self._data = as_jax_data(self.host_data)
        return self._data

    def __repr__(self) -> str:
        name = getattr(self.nll_per_example, "__name__", "nll")
        return f"Likelihood({name}, n={self.n}{', on the host' if self.on_host else ''})"


def _is_float_leaf(leaf) -> bool:
    if isinstance(leaf, float):
        return True
    dtype = getattr(leaf, "dtype", None)
    return dtype is not None and np.issubdtype(np.dtype(dtype), np.floating)


def _is_numeric_static(leaf) -> bool:
    """An integer or boolean (array or Python number): data a container carries, not a coordinate."""
    if isinstance(leaf, (bool, int, np.integer, np.bool_)):
        return True
    dtype = getattr(leaf, "dtype", None)
    return dtype is not None and (np.issubdtype(np.dtype(dtype), np.integer) or np.dtype(dtype) == bool)


def split_params(params):
    """(position, rebuild): the floating-point arrays of `params` (what is sampled) and position -> params.

    params may be any pytree: dicts, tuples, an Equinox module (its functions and other non-array fields
    stay as they are), a Flax NNX module (a pytree of Variables in Flax >= 0.11). Non-floating leaves
    are held fixed: silently for functions, strings and the like, with a warning naming them for
    integer and boolean leaves (a step counter, a mask), which a user might have meant as parameters.
    The position keeps the container's structure, with None where a leaf is fixed, so paths such as
    ".layers[0].weight" name the same coordinates in results and in restrict=.
    """
    leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
    if not leaves:
        raise ValueError("params is empty: give the point w* as a pytree of arrays")
    sampled = [_is_float_leaf(leaf) for _, leaf in leaves]
    fixed_numbers = [jax.tree_util.keystr(path) or "(root)" for (path, leaf), s in zip(leaves, sampled)
                     if not s and _is_numeric_static(leaf)]
    if fixed_numbers:
        warnings.warn(f"params leaves {fixed_numbers} are integer or boolean: kept fixed at their values, not sampled "
                      "(give them as float arrays if they are parameters)", UserWarning, stacklevel=4)
    if not any(sampled):
        raise ValueError("params has no floating-point array to sample (its leaves: "
                         f"{[jax.tree_util.keystr(p) for p, _ in leaves][:10]}); give w* as float arrays")
    dtype = jnp.result_type(float)
    if all(sampled):  # a plain pytree of arrays: the position is params itself, in the working dtype
        return jax.tree.map(lambda x: jnp.asarray(x, dtype=dtype), params), lambda position: position
    statics = [leaf for _, leaf in leaves]
    position = jax.tree.unflatten(jax.tree.structure(params), [jnp.asarray(leaf, dtype=dtype) if s else None
                                                               for (_, leaf), s in zip(leaves, sampled)])

    def rebuild(position):
        flat = jax.tree.leaves(position, is_leaf=lambda x: x is None)
        return jax.tree.unflatten(treedef, [p if s else leaf for p, leaf, s in zip(flat, statics, sampled)])

    return position, rebuild


_FUNCTIONS_SEEN: dict = {}  # code object of an nll -> ids of the distinct function objects seen with it
_REMADE_AFTER = 3  # the third distinct function of one code: warn (once per code) that each one recompiles


def _warn_if_remade(nll) -> None:
    """Warn once when nll_per_example is a new function object each time (a closure made per call, e.g.
    in a loop or a factory) with the same code: the compiled sampling loop is cached by the function, so
    each new one compiles it again (seconds each). Reusing one function object avoids that."""
    code = getattr(nll, "__code__", None)
    if code is None:
        return
    seen = _FUNCTIONS_SEEN.setdefault(code, set())
    if seen is None or id(nll) in seen:
        return
    seen.add(id(nll))
    if len(seen) >= _REMADE_AFTER:
        _FUNCTIONS_SEEN[code] = None  # warned: never again for this code
        warnings.warn(
            f"nll_per_example {getattr(nll, '__qualname__', nll)!r} is a new function object for the "
            f"{len(seen)}rd time with the same code; the compiled sampling loop is cached by the function, so "
            "each new one compiles it again. If these functions compute the same thing, make the function once and "
            "pass that one object every time (e.g. functools.lru_cache on the factory that builds it).",
            UserWarning, stacklevel=4)


def from_likelihood(lik: Likelihood, params: Any) -> Potential:
    """Wrap a `Likelihood` at the point `params` (any pytree, an Equinox or NNX module) into a Potential.

    The data are an argument of the compiled log-likelihood (Potential.loglik_data_fn), named in the
    compile caches by the nll function, the structure of params and its fixed (non-float) leaves: a new
    Likelihood over new arrays of the same shapes reuses every program compiled for the last one.
    """
    check_finite_tree(params, "params")
    position, rebuild = split_params(params)
    nll = lik.nll_per_example

    def loglik_data_fn(position, idx, data):
        batch = jax.tree.map(lambda x: x[idx], data)
        return -nll(rebuild(position), batch)

    data = lik._data if not lik.on_host else jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, jnp.result_type(float) if np.issubdtype(x.dtype, np.floating)
                                       else x.dtype), lik.host_data)
    probe = jax.eval_shape(loglik_data_fn, position, jnp.arange(min(lik.n, 2)), data)
    if probe.shape != (min(lik.n, 2),):
        raise ValueError(
            f"nll_per_example must return one value per example, shape (batch,); for a batch of "
            f"{min(lik.n, 2)} it returned shape {probe.shape}"
        )
    leaves, treedef = jax.tree.flatten(params)
    fixed = [leaf for leaf in leaves if not _is_float_leaf(leaf)]
    _warn_if_remade(nll)
    if lik.on_host:
        return _on_host(lik, params, position, rebuild, loglik_data_fn, treedef, fixed)
    pot = Potential(
        n=lik.n,
        position=position,
        loglik_fn=lambda position, idx: loglik_data_fn(position, idx, data),
        log_prior_fn=None if lik.log_prior is None else (lambda position: lik.log_prior(rebuild(position))),
        to_constrained=rebuild,
        description=repr(lik),
        loglik_data_fn=loglik_data_fn,
        data=data,
        cache_id=("likelihood", id(nll), str(treedef), static_fingerprint(fixed)),
        cache_refs=(nll, fixed),
    )
    ll = pot.loglik_star()
    bad = int(np.sum(~np.isfinite(np.asarray(ll))))
    if bad:
        raise ValueError(
            f"nll_per_example is NaN or infinite at params for {bad} of {lik.n} examples; the estimate needs a "
            "finite loss at w*: check the data for NaN/inf and that params lies where the model is defined"
        )
    return pot._replace(loglik_at_position=ll)


def _on_host(lik: Likelihood, params, position, rebuild, loglik_data_fn, treedef, fixed) -> Potential:
    """The Potential of a Likelihood whose rows stay on the host: no per-datum array of length n is built;
    the mean log-likelihood at w* (and the data's finiteness) come from one blockwise pass."""
    pot = Potential(
        n=lik.n,
        position=position,
        loglik_fn=lambda position, idx: loglik_data_fn(position, idx, lik.data),  # full-batch paths: on the device
        log_prior_fn=None if lik.log_prior is None else (lambda position: lik.log_prior(rebuild(position))),
        to_constrained=rebuild,
        description=repr(lik),
        loglik_data_fn=loglik_data_fn,
        data=None,
        cache_id=("likelihood", id(lik.nll_per_example), str(treedef), static_fingerprint(fixed)),
        cache_refs=(lik.nll_per_example, fixed),
        host_data=lik.host_data,
        place_rows=lambda data, rows: rows,
    )
    compiled = compiled_loglik(pot)
    mean, bad = blockwise_mean_loglik(lambda rows: compiled(position, jnp.arange(len(jax.tree.leaves(rows)[0])),
                                                            rows), lik.host_data, lik.n)
    if bad:
        raise ValueError(
            f"nll_per_example is NaN or infinite at params for {bad} of {lik.n} examples; the estimate needs a "
            "finite loss at w*: check the data for NaN/inf and that params lies where the model is defined")
    return pot._replace(mean_loglik_star=mean)
