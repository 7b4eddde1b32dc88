"""Chains on the global tempered posterior p_beta(w) ∝ phi(w) exp{-beta n L_n(w)} at a ladder of betas.

Every global estimator (WBIC, the RLCT ladder, thermodynamic integration) reduces the per-draw
trace of n L_n(w) = -sum_i log p(X_i | w) at each temperature (reference sheet section 2), so
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

from slt_ppl.calibration import calibrate_sg, top_curvature
from slt_ppl.numpyro_adapter import from_numpyro, prior_draws
from slt_ppl.potential import Likelihood, Potential, from_likelihood, minibatch_fn
from slt_ppl.samplers import MCMC_SAMPLERS, SG_SAMPLERS, run_chains

__all__ = ["TemperedRun", "global_potential", "sample_tempered"]


class TemperedRun(NamedTuple):
    betas: np.ndarray  # (K,)
    nll: np.ndarray  # (K, C, D) float64: n L_n(w) per draw
    stats: dict  # name -> (K, C, D) kernel diagnostics (acceptance, divergent, ...)
    log_likelihood: np.ndarray | None  # (K, C, D, n) per-datum log p(X_i | w), when asked
    diverged: np.ndarray  # (K, C) bool: non-finite, or a Metropolis chain that accepted < 1%
    diverged_at: np.ndarray  # (K, C) step of the divergence, -1 if none
    step_size: np.ndarray  # (K, C)
    sampler: str


def _stack(trees):
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def global_potential(model, model_args, model_kwargs, init_params, num_chains: int, seed: int):
    """(Potential, initial positions with a leading chain axis) for sampling over the model's prior.

    NumPyro models start each chain at its own prior draw unless `init_params` is given; a
    Likelihood needs `init_params` and a `log_prior` (the global posterior integrates over it).
    """
    if isinstance(model, Likelihood):
        if model_args or model_kwargs:
            raise ValueError("model_args/model_kwargs are for NumPyro models; a Likelihood carries its data")
        if model.log_prior is None:
            raise ValueError(
                "the global estimators integrate over the prior: give the Likelihood one, "
                "slt.Likelihood(nll_per_example, data, log_prior=lambda params: ...)"
            )
        if init_params is None:
            raise ValueError("a Likelihood has no prior to draw starting points from: pass init_params (a pytree like params)")
        pot = from_likelihood(model, init_params)
        return pot, _stack([pot.position] * num_chains)
    if init_params is not None:
        pot = from_numpyro(model, init_params, model_args, model_kwargs)
        return pot, _stack([pot.position] * num_chains)
    draws = prior_draws(model, model_args, model_kwargs, num=num_chains, seed=seed)
    pots = [from_numpyro(model, d, model_args, model_kwargs) for d in draws]
    if pots[0].log_prior_fn is None:
        raise ValueError("the model has no prior over its latent sites")
    return pots[0], _stack([p.position for p in pots])


def _flat_init_steps(pot: Potential, position, betas, sampler, key):
    """Starting step sizes per temperature from the curvature c_prior + beta c_lik at a start point."""
    full = jnp.arange(pot.n)
    k1, k2 = jax.random.split(key)
    c_lik = top_curvature(lambda p, idx: (jnp.sum(pot.loglik_fn(p, idx)), None), position, full, k1)
    c_prior = top_curvature(lambda p, idx: (pot.log_prior_fn(p), None), position, full, k2)
    c = np.maximum(c_prior + np.asarray(betas) * c_lik, 1e-8)
    return 0.5 / c if sampler == "mala" else 1.0 / np.sqrt(c)


def _check_complete(run, num_steps, checkpoint):
    if run.completed < num_steps:
        raise KeyboardInterrupt(
            f"interrupted after {run.completed} of {num_steps} steps; the global estimators need every temperature "
            + (f"(rerun with checkpoint={checkpoint!r} to resume)" if checkpoint else "(give checkpoint= to resume later)"))


def _sample_mcmc(pot, betas, inits, sampler, num_draws, num_burnin, step_size, key, log_likelihood, chunk_size,
                 progress_bar, desc, checkpoint):
    spec = MCMC_SAMPLERS[sampler]
    K, C = len(betas), jax.tree.leaves(inits)[0].shape[0]
    full = jnp.arange(pot.n)
    dtype = jnp.result_type(float)

    def logdensity_at(beta):
        return lambda w: pot.log_prior_fn(w) + beta * jnp.sum(pot.loglik_fn(w, full))

    beta_flat = jnp.repeat(jnp.asarray(betas, dtype), C)
    init_flat = jax.tree.map(lambda x: jnp.tile(x, (K,) + (1,) * (x.ndim - 1)), inits)
    k_curv, k_adapt, k_chains = jax.random.split(key, 3)
    given = None if isinstance(step_size, str) else float(step_size)
    steps0 = np.ones(K * C)
    if given is None:
        steps0 = np.repeat(_flat_init_steps(pot, jax.tree.map(lambda x: x[0], inits), betas, sampler, k_curv), C)

    def adapt(beta, w0, k, s0):
        return spec.adapt(logdensity_at(beta), w0, k, num_burnin, given, s0)

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
                     chunk_size=chunk_size, progress_bar=progress_bar, desc=desc, checkpoint=checkpoint,
                     checkpoint_settings={"sampler": sampler, "log_likelihood": log_likelihood})
    _check_complete(run, extra + num_draws, checkpoint)
    stats = {k: v[:, extra:].reshape((K, C) + v[:, extra:].shape[1:]) for k, v in run.stats.items()}
    step = np.asarray(params["step_size"], dtype=np.float64).reshape(K, C)
    return stats, run.diverged.reshape(K, C), run.diverged_at.reshape(K, C), step


def _sample_sg(pot, betas, inits, sampler, num_draws, num_burnin, step_size, key, batch_size, log_likelihood,
               kappa, chunk_size, progress_bar, desc, checkpoint):
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
        if isinstance(step_size, str):
            cal = calibrate_sg(spec, logdensity_fn, jax.tree.map(lambda x: x[0], inits), draw_batch, k_calib,
                               num_chains=C, kappa=kappa, minibatched=batch_size is not None and batch_size < n)
            step, states = cal.step_size, cal.states
        else:
            step, states = float(step_size), jax.vmap(spec.init)(inits, jax.random.split(k_init, C))
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
                         chunk_size=chunk_size, progress_bar=progress_bar, desc=f"{desc} beta={beta:.3g}",
                         checkpoint=where, checkpoint_settings={"sampler": sampler, "step_size": float(step),
                                                                "beta": float(beta), "log_likelihood": log_likelihood})
        _check_complete(run, num_burnin + num_draws, checkpoint)
        out_stats.append({name: v[:, num_burnin:] for name, v in run.stats.items()})
        out_div.append(run.diverged)
        out_at.append(run.diverged_at)
        out_step.append(np.full(C, step))
    stats = {name: np.stack([s[name] for s in out_stats]) for name in out_stats[0]}
    return stats, np.stack(out_div), np.stack(out_at), np.stack(out_step)


def sample_tempered(pot: Potential, inits, betas, *, sampler: str = "nuts", num_draws: int = 1000,
                    num_burnin: int = 1000, step_size="auto", batch_size=None, seed: int = 0,
                    log_likelihood: bool = False, kappa: float = 0.1, chunk_size: int = 500,
                    progress_bar=None, desc: str = "tempered", checkpoint=None) -> TemperedRun:
    """Sample p_beta for every beta in `betas` (chains start at `inits`) and return the n L_n traces."""
    key = jax.random.key(int(seed))
    betas = np.asarray(betas, dtype=np.float64)
    if sampler in MCMC_SAMPLERS:
        stats, diverged, at, step = _sample_mcmc(pot, betas, inits, sampler, num_draws, num_burnin, step_size, key,
                                                 log_likelihood, chunk_size, progress_bar, desc, checkpoint)
    else:
        stats, diverged, at, step = _sample_sg(pot, betas, inits, sampler, num_draws, num_burnin, step_size, key,
                                               batch_size, log_likelihood, kappa, chunk_size, progress_bar, desc,
                                               checkpoint)
    loglik = stats.pop("log_likelihood", None)
    nll = stats.pop("nll").astype(np.float64)
    if "acceptance" in stats and num_draws:
        with np.errstate(invalid="ignore"):
            diverged = diverged | (np.nanmean(stats["acceptance"], axis=-1) < 0.01)
    stats = {k: v.astype(np.float64) for k, v in stats.items()}
    return TemperedRun(betas, nll, stats, loglik, diverged, at, step, sampler)
