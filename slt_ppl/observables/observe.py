"""Per-sample losses of any dataset at the draws of the localized tempered posterior.

The same model at the same w* reads other data (a query set, a probe set) through a second Potential
built with the same restriction, so its position is the sampled one; losses are -log p per sample,
in the likelihood's own units, shifted by their value at w*.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from slt_ppl.model import Likelihood, as_float64, make_potential, restrict_potential

__all__ = ["other_data", "loss_fn", "check_same_coordinates", "first_draw"]


def other_data(model, params, model_kwargs, data, restrict, what: str):
    """The Potential of `model` at `params` on other data: for a Likelihood, `data` is a pytree like its
    data; for a NumPyro model, the model's positional arguments (a tuple, e.g. (X_query, y_query))."""
    if isinstance(model, Likelihood):
        other, args = Likelihood(model.nll_per_example, data, model.log_prior), ()
    else:
        if not isinstance(data, (tuple, list)):
            raise TypeError(f"{what} for a NumPyro model is a tuple of the model's arguments, e.g. {what}=(X_q, y_q); "
                            f"got {type(data).__name__}")
        other, args = model, tuple(data)
    if jax.config.jax_enable_x64:
        params, args = as_float64((params, args))
        if isinstance(other, Likelihood):
            other = Likelihood(other.nll_per_example, as_float64(other.data), other.log_prior)
    return restrict_potential(make_potential(other, params, args, model_kwargs), restrict)


def loss_fn(pot, indices=None):
    """position -> per-sample losses of `pot`'s data minus their values at w* (shape (len(indices),))."""
    idx = jnp.arange(pot.n) if indices is None else jnp.asarray(indices)
    star = -np.asarray(pot.loglik_star())[np.asarray(idx)]
    star = jnp.asarray(star, dtype=jnp.result_type(float))
    return lambda position: -pot.loglik_fn(position, idx) - star


def check_same_coordinates(pot, other, what: str) -> None:
    a = jax.tree.structure(pot.position), jax.tree.map(np.shape, pot.position)
    b = jax.tree.structure(other.position), jax.tree.map(np.shape, other.position)
    if str(a) != str(b):
        raise ValueError(f"the model on the {what} data has other parameters than on the training data ({b} vs {a}); "
                         f"give {what} data of the training data's form")


def first_draw(settings) -> int:
    """The first step that is a draw: after the burn-in (MALA/HMC/NUTS adapt during the burn-in before
    the run, so with an adapted step every step of their run is a draw)."""
    return 0 if settings.metropolis and settings.auto_step else settings.num_burnin
