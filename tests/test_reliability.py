"""Runs that survive a kill (checkpoint/resume), faults inside a run, interrupts, and precision at n = 1e6."""

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import slt_ppl as slt
from models import linear_regression

ROOT = os.path.join(os.path.dirname(__file__), "..")

# A child process: estimate_llc with a checkpoint directory; with KILL_AFTER=k it SIGKILLs itself right
# after writing its k-th chunk (a crash or pre-emption at a deterministic point).
CHILD = textwrap.dedent("""
    import json, os, signal, sys, warnings
    sys.path.insert(0, {root!r})
    import slt_ppl as slt
    from slt_ppl.samplers import checkpoint as ck
    from models import linear_regression

    kill_after = int(os.environ.get("KILL_AFTER", "0"))
    where = os.environ.get("CKPT") or None
    saves = []
    original = ck.Checkpoint.save
    def save(self, *args, **kwargs):
        original(self, *args, **kwargs)
        saves.append(1)
        if kill_after and len(saves) == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
    ck.Checkpoint.save = save
    found = len([f for f in os.listdir(where) if f.endswith(".nc")]) if where and os.path.isdir(where) else 0
    case = linear_regression.make(n=2000, d=5, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = slt.estimate_llc(**case.llc_kwargs(), num_draws={draws}, num_burnin={burnin}, chunk_size=100,
                               checkpoint=where, sampler=os.environ.get("SAMPLER", "sgld"))
    print(json.dumps({{"llc_per_chain": res.llc_per_chain.tolist(), "found": found, "saved": len(saves),
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
        return base + jnp.where(w[0] > w_star[0] + 0.05, jnp.nan, 0.0)  # a numerical fault far from w*

    lik = slt.Likelihood(nll, (X, y))
    with pytest.warns(RuntimeWarning, match="diverged"):
        res = slt.estimate_llc(lik, jnp.asarray(w_star), step_size=3e-3, num_draws=400, num_burnin=100, seed=3)
    assert 0 < res.num_diverged < 4
    bad = res.diverged_chains
    assert np.all(res.diverged_at[bad] > 0) and np.all(res.diverged_at[~bad] == -1)
    assert np.isfinite(res.llc)
    assert res.llc == pytest.approx(np.mean(res.llc_per_chain[~bad]))
    trace = res.idata["sample_stats"]["llc"].values
    assert np.all(np.isfinite(trace[~bad]))
    first_bad = int(np.flatnonzero(bad)[0])
    assert np.isnan(trace[first_bad, -1])  # statistics after the fault are NaN, never a silent number
    assert "left out" in "".join(str(x) for x in [res.summary()]) or res.num_diverged


def test_keyboard_interrupt_returns_partial_result(monkeypatch):
    from slt_ppl.samplers import runner

    original = runner._make_chunk_fn

    def interrupting(step_fn, chunk_size):
        fn = original(step_fn, chunk_size)
        calls = []

        def chunk(*args):
            calls.append(1)
            if len(calls) == 4:
                raise KeyboardInterrupt
            return fn(*args)

        return chunk

    monkeypatch.setattr(runner, "_make_chunk_fn", interrupting)
    case = linear_regression.make(n=500, d=3, seed=0)
    with pytest.warns(RuntimeWarning, match="partial"):
        res = slt.estimate_llc(**case.llc_kwargs(), num_draws=400, num_burnin=100, chunk_size=100, step_size=1e-3)
    assert res.partial
    assert res.idata["sample_stats"].sizes["draw"] == 200  # 3 chunks of 100 steps, 100 of them burn-in
    assert "PARTIAL" in res.summary() and np.isfinite(res.llc)
    with pytest.raises(KeyboardInterrupt, match="nothing to estimate yet"):
        slt.estimate_llc(**case.llc_kwargs(), num_draws=400, num_burnin=300, chunk_size=100, step_size=1e-3)


@pytest.mark.slow
def test_estimator_is_stable_at_n_1e6_in_float32():
    """n = 1e6, n beta = 72 382: the per-draw n beta (L(w) - L(w*)) is O(d/2) while L ~ 1.4, a relative
    difference of 3e-5, below float32's resolution of a sum. Per-datum paired differences keep it exact."""
    n, d = 1_000_000, 5
    case = linear_regression.make(n=n, d=d, seed=0)
    kw = dict(num_draws=300, num_burnin=200, batch_size=10_000, seed=0, step_size=1e-6, num_chains=2)
    res32 = slt.estimate_llc(**case.llc_kwargs(), **kw)
    res64 = slt.estimate_llc(**case.llc_kwargs(), dtype="float64", **kw)
    assert not jax.config.jax_enable_x64  # the float64 option does not leak into the session
    # the same seed and noise: the float32 chains track the float64 ones
    np.testing.assert_allclose(res32.llc_per_chain, res64.llc_per_chain, rtol=2e-3)
    # what the naive estimator (difference of two float32 means) would lose per draw:
    X, y, _ = case.model_args
    w = jnp.asarray(case.params["w"]) + 0.002
    def mean_loss(w, dtype):
        r = y.astype(dtype) - X.astype(dtype) @ w.astype(dtype)
        return jnp.mean(0.5 * r**2)
    nbeta = n / math.log(n)
    with jax.enable_x64(True):
        exact = nbeta * float(mean_loss(w, jnp.float64) - mean_loss(case.params["w"], jnp.float64))
    naive = nbeta * float(mean_loss(w, jnp.float32) - mean_loss(case.params["w"], jnp.float32))
    paired = nbeta * float(jnp.mean(0.5 * (y - X @ w) ** 2 - 0.5 * (y - X @ case.params["w"]) ** 2))
    assert abs(paired - exact) < 1e-3 * abs(exact)
    warnings.warn(f"naive float32 error {abs(naive - exact) / abs(exact):.2e} vs paired {abs(paired - exact) / abs(exact):.2e}")
