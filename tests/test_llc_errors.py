"""Bad arguments to estimate_llc are refused with an error naming them; divergence is caught."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from slt_ppl import models
import slt_ppl as slt
from slt_ppl.samplers import SamplingSettings, run_chains


@pytest.fixture(scope="module")
def small_case():
    return models.linear_regression.make(n=200, d=2, seed=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"nbeta": 0.0}, "nbeta must be a finite number > 0"),
        ({"nbeta": -3.0}, "nbeta"),
        ({"nbeta": float("nan")}, "nbeta"),
        ({"step_size": 0.0}, "step_size must be a finite number > 0"),
        ({"step_size": -1e-3}, "step_size"),
        ({"step_size": "big"}, "step_size"),
        ({"num_chains": 0}, "num_chains must be a positive integer"),
        ({"num_chains": 2.5}, "num_chains"),
        ({"num_draws": 0}, "num_draws"),
        ({"num_burnin": -1}, "num_burnin"),
        ({"localization": -1.0}, "localization"),
        ({"sampler": "langevin9000"}, "unknown sampler 'langevin9000'; choose one of"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 10_000}, "batch_size=10000 exceeds the data size n=200"),
        ({"seed": "zero"}, "seed"),
    ],
)
def test_bad_arguments_are_named(small_case, kwargs, match):
    kwargs = {"num_draws": 10, **kwargs}
    with pytest.raises(ValueError, match=match):
        slt.estimate_llc(**small_case.llc_kwargs(), **kwargs)


def test_all_chains_diverging_raises_with_advice(small_case):
    with pytest.raises(RuntimeError, match="all 4 chains diverged.*smaller step_size"):
        slt.estimate_llc(**small_case.llc_kwargs(), step_size=10.0, num_draws=200)


def test_runner_freezes_and_reports_a_divergent_chain():
    """Chain 2 produces NaN at step 7: it is frozen, flagged, and its later stats are NaN."""

    def step_fn(key, state, t):
        bad = (state["id"] == 2) & (t == 7)
        x = jnp.where(bad, jnp.nan, state["x"] + 1.0)
        return {"id": state["id"], "x": x}, {"x": x}

    init = {"id": jnp.arange(4.0), "x": jnp.zeros(4)}
    run = run_chains(step_fn, init, jax.random.split(jax.random.key(0), 4), 20, SamplingSettings(chunk_size=6))
    assert run.diverged.tolist() == [False, False, True, False]
    assert run.diverged_at.tolist() == [-1, -1, 7, -1]
    assert np.all(np.isfinite(run.stats["x"][[0, 1, 3]]))
    assert np.all(np.isnan(run.stats["x"][2, 7:])) and np.all(np.isfinite(run.stats["x"][2, :7]))
    assert float(run.state["x"][2]) == 7.0  # frozen at the last good state
    assert run.stats["x"].shape == (4, 20)


def test_partly_divergent_run_warns_counts_and_leaves_chains_out(small_case):
    """A likelihood that turns NaN past w > w* + 0.25 in its first coordinate diverges some chains."""
    X, y, sigma = small_case.model_args
    w_star = small_case.params["w"]

    def nll(w, batch):
        xb, yb = batch
        value = 0.5 * ((yb - xb @ w) / sigma) ** 2
        return jnp.where(w[0] > w_star[0] + 0.25, jnp.nan, value)

    lik = slt.Likelihood(nll, (X, y))
    with pytest.warns(RuntimeWarning, match="chains diverged"):
        res = slt.estimate_llc(lik, w_star, num_chains=8, step_size=1e-4, num_draws=600, seed=1)
    # chains thrown out in the faster burn-in are rerun with a gentler one (said in the diagnosis); those
    # that still diverge are counted and left out
    assert any("diverged during the burn-in" in reason for reason in res.diagnosis), res.diagnosis
    assert 1 <= res.num_diverged < 8
    assert res.diverged_at[res.diverged_chains].min() > 0
    assert res.diverged_chains.sum() == res.num_diverged
    kept = res.llc_per_chain[~res.diverged_chains]
    assert np.isfinite(res.llc) and res.llc == pytest.approx(np.mean(kept))
    assert np.all(np.isnan(res.llc_per_chain[res.diverged_chains]))


def test_single_chain_warns_that_its_spread_is_undefined(small_case):
    with pytest.warns(RuntimeWarning, match="llc_std .* is undefined"):
        res = slt.estimate_llc(**small_case.llc_kwargs(), num_chains=1, num_draws=100, step_size=1e-4)
    assert np.isnan(res.llc_std) and np.isfinite(res.llc) and np.isfinite(res.mcse)
