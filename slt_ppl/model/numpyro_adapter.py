"""Reduce a NumPyro model to a `Potential` with effect handlers.

One model program is reinterpreted three ways: `substitute` puts w (constrained) into the
latent sites and data indices into the plate, `trace` records the observed sites, whose
per-datum log-probabilities are summed over every dim but the data plate's. Constrained
latent sites are moved to unconstrained coordinates with `biject_to(site.support)`.

Convention: the observed sites live inside one plate over the data, which the model indexes
its data with: `with numpyro.plate("data", n) as idx: numpyro.sample("y", ..., obs=y[idx])`.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpyro import handlers
from numpyro.distributions import biject_to

from slt_ppl.caching import LRUCache
from slt_ppl.model.potential import Potential, check_finite_tree, static_fingerprint

__all__ = ["from_numpyro", "prior_draws"]

_PLATE_HELP = (
    "put the observed sites inside one plate over the data and index the data with it: "
    "`with numpyro.plate('data', n) as idx: numpyro.sample('y', dist, obs=y[idx])`"
)


def _trace(model, args, kwargs, substitutions, rng_seed=0):
    seeded = handlers.seed(handlers.substitute(model, data=substitutions), rng_seed=rng_seed)
    with warnings.catch_warnings():  # substituting a minibatch into a subsampled plate is what we mean
        warnings.filterwarnings("ignore", message="subsample_size does not match")
        return handlers.trace(seeded).get_trace(*args, **kwargs)


def _first_trace(model, args, kwargs):
    """Trace the model once with its prior; a model that cannot run on these arguments gets a clear error."""
    try:
        return _trace(model, args, kwargs, {})
    except AssertionError as err:  # NumPyro asserts on e.g. an empty plate
        if "size of plate" in str(err):
            raise ValueError("the data plate has size 0: the data are empty (n = 0); give at least one data point") from err
        raise ValueError(f"the model failed to run on model_args/model_kwargs: {err}") from err


def _checked_inputs(model, model_args, model_kwargs) -> tuple[tuple, dict]:
    """(args, kwargs) of a NumPyro model call, refused with a clear error when not callable or not finite."""
    if not callable(model):
        raise TypeError(f"model must be a NumPyro model callable or slt.Likelihood, got {type(model).__name__}")
    args, kwargs = tuple(model_args), dict(model_kwargs or {})
    check_finite_tree(args, "model_args")
    check_finite_tree(kwargs, "model_kwargs")
    return args, kwargs


def prior_draws(model, model_args=(), model_kwargs=None, num: int = 1, seed: int = 0) -> list[dict]:
    """`num` independent draws of the latent sites from the model's prior (dicts site -> value).

    Starting points for chains on the global posterior (WBIC, free energy), where there is no w*.
    """
    args, kwargs = _checked_inputs(model, model_args, model_kwargs)
    names = list(_reduce_cached(model, args, kwargs)[0].latent)
    draws = []
    for i in range(num):
        tr = _trace(model, args, kwargs, {}, rng_seed=int(seed) * 7919 + i + 1)
        draws.append({name: tr[name]["value"] for name in names})
    return draws


def _data_plate(sites) -> tuple[str, int, int]:
    """Find the one plate every observed site lies in: (name, size n, dim)."""
    observed = [s for s in sites.values() if s.type == "sample" and s.is_observed]
    if not observed:
        raise ValueError(f"the model has no observed sample site (obs=...); {_PLATE_HELP}")
    common = None
    for site in observed:
        frames = set(site.frames)
        if not frames and site.fn_name == "Unit":
            raise ValueError(
                f"numpyro.factor('{site.name}', ...) lies outside the data plate: slt_ppl reads the likelihood from the "
                "observed sites of the data plate, one term per datum. A per-datum factor goes inside the plate "
                "(shape (batch,), indexed with the plate's idx); a penalty on the parameters belongs in their prior "
                "(a sample site's distribution), which the LLC replaces by the localization"
            )
        if not frames:
            raise ValueError(
                f"observed site '{site.name}' is not inside a data plate; {_PLATE_HELP}"
            )
        common = frames if common is None else common & frames
    if not common:
        raise ValueError(
            f"the observed sites {[s.name for s in observed]} share no plate; {_PLATE_HELP}"
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


def _latent_sites(sites, plate_name):
    latent = {}
    for name, site in sites.items():
        if site.type != "sample" or site.is_observed:
            continue
        if any(f[0] == plate_name for f in site.frames):
            raise ValueError(
                f"latent site '{name}' lies inside the data plate '{plate_name}': local latent "
                "variables are not supported; marginalise them out or observe them"
            )
        if site.is_discrete:
            raise ValueError(
                f"latent site '{name}' is discrete ({site.fn_name}): slt_ppl samples continuous parameters by "
                "gradients. Marginalise it out in the likelihood (sum the mixture over its values, e.g. with "
                "dist.MixtureSameFamily), or fix it: pass its value as data instead of sampling it"
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
        want, got = site.shape, tuple(np.shape(params[name]))
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


class _Site(NamedTuple):
    """What the adapter needs to know of a site, free of any array (so it can come from an abstract trace)."""

    name: str
    type: str
    is_observed: bool
    frames: frozenset  # {(plate name, size, dim)}
    shape: tuple  # shape of the site's value
    event_dim: int
    fn_name: str = ""  # the distribution's class name ("Unit" for numpyro.factor)
    is_discrete: bool = False
    plate_args: tuple = ()  # a plate site's (size, subsample_size)


def _abstract_trace(model, args, kwargs) -> dict:
    """The model's sites, traced once under jax.eval_shape: shapes and plates without compiling or computing.

    An eager first run would compile every primitive it meets one by one (tens of ms each on a CPU),
    which used to dominate the first call of estimate_llc.
    """
    sites: dict = {}

    def run():
        tr = _first_trace(model, args, kwargs)
        for name, site in tr.items():
            fn = site.get("fn")
            sites[name] = _Site(
                name=name,
                type=site["type"],
                is_observed=bool(site.get("is_observed", False)),
                frames=frozenset((f.name, f.size, f.dim) for f in site.get("cond_indep_stack", ())),
                shape=tuple(jnp.shape(site["value"])) if site["type"] == "sample" else (),
                event_dim=int(getattr(fn, "event_dim", 0)) if fn is not None else 0,
                fn_name=type(fn).__name__ if fn is not None else "",
                is_discrete=bool(getattr(getattr(fn, "support", None), "is_discrete", False)),
                plate_args=tuple(int(a) for a in site.get("args", ()) if a is not None) if site["type"] == "plate" else (),
            )
        return jnp.zeros(())

    jax.eval_shape(run)
    return sites


def _constrain(model, position):
    """`model` with each latent site set to biject_to(its support)(position[site]) (NumPyro's own reparam).

    The support is read from the site as the model runs, so priors whose support or parameters
    depend on other latent sites (hierarchical models) are handled, and no support leaves a trace.
    """

    def substitute_fn(msg):
        if msg["type"] == "sample" and not msg["is_observed"] and msg["name"] in position:
            return biject_to(msg["fn"].support)(position[msg["name"]])
        return None

    return handlers.substitute(model, substitute_fn=substitute_fn)


class _Reduced(NamedTuple):
    """A NumPyro model reduced once for data of given shapes: what every Potential built on it shares.

    Every function takes the data (the array leaves of the model's arguments) as its last argument,
    so one reduction (and every program compiled from it) serves any arrays of those shapes.
    """

    n: int
    plate_name: str
    latent: dict
    loglik_fn: Any  # (position, idx, data) -> per-datum log-likelihoods
    log_prior_fn: Any  # (position, data) -> log prior (Jacobian included)
    to_constrained: Any  # (position, data) -> constrained params
    inspect: Any  # jitted: (constrained params, data) -> (position, in-support flags, data NaN counts, log-liks)
    subsample_size: int | None = None  # the plate's subsample_size, when it has one below n
    cache_id: Any = None  # names the model and its static arguments (Potential.cache_id)


def _split_data(args, kwargs):
    """(data, rebuild, static key): the array leaves of the model's arguments (its data, passed to the compiled
    programs), (data) -> (args, kwargs), and a hashable name of everything else (structure, static leaves)."""
    leaves, treedef = jax.tree.flatten((args, kwargs))
    is_data = [isinstance(x, (jax.Array, np.ndarray)) for x in leaves]
    data = [x for x, d in zip(leaves, is_data) if d]
    statics = [x for x, d in zip(leaves, is_data) if not d]

    def rebuild(data):
        it, st = iter(data), iter(statics)
        return jax.tree.unflatten(treedef, [next(it) if d else next(st) for d in is_data])

    shapes = tuple((tuple(np.shape(x)), str(x.dtype)) for x in data)
    return data, rebuild, (str(treedef), tuple(is_data), static_fingerprint(statics), shapes), statics


_REDUCED = LRUCache(8)  # (model, structure, static arguments, data shapes) -> _Reduced; entries keep the model alive


def _reduce_cached(model, args, kwargs) -> tuple[_Reduced, list]:
    """(`_reduce`, this call's data), the reduction reused for the same model and static arguments with data
    of the same shapes, new arrays or not (no retrace, no recompile)."""
    data, rebuild, static_key, statics = _split_data(args, kwargs)
    key = (id(model), static_key)
    red = _REDUCED.get_or_make(key, lambda: _reduce(model, args, kwargs, rebuild, key), refs=(model, statics))
    return red, data


def _reduce(model, args, kwargs, rebuild, cache_id) -> _Reduced:
    sites = _abstract_trace(model, args, kwargs)
    plate_name, traced_size, plate_dim = _data_plate(sites)
    # numpyro.plate("data", n, subsample_size=b): the trace's frames have size b, the plate site knows n
    plate_args = sites[plate_name].plate_args if plate_name in sites else ()
    n = plate_args[0] if plate_args else traced_size
    subsample_size = plate_args[1] if len(plate_args) > 1 and plate_args[1] < n else None
    latent = _latent_sites(sites, plate_name)
    if not latent:
        raise ValueError("the model has no latent sample site: there is nothing to estimate")
    observed_names = [s.name for s in sites.values() if s.type == "sample" and s.is_observed]
    for name in observed_names:
        shape, event_dim = sites[name].shape, sites[name].event_dim
        batch_shape = shape[: len(shape) - event_dim]
        if len(batch_shape) < -plate_dim or batch_shape[plate_dim] != traced_size:
            raise ValueError(
                f"observed site '{name}' does not have one entry per datum along the data plate "
                f"(observed value shape {shape}, plate size {traced_size}); index the data with the plate: obs=y[idx]"
            )
    one = min(n, 1)  # the prior and the constraints need no data: trace them on one datum

    def loglik_fn(position, idx, data):
        a, k = rebuild(data)
        tr = _trace(_constrain(model, position), a, k, {plate_name: idx})
        return sum(_per_datum(tr[name], plate_dim) for name in observed_names)

    def log_prior_fn(position, data):
        a, k = rebuild(data)
        tr = _trace(_constrain(model, position), a, k, {plate_name: jnp.arange(one)})
        total = 0.0
        for name, u in position.items():
            site = tr[name]
            w = site["value"]
            jac = biject_to(site["fn"].support).log_abs_det_jacobian(u, w)
            total = total + jnp.sum(site["fn"].log_prob(w)) + jnp.sum(jac)
        return total

    def to_constrained(position, data):
        a, k = rebuild(data)
        tr = _trace(_constrain(model, position), a, k, {plate_name: jnp.arange(one)})
        return {name: tr[name]["value"] for name in position}

    @jax.jit
    def inspect(params, data):
        """w* in unconstrained coordinates, its support check, NaN counts of the data, per-datum log-liks at w*."""
        a, k = rebuild(data)
        full = _trace(model, a, k, {**params, plate_name: jnp.arange(n)})
        position, inside = {}, {}
        for name in latent:
            site = full[name]
            position[name] = biject_to(site["fn"].support).inv(site["value"])
            inside[name] = jnp.all(site["fn"].support(site["value"]))
        bad = {name: jnp.sum(~jnp.isfinite(full[name]["value"])) for name in observed_names
               if jnp.issubdtype(jnp.result_type(full[name]["value"]), jnp.inexact)}
        return position, inside, bad, loglik_fn(position, jnp.arange(n), data)

    data = _split_data(args, kwargs)[0]
    _check_minibatch_indexing(model, args, kwargs, latent, lambda p, idx: loglik_fn(p, idx, data), n)
    return _Reduced(int(n), plate_name, latent, loglik_fn, log_prior_fn, to_constrained, inspect, subsample_size,
                    ("numpyro", cache_id))


def _check_minibatch_indexing(model, args, kwargs, latent, loglik_fn, n: int) -> None:
    """Trace the log-likelihood abstractly on a minibatch of 2: a model whose data are not indexed by the
    plate (obs=y instead of obs=y[idx]) fails there, with NumPyro's broadcasting error; say what is wrong."""
    if n < 3:
        return

    def probe():
        tr = _trace(model, args, kwargs, {})
        position = {name: biject_to(tr[name]["fn"].support).inv(tr[name]["value"]) for name in latent}
        return loglik_fn(position, jnp.arange(2))

    try:
        out = jax.eval_shape(probe)
    except (ValueError, TypeError, IndexError) as err:
        raise ValueError(
            f"the model fails on a minibatch of the data plate ({type(err).__name__}: {str(err)[:200]}); the data "
            f"must be indexed with the plate's indices so that a minibatch selects its rows: {_PLATE_HELP}"
        ) from None
    if out.shape != (2,):
        raise ValueError(f"on a minibatch of 2 the model's per-datum log-likelihood has shape {out.shape}, not (2,); "
                         f"{_PLATE_HELP}")


def from_numpyro(model, params: dict, model_args=(), model_kwargs=None) -> Potential:
    """Build the Potential of a NumPyro `model` at the constrained point `params` (w*)."""
    args, kwargs = _checked_inputs(model, model_args, model_kwargs)
    red, data = _reduce_cached(model, args, kwargs)
    _check_params(params, red.latent)
    n, plate_name = red.n, red.plate_name
    constrained = {name: jnp.asarray(params[name], dtype=jnp.result_type(float)) for name in red.latent}
    position, inside, bad, ll = red.inspect(constrained, data)
    for name, ok in inside.items():
        if not bool(ok):
            raise ValueError(f"params['{name}'] lies outside the support of site '{name}'")
    for name, count in bad.items():
        if int(count):
            raise ValueError(
                f"observed data ['{name}'] contains {int(count)} NaN or infinite value(s); "
                "remove or impute them before estimating"
            )
    ll = np.asarray(ll)
    if not np.all(np.isfinite(ll)):
        count = int(np.sum(~np.isfinite(ll)))
        raise ValueError(
            f"the log-likelihood at params is NaN or infinite for {count} of {n} data points; "
            "check the data for NaN/inf and that params lies where the model is defined"
        )
    return Potential(
        n=int(n),
        position=position,
        loglik_fn=lambda position, idx: red.loglik_fn(position, idx, data),
        log_prior_fn=lambda position: red.log_prior_fn(position, data),
        to_constrained=lambda position: red.to_constrained(position, data),
        description=f"NumPyro model {getattr(model, '__name__', 'model')} (plate '{plate_name}', n={n})",
        loglik_at_position=jnp.asarray(ll, dtype=jnp.result_type(float)),
        subsample_size=red.subsample_size,
        loglik_data_fn=red.loglik_fn,
        data=data,
        cache_id=red.cache_id,
        cache_refs=(model, red),
    )
