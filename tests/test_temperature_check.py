"""The finite-n check (llc/temperature_check.py): partner chains at n beta / T, the shift counted once in the se.

Closed forms: a regular model's finite-n value (1/2) sum t h / (t h + gamma) hardly moves between t / T and t
when t h >> gamma, so on linear regression the shift is zero up to noise; on a normal crossing the partner's own
target is the quadrature at (n beta / T, gamma). A Gaussian-teacher DLN that reads low with the chains agreeing is covered only with the
shift in the se.
"""

import warnings

import numpy as np
import pytest

import slt_ppl as slt
from slt_ppl.llc.temperature_check import total_se
from slt_ppl.models import dln, linear_regression, normal_crossing


def test_the_error_budget_counts_each_term_once():
    """se^2 = se_main^2 + shift^2: the main chains' noise once, the measured shift once (it carries its own noise
    already). A sum se_main^2 + shift^2 + se_main^2 + se_partner^2 would count the main chains' noise twice and
    the shift's noise on top of the shift."""
    assert total_se(3.0, 4.0) == pytest.approx(5.0)
    assert total_se(1.0, 0.0) == pytest.approx(1.0)  # no shift: nothing added
    assert total_se(0.0, -2.0) == pytest.approx(2.0)  # a shift's sign does not matter


def _quiet(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return slt.estimate_llc(progress_bar=False, **kw)


def test_regular_model_shift_is_zero_and_the_main_chains_are_unchanged():
    case = linear_regression.make(d=3, n=2000)
    res = _quiet(**case.llc_kwargs(), num_draws=2000, seed=3)
    off = _quiet(**case.llc_kwargs(), num_draws=2000, seed=3, temperature_check=None)
    assert res.temperature_check == 4.0 and off.temperature_shift is None
    assert res.llc == pytest.approx(off.llc, rel=1e-6)  # the partners draw their own noise: the main chains are those of a run without them
    # the partner reads nearly the same finite-n value (1/2 sum t h / (t h + gamma), t h >> gamma here)
    assert abs(res.temperature_shift) < 3 * res.temperature_shift_se
    assert res.llc_at_temperature == pytest.approx(1.5, rel=0.1)
    assert res.se == pytest.approx(np.hypot(off.se, res.temperature_shift))  # each term once
    assert res.se_lambda == res.se and off.se_lambda == off.se
    assert res.idata.attrs["temperature_shift"] == res.temperature_shift
    assert "finite-n terms" in res.summary()
    assert any("temperature_check=None" in d for d in off.diagnosis)


def test_partner_chains_sample_their_own_finite_n_target():
    """K = w1^2 w2^4 / 2: the partner's target is the quadrature at (n beta / 4, gamma); a partner whose llc were
    not scaled by 1 / T would read about 4 times that."""
    case = normal_crossing.make((1, 2))
    res = _quiet(**case.llc_kwargs(), num_draws=4000, seed=0)
    exact = case.finite_n(res.nbeta / 4, res.localization)
    se = res.idata.attrs["llc_at_temperature_se"]
    assert abs(res.llc_at_temperature - exact) < 3 * se, (res.llc_at_temperature, exact, se)
    assert abs(res.llc - case.finite_n(res.nbeta, res.localization)) < 2 * res.se


def test_the_shift_covers_a_dln_that_reads_low_with_its_chains_agreeing():
    """[6,7,10,7,6], r = 1, batch 500 (a case of benchmarks/certified_llc.py): lambda 15.5; the chains read 13.7
    together (2.5 se low without the check); the partners at n beta / 4 read 14.9 +/- 1.2, and the shift's size
    widens the se enough to cover lambda."""
    case = dln.gaussian_teacher((6, 7, 10, 7, 6), 1, seed=11)
    lam = float(case.coefficient.lam)
    res = _quiet(**case.llc_kwargs(), batch_size=500)
    off = _quiet(**case.llc_kwargs(), batch_size=500, temperature_check=None)
    assert res.llc == pytest.approx(off.llc, rel=1e-6)
    assert abs(off.llc - lam) > 2 * off.se  # the MCSE and the chains' spread alone miss lambda
    assert np.isfinite(res.temperature_shift) and res.se > 1.5 * off.se
    assert abs(res.llc - lam) <= 2 * res.se  # with the finite-n terms in the se, lambda is covered


def test_rtol_reads_the_total_se_and_bad_temperatures_are_refused():
    case = linear_regression.make(d=3, n=2000)
    res = _quiet(**case.llc_kwargs(), num_draws=20_000, rtol=0.08, seed=1)
    draws = res.idata["sample_stats"].sizes["draw"]
    assert draws < 20_000 and res.se <= 0.08 * res.llc * 1.0001
    assert any("stopped when precise" in d for d in res.diagnosis)
    with pytest.raises(ValueError, match="T must be > 1"):
        _quiet(**case.llc_kwargs(), temperature_check=1.0)
    with pytest.raises(ValueError, match="temperature_check"):
        _quiet(**case.llc_kwargs(), temperature_check="hot")


def test_momentum_kernels_measure_the_shift_too():
    """SGHMC's partners keep its h (at T h, or sqrt(T) h, every partner diverged on this crossing, so the finite-n
    terms were never measured for the momentum kernels): the shift is measured and sits within noise of the
    quadrature's own shift between (n beta / 4, gamma) and (n beta, gamma)."""
    case = normal_crossing.make((1, 1, 1), n=2000)
    res = _quiet(**case.llc_kwargs(), sampler="sghmc", num_chains=4, num_draws=4000, seed=1)
    assert res.temperature_shift is not None and np.isfinite(res.temperature_shift)
    assert not any("could not be measured" in d for d in res.diagnosis)
    exact_shift = case.finite_n(res.nbeta, res.localization) - case.finite_n(res.nbeta / 4, res.localization)
    assert abs(res.temperature_shift - exact_shift) <= 3 * res.temperature_shift_se


def test_metropolis_kernels_measure_the_shift_in_a_second_run():
    """HMC's partners are a second run of the kernel on the target at n beta / 4, adapted on their own: the main
    chains are those of a run without them, the partner reads its own quadrature value at (n beta / 4, gamma), and
    the shift is in the se."""
    case = normal_crossing.make((1, 2), n=2000)
    res = _quiet(**case.llc_kwargs(), sampler="hmc", num_chains=4, num_draws=800, seed=2)
    off = _quiet(**case.llc_kwargs(), sampler="hmc", num_chains=4, num_draws=800, seed=2, temperature_check=None)
    assert res.llc == pytest.approx(off.llc, rel=1e-6) and off.temperature_shift is None
    exact = case.finite_n(res.nbeta / 4, res.localization)
    se = res.idata.attrs["llc_at_temperature_se"]
    assert abs(res.llc_at_temperature - exact) < 3 * se, (res.llc_at_temperature, exact, se)
    assert res.se == pytest.approx(np.hypot(off.se, res.temperature_shift))
    assert any("finite-n terms" in d or "depends on n beta" in d for d in res.diagnosis)
