"""Data are arguments of the compiled programs: fresh arrays of the same shapes compile nothing new,
while anything the programs close over (static arguments, fixed leaves of params) keys them; and a
model that computes on all data outside its plate is told that each minibatch step costs a full pass."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

import slt_ppl as slt

N, D = 2_000, 6
KW = dict(num_draws=60, num_burnin=0, num_chains=2, batch_size=100, step_size=1e-4, progress_bar=False,
          diagnostic_every=None, seed=3)


@pytest.fixture
def backend_compiles():
    """The number of programs compiled or loaded from JAX's persistent cache so far (monitoring events),
    as a callable: a program found on disk from an earlier run counts as one, so the test means the same
    with the cache cold or warm."""
    events = []

    def on_duration(name, *args, **kwargs):
        if "backend_compile" in name:
            events.append(name)

    def on_event(name, *args, **kwargs):
        if name == "/jax/compilation_cache/cache_hits":
            events.append(name)

    jax.monitoring.register_event_duration_secs_listener(on_duration)
    jax.monitoring.register_event_listener(on_event)
    try:
        yield lambda: len(events)
    finally:
        jax.monitoring.unregister_event_duration_listener(on_duration)
        jax.monitoring.unregister_event_listener(on_event)


def linreg(X, y=None, sigma=1.0):
    w = numpyro.sample("w", dist.Normal(0, 1).expand([X.shape[1]]).to_event(1))
    with numpyro.plate("data", X.shape[0]) as idx:
        numpyro.sample("y", dist.Normal(X[idx] @ w, sigma), obs=y[idx])


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D)).astype(np.float32)
    w = rng.normal(size=D).astype(np.float32)
    return X, (X @ w + rng.normal(size=N)).astype(np.float32), {"w": w}


def _nll(params, batch):
    X, y = batch
    return 0.5 * (X @ params["w"] * params["scale"] - y) ** 2


def test_fresh_arrays_reuse_every_compiled_program(backend_compiles):
    X, y, w = _data()
    first = slt.estimate_llc(linreg, w, (X, y), **KW)
    before = backend_compiles()
    again = slt.estimate_llc(linreg, {"w": np.array(w["w"])}, (np.array(X), np.array(y)), **KW)
    assert backend_compiles() == before, "a call with fresh copies of the data compiled again"
    assert again.llc == pytest.approx(first.llc, rel=1e-6)
    # other data of the same shapes: the same programs, the numbers of that data
    X2, y2, w2 = _data(seed=1)
    other = slt.estimate_llc(linreg, w2, (X2, y2), **KW)
    assert backend_compiles() == before
    assert other.llc != pytest.approx(first.llc, rel=1e-3)
    # a static argument of the model is part of what was compiled: a new value compiles anew and counts
    wide = slt.estimate_llc(linreg, w, (X, y, 2.0), **KW)
    assert backend_compiles() > before
    assert wide.llc != pytest.approx(first.llc, rel=1e-2)


def test_new_likelihood_and_restricted_runs_reuse_compiled_programs(backend_compiles):
    X, y, w = _data()
    params = {"w": w["w"], "scale": np.float32(1.0)}
    first = slt.estimate_llc(slt.Likelihood(_nll, (X, y)), params, **KW, restrict=["w"])
    before = backend_compiles()
    again = slt.estimate_llc(slt.Likelihood(_nll, (np.array(X), np.array(y))), dict(params), **KW, restrict=["w"])
    assert backend_compiles() == before, "a new Likelihood over fresh arrays compiled again"
    assert again.llc == pytest.approx(first.llc, rel=1e-6)
    # the fixed (restricted-out) coordinates are data too: a new value is used, not the compiled one
    scaled = slt.estimate_llc(slt.Likelihood(_nll, (X, y)), {**params, "scale": np.float32(1.5)}, **KW,
                              restrict=["w"])
    assert backend_compiles() == before
    assert scaled.llc != pytest.approx(first.llc, rel=1e-2)


def test_integer_leaves_of_params_key_the_compiled_program():
    """An integer leaf is held fixed (closed over): a different value must not reuse the old program's."""
    X, y, w = _data()

    def nll(params, batch):
        Xb, yb = batch
        return 0.5 * (Xb @ params["w"] * params["k"] - yb) ** 2

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        one = slt.estimate_llc(slt.Likelihood(nll, (X, y)), {"w": w["w"], "k": 1}, **KW)
        two = slt.estimate_llc(slt.Likelihood(nll, (X, y)), {"w": w["w"], "k": 2}, **KW)
    ref = slt.estimate_llc(slt.Likelihood(lambda p, b: nll({**p, "k": 2}, b), (X, y)), {"w": w["w"]}, **KW)
    assert two.llc == pytest.approx(ref.llc, rel=1e-5)
    assert one.llc != pytest.approx(two.llc, rel=1e-2)


def _outside(X, y=None):
    w = numpyro.sample("w", dist.Normal(0, 1).expand([X.shape[1]]).to_event(1))
    mu = jnp.tanh(X @ w)  # all n data, every step
    with numpyro.plate("data", X.shape[0]) as idx:
        numpyro.sample("y", dist.Normal(mu[idx], 1.0), obs=y[idx])


def _inside(X, y=None):
    w = numpyro.sample("w", dist.Normal(0, 1).expand([X.shape[1]]).to_event(1))
    with numpyro.plate("data", X.shape[0]) as idx:
        numpyro.sample("y", dist.Normal(jnp.tanh(X[idx] @ w), 1.0), obs=y[idx])


def test_computing_outside_the_plate_is_detected_and_named():
    from slt_ppl.model import make_potential
    from slt_ppl.model.minibatch_cost import minibatch_cost

    X, _, w = _data()
    y = np.tanh(X @ w["w"]) + np.random.default_rng(1).normal(size=N).astype(np.float32)
    with pytest.warns(UserWarning, match=r"costs \d+% of a full-data pass.*outside the data plate.*X\[idx\]"):
        slt.estimate_llc(_outside, w, (X, y), **KW)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # the same model indexed inside its plate: no warning
        slt.estimate_llc(_inside, w, (X, y), **KW)
    inside = minibatch_cost(make_potential(_inside, {"w": w["w"]}, (X, y)), 100)
    outside = minibatch_cost(make_potential(_outside, {"w": w["w"]}, (X, y)), 100)
    assert inside.ratio == pytest.approx(100 / N, rel=0.5)  # a minibatch costs its share
    assert outside.ratio > 0.5


def test_an_nll_made_anew_each_call_is_named_in_a_warning():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D)).astype(np.float32)
    y = X @ rng.normal(size=D).astype(np.float32)

    def make_nll(scale):  # a factory: a new closure (the same code) on every call
        return lambda w, batch: 0.5 * scale * (batch[1] - batch[0] @ w) ** 2

    w = jnp.zeros(D)
    one = make_nll(1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):  # the same function object: reused, no warning
            slt.estimate_llc(slt.Likelihood(one, (X, y)), w, **KW)
    assert not [c for c in caught if "new function object" in str(c.message)]
    with pytest.warns(UserWarning, match="new function object for the 3rd time.*functools.lru_cache"):
        for _ in range(3):
            slt.estimate_llc(slt.Likelihood(make_nll(1.0), (X, y)), w, **KW)
