"""The global estimators on singular models against exact finite-n values by quadrature.

The oracle is slt_ppl.tempered.exact (y ~ N(x prod_j w_j^{k_j}, 1), N(0, 1) priors), itself checked here
against an independent integration. Estimates must lie within 4 of their own se of the exact value (fixed
seeds): a z beyond 4 has probability below 1e-4 when the se is right.
"""

import math

import numpy as np
import pytest
from scipy import integrate

import slt_ppl as slt
from slt_ppl.tempered.exact import ProductRegression, product_data

Z_MAX = 4.0


@pytest.fixture(scope="module")
def case():
    x, y = product_data(1000, 0.05, seed=3)
    return ProductRegression(x, y, (1, 2))


def test_quadrature_matches_an_independent_integral():
    """w1 integrated in closed form (Gaussian given w2), w2 by adaptive scipy quad: the same E_beta and F(beta)."""
    x, y = product_data(3000, 0.03, seed=0)
    ex = ProductRegression(x, y, (1, 2), num_points=800)
    c = ex.sxx / 2
    for beta in (1 / math.log(ex.n), 1.0):
        a = beta * c

        def parts(w2):
            h = w2**2
            P = 2 * a * h * h + 1.0
            mu = 2 * a * h * ex.f_hat / P
            z = math.exp(-a * ex.f_hat**2 + 0.5 * P * mu**2 - 0.5 * math.log(P) - 0.5 * w2 * w2) / math.sqrt(2 * math.pi)
            return z, z * (h * h * (1 / P + mu * mu) - 2 * ex.f_hat * h * mu)

        pts = [-1, -0.1, -0.01, 0, 0.01, 0.1, 1]
        Z = integrate.quad(lambda w: parts(w)[0], -12, 12, points=pts, limit=500, epsabs=0, epsrel=1e-12)[0]
        M = integrate.quad(lambda w: parts(w)[1], -12, 12, points=pts, limit=500, epsabs=0, epsrel=1e-12)[0] / Z
        assert ex.mean_nll(beta) == pytest.approx(ex.q_min + c * (M + ex.f_hat**2), abs=1e-8)
        assert ex.free_energy(beta) == pytest.approx(beta * ex.q_min - math.log(Z), abs=1e-8)
    ok, rel = ex.converged()
    assert ok, rel


def test_quadrature_matches_prior_importance_sampling():
    x, y = product_data(1000, 0.05, seed=3)
    ex = ProductRegression(x, y, (1, 1, 1), num_points=200)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 2_000_000))
    nll = ex.nll(w.prod(axis=0))
    beta = 1 / math.log(ex.n)
    lw = -beta * (nll - ex.q_min)
    wt = np.exp(lw - lw.max())
    est = np.sum(wt * nll) / wt.sum()
    ess = wt.sum() ** 2 / np.sum(wt**2)
    assert abs(est - ex.wbic()) < 5 * np.sqrt(np.sum(wt * (nll - est) ** 2) / wt.sum() / ess)


def test_wbic_against_quadrature(case):
    model, args = case.numpyro_model()
    w = slt.estimate_wbic(model, args, seed=0, num_draws=500, progress_bar=False)
    assert abs(w.wbic - case.wbic()) < Z_MAX * w.se, (w.wbic, w.se, case.wbic())


def test_same_seed_same_numbers(case):
    model, args = case.numpyro_model()
    a = slt.estimate_wbic(model, args, seed=3, num_draws=200, progress_bar=False)
    b = slt.estimate_wbic(model, args, seed=3, num_draws=200, progress_bar=False)
    assert a.wbic == b.wbic and a.se == b.se


def test_wbic_atol_stops_when_precise(case):
    model, args = case.numpyro_model()
    w = slt.estimate_wbic(model, args, seed=1, num_draws=3000, atol=0.15, chunk_size=250, progress_bar=False)
    draws = w.idata["sample_stats"].sizes["draw"] if "sample_stats" in w.idata.children else None
    assert w.se <= 0.15
    assert draws is None or draws < 3000
    assert any("precise" in d for d in w.diagnosis)
    assert abs(w.wbic - case.wbic()) < Z_MAX * w.se


def test_rlct_rtol_against_quadrature(case):
    model, args = case.numpyro_model()
    g = slt.estimate_rlct(model, args, seed=0, rtol=0.15, num_draws=2000, num_burnin=500, progress_bar=False)
    exact = case.rlct_slope()
    assert g.se <= 0.15 * abs(g.rlct) or any("budget" in d for d in g.diagnosis)
    assert abs(g.rlct - exact) < Z_MAX * g.se, (g.rlct, g.se, exact)


@pytest.mark.slow
def test_free_energy_and_nu_against_quadrature(case):
    model, args = case.numpyro_model()
    f = slt.estimate_free_energy(model, args, seed=0, num_betas=16, num_draws=500, progress_bar=False)
    assert abs(f.free_energy - case.free_energy(1.0)) < Z_MAX * f.se, (f.free_energy, f.se, case.free_energy(1.0))
    w = slt.estimate_wbic(model, args, seed=0, beta=1.0, num_draws=1000, log_likelihood=True, progress_bar=False)
    s = slt.singular_fluctuation(w)
    assert abs(s.nu - case.nu(1.0)) < Z_MAX * s.se, (s.nu, s.se, case.nu(1.0))


@pytest.mark.slow
def test_free_energy_atol_stops_when_precise(case):
    model, args = case.numpyro_model()
    f = slt.estimate_free_energy(model, args, seed=2, num_betas=16, num_draws=2000, atol=0.4, chunk_size=250,
                                 progress_bar=False)
    assert f.se <= 0.4 and any("precise" in d for d in f.diagnosis), f.diagnosis
    assert f.idata["sample_stats"].sizes["draw"] < 2000
    assert abs(f.free_energy - case.free_energy(1.0)) < Z_MAX * f.se
