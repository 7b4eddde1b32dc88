"""The one door from a user's model to a Potential: NumPyro program or slt.Likelihood, at w* or at prior draws.

Every estimator enters here: `make_potential` for a point (the LLC, the free energy's asymptotic
form), `global_potential` for chains that start over the prior (WBIC, RLCT, free energy). Nothing
else in slt_ppl dispatches on the kind of model.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from slt_ppl.model.data import as_jax_data
from slt_ppl.model.likelihood import Likelihood, from_likelihood
from slt_ppl.model.numpyro_adapter import from_numpyro, prior_draws
from slt_ppl.model.potential import Potential
from slt_ppl.trees import stack

__all__ = ["make_potential", "global_potential", "model_inputs", "as_float64"]


def _no_model_args_for_a_likelihood(model, model_args, model_kwargs) -> None:
    if isinstance(model, Likelihood) and (len(model_args) if isinstance(model_args, (tuple, list)) else 1
                                          or model_kwargs):
        raise ValueError("model_args/model_kwargs are for NumPyro models; a Likelihood carries its data")


def model_inputs(model_args, model_kwargs) -> tuple[tuple, dict]:
    """(args, kwargs) of a NumPyro model call with their data as JAX arrays (model/data.py)."""
    if not isinstance(model_args, (tuple, list)):
        raise TypeError(f"model_args must be a tuple of the model's positional arguments, e.g. model_args=(X, y); "
                        f"got {type(model_args).__name__} (for one argument write model_args=(X,))")
    if model_kwargs is not None and not isinstance(model_kwargs, dict):
        raise TypeError(f"model_kwargs must be a dict of keyword arguments, got {type(model_kwargs).__name__}")
    return (as_jax_data(tuple(model_args), int_lists=False),
            as_jax_data(dict(model_kwargs or {}), int_lists=False))


def make_potential(model, params, model_args=(), model_kwargs=None) -> Potential:
    """A NumPyro model or slt.Likelihood at the point `params`, reduced to a Potential."""
    _no_model_args_for_a_likelihood(model, model_args, model_kwargs)
    if isinstance(model, Likelihood):
        return from_likelihood(model, params)
    return from_numpyro(model, params, *model_inputs(model_args, model_kwargs))


def global_potential(model, model_args, model_kwargs, init_params, num_chains: int, seed: int):
    """(Potential, initial positions with a leading chain axis) for sampling over the model's prior.

    NumPyro models start each chain at its own prior draw unless `init_params` is given; a
    Likelihood needs `init_params` and a `log_prior` (the global posterior integrates over it).
    """
    _no_model_args_for_a_likelihood(model, model_args, model_kwargs)
    if isinstance(model, Likelihood):
        if model.log_prior is None:
            raise ValueError(
                "the global estimators integrate over the prior: give the Likelihood one, "
                "slt.Likelihood(nll_per_example, data, log_prior=lambda params: ...)"
            )
        if init_params is None:
            raise ValueError("a Likelihood has no prior to draw starting points from: pass init_params (a pytree like params)")
    if init_params is not None:
        pot = make_potential(model, init_params, model_args, model_kwargs)
        return pot, stack([pot.position] * num_chains)
    draws = prior_draws(model, *model_inputs(model_args, model_kwargs), num=num_chains, seed=seed)
    pots = [make_potential(model, d, model_args, model_kwargs) for d in draws]
    if pots[0].log_prior_fn is None:
        raise ValueError("the model has no prior over its latent sites")
    return pots[0], stack([p.position for p in pots])


def as_float64(tree):
    """Floating arrays of a pytree in float64 (None and non-float leaves unchanged)."""

    def cast(x):
        if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating):
            return jnp.asarray(x, jnp.float64)
        return x

    return jax.tree.map(cast, tree)
