"""The finite-n terms of an LLC estimate, measured in the same run by partner chains at n beta / T, and put in its error.

The estimator's target is a finite-n quantity: with t = n beta and the localized posterior at w*,
    lambda_hat(t) = t E_t[L_n(w) - L_n(w*)] = t dF/dt,   F(t) = lambda log t - (m - 1) log log t + O_p(1)
(Watanabe, "Algebraic Geometry and Statistical Learning Theory", CUP 2009, ch. 6; "A widely applicable Bayesian
information criterion", JMLR 14 (2013)), so lambda_hat(t) = lambda - (m - 1) / log t + o(1 / log t): in the
asymptotic regime it hardly depends on t (between t / 4 and t, the multiplicity term moves by
0.035 (m - 1) at n = 10 000). Before that regime, terms that decay as t grows dominate: singular values of a
teacher that t resolves only partly, a posterior still wide enough to see the more singular points near w*
(with a Gaussian localization, whose support is everything, the limit is the smallest coefficient on the set
of minimisers). They do not show in the MCSE, R-hat or the drift between halves (the chains agree, at the wrong
value), and a longer run reads the same.

The estimate rises toward lambda as t grows, and the distance lambda - lambda_hat(t) is about the shift
lambda_hat(t) - lambda_hat(t / 4) (a term decaying as t^-p is shifted by (4^p - 1) times itself: at least
itself for p >= 1/2). So every SG estimate runs `num_chains` partner chains at n beta / T
(gamma kept; for SGLD the step T times larger: the same stiffness of the likelihood part, so the same discretisation
quality; SGHMC/SGNHT keep their h, since at a larger one their wider partners diverge on stiff models), started from
their counterparts' warm states with noise of their own, in the same vmapped run, and

    shift = lambda_hat(t) - lambda_hat(t / T),   se_shift = sqrt(se(t)^2 + se(t / T)^2),
    se = sqrt(se(t)^2 + shift^2)

(each term once: the measured shift carries its own noise, E[shift^2] = true shift^2 + se_shift^2, so neither
se_shift nor a second se(t) is added; se_shift only decides whether the diagnosis calls the shift significant,
|shift| > 2 se_shift). The reported value stays
lambda_hat(t), the estimator of Lau et al. at the n beta asked for; the shift is reported beside it
(res.temperature_shift, res.llc_at_temperature, summary(), DataTree attrs). A regular model's finite-n value
(1/2) sum t h / (t h + gamma) hardly moves between t / T and t once t h >> gamma, so its shift is zero up to
noise. The partners never change the other chains' run: their divergences, misfit or unsettled draws trigger no
repair (they are reported), and the main chains draw what a run without them draws. Where the partners sit above
the main chains the shift is as much a statement of the error as where they sit below: |shift| goes in.
The cost is twice the chains (temperature_check=None turns it off; the bias is then not in the error, and
the diagnosis says so).

The partners draw noise of their own rather than their counterparts' random numbers. Shared noise would cancel in
the shift and shrink se_shift, but the independent noise is margin this se needs: the shift stands for the residual
bias only for a term decaying as t^-p, p >= 1/2, while a logarithmic one, -(m - 1) / log t, lies about
log(t / 4) / log 4 shifts from its limit.

Evidence: benchmarks/certified_llc.py (Gaussian-teacher DLNs against Aoyagi's lambda, crossings against
quadrature); the measurements are in benchmarks/results/certified_llc.txt.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from slt_ppl.checks import non_negative_float

__all__ = ["DEFAULT_TEMPERATURE", "check_temperature", "combine_temperature", "total_se"]

DEFAULT_TEMPERATURE = 4.0


def check_temperature(temperature_check) -> float | None:
    """temperature_check as a float > 1, or None (the check off); a clear error otherwise."""
    if temperature_check is None:
        return None
    temperature_check = non_negative_float("temperature_check", temperature_check)
    if temperature_check <= 1.0:
        raise ValueError(f"temperature_check={temperature_check:g}: the partner chains run at n beta / T, so T must "
                         "be > 1 (4 is the default), or None to turn the check off")
    return temperature_check


def total_se(se, shift) -> float:
    """The se of an estimate with the measured shift to its partner chains counted once,
        se_total = sqrt(se^2 + shift^2),
    se the main chains' own error (Monte Carlo noise and the measured step-size bias). The measured shift
    already carries its own noise (E[shift^2] = true shift^2 + se_shift^2), so se_shift is not added again,
    nor the main chains' noise a second time."""
    return math.hypot(float(se), float(shift))


def combine_temperature(partner, main, *, temperature: float, rtol: float | None = None):
    """The LLCResult `main` (chains at n beta) with the shift to `partner` (chains at n beta / T) counted once in
    its se (total_se), and reported beside it. partner None: every partner chain diverged, or too few were left
    for an error. rtol: the run's target; its note in the diagnosis is restated with the total se (what the stop
    rule read)."""
    if partner is not None and not (np.isfinite(partner.se) and np.isfinite(partner.llc)):
        partner = None
    attrs = dict(main.idata.attrs)
    attrs["temperature_check"] = float(temperature)
    if partner is None:
        diagnosis = tuple(main.diagnosis) + (
            f"the partner chains at n beta / {temperature:g} diverged or were too few for an error: the finite-n "
            "terms could not be measured and are not in the se",)
        attrs["diagnosis"] = list(diagnosis)
        main.idata.attrs = attrs
        return dataclasses.replace(main, diagnosis=diagnosis)
    shift = float(main.llc) - float(partner.llc)
    shift_se = math.hypot(float(main.se), float(partner.se))
    se = total_se(main.se, shift)
    share = abs(shift) / max(abs(float(main.llc)), 1e-12)
    diagnosis = list(main.diagnosis)
    if rtol is not None and main.llc != 0:
        for i, note in enumerate(diagnosis):
            if note.startswith("stopped when precise"):
                diagnosis[i] = f"stopped when precise: se / |llc| = {se / abs(main.llc):.3f} <= rtol = {rtol}"
            elif note.startswith("ended on the budget"):
                diagnosis[i] = (f"ended on the budget (num_draws / max_time) before the target: se / |llc| = "
                                f"{se / abs(main.llc):.3f} > rtol = {rtol}; give more draws or time")
    if abs(shift) > 2 * shift_se:
        diagnosis.append(f"the estimate depends on n beta: {partner.llc:.4g} at n beta / {temperature:g} against "
                         f"{main.llc:.4g} (shift {shift:+.4g} +/- {shift_se:.2g}, {100 * share:.1f}%): finite-n terms "
                         "of that size are in the se")
    else:
        diagnosis.append(f"finite-n terms: the estimate at n beta / {temperature:g} is {partner.llc:.4g} (shift "
                         f"{shift:+.4g} +/- {shift_se:.2g}, within its noise; in the se)")
    if not partner.converged:
        diagnosis.append(f"the partner chains at n beta / {temperature:g} did not converge ("
                         + "; ".join(r for r in partner.diagnosis[:1]) + "): the shift may be off")
    attrs.update({
        "llc_at_temperature": float(partner.llc),
        "llc_at_temperature_se": float(partner.se),
        "temperature_shift": shift,
        "temperature_shift_se": shift_se,
        "se_before_temperature_check": float(main.se),
        "se": se,
        "llc_per_chain_at_temperature": np.asarray(partner.llc_per_chain, dtype=float).tolist(),
        "diagnosis": list(diagnosis),
    })
    main.idata.attrs = attrs
    return dataclasses.replace(main, se=se, diagnosis=tuple(diagnosis), temperature_shift=shift,
                               temperature_shift_se=shift_se, llc_at_temperature=float(partner.llc),
                               temperature_check=float(temperature))
