"""Chains on the global tempered posterior p_beta(w) ∝ phi(w) exp{-beta n L_n(w)} at a ladder of betas.

Every global estimator (WBIC, the RLCT ladder, thermodynamic integration) reduces the per-draw
trace of n L_n(w) = -sum_i log p(X_i | w) at each temperature (Watanabe, "A Widely Applicable Bayesian Information Criterion", JMLR 14 (2013): WBIC, the
global learning coefficient and thermodynamic integration all read E_beta[n L_n]), so
that is what this module returns, with the kernel's diagnostics and, when asked, the per-datum
log-likelihoods (for WAIC / the singular fluctuation).
- MALA/HMC/NUTS run full batch; the temperatures are one more vmapped axis (compiled once), each
  (temperature, chain) with its own BlackJAX adaptation.
- Stochastic-gradient kernels run one temperature at a time with the curvature calibration. Their
  n L_n per draw uses a control variate: n L_n(w_ref) + n mean_B[log p(X_i|w_ref) - log p(X_i|w)],
  w_ref the chain's warm state (full batch once), unbiased and with minibatch noise that shrinks
  as w nears w_ref, instead of the bare n L_B(w), whose noise (order n / sqrt(batch)) would swamp
  the posterior spread of n L_n (order sqrt(lambda) / beta).
"""

from __future__ import annotations

import os
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from slt_ppl.model import Potential, minibatch_fn
from slt_ppl.samplers import MCMC_SAMPLERS, SG_SAMPLERS, SamplingSettings, run_chains
from slt_ppl.samplers.adaptation import calibrate_sg, top_curvature

__all__ = ["TemperedRun", "sample_tempered"]


class TemperedRun(NamedTuple):
    betas: np.ndarray  # (K,)
    nll: np.ndarray  # (K, C, D) float64: n L_n(w) per draw
    stats: dict  # name -> (K, C, D) kernel diagnostics (acceptance, divergent, ...)
    log_likelihood: np.ndarray | None  # (K, C, D, n) per-datum log p(X_i | w), when asked
    diverged: np.ndarray  # (K, C) bool: non-finite, or a Metropolis chain that accepted < 1%
    diverged_at: np.ndarray  # (K, C) step of the divergence, -1 if none
    step_size: np.ndarray  # (K, C)
    sampler: str
    stopped: bool = False  # a precision target or time budget ended the run before num_draws (run_length.py)


def _flat_init_steps(pot: Potential, position, betas, sampler, key):
    """Starting step sizes per temperature from the curvature c_prior + beta c_lik at a start point."""
    full = jnp.arange(pot.n)
    k1, k2 = jax.random.split(key)
    c_lik = top_curvature(lambda p, idx: (jnp.sum(pot.loglik_fn(p, idx)), None), position, full, k1)
    c_prior = top_curvature(lambda p, idx: (pot.log_prior_fn(p), None), position, full, k2)
    c = np.maximum(c_prior + np.asarray(betas) * c_lik, 1e-8)
    return 0.5 / c if sampler == "mala" else 1.0 / np.sqrt(c)


def _check_complete(run, num_steps, checkpoint):
    if run.completed < num_steps and not run.stopped:
        raise KeyboardInterrupt(
            f"interrupted after {run.completed} of {num_steps} steps; the global estimators need every temperature "
            + (f"(rerun with checkpoint={checkpoint!r} to resume)" if checkpoint else "(give checkpoint= to resume later)"))


def _sample_mcmc(settings: SamplingSettings, pot, betas, inits, key, log_likelihood, desc, stop_when=None):
    sampler, num_draws, num_burnin = settings.sampler, settings.num_draws, settings.num_burnin
    spec = MCMC_SAMPLERS[sampler]
    K, C = len(betas), jax.tree.leaves(inits)[0].shape[0]
    full = jnp.arange(pot.n)
    dtype = jnp.result_type(float)

    def logdensity_at(beta):
        return lambda w: pot.log_prior_fn(w) + beta * jnp.sum(pot.loglik_fn(w, full))

    beta_flat = jnp.repeat(jnp.asarray(betas, dtype), C)
    init_flat = jax.tree.map(lambda x: jnp.tile(x, (K,) + (1,) * (x.ndim - 1)), inits)
    k_curv, k_adapt, k_chains = jax.random.split(key, 3)
    given = None if settings.auto_step else float(settings.step_size)
    steps0 = np.ones(K * C)
    if given is None:
        steps0 = np.repeat(_flat_init_steps(pot, jax.tree.map(lambda x: x[0], inits), betas, sampler, k_curv), C)

    def adapt(beta, w0, k, s0):
        return spec.adapt(logdensity_at(beta), w0, k, num_burnin, given, s0, settings.target_accept_prob)

    states, params = jax.jit(jax.vmap(adapt))(beta_flat, init_flat, jax.random.split(k_adapt, K * C),
                                              jnp.asarray(steps0, dtype))

    def step_fn(key, carry, t):
        state, p, beta = carry
        state, stats = spec.step(logdensity_at(beta))(key, state, p)
        ll = pot.loglik_fn(state.position, full)
        stats["nll"] = -jnp.sum(ll)
        if log_likelihood:
            stats["log_likelihood"] = ll
        return (state, p, beta), stats

    extra = num_burnin if given is not None else 0  # adaptation already consumed the burn-in
    run = run_chains(step_fn, (states, params, beta_flat), jax.random.split(k_chains, K * C), extra + num_draws,
                     settings, desc=desc, checkpoint_settings={"sampler": sampler, "log_likelihood": log_likelihood},
                     stop_when=_offset(stop_when, extra))
    _check_complete(run, extra + num_draws, settings.checkpoint)
    stats = {k: v[:, extra:].reshape((K, C) + v[:, extra:].shape[1:]) for k, v in run.stats.items()}
    step = np.asarray(params["step_size"], dtype=np.float64).reshape(K, C)
    return stats, run.diverged.reshape(K, C), run.diverged_at.reshape(K, C), step, bool(run.stopped)


def _offset(stop_when, first_draw):
    """A stop rule over the draws only: the first `first_draw` steps (a burn-in run in the loop) are dropped."""
    if stop_when is None or first_draw == 0:
        return stop_when

    def stop(pieces, done):
        if done <= first_draw:
            return False
        stats = np.concatenate([p["nll"] for p in pieces], axis=1)[:, first_draw:]
        return stop_when([{"nll": stats}], done - first_draw)

    return stop


def _sample_sg(settings: SamplingSettings, pot, betas, inits, key, batch_size, log_likelihood, desc):
    sampler, num_draws, num_burnin, checkpoint = settings.sampler, settings.num_draws, settings.num_burnin, settings.checkpoint
    spec = SG_SAMPLERS[sampler]
    n = pot.n
    C = jax.tree.leaves(inits)[0].shape[0]
    draw_batch = minibatch_fn(n, batch_size)
    full = jnp.arange(n)
    kernel = spec.build_kernel()
    dtype = jnp.result_type(float)
    out_stats, out_div, out_at, out_step = [], [], [], []
    for k, beta in enumerate(np.asarray(betas, dtype=np.float64)):

        def logdensity_fn(position, idx, beta=float(beta)):
            ll = pot.loglik_fn(position, idx)
            return pot.log_prior_fn(position) + beta * n * jnp.mean(ll), ll

        k_calib, k_init, k_chains = jax.random.split(jax.random.fold_in(key, k), 3)
        if settings.auto_step:
            cal = calibrate_sg(spec, logdensity_fn, jax.tree.map(lambda x: x[0], inits), draw_batch, k_calib,
                               num_chains=C, kappa=settings.kappa, minibatched=batch_size is not None and batch_size < n)
            step, states = cal.step_size, cal.states
        else:
            step, states = float(settings.step_size), jax.vmap(spec.init)(inits, jax.random.split(k_init, C))
        ll_ref = jax.jit(jax.vmap(lambda p: pot.loglik_fn(p, full)))(states.position)  # (C, n)
        nll_ref = -jnp.sum(ll_ref, axis=1)

        def step_fn(key, carry, t, step=jnp.asarray(step, dtype), logdensity_fn=logdensity_fn):
            state, ref, ref_total = carry
            k_batch, k_step = jax.random.split(key)
            idx = draw_batch(k_batch)
            state, info = kernel(k_step, state, logdensity_fn, idx, step)
            ll_new = pot.loglik_fn(state.position, full) if log_likelihood else None
            # control variate (module doc): n L_n(w_ref) + n mean_B[ll(w_ref) - ll(w)], evaluated at the
            # pre-step position (where the kernel already computed ll on B)
            stats = {"nll": ref_total + n * jnp.mean(ref[idx] - info.aux), "grad_norm": info.grad_norm}
            if log_likelihood:
                stats["log_likelihood"] = ll_new
            return (state, ref, ref_total), stats

        where = None if checkpoint is None else os.path.join(os.fspath(checkpoint), f"beta_{k:03d}")
        run = run_chains(step_fn, (states, ll_ref, nll_ref), jax.random.split(k_chains, C), num_burnin + num_draws,
                         settings._replace(checkpoint=where), desc=f"{desc} beta={beta:.3g}",
                         checkpoint_settings={"sampler": sampler, "step_size": float(step), "beta": float(beta),
                                              "log_likelihood": log_likelihood})
        _check_complete(run, num_burnin + num_draws, checkpoint)
        out_stats.append({name: v[:, num_burnin:] for name, v in run.stats.items()})
        out_div.append(run.diverged)
        out_at.append(run.diverged_at)
        out_step.append(np.full(C, step))
    stats = {name: np.stack([s[name] for s in out_stats]) for name in out_stats[0]}
    return stats, np.stack(out_div), np.stack(out_at), np.stack(out_step)


def sample_tempered(settings: SamplingSettings, pot: Potential, inits, betas, *, batch_size=None,
                    log_likelihood: bool = False, desc: str = "tempered", stop_when=None) -> TemperedRun:
    """Sample p_beta for every beta in `betas` (chains start at `inits`) and return the n L_n traces.

    stop_when: the runner's stop rule over the draws (full-batch kernels only; run_length.py); the run may then
    end before num_draws, with every temperature at the same length."""
    key = jax.random.key(settings.seed)
    betas = np.asarray(betas, dtype=np.float64)
    if settings.metropolis:
        stats, diverged, at, step, stopped = _sample_mcmc(settings, pot, betas, inits, key, log_likelihood, desc,
                                                          stop_when)
    else:
        stats, diverged, at, step = _sample_sg(settings, pot, betas, inits, key, batch_size, log_likelihood, desc)
        stopped = False
    loglik = stats.pop("log_likelihood", None)
    nll = stats.pop("nll").astype(np.float64)
    if "acceptance" in stats and settings.num_draws:
        with np.errstate(invalid="ignore"):
            diverged = diverged | (np.nanmean(stats["acceptance"], axis=-1) < 0.01)
    stats = {k: v.astype(np.float64) for k, v in stats.items()}
    return TemperedRun(betas, nll, stats, loglik, diverged, at, step, settings.sampler, stopped)
