"""LLC over checkpoints: labelled over `checkpoint`, one calibration reused or redone."""

import numpy as np
import pytest

import slt_ppl as slt
from slt_ppl.models import rrr


@pytest.fixture(scope="module")
def case():
    return rrr.make(3, 2, 3, 1, n=2000, seed=0)


def test_trajectory_once_reuses_one_step_and_matches_single_estimates(case):
    ckpts = [case.params, {k: v * 1.0 for k, v in case.params.items()}]
    traj = slt.estimate_llc_trajectory(case.model, ckpts, case.model_args, steps=[100, 200], num_draws=1000)
    assert traj.table["llc"].dims == ("checkpoint",)
    assert list(traj.table["checkpoint"].values) == [100, 200]
    assert len(set(traj.table["step_size"].values.tolist())) == 1
    np.testing.assert_array_equal(traj.results[0].llc_per_chain, traj.results[1].llc_per_chain)
    single = slt.estimate_llc(case.model, case.params, case.model_args, num_draws=1000, extend_burnin=0,
                              step_size=float(traj.table["step_size"][0]))
    # the batched run vmaps over checkpoints too (another compiled program): equal to float32 rounding
    np.testing.assert_allclose(single.llc_per_chain, traj.results[0].llc_per_chain, rtol=1e-5)
    lam = float(case.coefficient.lam)  # 7/2 with m = 2: finite n reads lower, about lam - 1/log(n beta)
    assert abs(traj.llc[0] - lam) < 0.2 * lam
    ax = traj.plot(train_loss=[1.0, 0.9], theory=[lam, lam])
    assert ax.get_xlabel() == "checkpoint"


def test_trajectory_each_and_errors(case):
    traj = slt.estimate_llc_trajectory(case.model, [case.params], case.model_args, calibrate="each", num_draws=200)
    assert traj.table.sizes["checkpoint"] == 1 and traj.table.attrs["calibrate"] == "each"
    with pytest.raises(ValueError, match="checkpoints is empty"):
        slt.estimate_llc_trajectory(case.model, [], case.model_args)
    with pytest.raises(ValueError, match="calibrate"):
        slt.estimate_llc_trajectory(case.model, [case.params], case.model_args, calibrate="never")
    with pytest.raises(ValueError, match="steps has shape"):
        slt.estimate_llc_trajectory(case.model, [case.params], case.model_args, steps=[1, 2])


def test_batched_trajectory_matches_one_at_a_time(case):
    ckpts = [case.params, {k: v * 0.97 for k, v in case.params.items()}]
    kw = dict(num_draws=300, num_burnin=100, step_size=1e-4)
    batched = slt.estimate_llc_trajectory(case.model, ckpts, case.model_args, **kw)
    looped = slt.estimate_llc_trajectory(case.model, ckpts, case.model_args, batched=False, **kw)
    for a, b in zip(batched.results, looped.results):
        np.testing.assert_allclose(a.llc_per_chain, b.llc_per_chain, rtol=1e-5)
        # the batched run has each checkpoint's partner chains at n beta / 4 too: the same shift and total se as
        # estimate_llc's one at a time (partner c of checkpoint k draws the keys of a single run's partner c)
        assert a.temperature_check == b.temperature_check == 4.0
        np.testing.assert_allclose(a.llc_at_temperature, b.llc_at_temperature, rtol=1e-5)
        np.testing.assert_allclose(a.se, b.se, rtol=1e-4)
        assert a.se > a.mcse and a.idata.attrs["diagnosis"] == list(a.diagnosis)
        assert not any("finite-n terms not measured" in r for r in a.diagnosis)
    # the two checkpoints differ, and so do their partners: no checkpoint reads another's partner block
    assert batched.results[0].llc_at_temperature != batched.results[1].llc_at_temperature
    np.testing.assert_allclose(batched.table["se"].values, [r.se for r in looped.results], rtol=1e-4)
    from slt_ppl.llc.batched import estimate_llc_batched

    off = estimate_llc_batched(case.model, ckpts, case.model_args, temperature_check=None, **kw)
    np.testing.assert_allclose(off[0].llc_per_chain, looped.results[0].llc_per_chain, rtol=1e-5)
    assert off[0].se == off[0].mcse or off[0].se < batched.results[0].se
    assert any("finite-n terms not measured" in r for r in off[0].diagnosis)
    with pytest.raises(ValueError, match="temperature_check"):
        estimate_llc_batched(case.model, ckpts, case.model_args, temperature_check=1.0, **kw)

    with pytest.raises(ValueError, match="fixed step_size"):
        estimate_llc_batched(case.model, ckpts, case.model_args, step_size="auto")
    with pytest.raises(ValueError, match="stochastic-gradient"):
        estimate_llc_batched(case.model, ckpts, case.model_args, sampler="nuts")
    small = estimate_llc_batched(case.model, ckpts, case.model_args, max_values=1, **kw)  # one checkpoint per group
    np.testing.assert_allclose(small[1].llc_per_chain, looped.results[1].llc_per_chain, rtol=1e-5)


def test_second_call_reuses_the_compiled_sampling_loop(case):
    """Same model, data, shapes and settings: the jitted chunk function is reused, not traced again."""
    from slt_ppl.samplers import runner

    kw = dict(num_draws=200, num_burnin=100, step_size=1e-4, seed=0)
    first = slt.estimate_llc(case.model, case.params, case.model_args, **kw)
    entries = runner._CHUNK_CACHE.keys()
    fn = runner._CHUNK_CACHE.get(entries[-1])
    traces = fn._cache_size()
    other = {k: v * 0.99 for k, v in case.params.items()}  # another w*: same compiled loop
    second = slt.estimate_llc(case.model, other, case.model_args, **{**kw, "seed": 1})
    assert runner._CHUNK_CACHE.keys() == entries
    assert fn._cache_size() == traces
    again = slt.estimate_llc(case.model, case.params, case.model_args, **kw)
    np.testing.assert_array_equal(first.llc_per_chain, again.llc_per_chain)
    assert not np.array_equal(first.llc_per_chain, second.llc_per_chain)


def test_second_auto_step_call_compiles_nothing(case):
    """step_size="auto" included: the calibration's curvature, warmup segments and sampling loop are
    all reused by a second call on the same model and data (at another w*), so XLA compiles nothing."""
    from jax import monitoring

    kw = dict(num_draws=200, num_burnin=100, seed=0, batch_size=100)
    slt.estimate_llc(case.model, case.params, case.model_args, **kw)
    other = {k: v * 0.99 for k, v in case.params.items()}
    compiles, active = [], [True]
    monitoring.register_event_duration_secs_listener(
        lambda event, duration, **k: compiles.append(event)
        if active[0] and event == "/jax/core/compile/backend_compile_duration" else None)
    try:
        slt.estimate_llc(case.model, other, case.model_args, **{**kw, "seed": 1})
    finally:
        active[0] = False
    assert compiles == []


def test_stage_boundaries_are_the_significant_critical_points():
    steps = np.unique(np.round(np.logspace(0, 4, 40)).astype(int))
    u = np.log10(1 + steps)
    # falls to a minimum at u = 1, rises to a maximum at u = 2, falls to a minimum at u = 3, rises again
    curve = 10 + 5 * np.sin(np.pi * (u - 1.5))
    found = slt.stage_boundaries(steps, curve)
    assert [b.kind for b in found] == ["min", "max", "min"]
    u_found = np.log10(1 + np.array([b.step for b in found]))
    np.testing.assert_allclose(u_found, [1.0, 2.0, 3.0], atol=0.1)  # within one checkpoint spacing (0.1 decade)
    # noise within the error bars makes no stage; the same noise with se = 0 makes many
    noisy = curve + np.random.default_rng(0).normal(0, 0.3, curve.shape)
    assert len(slt.stage_boundaries(steps, noisy)) > 3
    robust = slt.stage_boundaries(steps, noisy, se=np.full(curve.shape, 0.3))
    assert [b.kind for b in robust] == ["min", "max", "min"]
    np.testing.assert_allclose(np.log10(1 + np.array([b.step for b in robust])), [1.0, 2.0, 3.0], atol=0.25)
    smoothed = slt.stage_boundaries(steps, noisy, smooth=0.1)  # smoothing alone also removes most wiggles
    assert len(smoothed) < len(slt.stage_boundaries(steps, noisy))
    assert slt.stage_boundaries(steps, np.linspace(1, 2, len(steps))) == []  # monotone: one stage
    with pytest.raises(ValueError, match="increase strictly"):
        slt.stage_boundaries(steps[::-1], curve)
    with pytest.raises(ValueError, match="NaN"):
        slt.stage_boundaries(steps, np.where(np.arange(len(steps)) == 5, np.nan, curve))
