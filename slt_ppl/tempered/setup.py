"""Shared front end of the global estimators: argument checks, the potential, and the run itself.

Each estimator (WBIC, RLCT, free energy) is a ladder of temperatures plus a reduction of the n L_n
traces; this module runs the ladder and decides which chains may enter a reduction: a chain that
diverged at any temperature is dropped from all of them (so per-chain ladders stay paired) and
reported; if none is left, the run is an error, never a NaN.
"""

from __future__ import annotations

import warnings

import numpy as np

from slt_ppl.checks import batch_size_for
from slt_ppl.model.minibatch_cost import warn_if_minibatch_costs_a_full_pass
from slt_ppl.model import global_potential
from slt_ppl.samplers import SamplingSettings, sampling_settings
from slt_ppl.tempered.ladder import TemperedRun, sample_tempered
from slt_ppl.tempered.run_length import ladder_stop_rule

__all__ = ["global_settings", "run_ladder", "kept_chains", "check_betas", "warn_if_undefined"]


def warn_if_undefined(**errors) -> None:
    """Warn, naming them, about standard errors that came out NaN (too few draws), never a silent NaN."""
    bad = [name for name, value in errors.items() if not np.all(np.isfinite(value))]
    if bad:
        warnings.warn(f"{', '.join(bad)} undefined (NaN): too few draws for an effective sample size; "
                      "use more chains or draws", RuntimeWarning, stacklevel=3)


def check_betas(betas, name: str = "betas") -> np.ndarray:
    """A 1-D array of finite, non-negative, distinct inverse temperatures, sorted ascending."""
    try:
        arr = np.asarray(betas, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of numbers, got {betas!r}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of inverse temperatures, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values: {arr.tolist()}")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0 (inverse temperatures), got {arr.tolist()}")
    if len(np.unique(arr)) != arr.size:
        raise ValueError(f"{name} has repeated values: {arr.tolist()}")
    return np.sort(arr)


# NUTS/HMC step adaptation target of the global estimators. The global posterior of a singular model
# spreads along the arms of its singular set, where the posterior narrows across each arm; the step
# BlackJAX's window adaptation reaches at 0.8 is too long for the narrow parts, which the chains then
# visit too rarely: on y ~ N(x w1 w2^2, 1), n = 3000, E_beta[n L_n] read 0.1-0.2 below the exact
# (quadrature) value at every temperature of the RLCT ladder (z to -4.9, float32 and float64 alike,
# with 4x the burn-in too), against -0.06 at 0.95 and -0.04 at 0.99 (benchmarks/results/global_exact_bias.txt).
GLOBAL_TARGET_ACCEPT = 0.95


def global_settings(*, sampler="nuts", num_chains=4, num_draws=None, num_burnin=None, step_size="auto", seed=0,
                    kappa=0.1, chunk_size=500, progress_bar=None, checkpoint=None, rtol=None, max_time=None,
                    target_accept_prob=None) -> SamplingSettings:
    """The sampling settings of a global estimator (WBIC, RLCT, free energy), checked once."""
    if target_accept_prob is None and sampler in ("nuts", "hmc"):
        target_accept_prob = GLOBAL_TARGET_ACCEPT
    settings = sampling_settings(sampler=sampler, num_chains=num_chains, num_draws=num_draws, num_burnin=num_burnin,
                                 step_size=step_size, seed=seed, kappa=kappa, chunk_size=chunk_size,
                                 progress_bar=progress_bar, checkpoint=checkpoint, step_hint=" (or 'auto')",
                                 rtol=rtol, max_time=max_time, target_accept_prob=target_accept_prob)
    if (rtol is not None or max_time is not None) and not settings.metropolis:
        raise ValueError(f"rtol and max_time need a full-batch sampler (nuts, hmc, mala), whose temperatures run "
                         f"together; {sampler!r} runs them one at a time: give num_draws instead")
    return settings


def run_ladder(settings: SamplingSettings, model, model_args, model_kwargs, betas, *, batch_size=None,
               init_params=None, log_likelihood=False, desc="tempered", reduce=None, atol=None):
    """Build the potential and sample every temperature: (pot, TemperedRun).

    betas: an array, or a function n -> array for ladders that depend on the data size.
    reduce(nll (K, C, D)) -> (value, se): the estimator's reduction, for the stop rule of settings.rtol /
    settings.max_time / atol (run_length.py).
    """
    pot, inits = global_potential(model, model_args, model_kwargs, init_params, settings.num_chains, settings.seed)
    batch_size = batch_size_for(batch_size, pot.n, sampler=settings.sampler, metropolis=settings.metropolis,
                                subsample_size=pot.subsample_size)
    if not settings.metropolis:
        warn_if_minibatch_costs_a_full_pass(pot, batch_size)
    if callable(betas):
        betas = betas(pot.n)
    num_draws, num_chains = settings.num_draws, settings.num_chains
    if log_likelihood and pot.n * num_draws * num_chains * len(betas) > 2e8:
        raise ValueError(
            f"log_likelihood=True would store {pot.n * num_draws * num_chains * len(betas):.2g} values "
            "(n x draws x chains x temperatures); use fewer draws or log_likelihood=False"
        )
    stop_when = None
    if settings.metropolis:
        stop_when = ladder_stop_rule(num_betas=len(betas), num_chains=num_chains, reduce=reduce, rtol=settings.rtol,
                                     atol=atol, max_time=settings.max_time)
    run = sample_tempered(settings, pot, inits, betas, batch_size=batch_size, log_likelihood=log_likelihood, desc=desc,
                          stop_when=stop_when)
    return pot, run


def kept_chains(run: TemperedRun, min_chains: int = 1) -> np.ndarray:
    """Chains usable at every temperature; warns about the others, raises if fewer than min_chains remain."""
    bad = run.diverged.any(axis=0) | ~np.all(np.isfinite(run.nll), axis=(0, 2))
    kept = ~bad
    if kept.sum() < min_chains:
        raise RuntimeError(
            f"{int(bad.sum())} of {bad.size} chains diverged (non-finite values, or a Metropolis chain accepting "
            f"< 1% of proposals; at steps {run.diverged_at.tolist()}) and fewer than {min_chains} remain; "
            "use a smaller step_size (or 'auto'), more warmup (num_burnin), or check the model's prior and data"
        )
    if bad.any():
        warnings.warn(
            f"chains {np.flatnonzero(bad).tolist()} diverged at some temperature (steps {run.diverged_at[:, bad].tolist()}) "
            "and were left out of every estimate", RuntimeWarning, stacklevel=3)
    return kept
