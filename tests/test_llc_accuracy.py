"""estimate_llc with every default against exact learning coefficients (slt_ppl.theory).

Tolerance: 10% of lambda. Justification: the zoo's noise is orthogonal to the inputs, so w* is
an exact minimiser of L_n and the finite-n target differs from lambda only by the localization
(gamma / (n beta h), < 0.1% here), by Euler-Langevin bias (about kappa / 4 = 2.5% in the
stiffest directions) and, for m = 2, by about -(m - 1) / log(n beta) = -2%; the rest is
Monte-Carlo error (MCSE 0.05-0.35 at these settings). Seeds are fixed.
"""

import time

import jax
import numpy as np
import pytest

from slt_ppl import models
import slt_ppl as slt
from slt_ppl import theory

CASES = [
    ("linear_regression d=5", lambda: models.linear_regression.make(d=5)),
    ("rrr (4,3,8) r=0, M+H<N+r branch", lambda: models.rrr.make(4, 3, 8, 0)),
    ("rrr (5,3,5) r=0, odd, m=2", lambda: models.rrr.make(5, 3, 5, 0)),
    ("rrr (4,3,5) r=1, odd, m=2", lambda: models.rrr.make(4, 3, 5, 1)),
    ("dln [3,4,3,3] r=1 (3 layers)", lambda: models.dln.make((3, 4, 3, 3), 1)),
]


@pytest.mark.parametrize("name, make", CASES, ids=[c[0] for c in CASES])
def test_defaults_land_within_10_percent_of_theory(name, make):
    case = make()
    t0 = time.perf_counter()
    res = slt.estimate_llc(**case.llc_kwargs(), seed=0)
    elapsed = time.perf_counter() - t0
    lam = float(case.coefficient.lam)
    print(f"{name}: llc {res.llc:.3f} +/- {res.mcse:.3f} vs lambda {lam} (m={case.coefficient.m}), "
          f"eps {res.step_size:.3g}, {elapsed:.1f}s")
    assert res.num_diverged == 0
    assert abs(res.llc - lam) <= 0.10 * lam
    assert np.isfinite(res.mcse) and 0 < res.mcse < 0.1 * lam


def test_linear_regression_matches_the_exact_finite_n_value():
    """Regular model: E[llc] = (1/2) sum_i n beta h_i / (n beta h_i + gamma), h_i = eig(X^T X / n)."""
    case = models.linear_regression.make(d=5, n=10_000)
    X = np.asarray(case.model_args[0], dtype=np.float64)
    res = slt.estimate_llc(**case.llc_kwargs(), seed=1, num_draws=4000)
    h = np.linalg.eigvalsh(X.T @ X / X.shape[0])
    target = theory.regular_finite_llc(h, res.nbeta, res.localization)
    # Euler-Langevin inflates variance by 1/(1 - eps h nbeta / 4) per direction: at most kappa/4 = 2.5%
    ula = 0.5 * sum(1 / (1 - res.step_size * res.nbeta * hi / 4) for hi in h)
    assert target < ula < 1.03 * target
    assert abs(res.llc - ula) < 4 * res.mcse + 0.02 * target


def test_numpyro_and_likelihood_paths_agree():
    case = models.rrr.make(3, 2, 3, 1, n=2000, seed=4)
    X, y, H, N, sigma = case.model_args

    def nll(params, batch):
        xb, yb = batch
        mean = xb @ params["A"].T @ params["B"].T
        return -jax.scipy.stats.norm.logpdf(yb, mean, sigma).sum(axis=1)

    a = slt.estimate_llc(**case.llc_kwargs(), seed=3, num_draws=500)
    b = slt.estimate_llc(slt.Likelihood(nll, (X, y)), case.params, seed=3, num_draws=500)
    assert b.step_size == pytest.approx(a.step_size, rel=1e-4)
    np.testing.assert_allclose(b.llc_per_chain, a.llc_per_chain, rtol=2e-3)


def test_pytree_params_of_any_shape():
    """A Likelihood takes params as a tuple (as Equinox/Flax modules flatten to)."""
    case = models.linear_regression.make(d=3, n=2000, seed=5)
    X, y, sigma = case.model_args
    w = case.params["w"]

    def nll(params, batch):
        first, rest = params
        xb, yb = batch
        return 0.5 * (yb - xb[:, 0] * first - xb[:, 1:] @ rest) ** 2

    res = slt.estimate_llc(slt.Likelihood(nll, (X, y)), (w[0], w[1:]), seed=0, num_draws=1000)
    assert abs(res.llc - 1.5) < 0.15


def test_same_seed_same_numbers_and_different_seed_different_numbers():
    case = models.rrr.make(3, 2, 3, 1, n=1000, seed=2)
    a = slt.estimate_llc(**case.llc_kwargs(), seed=7, num_draws=300)
    b = slt.estimate_llc(**case.llc_kwargs(), seed=7, num_draws=300)
    c = slt.estimate_llc(**case.llc_kwargs(), seed=8, num_draws=300)
    np.testing.assert_array_equal(a.llc_per_chain, b.llc_per_chain)
    assert a.step_size == b.step_size and a.llc == b.llc
    assert not np.array_equal(a.llc_per_chain, c.llc_per_chain)


def test_chunk_size_does_not_change_the_numbers():
    case = models.linear_regression.make(d=2, n=500, seed=1)
    a = slt.estimate_llc(**case.llc_kwargs(), seed=0, num_draws=300, step_size=1e-4, chunk_size=500)
    b = slt.estimate_llc(**case.llc_kwargs(), seed=0, num_draws=300, step_size=1e-4, chunk_size=7)
    np.testing.assert_allclose(a.llc_per_chain, b.llc_per_chain, rtol=1e-6)


def test_result_object_and_datatree():
    case = models.linear_regression.make(d=2, n=500, seed=1)
    res = slt.estimate_llc(**case.llc_kwargs(), seed=0, num_chains=3, num_draws=200, num_burnin=50, extend_burnin=0)
    assert res.llc_per_chain.shape == (3,)
    assert res.llc == pytest.approx(np.mean(res.llc_per_chain))
    assert res.llc_std == pytest.approx(np.std(res.llc_per_chain, ddof=1))
    assert res.n == 500 and res.nbeta == pytest.approx(500 / np.log(500)) and res.localization == 1.0
    ss = res.idata["sample_stats"]
    for var in ("loss", "llc", "llc_running", "grad_norm", "distance", "diverged"):
        assert ss[var].dims == ("chain", "draw") and ss[var].shape == (3, 200)
    assert res.idata["warmup_sample_stats"]["loss"].shape == (3, 50)
    np.testing.assert_allclose(ss["llc"].values.mean(axis=1), res.llc_per_chain)
    np.testing.assert_allclose(ss["llc_running"].values[:, -1], res.llc_per_chain)
    assert res.idata.attrs["step_size"] == res.step_size
    text = res.summary()
    assert "LLC (sgld)" in text and "R-hat" in text
    ax = res.plot()
    assert len(ax.lines) == 4


def test_minibatch_estimate_agrees_with_full_batch():
    case = models.linear_regression.make(d=3, n=20_000, seed=3)
    res = slt.estimate_llc(**case.llc_kwargs(), seed=0, batch_size=500, num_draws=3000)
    assert abs(res.llc - 1.5) < 0.15 * 1.5
