"""Property-based tests of the NumPyro adapter: random data shapes, plate sizes, site shapes, supports.

For every generated model the Potential must agree with NumPyro itself: per-datum log-likelihoods
with numpyro.infer.util.log_likelihood, log prior + log-likelihood with -potential_energy (both in
unconstrained coordinates, Jacobian included), and a minibatch must be the full per-datum vector
restricted to its indices, so the minibatch mean is unbiased for the full mean.
"""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpyro.infer.util import log_likelihood, potential_energy

from slt_ppl.model.numpyro_adapter import from_numpyro, prior_draws


def make_model(event: int, loc_shape: tuple, support: str):
    """y_i (event dims `event`, or scalar) ~ Normal(x_i * scale_factor + sum(loc), s) inside the data plate."""

    def model(x, y=None):
        loc = numpyro.sample("loc", dist.Normal(0.0, 1.0).expand(loc_shape).to_event(len(loc_shape)))
        if support == "positive":
            s = numpyro.sample("s", dist.LogNormal(0.0, 0.5))
        elif support == "unit":
            s = 0.5 + numpyro.sample("s", dist.Beta(2.0, 2.0))
        else:  # simplex
            s = 0.5 + numpyro.sample("s", dist.Dirichlet(jnp.ones(3)))[0]
        shift = jnp.sum(loc)
        with numpyro.plate("data", x.shape[0]) as idx:
            mean = x[idx] * s + shift
            d = dist.Normal(mean, s)
            numpyro.sample("y", d.to_event(1) if event else d, obs=None if y is None else y[idx])

    return model


cases = st.tuples(
    st.integers(1, 25),  # n
    st.integers(0, 3),  # event size (0: scalar observations)
    st.sampled_from([(), (1,), (3,), (2, 2)]),  # latent site shape
    st.sampled_from(["positive", "unit", "simplex"]),
    st.integers(0, 2**16),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases)
def test_potential_agrees_with_numpyro(case):
    n, event, loc_shape, support, seed = case
    rng = np.random.default_rng(seed)
    shape = (n, event) if event else (n,)
    x = jnp.asarray(rng.normal(size=shape), jnp.float32)
    y = jnp.asarray(rng.normal(size=shape), jnp.float32)
    model = make_model(event, loc_shape, support)
    params = prior_draws(model, (x, y), seed=seed)[0]
    pot = from_numpyro(model, params, (x, y))
    assert pot.n == n
    ll = np.asarray(pot.loglik_fn(pot.position, jnp.arange(n)))
    assert ll.shape == (n,)
    ref = np.asarray(log_likelihood(model, {k: v[None] for k, v in params.items()}, x, y)["y"][0])
    ref = ref.reshape(n, -1).sum(axis=1)
    np.testing.assert_allclose(ll, ref, rtol=1e-5, atol=1e-5)
    # log prior (with Jacobian) + log-likelihood = -NumPyro's potential energy, unconstrained
    ours = float(pot.log_prior_fn(pot.position)) + float(ll.sum())
    theirs = -float(potential_energy(model, (x, y), {}, pot.position))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-4)
    # a minibatch is the full vector at its indices: the minibatch mean is unbiased for the full mean
    idx = jnp.asarray(rng.integers(0, n, size=min(n, 7)))
    np.testing.assert_allclose(np.asarray(pot.loglik_fn(pot.position, idx)), ll[np.asarray(idx)], rtol=1e-5, atol=1e-5)
    singles = [float(pot.loglik_fn(pot.position, jnp.array([i]))[0]) for i in range(min(n, 5))]
    np.testing.assert_allclose(singles, ll[: len(singles)], rtol=1e-5, atol=1e-5)
    # the constrained round trip returns the parameters
    back = pot.to_constrained(pot.position)
    for name in params:
        np.testing.assert_allclose(np.asarray(back[name]), np.asarray(params[name]), rtol=1e-4, atol=1e-5)


@settings(max_examples=10, deadline=None)
@given(st.integers(2, 40), st.integers(1, 8), st.integers(0, 1000))
def test_minibatch_mean_is_unbiased_over_uniform_batches(n, batch, seed):
    """E over a uniform index draw of the minibatch mean NLL = the full mean NLL (exact enumeration)."""
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.normal(size=n), jnp.float32)
    y = jnp.asarray(rng.normal(size=n), jnp.float32)
    model = make_model(0, (), "positive")
    pot = from_numpyro(model, prior_draws(model, (x, y), seed=seed)[0], (x, y))
    full = float(pot.mean_nll(pot.position, jnp.arange(n)))
    # with replacement, each index of a batch is uniform: average the one-index batches over all n
    per_index = jax.vmap(lambda i: pot.mean_nll(pot.position, i[None]))(jnp.arange(n))
    np.testing.assert_allclose(float(jnp.mean(per_index)), full, rtol=1e-5)
