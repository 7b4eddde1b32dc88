"""From a finished chain run to an LLCResult: divergences left out, the estimate, its error, the DataTree.

    llc = n beta (E_w[L_n(w)] - L_n(w*)), the mean over kept chains of the per-draw paired
    differences n beta [L_{B_t}(w_t) - L_{B_t}(w*)] (Lau et al., arXiv 2308.12108, with the paired minibatch baseline);
    MCSE = sd / sqrt(ESS), ESS ArviZ's bulk ESS of the mean over (chain, draw) (Vehtari et al.,
    "Rank-normalization, folding, and localization", Bayesian Analysis 16 (2021)).
Per-draw values are accumulated in float64 on the host. A chain that diverged (non-finite values,
a draw past the divergence bound, or a Metropolis chain accepting < 1%) is reported and left out;
if every chain diverged the call raises: no result is ever a silent NaN.
"""

from __future__ import annotations

import warnings

import numpy as np

from slt_ppl.llc.result import LLCResult
from slt_ppl.llc.verdict import diagnose
from slt_ppl.results import between_chain_se, build_idata, total_llc_se
from slt_ppl.samplers import STEP_SIZE_CONVENTIONS

__all__ = ["assemble_partner", "assemble_result", "noise_limited_step", "split_outcome", "step_bias_allowance", "with_note"]


def step_bias_allowance(calibration) -> float:
    """1 / (1 - kappa / 4) at an automatic stochastic-gradient step (the Euler bias it allows the stiffest
    direction, llc/verdict.py), 1 otherwise (a fixed step or a Metropolis kernel)."""
    kappa = getattr(calibration, "kappa", None)
    return 1.0 / (1.0 - kappa / 4.0) if kappa is not None and 0 < kappa < 4 else 1.0


def noise_limited_step(calibration, ratio: float = 4.0) -> str | None:
    """A note when the minibatch-noise bound (samplers/adaptation.py, step 3) set the step more than `ratio`
    times below the curvature's, None otherwise.

    A step that small makes the chains slow: they can stay short of equilibrium with R-hat and the trend test quiet,
    and the noise's own bias can exceed the quadratic bound the step was set from (evidence:
    benchmarks/results/certified_llc.txt, minibatch DLNs). The noise-limited step scales with the batch size
    (tr(Sigma) ~ 1 / batch), so a larger batch is the cure. A note, not a failure: the verdict's own checks decide
    converged."""
    segments = tuple(getattr(calibration, "segments", ()) or ())
    if len(segments) < 2 or not (isinstance(segments[-1][0], str) and segments[-1][0].startswith("minibatch noise")):
        return None
    curvature_step, noise_step = float(segments[-2][0]), float(segments[-1][-1])
    if not (np.isfinite(noise_step) and noise_step * ratio < curvature_step):
        return None
    return (f"the minibatch gradient noise set the step {curvature_step / noise_step:.0f}x below the curvature's "
            f"({noise_step:.3g} against {curvature_step:.3g}): chains this slow can stay short of equilibrium while "
            "R-hat and the trend test stay quiet, so the estimate tends to read low, and the noise's own bias can "
            "exceed its bound; a larger batch_size raises the step in proportion, or lengthen num_burnin; "
            "burnin_temperature=4 tests whether the estimate depends on where the chains start")


def assemble_result(out, loss_star, nbeta, localization, n, sampler, d, *, full_batch: bool = True,
                    rtol: float | None = None, biased_by_design: bool = False) -> LLCResult:
    """The LLCResult of a sampling outcome: diverged and stuck chains left out (and reported), the mean over
    the kept chains' draws, its MCSE from ArviZ's ESS, the DataTree with draws and burn-in.
    biased_by_design: the chains of llc/step_bias.py's partner group at twice the step, whose bias is what is
    measured: their estimate is not held to the d / 2 bound (the extrapolated value is)."""
    run, num_burnin, step_size, calibration = out.run, out.num_burnin, out.step_size, out.calibration
    partial = run.completed < out.num_steps
    if run.completed - num_burnin < 2:
        raise KeyboardInterrupt(
            f"interrupted after {run.completed} steps, before 2 draws past the {num_burnin} burn-in steps: nothing "
            "to estimate yet (give checkpoint= to keep the work across interruptions)")
    if partial:
        warnings.warn(f"the run was interrupted: the estimate uses {run.completed - num_burnin} of "
                      f"{out.num_steps - num_burnin} draws and is marked partial (res.partial)", RuntimeWarning,
                      stacklevel=3)
    diverged = run.diverged.copy()
    draws = {k: v[:, num_burnin:].astype(np.float64) for k, v in run.stats.items()}
    warmup = {k: v[:, :num_burnin].astype(np.float64) for k, v in run.stats.items()}
    for group in (draws, warmup):
        if "mala_acceptance" in group:  # computed every few steps; -1 marks the others
            group["mala_acceptance"][group["mala_acceptance"] < 0] = np.nan
    stuck = np.zeros_like(diverged)
    if "acceptance" in draws and draws["acceptance"].shape[1]:
        with np.errstate(invalid="ignore"):
            stuck = np.nanmean(draws["acceptance"], axis=1) < 0.01
        if stuck.any():
            warnings.warn(
                f"chains {np.flatnonzero(stuck).tolist()} accepted < 1% of proposals (step size far too large): "
                "treated as diverged", RuntimeWarning, stacklevel=3)
        diverged |= stuck
    num_diverged = int(diverged.sum())
    if num_diverged == len(diverged):
        steps = run.diverged_at.tolist()
        raise RuntimeError(
            f"all {len(diverged)} chains diverged (at steps {steps}, step_size={step_size:.3g}); "
            "use a smaller step_size (or step_size='auto'), a larger localization, or check params"
        )
    if num_diverged:
        warnings.warn(
            f"{num_diverged} of {len(diverged)} chains diverged (chains {np.flatnonzero(diverged).tolist()}, "
            f"at steps {run.diverged_at[diverged].tolist()}) and were left out of the estimate; "
            "consider a smaller step_size",
            RuntimeWarning,
            stacklevel=3,
        )
    llc_draws = draws["llc"]
    with np.errstate(invalid="ignore"):
        per_chain = np.mean(llc_draws, axis=1)
        running = np.cumsum(llc_draws, axis=1) / np.arange(1, llc_draws.shape[1] + 1)
    kept = llc_draws[~diverged]
    llc = float(np.mean(per_chain[~diverged]))
    llc_std = float(np.std(per_chain[~diverged], ddof=1)) if kept.shape[0] > 1 else float("nan")
    se, mcse, ess = total_llc_se(kept)  # se = max(MCSE, between-chain se)
    if not (np.isfinite(mcse) and np.isfinite(llc_std)):
        warnings.warn(
            f"with {kept.shape[0]} usable chain(s) of {kept.shape[1]} draws, "
            + ("llc_std (needs >= 2 chains) " if not np.isfinite(llc_std) else "")
            + ("mcse (needs >= 4 draws in all) " if not np.isfinite(mcse) else "")
            + "is undefined and set to NaN; use num_chains >= 2 and more draws",
            RuntimeWarning,
            stacklevel=3,
        )
    if not np.isfinite(llc):
        raise RuntimeError("the LLC estimate is not finite although no chain was flagged; please report this")
    if llc < 0:
        warnings.warn(
            f"the LLC estimate {llc:.3g} is negative: the sampler found losses below L_n(w*), so w* is "
            "probably not a local minimum (train further), or the step size is too large",
            RuntimeWarning,
            stacklevel=3,
        )
    def mean_of(name):
        return float(np.nanmean(draws[name][~diverged])) if name in draws and draws[name][~diverged].size else None

    se_between = between_chain_se(kept)
    verdict = diagnose(kept, llc=llc, se=se, num_diverged=num_diverged, num_chains=len(diverged), partial=partial,
                       mala_acceptance=mean_of("mala_acceptance"), acceptance=mean_of("acceptance"),
                       full_batch=full_batch, rtol=rtol, stopped=bool(getattr(run, "stopped", False)),
                       num_params=None if biased_by_design else int(d), step_bias_allowance=step_bias_allowance(calibration))
    extended = int(getattr(out, "burnin_extended", 0))
    if getattr(out, "notes", ()):
        verdict = verdict._replace(diagnosis=verdict.diagnosis + tuple(out.notes))
    if extended:
        verdict = verdict._replace(diagnosis=verdict.diagnosis + (
            f"the llc draws were unsettled after the {num_burnin - extended} burn-in steps (R-hat > 1.05 or a drift "
            f"between their halves): the burn-in was extended to {num_burnin} steps and as many new draws sampled",))
    raw_between = between_chain_se(kept, student_t=False)  # sd(chain means) / sqrt(C), comparable with the MCSE
    if np.isfinite(raw_between) and raw_between > 1.5 * mcse:
        verdict = verdict._replace(diagnosis=verdict.diagnosis + (
            f"the chains' means spread more than their MCSE allows (sd of the chain means / sqrt(chains) "
            f"{raw_between:.3g} against MCSE {mcse:.3g}): a mode slower than the run; se ({se:.3g}) is taken from "
            "the spread between chains",))
    slow = noise_limited_step(calibration)
    if slow is not None:
        verdict = verdict._replace(diagnosis=verdict.diagnosis + (slow,))
    curvature_end = float(getattr(out, "curvature_end", float("nan")))
    if not getattr(out, "step_fits", True):
        verdict = verdict._replace(converged=False, diagnosis=(
            f"the chains ended where the curvature is {curvature_end:.3g} and the step {float(step_size):.3g} too large "
            "for it even after halving (samplers/adaptation.py, 4.): the step-size bias is not controlled; give a "
            "smaller step_size or kappa, or a larger localization",) + verdict.diagnosis)
    if not verdict.converged:
        warnings.warn("the LLC estimate is not converged: " + "; ".join(verdict.diagnosis[:3]), RuntimeWarning,
                      stacklevel=3)
    draws["llc_running"] = running
    draws["diverged"] = np.broadcast_to(diverged[:, None], llc_draws.shape).copy()
    attrs = {
        "estimator": "llc",
        "sampler": sampler,
        "step_size": float(step_size),
        "step_size_convention": STEP_SIZE_CONVENTIONS[sampler],
        "nbeta": float(nbeta),
        "localization": float(localization),
        "n": int(n),
        "num_params": int(d),
        "loss_at_params": float(loss_star),
        "num_burnin": int(num_burnin),
        "burnin_extended": extended,
        "burnin_step_factor": float(out.burnin_step_factor) if getattr(out, "burnin_step_factor", None) else float("nan"),
        "burnin_temperature": float(getattr(out, "burnin_temperature", 1.0)),
        "curvature_at_end": curvature_end,
        "step_size_per_chain": out.step_size_per_chain.tolist(),
        "partial": int(partial),
        "converged": int(verdict.converged),
        "mcse": float(mcse),
        "se_between_chains": float(se_between),
        "se": float(se),
        "stopped_when_precise": int(bool(getattr(run, "stopped", False))),
        "diagnosis": list(verdict.diagnosis),
    }
    idata = build_idata(draws, warmup, attrs, posterior=("llc", "loss"))
    return LLCResult(
        llc=llc,
        llc_std=llc_std,
        llc_per_chain=per_chain,
        mcse=mcse,
        ess=ess,
        idata=idata,
        step_size=float(step_size),
        nbeta=float(nbeta),
        localization=float(localization),
        n=int(n),
        sampler=sampler,
        num_diverged=num_diverged,
        diverged_chains=diverged,
        diverged_at=run.diverged_at,
        calibration=calibration,
        partial=bool(partial),
        se=se,
        se_between_chains=se_between,
        converged=verdict.converged,
        diagnosis=verdict.diagnosis,
        rhat=verdict.rhat,
        trend_z=verdict.trend_z,
        llc_variance=verdict.llc_variance,
        llc_variance_se=verdict.llc_variance_se,
    )


def assemble_partner(part, loss_star, nbeta, localization, n, sampler, d, *, full_batch: bool = True,
                     biased_by_design: bool = False) -> LLCResult | None:
    """The LLCResult of a partner group (llc/step_bias.py's chains at 2 eps, llc/temperature_check.py's at
    n beta / T: pass that n beta), its warnings folded into the verdict that combines it; None when every chain
    diverged (the combiner then says the bias could not be measured)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return assemble_result(part, loss_star, nbeta, localization, n, sampler, d, full_batch=full_batch,
                                   biased_by_design=biased_by_design)
        except RuntimeError:
            return None


def split_outcome(out, groups: int) -> list:
    """The outcome of a run whose chains come in `groups` consecutive blocks, one outcome per block
    (checkpoints of a batched run, step sizes of a step-bias run)."""
    from slt_ppl.samplers import ChainRun

    run = out.run
    size = len(run.diverged) // groups
    parts = []
    for g in range(groups):
        rows = slice(g * size, (g + 1) * size)
        part = ChainRun(None, {name: v[rows] for name, v in run.stats.items()}, run.diverged[rows],
                        run.diverged_at[rows], run.completed, run.stopped)
        steps = out.step_size_per_chain[rows]
        parts.append(out._replace(run=part, step_size=float(steps[0]), step_size_per_chain=steps))
    return parts


def with_note(res: LLCResult, note: str) -> LLCResult:
    """res with `note` at the end of its diagnosis (attrs too): a fact about the run that is not a failure."""
    import dataclasses

    diagnosis = tuple(res.diagnosis) + (note,)
    res.idata.attrs = {**res.idata.attrs, "diagnosis": list(diagnosis)}
    return dataclasses.replace(res, diagnosis=diagnosis)
