"""The step-size bias of an SG-MCMC LLC estimate, measured in the same run and removed by Richardson extrapolation.

An Euler discretisation of Langevin dynamics with step eps samples a distribution whose expectations
are off by O(eps) (Mattingly, Stuart, Tretyakov, "Convergence of numerical time-averaging and
stationary measures via Poisson equations", SIAM J. Numer. Anal. 48 (2010); for SGLD with minibatch
noise the leading bias is O(eps) too, Vollmer, Zygalakis, Teh, "Exploration of the (non-)asymptotic
bias and variance of stochastic gradient Langevin dynamics", JMLR 17 (2016)). So with chains at the
step eps (the calibrated one) and partner chains at 2 eps in one vmapped run,
    L(2 eps) = lambda + 2 c eps + O(eps^2),   L(eps) = lambda + c eps + O(eps^2),
the bias at eps is b = L(2 eps) - L(eps) and the extrapolated estimate lambda_x = 2 L(eps) - L(2 eps),
with se_x^2 = 4 se(eps)^2 + se(2 eps)^2 + r^2 (the groups are independent chains; r below). One extrapolation covers
both the discretisation and the minibatch-noise bias, since both are linear in eps. The partner runs at
the larger step, not the smaller: a smaller step mixes more slowly, and a partner still short of
equilibrium in the same number of steps reads low, which the extrapolation would double into a bias
(measured on a DLN [5,12,9,10,5] and an RRR with m = 2: partners at eps/2 moved the estimate 14% and
37% away from lambda). The partner at 2 eps mixes faster, and the estimate at eps is today's.

The O(eps^2) term is not removed, and a long run makes it visible: on a Gaussian target the Euler-Maruyama chain's
stationary variance along a direction of curvature c is exactly 1 / (c (1 - x)), x = eps c / 4, so
L(eps) = lambda / (1 - x), L(2 eps) = lambda / (1 - 2 x), b = lambda x / ((1 - x)(1 - 2 x)) and the first-order
extrapolation misses by 2 lambda x^2 / ((1 - x)(1 - 2 x)) = 2 x b, about r = 2 b^2 / L(eps). Measured on linear
regression (d = 3) at 4x the automatic step, 16 chains x 16 000 draws: b = 0.19 on L(eps) = 1.65, residual
-0.041 against r = 0.045; with se_x alone (0.014) the extrapolated 1.459 missed lambda = 3/2 by 2.9 se. So r goes
into se_x in quadrature.

Which number is reported is a bias-variance choice made from the measured figures: the plain estimate
L(eps), whose error is its se (results.total_llc_se) and the bias b (se_p^2 = se(eps)^2 + b^2 + se_b^2, b's own noise
included, since E[b_hat^2] = b^2 + se_b^2), or lambda_x with se_x: the smaller error wins.
A bias larger than a quarter of the estimate means eps is outside the linear regime the extrapolation
relies on, and the verdict says so (not converged: use a smaller step); so does a partner group whose
chains all diverged at 2 eps, and an extrapolated value above d / 2 by more than 3 se_x (each group's own verdict
held only its plain value to that bound; the partner group at 2 eps, biased by design, not even that).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from slt_ppl.results import beyond_half_dimension

__all__ = ["STEP_FACTORS", "combine"]

STEP_FACTORS = (2.0, 1.0)  # the chains' step sizes, as multiples of eps: the partner group first
LINEAR_REGIME = 0.25  # |b| / |llc| above this: the step is too large for a first-order extrapolation


def combine(at_2eps, at_eps, *, eps: float):
    """The LLCResult of the chains at eps, its value and se replaced by the better of the plain and the
    extrapolated estimate (module doc), the step bias reported beside them (attributes and DataTree attrs).
    at_2eps None: every partner chain diverged, or too few survived for an MCSE (the bias is not measured,
    and the verdict says so)."""
    if at_2eps is not None and not (np.isfinite(at_2eps.mcse) and np.isfinite(at_2eps.llc)):
        at_2eps = None  # too few usable partner chains or draws: the bias is not measured (never a NaN se)
    if at_2eps is None:
        diagnosis = ("the partner chains at twice the step diverged (too few left for an error): the step-size bias could not be measured "
                     "and the step is too large for it (use a smaller step_size or kappa)",) + tuple(at_eps.diagnosis)
        at_eps.idata.attrs = {**at_eps.idata.attrs, "step_bias_method": "richardson", "converged": 0,
                              "diagnosis": list(diagnosis)}
        return dataclasses.replace(at_eps, converged=False, diagnosis=diagnosis)
    at_half = at_eps
    l1, l2 = float(at_2eps.llc), float(at_eps.llc)
    s1, s2 = float(at_2eps.se), float(at_half.se)  # each group's own total se (MCSE or its chains' spread)
    bias = l1 - l2
    bias_se = math.hypot(s1, s2)
    se_plain = math.sqrt(s2 ** 2 + bias ** 2 + bias_se ** 2)
    residual = 2 * bias ** 2 / max(abs(l2), 1e-12)  # the O(eps^2) term the first-order extrapolation leaves (doc)
    se_extrapolated = math.sqrt(4 * s2 ** 2 + s1 ** 2 + residual ** 2)
    extrapolated = bool(np.isfinite(se_extrapolated) and se_extrapolated < se_plain)
    value, se = (2 * l2 - l1, se_extrapolated) if extrapolated else (l2, se_plain)
    diagnosis = list(at_half.diagnosis)
    converged = bool(at_half.converged and at_2eps.converged)  # the partner's verdict skips the d / 2 bound
    if not at_2eps.converged:
        diagnosis.insert(0, "the partner chains at twice the step did not converge: "
                         + "; ".join(r for r in at_2eps.diagnosis[:2]))
    share = abs(bias) / max(abs(value), 1e-12)
    if share > LINEAR_REGIME and abs(bias) > 2 * bias_se:
        converged = False
        diagnosis.insert(0, f"step-size bias {bias:+.4g} between 2 eps and eps is {100 * share:.0f}% of the "
                            "estimate: eps is too large for the extrapolation (use a smaller step_size or kappa)")
    else:
        what = "removed by extrapolation to eps -> 0" if extrapolated else "within the error bar"
        diagnosis.append(f"step-size bias at eps: {bias:+.4g} +/- {bias_se:.2g} ({100 * share:.1f}% of the "
                         f"estimate), {what}")
    beyond = beyond_half_dimension("the reported llc", value, se, at_half.idata.attrs.get("num_params"))
    if extrapolated and beyond:  # the groups' verdicts held their plain values to d / 2; this is the reported one
        converged = False
        diagnosis.insert(0, beyond)
    attrs = dict(at_half.idata.attrs)
    attrs.update({
        "step_bias_method": "richardson",
        "step_sizes": [float(eps * f) for f in STEP_FACTORS],
        "llc_at_step": [l1, l2],
        "mcse_at_step": [s1, s2],
        "step_bias": bias,
        "step_bias_se": bias_se,
        "extrapolated": int(extrapolated),
        "se": se,
        "llc": value,
        "converged": int(converged),
        "diagnosis": list(diagnosis),
        "llc_per_chain_at_2eps": np.asarray(at_2eps.llc_per_chain, dtype=float).tolist(),
    })
    at_half.idata.attrs = attrs
    return dataclasses.replace(at_half, llc=value, se=se, converged=converged, diagnosis=tuple(diagnosis),
                               step_bias=bias, step_bias_se=bias_se, extrapolated=extrapolated,
                               llc_at_step=(l1, l2))
