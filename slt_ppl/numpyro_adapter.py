"""Reduce a NumPyro model to a `Potential` with effect handlers.

One model program is reinterpreted three ways: `substitute` puts w (constrained) into the
latent sites and data indices into the plate, `trace` records the observed sites, whose
per-datum log-probabilities are summed over every dim but the data plate's. Constrained
latent sites are moved to unconstrained coordinates with `biject_to(site.support)`.

Convention: the observed sites live inside one plate over the data, which the model indexes
its data with: `with numpyro.plate("data", n) as idx: numpyro.sample("y", ..., obs=y[idx])`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from numpyro import handlers
from numpyro.distributions import biject_to

from slt_ppl.potential import Potential, check_finite_tree

__all__ = ["from_numpyro", "prior_draws"]

_PLATE_HELP = (
    "put the observed sites inside one plate over the data and index the data with it: "
    "`with numpyro.plate('data', n) as idx: numpyro.sample('y', dist, obs=y[idx])`"
)


def _trace(model, args, kwargs, substitutions, rng_seed=0):
    seeded = handlers.seed(handlers.substitute(model, data=substitutions), rng_seed=rng_seed)
    return handlers.trace(seeded).get_trace(*args, **kwargs)


def _first_trace(model, args, kwargs):
    """Trace the model once with its prior; a model that cannot run on these arguments gets a clear error."""
    try:
        return _trace(model, args, kwargs, {})
    except AssertionError as err:  # NumPyro asserts on e.g. an empty plate
        if "size of plate" in str(err):
            raise ValueError("the data plate has size 0: the data are empty (n = 0); give at least one data point") from err
        raise ValueError(f"the model failed to run on model_args/model_kwargs: {err}") from err


def prior_draws(model, model_args=(), model_kwargs=None, num: int = 1, seed: int = 0) -> list[dict]:
    """`num` independent draws of the latent sites from the model's prior (dicts site -> value).

    Starting points for chains on the global posterior (WBIC, free energy), where there is no w*.
    """
    if not callable(model):
        raise TypeError(f"model must be a NumPyro model callable, got {type(model).__name__}")
    args, kwargs = tuple(model_args), dict(model_kwargs or {})
    check_finite_tree(args, "model_args")
    check_finite_tree(kwargs, "model_kwargs")
    first = _first_trace(model, args, kwargs)
    plate_name, _, _ = _data_plate(first)
    names = list(_latent_sites(first, plate_name))
    draws = []
    for i in range(num):
        tr = _trace(model, args, kwargs, {}, rng_seed=int(seed) * 7919 + i + 1)
        draws.append({name: tr[name]["value"] for name in names})
    return draws


def _data_plate(trace) -> tuple[str, int, int]:
    """Find the one plate every observed site lies in: (name, size n, dim)."""
    observed = [s for s in trace.values() if s["type"] == "sample" and s["is_observed"]]
    if not observed:
        raise ValueError(f"the model has no observed sample site (obs=...); {_PLATE_HELP}")
    common = None
    for site in observed:
        frames = {(f.name, f.size, f.dim) for f in site["cond_indep_stack"]}
        if not frames:
            raise ValueError(
                f"observed site '{site['name']}' is not inside a data plate; {_PLATE_HELP}"
            )
        common = frames if common is None else common & frames
    if not common:
        raise ValueError(
            f"the observed sites {[s['name'] for s in observed]} share no plate; {_PLATE_HELP}"
        )
    if len(common) > 1:
        named = [f for f in common if f[0] == "data"]
        if len(named) != 1:
            raise ValueError(
                f"the observed sites share several plates {sorted(f[0] for f in common)}; "
                "name the one over the data 'data'"
            )
        return named[0]
    return next(iter(common))


def _latent_sites(trace, plate_name):
    latent = {}
    for name, site in trace.items():
        if site["type"] != "sample" or site["is_observed"]:
            continue
        if any(f.name == plate_name for f in site["cond_indep_stack"]):
            raise ValueError(
                f"latent site '{name}' lies inside the data plate '{plate_name}': local latent "
                "variables are not supported; marginalise them out or observe them"
            )
        latent[name] = site
    return latent


def _check_params(params, latent) -> None:
    if not isinstance(params, dict):
        raise TypeError(
            f"params for a NumPyro model must be a dict site-name -> array, got {type(params).__name__}"
        )
    missing = sorted(set(latent) - set(params))
    extra = sorted(set(params) - set(latent))
    if missing:
        raise ValueError(f"params is missing latent site(s) {missing}; give a value for every latent site of the model")
    if extra:
        raise ValueError(
            f"params has site(s) {extra} that are not latent sites of the model (latent sites: {sorted(latent)})"
        )
    for name, site in latent.items():
        want, got = tuple(jnp.shape(site["value"])), tuple(np.shape(params[name]))
        if want != got:
            raise ValueError(f"params['{name}'] has shape {got} but the model's site '{name}' has shape {want}")
    check_finite_tree(params, "params")


def _per_datum(site, plate_dim: int) -> jax.Array:
    """log p of an observed site summed over every dim but the data plate's -> (batch,)."""
    lp = site["fn"].log_prob(site["value"])
    if lp.ndim < -plate_dim:
        raise ValueError(
            f"observed site '{site['name']}' has batch shape {lp.shape}, which lacks the data plate dim {plate_dim}"
        )
    lp = jnp.moveaxis(lp, plate_dim, 0)
    return lp.reshape(lp.shape[0], -1).sum(axis=1)


def from_numpyro(model, params: dict, model_args=(), model_kwargs=None) -> Potential:
    """Build the Potential of a NumPyro `model` at the constrained point `params` (w*)."""
    if not callable(model):
        raise TypeError(f"model must be a NumPyro model callable or slt.Likelihood, got {type(model).__name__}")
    args, kwargs = tuple(model_args), dict(model_kwargs or {})
    check_finite_tree(args, "model_args")
    check_finite_tree(kwargs, "model_kwargs")
    prior_trace = _first_trace(model, args, kwargs)
    plate_name, n, plate_dim = _data_plate(prior_trace)
    latent = _latent_sites(prior_trace, plate_name)
    if not latent:
        raise ValueError("the model has no latent sample site: there is nothing to estimate")
    _check_params(params, latent)

    transforms = {name: biject_to(site["fn"].support) for name, site in latent.items()}
    for name, t in transforms.items():
        value = jnp.asarray(params[name])
        if not bool(jnp.all(latent[name]["fn"].support(value))):
            raise ValueError(
                f"params['{name}'] lies outside the support of site '{name}' ({latent[name]['fn'].support})"
            )
    position = {name: transforms[name].inv(jnp.asarray(params[name], dtype=jnp.result_type(float))) for name in latent}
    observed_names = [s["name"] for s in prior_trace.values() if s["type"] == "sample" and s["is_observed"]]

    def to_constrained(position):
        return {name: transforms[name](u) for name, u in position.items()}

    def loglik_fn(position, idx):
        tr = _trace(model, args, kwargs, {**to_constrained(position), plate_name: idx})
        return sum(_per_datum(tr[name], plate_dim) for name in observed_names)

    def log_prior_fn(position):
        total = 0.0
        for name, u in position.items():
            t = transforms[name]
            w = t(u)
            total = total + jnp.sum(latent[name]["fn"].log_prob(w)) + jnp.sum(t.log_abs_det_jacobian(u, w))
        return total

    full = _trace(model, args, kwargs, {**params, plate_name: jnp.arange(n)})
    check_finite_tree({name: full[name]["value"] for name in observed_names}, "observed data ")
    for name in observed_names:
        site = full[name]
        value_shape = jnp.shape(site["value"])
        batch_shape = value_shape[: len(value_shape) - site["fn"].event_dim]
        if len(batch_shape) < -plate_dim or batch_shape[plate_dim] != n:
            raise ValueError(
                f"observed site '{name}' does not have one entry per datum along the data plate "
                f"(observed value shape {value_shape}, plate size {n}); index the data with the plate: obs=y[idx]"
            )
    ll = np.asarray(loglik_fn(position, jnp.arange(n)))
    if not np.all(np.isfinite(ll)):
        bad = int(np.sum(~np.isfinite(ll)))
        raise ValueError(
            f"the log-likelihood at params is NaN or infinite for {bad} of {n} data points; "
            "check the data for NaN/inf and that params lies where the model is defined"
        )
    return Potential(
        n=int(n),
        position=position,
        loglik_fn=loglik_fn,
        log_prior_fn=log_prior_fn,
        to_constrained=to_constrained,
        description=f"NumPyro model {getattr(model, '__name__', 'model')} (plate '{plate_name}', n={n})",
    )
