"""A verdict on every global estimate (tempered/verdict.py): a burn-in far too short ends not converged with the
reason named; a default run converges; the verdict survives saving and reaches singular_fluctuation."""

import warnings

import numpy as np
import pytest

import slt_ppl as slt
from slt_ppl.models import linear_regression

CASE = linear_regression.make(d=3, n=2000, seed=0)


def _wbic(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return slt.estimate_wbic(CASE.model, CASE.model_args, num_draws=400, seed=0, progress_bar=False, **kw)


def test_a_burn_in_far_too_short_is_not_converged_and_says_why():
    step = float(np.max(_wbic(sampler="sgld").step_size))
    with pytest.warns(RuntimeWarning, match="WBIC estimate is not converged"):
        res = slt.estimate_wbic(CASE.model, CASE.model_args, sampler="sgld", step_size=step, num_burnin=0,
                                num_draws=400, seed=0, progress_bar=False)
    assert not res.converged  # the chains start at prior draws: measured R-hat 1.07 on 400 draws
    assert any("R-hat" in reason or "drifts" in reason for reason in res.diagnosis), res.diagnosis
    assert "NOT CONVERGED" in res.summary()


def test_a_step_far_too_large_on_the_sg_paths_is_not_converged_and_says_why():
    """R-hat, the trend and the MALA acceptance stay quiet at 30x the automatic SGLD step (measured); the variance
    form beta^2 Var[n L_n] (17.1 for WBIC) and the RLCT's slope (-12.7) leave (0, d / 2] = (0, 1.5]."""
    step = 30 * float(np.max(_wbic(sampler="sgld").step_size))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wbic = slt.estimate_wbic(CASE.model, CASE.model_args, sampler="sgld", step_size=step, num_draws=1000, seed=0,
                                 progress_bar=False)
        rlct = slt.estimate_rlct(CASE.model, CASE.model_args, sampler="sgld", step_size=step, num_draws=1000, seed=0,
                                 progress_bar=False)
    for res in (wbic, rlct):
        assert not res.converged, res.diagnosis
        assert any("d / 2 = 2.25" in reason and "step" in reason for reason in res.diagnosis), res.diagnosis
    assert rlct.rlct < 0 and any("negative" in reason for reason in rlct.diagnosis), rlct.diagnosis


def test_defaults_converge_and_the_verdict_survives_saving_and_reaches_the_fluctuation(tmp_path):
    res = _wbic(log_likelihood=True)
    assert res.converged and np.isfinite(res.rhat) and res.rhat < 1.05, res.diagnosis
    back = slt.load(res.save(tmp_path / "w.nc"))
    assert back.converged == res.converged and back.diagnosis == res.diagnosis
    nu = slt.singular_fluctuation(res)
    assert nu.converged == res.converged and nu.diagnosis == res.diagnosis


def test_rlct_and_free_energy_carry_a_verdict_over_their_ladders():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rlct = slt.estimate_rlct(CASE.model, CASE.model_args, sampler="sgld", num_draws=1000, seed=0,
                                 progress_bar=False)
        free = slt.estimate_free_energy(CASE.model, CASE.model_args, num_draws=300, seed=0, progress_bar=False)
    for res in (rlct, free):
        assert isinstance(res.converged, bool) and np.isfinite(res.rhat) and "verdict:" in res.summary()
        assert res.idata.attrs["converged"] == int(res.converged)
        assert res.converged or res.diagnosis  # a failure always names its reason
