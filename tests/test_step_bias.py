"""The step-size bias, measured in the same run (step_bias='richardson'): a step several times too large
reads far off with the MCSE alone; the extrapolated estimate covers the exact value within 2 se."""

import warnings

import numpy as np
import pytest

import slt_ppl as slt
from slt_ppl.llc.default_length import CHEAP_CHAINS
from slt_ppl.models import linear_regression

CASE = linear_regression.make(n=2000, d=3)


def _target(res):
    """The exact expected estimate at this finite n beta (conjugate Gaussian), else lambda."""
    finite = CASE.finite_n(res.nbeta, res.localization) if CASE.finite_n is not None else None
    return float(CASE.coefficient.lam) if finite is None else float(finite)


@pytest.fixture(scope="module")
def auto_step():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return slt.estimate_llc(**CASE.llc_kwargs(), progress_bar=False, num_draws=1000).step_size


def _run(step, **kw):
    """The step bias alone: the finite-n check (partners at n beta / 4, llc/temperature_check.py) is off here, so
    that "plain" is the MCSE-only error bar and the Richardson se is its own."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return slt.estimate_llc(**CASE.llc_kwargs(), step_size=step, burnin_step_factor=1.0, progress_bar=False,
                                temperature_check=None, **kw)


def test_a_too_large_step_is_measured_and_extrapolated_away(auto_step):
    eps = 4 * auto_step  # the partner chains run at 8x
    plain = _run(eps)
    rich = _run(eps, step_bias="richardson")
    target = _target(rich)
    # with the MCSE alone the error bar misses by many standard errors (the bias is not in it)
    assert abs(plain.llc - target) > 5 * plain.mcse and abs(plain.llc - target) > 2 * plain.se
    # measured: L(eps) > L(eps/2) > target, the bias removed, the error bar covers the exact value
    l1, l2 = rich.llc_at_step
    assert l1 > l2 > target
    assert rich.step_bias == pytest.approx(l1 - l2)
    assert abs(rich.llc - target) <= 2 * rich.se
    assert rich.extrapolated and rich.se > rich.mcse
    assert rich.idata.attrs["step_bias_method"] == "richardson" and rich.idata.attrs["llc"] == rich.llc
    assert "step-size bias" in rich.summary()
    # a 3-parameter regression is a cheap model (llc/default_length.py): 16 chains a group; the reported group is
    # the one at eps, the partners at 2 eps are in attrs
    assert len(rich.llc_per_chain) == CHEAP_CHAINS
    assert len(rich.idata.attrs["llc_per_chain_at_2eps"]) == CHEAP_CHAINS
    # the O(eps^2) residual of the first-order extrapolation is in the se (llc/step_bias.py)
    assert rich.se >= 2 * rich.step_bias ** 2 / l2
    again = _run(eps, step_bias="richardson")
    assert again.llc == rich.llc and again.se == rich.se  # same seed, same numbers


def test_at_the_automatic_step_the_bias_is_within_the_error(auto_step):
    rich = _run(auto_step, step_bias="richardson")
    assert abs(rich.llc - _target(rich)) <= 2 * rich.se
    assert rich.converged
    assert rich.se < 0.1 * rich.llc


def test_a_step_outside_the_linear_regime_is_not_converged(auto_step):
    rich = _run(7 * auto_step, step_bias="richardson")
    assert not rich.converged
    assert "too large for the extrapolation" in rich.diagnosis[0]


def test_step_bias_is_refused_for_metropolis_kernels():
    with pytest.raises(ValueError, match="Metropolis-adjusted"):
        slt.estimate_llc(**CASE.llc_kwargs(), sampler="mala", step_bias="richardson", num_draws=50)
    with pytest.raises(ValueError, match="step_bias"):
        slt.estimate_llc(**CASE.llc_kwargs(), step_bias="linear", num_draws=50)


def test_partner_chains_that_all_diverge_fail_the_verdict_without_a_nan(auto_step):
    # SGLD is unstable past eps * c = 4; the automatic step sits at eps * c ~ 0.1: 30x is stable, 60x is not
    rich = _run(30 * auto_step, step_bias="richardson")
    assert not rich.converged
    assert "step-size bias could not be measured" in rich.diagnosis[0]
    assert np.isfinite(rich.llc) and np.isfinite(rich.se)


def test_an_extrapolated_value_beyond_half_the_dimension_fails_the_verdict():
    # two groups whose plain values are below d / 2 = 3/2, but whose extrapolation 2 L(eps) - L(2 eps) = 1.64 is
    # above it by more than 3 se_x: the reported value is held to the bound, not only each group's own
    import dataclasses

    from slt_ppl.llc.step_bias import combine

    base = _run("auto", num_draws=200, num_chains=4)
    at_eps = dataclasses.replace(base, llc=1.48, se=0.005, converged=True, diagnosis=())
    at_2eps = dataclasses.replace(base, llc=1.32, se=0.005, converged=True, diagnosis=())
    out = combine(at_2eps, at_eps, eps=1e-3)
    assert out.extrapolated and out.llc == pytest.approx(1.64)
    assert not out.converged and "exceeds d / 2" in out.diagnosis[0]
    # the same groups closer together extrapolate inside the bound and pass
    fine = combine(dataclasses.replace(at_2eps, llc=1.40), dataclasses.replace(at_eps, llc=1.42), eps=1e-3)
    assert fine.converged and fine.llc <= 1.5
