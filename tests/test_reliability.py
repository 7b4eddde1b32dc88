"""Runs that survive a kill (checkpoint/resume), faults inside a run, interrupts, and precision at n = 1e6."""

import json
import math
import os
import signal
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import slt_ppl as slt
from slt_ppl.models import linear_regression

ROOT = os.path.join(os.path.dirname(__file__), "..")

# A child process: estimate_llc with a checkpoint directory; with KILL_AFTER=k it SIGKILLs itself right
# after writing its k-th chunk (a crash or pre-emption at a deterministic point).
CHILD = textwrap.dedent("""
    import json, os, signal, sys, warnings
    sys.path.insert(0, {root!r})
    import slt_ppl as slt
    from slt_ppl.samplers import checkpoint as ck
    from slt_ppl.models import linear_regression

    kill_after = int(os.environ.get("KILL_AFTER", "0"))
    where = os.environ.get("CKPT") or None
    saves = []
    original = ck.Checkpoint.save
    def save(self, *args, **kwargs):
        original(self, *args, **kwargs)
        saves.append(os.path.abspath(self.directory) == os.path.abspath(where))  # follow-up runs: subdirectories
        if kill_after and len(saves) == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
    ck.Checkpoint.save = save
    found = len([f for f in os.listdir(where) if f.endswith(".nc")]) if where and os.path.isdir(where) else 0
    case = linear_regression.make(n=2000, d=5, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = slt.estimate_llc(**case.llc_kwargs(), num_draws={draws}, num_burnin={burnin}, chunk_size=100,
                               checkpoint=where, sampler=os.environ.get("SAMPLER", "sgld"))
    print(json.dumps({{"llc_per_chain": res.llc_per_chain.tolist(), "found": found, "saved": sum(saves),
                      "num_burnin": res.idata.attrs["num_burnin"],
                      "loss": res.idata["sample_stats"]["loss"].values.tolist()}}))
""")


def _child(tmp_path, env, draws=600, burnin=400):
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(root=os.path.abspath(ROOT), draws=draws, burnin=burnin))
    full_env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=1", "PYTHONHASHSEED": "0", **env}
    full_env.pop("PYTEST_CURRENT_TEST", None)
    return subprocess.run([sys.executable, str(script)], env=full_env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["sgld", "hmc"])
def test_killed_run_resumes_to_identical_numbers(tmp_path, sampler):
    ckpt = str(tmp_path / "ckpt")
    draws, burnin = (600, 400) if sampler == "sgld" else (300, 200)
    killed = _child(tmp_path, {"CKPT": ckpt, "KILL_AFTER": "3", "SAMPLER": sampler}, draws, burnin)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert len([f for f in os.listdir(ckpt) if f.endswith(".nc")]) == 3
    resumed = _child(tmp_path, {"CKPT": ckpt, "SAMPLER": sampler}, draws, burnin)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    out = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert out["found"] == 3  # it started from the three chunks on disk ...
    total_chunks = math.ceil((draws + burnin) / 100) if sampler == "sgld" else math.ceil(draws / 100)
    assert out["saved"] == total_chunks - 3  # ... and ran only the rest
    fresh = _child(tmp_path, {"SAMPLER": sampler}, draws, burnin)
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    ref = json.loads(fresh.stdout.strip().splitlines()[-1])
    np.testing.assert_array_equal(out["llc_per_chain"], ref["llc_per_chain"])
    np.testing.assert_array_equal(out["loss"], ref["loss"])
    assert out["num_burnin"] == ref["num_burnin"]  # an automatic burn-in extension resumes the same way


def test_checkpoint_of_another_run_is_refused(tmp_path):
    case = linear_regression.make(n=500, d=3, seed=0)
    kw = dict(num_draws=200, num_burnin=100, chunk_size=100, checkpoint=str(tmp_path), step_size=1e-3)
    slt.estimate_llc(**case.llc_kwargs(), seed=0, **kw)
    with pytest.raises(ValueError, match="holds a different run"):
        slt.estimate_llc(**case.llc_kwargs(), seed=1, **kw)
    with pytest.raises(ValueError, match="holds a different run"):
        slt.estimate_llc(**{**case.llc_kwargs(), **kw, "step_size": 2e-3})


def test_nan_mid_run_is_stopped_reported_and_left_out():
    """Fault injection: the likelihood turns NaN once a chain wanders past a threshold, mid-run."""
    case = linear_regression.make(n=1000, d=2, seed=0)
    X, y, _ = case.model_args
    w_star = np.asarray(case.params["w"])

    def nll(w, batch):
        xb, yb = batch
        base = 0.5 * (yb - xb @ w) ** 2 + 0.5 * jnp.log(2 * jnp.pi)
        return base + jnp.where(w[0] > w_star[0] + 0.25, jnp.nan, 0.0)  # a fault 3 sd from w*

    lik = slt.Likelihood(nll, (X, y))
    with pytest.warns(RuntimeWarning, match="diverged"):
        res = slt.estimate_llc(lik, jnp.asarray(w_star), step_size=1e-3, num_draws=400, num_burnin=100, seed=2)
    assert 0 < res.num_diverged < 4
    bad = res.diverged_chains
    assert np.all(res.diverged_at[bad] > 0) and np.all(res.diverged_at[~bad] == -1)
    assert np.isfinite(res.llc)
    assert res.llc == pytest.approx(np.mean(res.llc_per_chain[~bad]))
    trace = res.idata["sample_stats"]["llc"].values
    assert np.all(np.isfinite(trace[~bad]))
    first_bad = int(np.flatnonzero(bad)[0])
    assert np.isnan(trace[first_bad, -1])  # statistics after the fault are NaN, never a silent number
    assert "diverged and were left out" in res.summary()


def interrupt_at_chunk(monkeypatch, k: int):
    """Make the k-th chunk of every newly compiled run raise KeyboardInterrupt (a Ctrl-C mid-run)."""
    from slt_ppl.caching import LRUCache
    from slt_ppl.samplers import runner

    original = runner._make_chunk_fn

    def interrupting(step_fn, chunk_size):
        fn = original(step_fn, chunk_size)
        calls = []

        def chunk(*args):
            calls.append(1)
            if len(calls) == k:
                raise KeyboardInterrupt
            return fn(*args)

        return chunk

    monkeypatch.setattr(runner, "_CHUNK_CACHE", LRUCache(8))  # no cached loop may bypass the patch
    monkeypatch.setattr(runner, "_LAST_INTERRUPT", None)  # each test's Ctrl-C is a first one
    monkeypatch.setattr(runner, "_make_chunk_fn", interrupting)


def test_keyboard_interrupt_returns_partial_result(monkeypatch):
    interrupt_at_chunk(monkeypatch, 4)
    case = linear_regression.make(n=500, d=3, seed=0)
    with pytest.warns(RuntimeWarning, match="partial"):
        res = slt.estimate_llc(**case.llc_kwargs(), num_draws=400, num_burnin=100, chunk_size=100, step_size=1e-3)
    assert res.partial
    assert res.idata["sample_stats"].sizes["draw"] == 200  # 3 chunks of 100 steps, 100 of them burn-in
    assert "PARTIAL" in res.summary() and np.isfinite(res.llc)
    from slt_ppl.samplers import runner

    monkeypatch.setattr(runner, "_LAST_INTERRUPT", None)  # a first Ctrl-C again, long after
    with pytest.raises(KeyboardInterrupt, match="nothing to estimate yet"):
        slt.estimate_llc(**case.llc_kwargs(), num_draws=400, num_burnin=300, chunk_size=100, step_size=1e-3)


def test_a_second_ctrl_c_soon_after_the_first_aborts(monkeypatch):
    """The first Ctrl-C returns a partial result; a second within the window raises, so a loop over
    estimates (a script, a pytest run) can be stopped."""
    interrupt_at_chunk(monkeypatch, 3)
    case = linear_regression.make(n=500, d=3, seed=0)
    kw = dict(**case.llc_kwargs(), num_draws=400, num_burnin=100, chunk_size=100, step_size=1e-3)
    with pytest.warns(RuntimeWarning, match="partial"):
        assert slt.estimate_llc(**kw).partial
    with pytest.raises(KeyboardInterrupt) as info:
        slt.estimate_llc(**kw, num_chains=2)  # a new compiled loop: its 3rd chunk is interrupted too
    assert "nothing to estimate" not in str(info.value)  # the interrupt itself, not a partial-result message


@pytest.mark.slow
def test_estimator_is_stable_at_n_1e6_in_float32():
    """n = 1e6, n beta = 72 382: a draw's n beta (L(w) - L(w*)) is O(d/2) while L ~ 1.4, a relative
    difference of 3e-5 of L, near float32's resolution of a mean over 1e6 terms. Per-datum paired
    differences keep each draw accurate, and the full-batch float32 estimate meets the exact value."""
    from slt_ppl.llc import localized_logdensity
    from slt_ppl.model import make_potential

    n, d = 1_000_000, 5
    case = linear_regression.make(n=n, d=d, seed=0)
    X64 = np.asarray(case.model_args[0], np.float64)
    y64 = np.asarray(case.model_args[1], np.float64)
    nbeta = n / math.log(n)
    # 1. per draw, at posterior-scale displacements from w*: float32 paired vs float64 exact
    pot = make_potential(case.model, case.params, case.model_args)
    full = jnp.arange(n)
    logdensity = localized_logdensity(pot.loglik_fn, nbeta, 1.0, pot.position, pot.loglik_fn(pot.position, full))
    rng = np.random.default_rng(0)
    w_star = np.asarray(case.params["w"], np.float64)
    nll64 = lambda w: np.mean(0.5 * (y64 - X64 @ w) ** 2)  # noqa: E731
    for _ in range(3):
        w = w_star + rng.normal(size=d) / math.sqrt(nbeta)
        ours = nbeta * float(logdensity({"w": jnp.asarray(w, jnp.float32)}, full)[1][1])
        exact = nbeta * (nll64(np.asarray(jnp.asarray(w, jnp.float32), np.float64)) - nll64(w_star))
        assert abs(ours - exact) < 2e-3 * max(abs(exact), 1.0), (ours, exact)
    # 2. the whole estimate, float32 full batch, against the exact finite-n value
    h = np.linalg.eigvalsh(X64.T @ X64 / n)
    target = slt.theory.regular_finite_llc(h, nbeta, 1.0)
    # the subject is float32 accumulation at n = 1e6: the finite-n check's partner chains (twice the work) are off
    res = slt.estimate_llc(**case.llc_kwargs(), num_draws=500, num_burnin=300, seed=0, temperature_check=None)
    assert abs(res.llc - target) < 4 * res.mcse + 0.025 * target, (res.llc, res.mcse, target)


@pytest.mark.slow
def test_float64_option_end_to_end():
    case = linear_regression.make(n=20_000, d=3, seed=0)
    kw = dict(num_draws=500, num_burnin=300, seed=0, num_chains=4)
    r32 = slt.estimate_llc(**case.llc_kwargs(), **kw)
    r64 = slt.estimate_llc(**case.llc_kwargs(), dtype="float64", **kw)
    assert not jax.config.jax_enable_x64  # the option does not leak into the session
    assert r64.idata.attrs["loss_at_params"] != r32.idata.attrs["loss_at_params"]  # computed in double
    assert abs(r32.llc - r64.llc) < 4 * math.hypot(r32.mcse, r64.mcse)


def test_interrupted_wbic_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    """The global estimators checkpoint too: Ctrl-C mid-ladder, rerun, same numbers as an uninterrupted run."""
    from slt_ppl.samplers import runner

    case = linear_regression.make(n=300, d=2, seed=0)
    kw = dict(num_draws=300, num_burnin=100, chunk_size=100, sampler="hmc")
    reference = slt.estimate_wbic(case.model, case.model_args, **kw)
    original = runner._make_chunk_fn
    interrupt_at_chunk(monkeypatch, 2)
    with pytest.warns(RuntimeWarning, match="partial"), pytest.raises(KeyboardInterrupt, match="resume"):
        slt.estimate_wbic(case.model, case.model_args, checkpoint=str(tmp_path), **kw)
    monkeypatch.setattr(runner, "_make_chunk_fn", original)
    resumed = slt.estimate_wbic(case.model, case.model_args, checkpoint=str(tmp_path), **kw)
    np.testing.assert_array_equal(resumed.wbic_per_chain, reference.wbic_per_chain)
