"""A verdict on every global estimate (WBIC, RLCT, free energy), from the n L_n(w) traces of its ladder.

The same checks as the LLC's (llc/verdict.py, where their thresholds and sources are given), applied at each
temperature of the ladder to the per-draw n L_n over the kept chains:
- rank-normalised split R-hat above 1.05 fails (the chains disagree), above 1.01 is noted;
- a drift between the halves of the draws beyond 3 standard errors fails (the burn-in had not finished);
- a Metropolis kernel's mean acceptance below 0.3, or SGLD's MALA acceptance of its proposals below 0.5,
  fails (the step is too large);
- chains that diverged are named (left out of the estimate);
- with num_params (WBIC, RLCT: temperatures near 1/log n): the variance form beta^2 Var_beta[n L_n] at a
  temperature above 1.5 d / 2 beyond 3 se, or a learning coefficient (the RLCT's slope) above d / 2 beyond 3 se
  or below 0 beyond 3 se, fails: no learning coefficient lies outside (0, d / 2] (results.beyond_half_dimension).
  R-hat, the trend and the MALA acceptance all stayed quiet at 30x the automatic SGLD step on linear regression
  (d = 3), where the variance form read 17.1 and the RLCT -12.7. Not for the free energy, whose ladder reaches
  temperatures where the heat capacity may legitimately peak.
The worst temperature is reported: a global estimate is a function of every rung, and one unsettled rung
biases the slope (RLCT) or the thermodynamic integral (free energy) by itself.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from slt_ppl.results import (MALA_MIN, METROPOLIS_MIN, RHAT_FAIL, RHAT_NOTE, TREND_Z, VARIANCE_RATIO,
                             beyond_half_dimension, rank_rhat, trend_z, variance_form)

__all__ = ["LadderVerdict", "ladder_verdict", "verdict_attrs", "warn_if_not_converged"]


class LadderVerdict(NamedTuple):
    converged: bool
    diagnosis: tuple  # failures first, then notes
    rhat: float  # the largest over the temperatures
    trend_z: float  # the largest |z| over the temperatures, with its sign


def ladder_verdict(run, kept: np.ndarray, *, num_params: int | None = None, coefficient=None,
                   notes=()) -> LadderVerdict:
    """The verdict on a TemperedRun's n L_n traces (K, C, D) over the kept chains (C,) (module doc).
    num_params: d, for the d / 2 bound on the variance form; coefficient: (name, value, se) of a learning
    coefficient the estimator derives (the RLCT's slope), held to (0, d / 2] as well; notes: added to the diagnosis
    (a precision target's outcome, run_length.precision_note)."""
    fail, note = [], list(notes)
    betas = np.asarray(run.betas, dtype=np.float64)
    rhats = np.array([rank_rhat(run.nll[k][kept]) for k in range(len(betas))])
    trends = np.array([trend_z(run.nll[k][kept]) for k in range(len(betas))])
    label = (lambda k: "") if len(betas) == 1 else (lambda k: f" at beta = {betas[k]:.4g}")  # noqa: E731
    worst_rhat = float(np.nanmax(rhats)) if np.isfinite(rhats).any() else float("nan")
    if np.isfinite(worst_rhat):
        k = int(np.nanargmax(rhats))
        if worst_rhat > RHAT_FAIL:
            fail.append(f"R-hat {worst_rhat:.3f} > {RHAT_FAIL}{label(k)}: the chains disagree (run longer, or more "
                        "burn-in)")
        elif worst_rhat > RHAT_NOTE:
            note.append(f"R-hat {worst_rhat:.3f}{label(k)} is above {RHAT_NOTE}, the bound recommended for final results")
    else:
        note.append("R-hat needs >= 2 usable chains and >= 4 draws")
    worst_trend = float("nan")
    if np.isfinite(trends).any():
        k = int(np.nanargmax(np.abs(trends)))
        worst_trend = float(trends[k])
        if abs(worst_trend) > TREND_Z:
            fail.append(f"the n L_n trace{label(k)} drifts between the halves of the draws (z = {worst_trend:+.1f}): "
                        "the burn-in had not finished; give a larger num_burnin")
    for name, floor, what in (("acceptance", METROPOLIS_MIN, "acceptance"),
                              ("mala_acceptance", MALA_MIN, "MALA acceptance of the proposals")):
        if name in run.stats and kept.any():
            per_beta = np.nanmean(np.asarray(run.stats[name], dtype=np.float64)[:, kept], axis=(1, 2))
            if np.isfinite(per_beta).any() and np.nanmin(per_beta) < floor:
                k = int(np.nanargmin(per_beta))
                fail.append(f"{what} {per_beta[k]:.2f} < {floor}{label(k)}: the step size is too large")
    if num_params is not None and kept.sum() >= 2:
        for k in range(len(betas)):
            value, se = variance_form(run.nll[k][kept], float(betas[k]))
            beyond = beyond_half_dimension(f"the variance form beta^2 Var[n L_n]{label(k)}", value, se, num_params,
                                           VARIANCE_RATIO)
            if beyond:
                fail.append(beyond)
                break
    if coefficient is not None:
        name, value, se = coefficient
        beyond = beyond_half_dimension(name, value, se, num_params)
        if beyond:
            fail.append(beyond)
        elif np.isfinite(value) and np.isfinite(se) and value + 3 * se < 0:
            fail.append(f"{name} = {value:.4g} +/- {se:.2g} is negative, which no learning coefficient can be: the "
                        "chains do not sample the tempered posteriors (a step too large is the usual cause; use "
                        "step_size='auto' or a smaller step), or the ladder is too narrow for a slope")
    if (~kept).any():
        fail.append(f"{int((~kept).sum())} of {len(kept)} chains diverged (left out of the estimate)")
    return LadderVerdict(not fail, tuple(fail + note), worst_rhat, worst_trend)


def verdict_attrs(verdict: LadderVerdict) -> dict:
    """The verdict as DataTree attrs (what singular_fluctuation reads back from a WBIC run's DataTree)."""
    return {"converged": int(verdict.converged), "diagnosis": list(verdict.diagnosis), "rhat": verdict.rhat,
            "trend_z": verdict.trend_z}


def warn_if_not_converged(verdict: LadderVerdict, estimator: str) -> None:
    if not verdict.converged:
        warnings.warn(f"the {estimator} estimate is not converged: " + "; ".join(verdict.diagnosis[:3]),
                      RuntimeWarning, stacklevel=3)
