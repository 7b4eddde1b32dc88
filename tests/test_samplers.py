"""Every sampler, step_size="auto" and otherwise defaults, against exact finite-n values.

Targets: normal crossing K = c w1^2 w2^2 (lambda 1/2, m 2) has the exact finite-n value n beta E[K]
by quadrature (0.36 at n = 2000, n beta = 263; 0.38 at n beta = 1086); reduced-rank regression (3,2,3), r = 1 (n = 2000) has
lambda = 7/2 with m = 2, whose finite-n value is about lambda - (m-1)/log(n beta) = 3.32
(about lambda - (m - 1)/log(n beta), derived; the quadrature values are in slt_ppl.theory).
Tolerance: 15% of the target plus 3 MCSE. The 15% covers discretisation bias of the unadjusted
kernels (step from kappa = 0.1: ~2.5% per stiff direction, more for minibatch noise), the
approximate m = 2 correction (~4%) and the MCSE's own underestimate for slowly mixing chains;
3 MCSE is the Monte-Carlo error at 3 sigma. MALA/HMC/NUTS are exact up to Monte-Carlo error.
"""

import numpy as np
import pytest

from slt_ppl import models
import slt_ppl as slt
from slt_ppl.samplers import SAMPLERS

CASES = {
    "normal_crossing": lambda: models.normal_crossing.make((1, 1), n=2000),  # exact at any n: the small one is quick
    "rrr": lambda: models.rrr.make(3, 2, 3, 1, n=2000),
}


def _target(case, res):
    if case.finite_n is not None:
        return case.finite_n(res.nbeta, res.localization)
    lam, m = float(case.coefficient.lam), case.coefficient.m
    return lam - (m - 1) / np.log(res.nbeta)


@pytest.mark.parametrize("case_name", list(CASES))
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_each_sampler_agrees_with_the_finite_n_value(sampler, case_name):
    case = CASES[case_name]()
    # the Metropolis kernels' finite-n check is a second run of the same length (tests/test_temperature_check.py
    # tests it); the main chains, this test's subject, are the same without it
    extra = {"temperature_check": None} if sampler in ("mala", "hmc", "nuts") else {}
    res = slt.estimate_llc(**case.llc_kwargs(), sampler=sampler, seed=0, **extra)
    target = _target(case, res)
    print(f"{sampler} {case_name}: {res.llc:.3f} +/- {res.mcse:.3f} vs {target:.3f}, step {res.step_size:.3g}")
    assert res.num_diverged == 0
    assert abs(res.llc - target) <= 0.15 * target + 3 * res.mcse
    assert res.step_size > 0 and np.isfinite(res.step_size)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_a_step_size_far_too_large_is_reported(sampler):
    """Unadjusted kernels blow up (NaN / exploding loss); Metropolis ones accept nothing: both raise."""
    case = models.rrr.make(3, 2, 3, 1, n=1000)
    with pytest.raises(RuntimeError, match="all 4 chains diverged"):
        slt.estimate_llc(**case.llc_kwargs(), sampler=sampler, step_size=10.0, num_draws=200, num_burnin=50)


def test_metropolis_samplers_record_acceptance_and_divergences():
    case = models.normal_crossing.make((1, 1), n=2000)
    res = slt.estimate_llc(**case.llc_kwargs(), sampler="nuts", num_draws=300, num_burnin=200)
    ss = res.idata["sample_stats"]
    assert 0.5 < float(ss["acceptance"].mean()) <= 1.0
    assert set(np.unique(ss["divergent"].values)) <= {0.0, 1.0}
    assert len(res.idata.attrs["step_size_per_chain"]) == 4


def test_target_accept_prob_sets_the_metropolis_adaptation_and_is_checked():
    case = models.normal_crossing.make((1, 2), n=2000)
    kw = dict(**case.llc_kwargs(), sampler="hmc", num_chains=2, num_draws=300, num_burnin=300, temperature_check=None)
    usual = slt.estimate_llc(**kw)
    careful = slt.estimate_llc(**kw, target_accept_prob=0.95)
    # a higher target: a smaller adapted step and a higher realised acceptance
    assert careful.step_size < 0.8 * usual.step_size
    acc = lambda r: float(r.idata["sample_stats"]["acceptance"].mean())  # noqa: E731
    assert acc(careful) > acc(usual) and acc(careful) > 0.88
    with pytest.raises(ValueError, match="target_accept_prob must lie in"):
        slt.estimate_llc(**kw, target_accept_prob=1.5)
    with pytest.raises(ValueError, match="takes its step from kappa"):
        slt.estimate_llc(**case.llc_kwargs(), sampler="sgld", target_accept_prob=0.9, num_draws=50)


def test_sgld_records_mala_acceptance_every_few_steps():
    case = models.linear_regression.make(d=3, n=2000)
    res = slt.estimate_llc(**case.llc_kwargs(), num_draws=200, num_burnin=0)
    acc = res.idata["sample_stats"]["mala_acceptance"].values
    assert np.isnan(acc[:, 1:10]).all() and np.isfinite(acc[:, ::10]).all()
    assert 0.8 < np.nanmean(acc) <= 1.0  # the calibrated step is well inside MALA's comfort zone


def test_mala_diagnostic_interval_is_a_setting_and_never_moves_the_chains():
    """diagnostic_every sets the interval; None turns the diagnostic off. Either way the chains draw
    the same random numbers: the diagnostic only reads the proposal. The two runs are differently
    compiled programs, so XLA may fuse (and round) their arithmetic differently on another CPU: the
    draws must agree to float32 rounding accumulated over the run (rtol 1e-5, ~100 ulp), not bitwise."""
    case = models.linear_regression.make(d=3, n=2000)
    kw = dict(**case.llc_kwargs(), num_draws=60, num_burnin=0, step_size=1e-4, batch_size=200, extend_burnin=0)
    every4 = slt.estimate_llc(**kw, diagnostic_every=4)
    off = slt.estimate_llc(**kw, diagnostic_every=None)
    acc = every4.idata["sample_stats"]["mala_acceptance"].values
    assert np.isfinite(acc[:, ::4]).all() and np.isnan(acc[:, 1::4]).all()
    assert "mala_acceptance" not in off.idata["sample_stats"]
    np.testing.assert_allclose(every4.idata["sample_stats"]["llc"].values, off.idata["sample_stats"]["llc"].values,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(every4.idata["sample_stats"]["loss"].values, off.idata["sample_stats"]["loss"].values,
                               rtol=1e-6)
    # a diagnostic that moved the chains (consumed a key, changed a state) would differ at O(1), not 1e-6
    shifted = slt.estimate_llc(**{**kw, "seed": 1}, diagnostic_every=None)
    assert not np.allclose(shifted.idata["sample_stats"]["llc"].values, off.idata["sample_stats"]["llc"].values,
                           rtol=1e-3)
    assert "MALA" not in off.summary() and "MALA" in every4.summary()
    with pytest.raises(ValueError, match="diagnostic_every must be a positive integer"):
        slt.estimate_llc(**kw, diagnostic_every=0)


def test_metropolis_samplers_refuse_minibatches():
    case = models.linear_regression.make(d=2, n=1000)
    with pytest.raises(ValueError, match="full-batch"):
        slt.estimate_llc(**case.llc_kwargs(), sampler="hmc", batch_size=100)


def test_sgld_noise_is_blackjax_below_the_block_size_and_standard_normal_above():
    """Small positions draw BlackJAX's exact noise; large ones draw blocked noise that is still
    N(0, I): mean, variance, no correlation between neighbouring blocks, shapes kept."""
    import jax
    import jax.numpy as jnp
    from blackjax.util import generate_gaussian_noise

    from slt_ppl.samplers.sgld import NOISE_BLOCK, gaussian_noise

    key = jax.random.key(3)
    small = {"a": jnp.zeros((30, 20)), "b": jnp.zeros(7)}
    ours, theirs = gaussian_noise(key, small), generate_gaussian_noise(key, small)
    for k in small:
        np.testing.assert_array_equal(np.asarray(ours[k]), np.asarray(theirs[k]))

    big = {"a": jnp.zeros((NOISE_BLOCK * 3 + 11,)), "b": jnp.zeros((700, 300))}
    noise = jax.jit(gaussian_noise)(key, big)
    assert {k: v.shape for k, v in noise.items()} == {k: v.shape for k, v in big.items()}
    flat = np.concatenate([np.asarray(v).ravel() for v in noise.values()])
    m = flat.size
    assert abs(flat.mean()) < 5 / np.sqrt(m)  # 5 standard errors
    assert abs(flat.var() - 1) < 5 * np.sqrt(2 / m)
    a = np.asarray(noise["a"])
    blocks = a[: 3 * NOISE_BLOCK].reshape(3, NOISE_BLOCK)
    for i in range(2):  # consecutive blocks come from different keys: uncorrelated
        assert abs(np.corrcoef(blocks[i], blocks[i + 1])[0, 1]) < 5 / np.sqrt(NOISE_BLOCK)
    assert not np.array_equal(np.asarray(noise["b"]).ravel()[:1000], a[:1000])
