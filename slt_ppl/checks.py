"""Argument checks shared by the public entry points: each error names the argument and the fix."""

from __future__ import annotations

import math
import numbers
import warnings

__all__ = ["positive_int", "non_negative_int", "positive_float", "non_negative_float", "choice", "batch_size_for"]


def _scalar(value):
    """A Python number from a number, a NumPy scalar or a 0-d NumPy/JAX array; `value` itself otherwise."""
    if isinstance(value, (bool, numbers.Number)) or not hasattr(value, "dtype") or getattr(value, "ndim", None) != 0:
        return value
    if hasattr(value, "item"):
        try:
            return value.item()
        except Exception:  # a tracer: leave it to the check to refuse
            return value
    return value


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def positive_int(name: str, value) -> int:
    value = _scalar(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def non_negative_int(name: str, value) -> int:
    value = _scalar(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def positive_float(name: str, value, hint: str = "") -> float:
    value = _scalar(value)
    if not _is_real(value) or not math.isfinite(float(value)) or float(value) <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}{hint}")
    return float(value)


def non_negative_float(name: str, value) -> float:
    value = _scalar(value)
    if not _is_real(value) or not math.isfinite(float(value)) or float(value) < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def choice(name: str, value, options) -> str:
    if value not in options:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(map(repr, options))}")
    return value


def batch_size_for(batch_size, n: int, *, sampler: str, metropolis: bool, subsample_size: int | None = None):
    """The minibatch size (None: full batch), refused when it exceeds n or when a full-batch kernel gets one.

    subsample_size: the data plate's own (numpyro.plate("data", n, subsample_size=b), NumPyro's minibatch
    idiom): the batch unless batch_size= overrides it (with a warning that says so); a full-batch
    (Metropolis) kernel ignores it, and says so.
    """
    if subsample_size is not None:
        if batch_size is None:
            if metropolis:
                warnings.warn(f"sampler {sampler!r} is full-batch: the data plate's subsample_size={subsample_size} "
                              f"is ignored and every step uses all n={n} data", UserWarning, stacklevel=4)
                return None
            batch_size = subsample_size
        elif batch_size != subsample_size:
            warnings.warn(f"batch_size={batch_size} overrides the data plate's subsample_size={subsample_size}",
                          UserWarning, stacklevel=4)
    if batch_size is None:
        return None
    batch_size = positive_int("batch_size", batch_size)
    if batch_size > n:
        raise ValueError(f"batch_size={batch_size} exceeds the data size n={n}; use batch_size=None for full batch")
    if metropolis and batch_size < n:
        raise ValueError(f"sampler {sampler!r} is full-batch (Metropolis-adjusted); use batch_size=None, "
                         "or a stochastic-gradient sampler (sgld, rmsprop_sgld, sghmc, sgnht) for minibatches")
    return batch_size
