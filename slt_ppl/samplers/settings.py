"""The sampling settings of every estimator: one NamedTuple, checked once, carried to the runner.

`sampling_settings(...)` validates what the user gave (each error names the argument and the fix)
and fills in the defaults; the estimators, the samplers' front ends and `run_chains` read the same
object, so a setting is checked in one place and travels as one value (a NamedTuple: hashable,
immutable, `_replace` for a variant, as BlackJAX passes its parameters).
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import numpy as np

from slt_ppl.checks import choice, non_negative_int, positive_float, positive_int
from slt_ppl.samplers.registry import MCMC_SAMPLERS, SAMPLERS

__all__ = ["SamplingSettings", "sampling_settings"]

SG_DEFAULT_DRAWS = 4000  # a stochastic-gradient draw is one step
MCMC_DEFAULT_DRAWS = 1000  # a Metropolis draw is a whole trajectory: fewer draws for the same work


class SamplingSettings(NamedTuple):
    """How to sample: which kernel, how many chains and steps, the step size, and how to run the loop.

    One settings object, checked once by the public functions and carried unchanged to the runner.

    Attributes
    ----------
    sampler : str
        A name in ``slt_ppl.SAMPLERS`` (default ``"sgld"``).
    num_chains, num_draws, num_burnin : int
        Chains run in parallel (vectorised), draws kept per chain, burn-in steps per chain.
    step_size : float or "auto"
        In the kernel's own convention (``slt_ppl.samplers.registry.STEP_SIZE_CONVENTIONS``: eps, the noise
        variance, for SGLD), or ``"auto"``: calibrated from the curvature, eps = kappa / c.
    seed : int
        The PRNG seed: the same seed gives the same numbers.
    kappa : float
        The stiffness budget of the automatic step (default 0.1).
    burnin_step_factor : float
        Stochastic-gradient burn-in runs at this multiple of the step (default 4).
    diagnostic_every : int or None
        Interval of SGLD's MALA-acceptance diagnostic (None: off).
    chunk_size : int
        Steps per compiled chunk; progress, checkpoints and interrupts happen between chunks.
    progress_bar : bool or None
        None: shown in a terminal or notebook when the run is long.
    checkpoint : str, path or None
        A directory to save to and resume from.
    rtol : float or None
        Stop once se / abs(estimate) <= rtol (num_draws is then the budget).
    max_time : float or None
        Seconds of sampling after which the run stops.
    extend_burnin : int
        LLC, stochastic-gradient kernels: how many times an unsettled trace may turn its first half into
        burn-in and sample on.
    burnin_temperature : float
        SGLD LLC: every second chain burns in at this temperature (1: none).
    target_accept_prob : float or None
        MALA/HMC/NUTS step adaptation target (None: 0.574 for MALA, 0.8 for HMC/NUTS).
    """

    sampler: str = "sgld"
    num_chains: int = 4
    num_draws: int = SG_DEFAULT_DRAWS
    num_burnin: int = SG_DEFAULT_DRAWS
    step_size: Any = "auto"
    seed: int = 0
    kappa: float = 0.1
    burnin_step_factor: float = 4.0
    diagnostic_every: int | None = 10
    chunk_size: int = 500
    progress_bar: bool | None = None
    checkpoint: Any = None
    rtol: float | None = None  # stop once se / |estimate| <= rtol (num_draws is then the budget)
    max_time: float | None = None  # seconds of sampling after which the run stops (the budget)
    extend_burnin: int = 1  # SG LLC: times a drifting trace may turn its first half into burn-in and sample on
    burnin_temperature: float = 1.0  # SGLD LLC: every second chain burns in at this temperature (1: none)
    target_accept_prob: float | None = None  # MALA/HMC/NUTS step adaptation target (None: 0.574 MALA, 0.8 HMC/NUTS)

    @property
    def auto_step(self) -> bool:
        return isinstance(self.step_size, str)

    @property
    def metropolis(self) -> bool:
        """A full-batch, Metropolis-adjusted kernel (MALA, HMC, NUTS)."""
        return self.sampler in MCMC_SAMPLERS

    @property
    def num_steps(self) -> int:
        return self.num_burnin + self.num_draws


def _seed(seed) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) and not (
        hasattr(seed, "dtype") and np.ndim(seed) == 0 and np.issubdtype(np.asarray(seed).dtype, np.integer)
    ):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    return int(seed)


def sampling_settings(*, sampler: str = "sgld", num_chains=4, num_draws=None, num_burnin=None, step_size="auto",
                      seed=0, kappa=0.1, burnin_step_factor=4.0, diagnostic_every=10, chunk_size=500,
                      progress_bar=None, checkpoint=None, rtol=None, max_time=None, extend_burnin=1, burnin_temperature=1.0,
                      target_accept_prob=None, step_hint: str = " (or 'auto'); try a smaller positive value "
                                                                            "such as 1e-4") -> SamplingSettings:
    """SamplingSettings from user input: validated, defaults filled in (num_draws None -> 4000 for the
    stochastic-gradient kernels, 1000 for MALA/HMC/NUTS; num_burnin None -> num_draws)."""
    choice("sampler", sampler, SAMPLERS)
    num_chains = positive_int("num_chains", num_chains)
    if num_draws is None:
        num_draws = MCMC_DEFAULT_DRAWS if sampler in MCMC_SAMPLERS else SG_DEFAULT_DRAWS
    num_draws = positive_int("num_draws", num_draws)
    num_burnin = num_draws if num_burnin is None else non_negative_int("num_burnin", num_burnin)
    if not (isinstance(step_size, str) and step_size == "auto"):
        step_size = positive_float("step_size", step_size, step_hint)
    kappa = positive_float("kappa", kappa)
    burnin_step_factor = positive_float("burnin_step_factor", burnin_step_factor)
    if diagnostic_every is not None:
        diagnostic_every = positive_int("diagnostic_every", diagnostic_every)
    chunk_size = positive_int("chunk_size", chunk_size)
    if progress_bar is not None and not isinstance(progress_bar, (bool, np.bool_)):
        raise ValueError(f"progress_bar must be True, False or None (on in a terminal only), got {progress_bar!r}")
    if checkpoint is not None and not isinstance(checkpoint, (str, os.PathLike)):
        raise ValueError(f"checkpoint must be a directory path (str or os.PathLike), got {type(checkpoint).__name__}")
    if rtol is not None:
        rtol = positive_float("rtol", rtol, " (the target relative standard error, e.g. 0.02)")
    if max_time is not None:
        max_time = positive_float("max_time", max_time, " (seconds)")
    extend_burnin = non_negative_int("extend_burnin", extend_burnin)
    burnin_temperature = positive_float("burnin_temperature", burnin_temperature, " (>= 1; 1 turns the hot burn-in off)")
    if burnin_temperature < 1:
        raise ValueError(f"burnin_temperature must be >= 1 (1 turns the hot burn-in off), got {burnin_temperature}")
    if target_accept_prob is not None:
        target_accept_prob = positive_float("target_accept_prob", target_accept_prob,
                                            " (the acceptance rate the step adaptation aims at, in (0, 1), e.g. 0.95)")
        if not target_accept_prob < 1:
            raise ValueError(f"target_accept_prob must lie in (0, 1) (e.g. 0.95), got {target_accept_prob}")
        if sampler not in MCMC_SAMPLERS:
            raise ValueError(f"target_accept_prob sets the step adaptation of the Metropolis kernels (mala, hmc, nuts); "
                             f"{sampler!r} takes its step from kappa instead: drop target_accept_prob or pick one of those")
    return SamplingSettings(sampler, num_chains, num_draws, num_burnin, step_size, _seed(seed), kappa,
                            burnin_step_factor, diagnostic_every, chunk_size,
                            None if progress_bar is None else bool(progress_bar), checkpoint, rtol, max_time,
                            extend_burnin, float(burnin_temperature), target_accept_prob)
