"""Shared front end of the global estimators: argument checks, the potential, and the run itself.

Each estimator (WBIC, RLCT, free energy) is a ladder of temperatures plus a reduction of the n L_n
traces; this module runs the ladder and decides which chains may enter a reduction: a chain that
diverged at any temperature is dropped from all of them (so per-chain ladders stay paired) and
reported; if none is left, the run is an error, never a NaN.
"""

from __future__ import annotations

import warnings

import numpy as np

from slt_ppl.samplers import MCMC_SAMPLERS, SAMPLERS
from slt_ppl.tempered import TemperedRun, global_potential, sample_tempered
from slt_ppl.validation import choice, non_negative_int, positive_float, positive_int

__all__ = ["run_ladder", "kept_chains", "check_betas", "warn_if_undefined"]


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


def run_ladder(model, model_args, model_kwargs, betas, *, sampler, num_chains, num_draws, num_burnin, step_size,
               batch_size, seed, init_params, log_likelihood=False, kappa=0.1, chunk_size=500, progress_bar=None,
               desc="tempered", checkpoint=None):
    """Validate the common arguments, build the potential and sample every temperature: (pot, TemperedRun).

    betas: an array, or a function n -> array for ladders that depend on the data size.
    """
    choice("sampler", sampler, SAMPLERS)
    num_chains = positive_int("num_chains", num_chains)
    if num_draws is None:
        num_draws = 1000 if sampler in MCMC_SAMPLERS else 4000
    num_draws = positive_int("num_draws", num_draws)
    num_burnin = num_draws if num_burnin is None else non_negative_int("num_burnin", num_burnin)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    if not (isinstance(step_size, str) and step_size == "auto"):
        step_size = positive_float("step_size", step_size, " (or 'auto')")
    pot, inits = global_potential(model, model_args, model_kwargs, init_params, num_chains, int(seed))
    if batch_size is not None:
        batch_size = positive_int("batch_size", batch_size)
        if batch_size > pot.n:
            raise ValueError(f"batch_size={batch_size} exceeds the data size n={pot.n}; use batch_size=None for full batch")
        if sampler in MCMC_SAMPLERS and batch_size < pot.n:
            raise ValueError(f"sampler {sampler!r} is full-batch (Metropolis-adjusted); use batch_size=None, "
                             "or a stochastic-gradient sampler (sgld, rmsprop_sgld, sghmc, sgnht) for minibatches")
    if callable(betas):
        betas = betas(pot.n)
    if log_likelihood and pot.n * num_draws * num_chains * len(betas) > 2e8:
        raise ValueError(
            f"log_likelihood=True would store {pot.n * num_draws * num_chains * len(betas):.2g} values "
            "(n x draws x chains x temperatures); use fewer draws or log_likelihood=False"
        )
    run = sample_tempered(pot, inits, betas, sampler=sampler, num_draws=num_draws, num_burnin=num_burnin,
                          step_size=step_size, batch_size=batch_size, seed=int(seed), log_likelihood=log_likelihood,
                          kappa=positive_float("kappa", kappa), chunk_size=chunk_size, progress_bar=progress_bar,
                          desc=desc, checkpoint=checkpoint)
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
