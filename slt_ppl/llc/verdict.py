"""A verdict on every LLC estimate: converged or not, and why, from the draws themselves.

Checks, each with its threshold and source:
- rank-normalised split R-hat of the per-draw llc over the kept chains (Vehtari, Gelman, Simpson,
  Carpenter, Buerkner, "Rank-normalization, folding, and localization: an improved R-hat", Bayesian
  Analysis 16 (2021)): above 1.05 the chains disagree (not converged); between 1.01, their recommended
  bound for final results, and 1.05 it is noted;
- a trend between the halves of the draws: z = (mean of the second half - mean of the first) /
  sqrt(MCSE_1^2 + MCSE_2^2), pooled over kept chains; |z| > 3 means the burn-in had not finished
  (the trace still drifts), the remedy a longer num_burnin;
- acceptance out of band: the MALA acceptance of SGLD's proposals below 0.5 (Lau et al. read ~0.9 as
  healthy), or a Metropolis kernel's acceptance below 0.3: the step is too large;
- divergences, an interrupted (partial) run, a negative estimate (w* is not a local minimum), or one above
  d / 2 by more than 3 se (the variance form: above 1.5 d / 2), which no learning coefficient can be
  (results.beyond_half_dimension). At an automatic stochastic-gradient step the bound is d / 2 / (1 - kappa / 4):
  the step is set so that the stiffest direction's Euler bias, 1 / (1 - eps c / 4), is at most that factor
  (samplers/adaptation.py), and a regular model, all of whose directions are stiff, reads up to that much above
  its lambda while sampling as designed (linear regression d = 2, n = 10 000, 16 x 16 000 draws: 1.034 +/- 0.009
  for lambda = 1 at kappa = 0.1, where 1 / (1 - kappa / 4) = 1.026; a step too large reads far beyond it).
The variance form lambda_var = (n beta)^2 Var[L_n(w)] under the same posterior (from
d^2 F / d beta^2 = -Var_beta[n L_n] and E_beta[n L_n] ~ n L_n(w0) + lambda / beta; Watanabe, JMLR 14
(2013)) estimates the same coefficient without the baseline L_n(w*): it is reported beside the mean
form, from full-batch draws only (a minibatch's noise would add its own variance). Its finite-n value
differs from the mean form's (for a regular model (1/2) sum h'^2 against (1/2) sum h', h' = n beta h /
(n beta h + gamma); for K = w^(2k) both are 1/(2k) exactly), so a gap of 10-50% beyond the errors is a
note; a factor of 1.5 is a failure. Measured on linear regression (d = 3, n = 2000): at the automatic
step the forms read 1.45 and 1.53; at 11x, 17x, 28x that step the mean form read 2.03, 2.47, 4.37 (exact
1.5) while SGLD's MALA acceptance stayed at 0.86, 0.79, 0.61 and the variance form read 2.69, 3.99, 12.75:
the variance form is the sharper detector of a step that is too large.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from slt_ppl.results import (MALA_MIN, METROPOLIS_MIN, RHAT_FAIL, RHAT_NOTE, TREND_Z, VARIANCE_RATIO,
                             beyond_half_dimension, rank_rhat, trend_z, variance_form)

__all__ = ["Verdict", "diagnose", "trend_z", "rank_rhat", "unsettled", "TREND_Z", "RHAT_FAIL"]


class Verdict(NamedTuple):
    converged: bool
    diagnosis: tuple  # readable reasons; failures first, then notes
    rhat: float
    trend_z: float
    llc_variance: float | None  # the variance form (full batch only)
    llc_variance_se: float | None


def unsettled(kept: np.ndarray) -> bool:
    """The draws fail R-hat (> RHAT_FAIL) or drift between their halves (|z| > TREND_Z): more burn-in needed."""
    return bool(rank_rhat(kept) > RHAT_FAIL or abs(trend_z(kept)) > TREND_Z)


def diagnose(kept: np.ndarray, *, llc: float, se: float, num_diverged: int, num_chains: int, partial: bool,
             mala_acceptance: float | None, acceptance: float | None, full_batch: bool,
             rtol: float | None = None, stopped: bool = False, num_params: int | None = None,
             step_bias_allowance: float = 1.0) -> Verdict:
    """The verdict on the kept chains' (chain, draw) llc draws (module doc); num_params: d, for the d / 2 bound;
    step_bias_allowance: the factor by which the step may inflate a regular model's estimate (module doc)."""
    fail, note = [], []
    rhat = rank_rhat(kept)
    if np.isfinite(rhat):
        if rhat > RHAT_FAIL:
            fail.append(f"R-hat {rhat:.3f} > {RHAT_FAIL}: the chains disagree (run longer, or more burn-in)")
        elif rhat > RHAT_NOTE:
            note.append(f"R-hat {rhat:.3f} is above {RHAT_NOTE}, the bound recommended for final results")
    else:
        note.append("R-hat needs >= 2 usable chains")
    trend = trend_z(kept)
    if np.isfinite(trend) and abs(trend) > TREND_Z:
        fail.append(f"the llc trace drifts between the halves of the draws (z = {trend:+.1f}): the burn-in had not "
                    "finished; give a larger num_burnin")
    if mala_acceptance is not None and np.isfinite(mala_acceptance) and mala_acceptance < MALA_MIN:
        fail.append(f"MALA acceptance of the proposals {mala_acceptance:.2f} < {MALA_MIN}: the step size is too "
                    "large (use step_size='auto' or a smaller one)")
    if acceptance is not None and np.isfinite(acceptance) and acceptance < METROPOLIS_MIN:
        fail.append(f"acceptance {acceptance:.2f} < {METROPOLIS_MIN}: the step size is too large")
    if num_diverged:
        fail.append(f"{num_diverged} of {num_chains} chains diverged (left out of the estimate)")
    if partial:
        fail.append("the run was interrupted (partial)")
    if llc < 0:
        fail.append("the estimate is negative: w* is not a local minimum")
    beyond = beyond_half_dimension("the llc", llc, se, num_params, step_bias_allowance)
    if beyond:
        fail.append(beyond)
    if not np.isfinite(se):
        fail.append("the standard error is undefined (too few chains or draws)")
    if rtol is not None and np.isfinite(se) and llc != 0:
        if stopped:
            note.append(f"stopped when precise: se / |llc| = {se / abs(llc):.3f} <= rtol = {rtol}")
        elif se / abs(llc) > rtol:
            note.append(f"ended on the budget (num_draws / max_time) before the target: se / |llc| = "
                        f"{se / abs(llc):.3f} > rtol = {rtol}; give more draws or time")
    var_form = var_se = None
    if full_batch and kept.shape[1] >= 4:
        var_form, var_se = variance_form(kept)
        gap = abs(var_form - llc)
        ratio = var_form / llc if llc > 0 else float("inf")
        beyond = beyond_half_dimension("the variance form (n beta)^2 Var[L_n]", var_form, var_se, num_params,
                                       VARIANCE_RATIO)
        if beyond:
            fail.append(beyond)
        elif np.isfinite(var_se) and gap > 3 * np.hypot(var_se, se):
            if not 1 / VARIANCE_RATIO < ratio < VARIANCE_RATIO:
                fail.append(f"the variance form (n beta)^2 Var[L_n] = {var_form:.4g} +/- {var_se:.2g} is {ratio:.2f} "
                            "times the mean form: the chains do not sample the target (a step too large inflates the "
                            "variance first); use step_size='auto' or a smaller step")
            elif gap > 0.1 * abs(llc):
                note.append(f"the variance form (n beta)^2 Var[L_n] = {var_form:.4g} +/- {var_se:.2g} differs from the "
                            "mean form by more than its errors and 10%: non-equilibrium, or finite-n terms")
    return Verdict(not fail, tuple(fail + note), rhat, trend, var_form, var_se)
