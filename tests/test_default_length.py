"""The cheap-model run length (llc/default_length.py): a model that costs little gets 16 chains x 16 000 draws
when the user names no run length, and with them the precision that the 4 x 4000 default lacks.

Closed form: the crossing K = w1^2 w2^2 w3^2 / 2 against its 3-D quadrature at (n beta, gamma). At n = 2000 (seed 0)
4 chains x 8000 draws read +49% (se 0.26 on 0.266), the cheap-model length -2.7% (se 0.020, 16 s); at n = 10 000
+29% (se 0.18) and -3.1% (se 0.026), benchmarks/certified_llc.py. The bound se <= 12% of the value fails the old
length by 8x; the 2-se coverage and 10% bands are the promise of the se itself.
"""

import warnings

import pytest

import slt_ppl as slt
from slt_ppl.llc import default_length
from slt_ppl.llc.default_length import CHEAP_CHAINS, CHEAP_DRAWS, CHEAP_STEP_COST, CHEAP_WORK, cheap_model_length
from slt_ppl.model.build import make_potential
from slt_ppl.model.minibatch_cost import TRANSCENDENTAL_FLOPS, gradient_cost
from slt_ppl.models import linear_regression, normal_crossing, tanh_net
from slt_ppl.samplers import sampling_settings


def test_the_rule_applies_to_cheap_sg_runs_only():
    sg = sampling_settings(sampler="sgld")
    cheap = cheap_model_length(sg, d=2, rows_per_step=10_000)
    assert (cheap.num_chains, cheap.num_draws, cheap.num_burnin) == (CHEAP_CHAINS, CHEAP_DRAWS, CHEAP_DRAWS)
    assert cheap_model_length(sg, d=27, rows_per_step=10_000) == sg  # 2.7e5 > CHEAP_WORK: the usual defaults
    assert cheap_model_length(sg, d=100, rows_per_step=int(CHEAP_WORK // 100)).num_chains == CHEAP_CHAINS  # a minibatch counts
    for other in ("hmc", "rmsprop_sgld", "sghmc"):  # measured on sgld only: the others keep their lengths
        s = sampling_settings(sampler=other)
        assert cheap_model_length(s, d=2, rows_per_step=10_000) == s


def test_a_row_that_costs_much_keeps_the_usual_defaults():
    sg = sampling_settings(sampler="sgld")
    assert cheap_model_length(sg, d=2, rows_per_step=10_000, step_cost=CHEAP_STEP_COST).num_chains == CHEAP_CHAINS
    assert cheap_model_length(sg, d=2, rows_per_step=10_000, step_cost=2 * CHEAP_STEP_COST) == sg
    assert cheap_model_length(sg, d=27, rows_per_step=10_000, step_cost=1.0) == sg  # both conditions must hold


def _step_cost(case, rows=None):
    pot = make_potential(case.model, case.params, case.model_args, {})
    return gradient_cost(pot, pot.n if rows is None else rows)


def test_xla_counts_price_a_transcendental_row_above_a_polynomial_one():
    crossing = _step_cost(normal_crossing.make((1, 2), n=10_000))
    tanh_case = tanh_net.make(H=1, n=10_000)
    tanh = _step_cost(tanh_case)
    assert crossing.transcendentals == 0 and crossing.flop_equivalents <= CHEAP_STEP_COST
    assert tanh.transcendentals >= 10_000  # at least one tanh a row
    assert tanh.flop_equivalents == tanh.flops + TRANSCENDENTAL_FLOPS * tanh.transcendentals > CHEAP_STEP_COST
    assert _step_cost(tanh_case, rows=5000).flops < tanh.flops  # a minibatch step is priced at its rows


def test_the_estimator_prices_the_step_before_it_lengthens_the_run(monkeypatch):
    case = normal_crossing.make((1, 2), n=2000)  # cheap by both rules; made costly by lowering the price bound
    monkeypatch.setattr(default_length, "CHEAP_STEP_COST", 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = slt.estimate_llc(**case.llc_kwargs(), progress_bar=False, temperature_check=None)
    assert len(res.llc_per_chain) == 4 and res.idata["posterior"].sizes["draw"] == 4000


def test_a_named_run_length_is_final():
    case = normal_crossing.make((1, 2), n=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = slt.estimate_llc(**case.llc_kwargs(), num_draws=300, progress_bar=False, temperature_check=None)
    assert len(res.llc_per_chain) == 4 and res.idata["posterior"].sizes["draw"] == 300


def test_a_model_over_the_threshold_keeps_the_usual_defaults():
    case = linear_regression.make(d=6, n=10_000)  # 6e4 parameter-rows per step
    assert case.d * 10_000 > CHEAP_WORK
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = slt.estimate_llc(**case.llc_kwargs(), progress_bar=False, temperature_check=None)
    assert len(res.llc_per_chain) == 4 and res.idata["posterior"].sizes["draw"] == 4000


def test_all_defaults_on_a_three_way_crossing_are_precise_and_cover_the_quadrature():
    case = normal_crossing.make((1, 1, 1), n=2000)
    res = slt.estimate_llc(**case.llc_kwargs(), progress_bar=False)
    target = case.finite_n(res.nbeta, res.localization)
    assert len(res.llc_per_chain) == CHEAP_CHAINS and res.idata["posterior"].sizes["draw"] == CHEAP_DRAWS
    assert res.converged
    assert res.se <= 0.12 * target  # 4 x 8000 draws gave se 0.26 on 0.266
    assert abs(res.llc - target) <= 2 * res.se
    assert res.llc == pytest.approx(target, rel=0.10)
