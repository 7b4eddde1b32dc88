"""Data in every form a user holds it, converted once to JAX arrays.

NumPy arrays (any dtype, np.memmap included), pandas objects (through `to_numpy()`), Python lists
of numbers and JAX arrays are all accepted wherever data goes (a NumPyro model's model_args /
model_kwargs, a Likelihood's data). Floating data become `jnp.result_type(float)` (float32, or
float64 inside `dtype="float64"`), integers JAX's default integer; other leaves (Python scalars,
strings, None, callables) pass through untouched. A NumPyro model indexes its data with a traced
plate index, which a NumPy array cannot take: converting first is what makes `X[idx]` work.

The same NumPy object converted twice gives the same JAX array (an LRU keyed by identity, holding
the original alive), so a repeat call with the same data reuses the compiled sampling loop.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np

from slt_ppl.caching import LRUCache

__all__ = ["as_jax_data"]

_CONVERTED = LRUCache(32)  # id(original) -> its JAX array (the original kept alive beside it)


def _is_number_list(x) -> bool:
    """A (nested) list of plain numbers, e.g. [[1.0, 2.0], [3.0, 4.0]]: one array, not a pytree of scalars.
    Tuples stay containers: (X, y) is two arrays."""
    if not isinstance(x, list) or not x:
        return False
    return all(isinstance(v, numbers.Number) and not isinstance(v, bool) or _is_number_list(v) for v in x)


def _has_float(x) -> bool:
    return any(_has_float(v) if isinstance(v, list) else isinstance(v, float) for v in x)


def _convert(x):
    if isinstance(x, jax.Array):
        return x
    if hasattr(x, "to_numpy") and not isinstance(x, np.ndarray):  # pandas Series / DataFrame / Index
        x = x.to_numpy()
    elif _is_number_list(x):
        x = np.asarray(x)
    if not isinstance(x, np.ndarray):
        return x
    if x.dtype == object:
        raise ValueError(f"data of dtype object (shape {x.shape}) cannot become an array of numbers; convert it "
                         "to a numeric dtype first (e.g. df.to_numpy(dtype=float))")
    if np.issubdtype(x.dtype, np.floating):
        return jnp.asarray(x, dtype=jnp.result_type(float))
    return jnp.asarray(x)


def _cached(x):
    if isinstance(x, (np.ndarray,)) or hasattr(x, "to_numpy") or _is_number_list(x):
        key = (id(x), str(jnp.result_type(float)))
        return _CONVERTED.get_or_make(key, lambda: _convert(x), refs=x)
    return _convert(x)


def as_jax_data(tree, *, int_lists: bool = True):
    """`tree` with every array-like leaf (NumPy, memmap, pandas, lists of numbers) a JAX array (module doc).

    int_lists=False leaves lists of integers alone (a NumPyro model's settings such as widths=[3, 4, 3]);
    lists holding a float are data either way.
    """

    def is_list_data(x):
        return _is_number_list(x) and (int_lists or _has_float(x))

    def convert(x):
        if isinstance(x, list) and not is_list_data(x):
            return x
        return _cached(x)

    return jax.tree.map(convert, tree, is_leaf=lambda x: is_list_data(x) or hasattr(x, "to_numpy")
                        and not isinstance(x, (np.ndarray, jax.Array)))
