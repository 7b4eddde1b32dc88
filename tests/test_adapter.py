"""The model adapter: plate and sites found, per-datum log-likelihoods right, bad models refused."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.infer.util import log_likelihood

from slt_ppl import models
import slt_ppl as slt
from slt_ppl.model import make_potential


def _noise_model(X, y=None):
    w = numpyro.sample("w", dist.Normal(0, 1).expand([X.shape[1]]).to_event(1))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    with numpyro.plate("data", X.shape[0]) as idx:
        numpyro.sample("y", dist.Normal(X[idx] @ w, sigma), obs=y[idx])


@pytest.fixture(scope="module")
def regression_data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 3)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0, 0.5]) + 0.7 * rng.normal(size=50)).astype(np.float32)
    return jnp.asarray(X), jnp.asarray(y)


def test_numpyro_per_datum_loglik_matches_numpyro(regression_data):
    X, y = regression_data
    params = {"w": jnp.array([1.0, -2.0, 0.5]), "sigma": jnp.array(0.7)}
    pot = make_potential(_noise_model, params, (X, y))
    assert pot.n == 50 and pot.num_params == 4
    ours = pot.loglik_fn(pot.position, jnp.arange(50))
    ref = log_likelihood(_noise_model, {k: v[None] for k, v in params.items()}, X, y)["y"][0]
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)
    # sigma is positive: sampled in unconstrained (log) coordinates, mapped back exactly
    assert float(pot.position["sigma"]) == pytest.approx(np.log(0.7), rel=1e-5)
    back = pot.to_constrained(pot.position)
    assert float(back["sigma"]) == pytest.approx(0.7, rel=1e-5)


def test_minibatch_loglik_is_a_subset_of_the_full_one(regression_data):
    X, y = regression_data
    pot = make_potential(_noise_model, {"w": jnp.ones(3), "sigma": jnp.array(1.3)}, (X, y))
    full = pot.loglik_fn(pot.position, jnp.arange(50))
    idx = jnp.array([3, 7, 7, 49])
    np.testing.assert_allclose(pot.loglik_fn(pot.position, idx), full[idx], rtol=1e-6)
    # averaging the minibatch mean NLL over all batches of a partition gives the full mean: unbiased
    parts = jnp.arange(50).reshape(5, 10)
    mean_of_batches = np.mean([float(pot.mean_nll(pot.position, p)) for p in parts])
    assert mean_of_batches == pytest.approx(float(pot.mean_nll(pot.position, jnp.arange(50))), rel=1e-6)


def test_multivariate_site_sums_over_event_and_extra_dims():
    case = models.rrr.make(M=3, H=2, N=4, r=1, n=20, seed=3)
    pot = make_potential(case.model, case.params, case.model_args)
    ll = pot.loglik_fn(pot.position, jnp.arange(20))
    X, y = case.model_args[0], case.model_args[1]
    mean = X @ case.params["A"].T @ case.params["B"].T
    ref = jax.scipy.stats.norm.logpdf(y, mean, 1.0).sum(axis=1)
    np.testing.assert_allclose(ll, ref, rtol=1e-5)


def test_likelihood_path_matches_numpyro_path():
    case = models.linear_regression.make(n=200, d=3, seed=2)
    X, y, sigma = case.model_args

    def nll(w, batch):
        xb, yb = batch
        return -jax.scipy.stats.norm.logpdf(yb, xb @ w, sigma)

    lik = slt.Likelihood(nll, (X, y))
    a = make_potential(lik, case.params["w"])
    b = make_potential(case.model, case.params, case.model_args)
    idx = jnp.arange(200)
    np.testing.assert_allclose(a.loglik_fn(a.position, idx), b.loglik_fn(b.position, idx), rtol=1e-5)


def _no_plate(X, y):
    w = numpyro.sample("w", dist.Normal(0, 1).expand([X.shape[1]]).to_event(1))
    numpyro.sample("y", dist.Normal(X @ w, 1.0).to_event(1), obs=y)


def _local_latent(X, y):
    w = numpyro.sample("w", dist.Normal(0, 1).expand([X.shape[1]]).to_event(1))
    with numpyro.plate("data", X.shape[0]) as idx:
        z = numpyro.sample("z", dist.Normal(0, 1))
        numpyro.sample("y", dist.Normal(X[idx] @ w + z, 1.0), obs=y[idx])


def _unindexed(X, y):
    w = numpyro.sample("w", dist.Normal(0, 1).expand([X.shape[1]]).to_event(1))
    with numpyro.plate("data", X.shape[0]):
        numpyro.sample("y", dist.Normal(X[:1] @ w, 1.0), obs=y[:1])


@pytest.mark.parametrize(
    "model, params, fix, match",
    [
        (_noise_model, {"w": jnp.ones(3)}, None, r"missing latent site\(s\) \['sigma'\]"),
        (_noise_model, {"w": jnp.ones(3), "sigma": 1.0, "tau": 1.0}, None, r"\['tau'\] that are not latent"),
        (_noise_model, {"w": jnp.ones(4), "sigma": 1.0}, None, r"params\['w'\] has shape \(4,\)"),
        (_noise_model, {"w": jnp.ones(3), "sigma": -1.0}, None, "outside the support"),
        (_noise_model, {"w": jnp.array([1.0, np.nan, 0.0]), "sigma": 1.0}, None, "params.*NaN"),
        (_noise_model, {"w": jnp.ones(3), "sigma": 1.0}, "nan", "NaN or infinite"),
        (_noise_model, {"w": jnp.ones(3), "sigma": 1.0}, "inf", "NaN or infinite"),
        (_no_plate, {"w": jnp.ones(3)}, None, "not inside a data plate"),
        (_local_latent, {"w": jnp.ones(3)}, None, "local latent"),
        (_unindexed, {"w": jnp.ones(3)}, None, "index the data with the plate"),
        (_noise_model, [1.0, 2.0], None, "must be a dict"),
    ],
)
def test_bad_models_and_params_are_named(regression_data, model, params, fix, match):
    X, y = regression_data
    if fix == "nan":
        y = y.at[4].set(jnp.nan)
    elif fix == "inf":
        X = X.at[2, 1].set(jnp.inf)
    with pytest.raises((ValueError, TypeError), match=match):
        make_potential(model, params, (X, y))


@pytest.mark.parametrize(
    "nll, data, match",
    [
        (lambda p, b: b[0] * p, (jnp.ones(5), jnp.ones(4)), "disagree on the number of examples"),
        (lambda p, b: b * p, jnp.array([1.0, jnp.nan]), "NaN or infinite"),
        (lambda p, b: b * p, jnp.zeros((0,)), "n = 0"),
        (lambda p, b: jnp.sum(b * p), jnp.ones(5), r"one value per example"),
        ("not callable", jnp.ones(5), "callable"),
    ],
)
def test_bad_likelihoods_are_named(nll, data, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make_potential(slt.Likelihood(nll, data), jnp.array(1.0))


def _hierarchical(X, y=None):
    tau = numpyro.sample("tau", dist.HalfNormal(1.0))
    w = numpyro.sample("w", dist.Normal(0.0, tau).expand([X.shape[1]]).to_event(1))
    with numpyro.plate("data", X.shape[0]) as idx:
        numpyro.sample("y", dist.Normal(X[idx] @ w, 1.0), obs=y[idx])


def test_log_prior_follows_the_current_value_of_a_parent_site(regression_data):
    """A prior whose scale is another latent site is evaluated at that site's current value
    (NumPyro's potential energy is the reference): log prior + log lik = -potential_energy."""
    from numpyro.infer.util import potential_energy

    X, y = regression_data
    pot = make_potential(_hierarchical, {"tau": jnp.array(0.7), "w": jnp.array([0.3, -0.2, 0.1])}, (X, y))
    for tau, w in ((0.7, [0.3, -0.2, 0.1]), (2.5, [1.0, 0.5, -1.5]), (0.05, [0.01, 0.0, -0.02])):
        position = {"tau": jnp.log(jnp.array(tau)), "w": jnp.array(w)}
        ours = pot.log_prior_fn(position) + jnp.sum(pot.loglik_fn(position, jnp.arange(pot.n)))
        ref = -potential_energy(_hierarchical, (X, y), {}, position)
        np.testing.assert_allclose(float(ours), float(ref), rtol=1e-5)
        np.testing.assert_allclose(float(pot.to_constrained(position)["tau"]), tau, rtol=1e-6)


def test_building_a_potential_compiles_one_program(regression_data):
    """The model is traced abstractly and inspected in one jitted call, not op by op (each eager op
    compiles its own program: that used to be most of the first call's time)."""
    from jax import monitoring

    X, y = regression_data
    compiles = []
    active = [True]
    monitoring.register_event_duration_secs_listener(
        lambda event, duration, **kw: compiles.append(event)
        if active[0] and event == "/jax/core/compile/backend_compile_duration" else None)
    try:
        Xn, yn = X[:37] + 0.0, y[:37] + 0.0  # shapes no earlier test compiled for
        compiles.clear()
        make_potential(_noise_model, {"w": jnp.zeros(3), "sigma": jnp.array(1.0)}, (Xn, yn))
    finally:
        active[0] = False
    assert len(compiles) == 1, compiles
