"""The result of an LLC estimate: the numbers a researcher reads, backed by an ArviZ DataTree."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import xarray as xr

from slt_ppl.results import Result

__all__ = ["LLCResult"]


@dataclass
class LLCResult(Result):
    """The result of ``estimate_llc``: the local learning coefficient and its errors, verdict and draws.

    llc = n beta (E[L_n(w)] - L_n(w*)) over the kept chains (Lau et al., AISTATS 2025). ``se`` is the total
    standard error against the estimator's own target: max(MCSE, se_between_chains), with the measured step-size
    bias (``step_bias="richardson"``, ``slt_ppl/llc/step_bias.py``) and the finite-n shift to partner chains at
    n beta / T (``slt_ppl/llc/temperature_check.py``) each counted once, se = sqrt(se(t)^2 + shift^2).
    ``se_between_chains`` comes from the spread of the chains' means (what a mode slower than the run leaves for
    the MCSE to miss).

    Attributes
    ----------
    llc : float
        The LLC estimate, n beta (E[L_n(w)] - L_n(w*)), the mean over the kept chains.
    llc_std : float
        Standard deviation of the per-chain estimates.
    llc_per_chain : np.ndarray
        The estimate of each chain, shape (num_chains,).
    mcse : float
        Monte Carlo standard error alone, sd / sqrt(ESS).
    ess : float
        Effective sample size of the pooled draws (ArviZ).
    idata : xr.DataTree
        ArviZ DataTree: sample_stats with the per-draw statistics, attrs with the settings.
    step_size : float
        The step size used (for the automatic step, the calibrated value).
    nbeta : float
        n beta, the inverse temperature times the data size.
    localization : float
        gamma, the strength of the Gaussian localization about w*.
    n : int
        The number of data rows (the size of the data plate).
    sampler : str
        The sampler's name.
    num_diverged : int
        The number of chains that diverged and were left out.
    diverged_chains : np.ndarray
        Boolean mask of the chains left out.
    diverged_at : np.ndarray
        The draw at which each chain diverged (-1: never).
    calibration : Any
        The step-size calibration record (None after ``load``).
    theory : Any
        The exact coefficient, when the model carries one (else None).
    partial : bool
        True when the run was interrupted and the estimate uses fewer draws than asked.
    se : float
        Total standard error of the estimate.
    converged : bool
        The verdict: True when no check failed.
    diagnosis : tuple
        The verdict's reasons, failures first, as readable sentences.
    se_between_chains : float
        Standard error from the spread of the chains' means, a Student-t interval over the chains.
    rhat : float
        Rank-normalised split R-hat.
    trend_z : float
        Drift between the halves of the draws, in standard errors.
    llc_variance : float | None
        The variance form (n beta)^2 Var[L_n] (full batch; None otherwise).
    llc_variance_se : float | None
        Its standard error.
    step_bias : float | None
        L(2 eps) - L(eps), the step-size bias at eps (None without ``step_bias="richardson"``).
    step_bias_se : float | None
        Its standard error.
    extrapolated : bool
        True when ``llc`` is the extrapolation 2 L(eps) - L(2 eps) rather than L(eps).
    llc_at_step : tuple
        (L(2 eps), L(eps)) with ``step_bias="richardson"``; empty otherwise.
    temperature_shift : float | None
        llc - llc_at_temperature, the finite-n shift to the partner chains (None when off).
    temperature_shift_se : float | None
        Its standard error.
    llc_at_temperature : float | None
        The estimate of the partner chains at n beta / temperature_check.
    temperature_check : float | None
        T of the partner chains (None when off).
    per_chain
        The estimate of each chain.
    se_lambda
        The error for comparing with the asymptotic lambda: se with the finite-n shift counted once.
    value
        The estimate, whatever its name.
    """

    estimator: ClassVar[str] = "llc"
    value_name: ClassVar[str] = "llc"
    not_saved: ClassVar[tuple] = ("calibration",)

    llc: float
    llc_std: float
    llc_per_chain: np.ndarray
    mcse: float
    ess: float
    idata: xr.DataTree
    step_size: float
    nbeta: float
    localization: float
    n: int
    sampler: str
    num_diverged: int
    diverged_chains: np.ndarray
    diverged_at: np.ndarray
    calibration: Any = None
    theory: Any = field(default=None, repr=False)
    partial: bool = False  # the run was interrupted: fewer draws than asked
    se: float = float("nan")  # total standard error (module doc); NaN only when the MCSE is undefined
    converged: bool = True  # the verdict (llc/verdict.py); diagnosis: its reasons, failures first
    diagnosis: tuple = ()
    se_between_chains: float = float("nan")  # results.between_chain_se
    rhat: float = float("nan")  # rank-normalised split R-hat of the llc draws
    trend_z: float = float("nan")  # drift between the halves of the draws, in standard errors
    llc_variance: float | None = None  # the variance form (n beta)^2 Var[L_n] (full batch)
    llc_variance_se: float | None = None
    step_bias: float | None = None
    step_bias_se: float | None = None
    extrapolated: bool = False
    llc_at_step: tuple = ()
    temperature_shift: float | None = None
    temperature_shift_se: float | None = None
    llc_at_temperature: float | None = None
    temperature_check: float | None = None

    def __post_init__(self):
        self.diagnosis = tuple(self.diagnosis)  # a list after a round trip through a saved file
        self.llc_at_step = tuple(self.llc_at_step)

    @property
    def se_lambda(self) -> float:
        """The error of llc for comparing with the asymptotic lambda. The measured finite-n shift (partner
        chains at n beta / temperature_check) is already counted once in se (llc/temperature_check.total_se),
        so se_lambda equals se; with temperature_check=None the distance to lambda is not measured and
        se_lambda is the se alone (the diagnosis says so)."""
        return self.se

    def summary(self) -> str:
        """A short human-readable report: the estimate and its errors, the ESS behind the MCSE, R-hat of the
        per-draw llc and loss over kept chains, acceptance, divergences and the verdict.

        Returns
        -------
        str
            The report; ``print(res)`` prints the same.
        """
        from arviz_stats import rhat

        ss = self.idata["sample_stats"]
        kept = ~self.diverged_chains
        lines = [
            f"LLC ({self.sampler}) = {self.llc:.4f} +/- {self.se:.4f} (se; MCSE {self.mcse:.4f}, between chains "
            f"{self.se_between_chains:.4f}), "
            f"std over chains {self.llc_std:.4f}",
            f"  per chain: {np.array2string(self.llc_per_chain, precision=4)}",
            f"  n = {self.n}, nbeta = {self.nbeta:.4g}, localization = {self.localization:.4g}, "
            f"step_size{' (eps)' if self.sampler in ('sgld', 'rmsprop_sgld') else ''} = {self.step_size:.4g}",
        ]
        diagnostics = f"  ESS of the llc mean (the MCSE's): {self.ess:.0f}"
        if kept.sum() >= 2:
            sub = ss.to_dataset().isel(chain=np.flatnonzero(kept))[["llc", "loss"]]
            r = rhat(sub)
            diagnostics += f"; R-hat (rank-normalised split): llc {float(r['llc']):.3f}, loss {float(r['loss']):.3f}"
        lines.append(diagnostics)
        if self.step_bias is not None and self.llc_at_step:
            lines.append(f"  step-size bias (Richardson, chains at eps and 2 eps): L(2 eps) = {self.llc_at_step[0]:.4f}, "
                         f"L(eps) = {self.llc_at_step[1]:.4f}, bias at eps {self.step_bias:+.4f} +/- "
                         f"{self.step_bias_se:.4f}; reported: "
                         + ("extrapolated 2 L(eps) - L(2 eps)" if self.extrapolated else "L(eps), bias in the se"))
        if self.temperature_shift is not None:
            lines.append(f"  finite-n terms (partner chains at n beta / {self.temperature_check:g}): "
                         f"{self.llc_at_temperature:.4f} there, shift {self.temperature_shift:+.4f} +/- "
                         f"{self.temperature_shift_se:.4f}, counted once in the se")
        if self.llc_variance is not None:
            lines.append(f"  variance form (n beta)^2 Var[L_n] = {self.llc_variance:.4f} +/- {self.llc_variance_se:.4f}")
        lines.append("  verdict: " + ("converged" if self.converged else "NOT CONVERGED")
                     + "".join(f"\n    - {reason}" for reason in self.diagnosis))
        for name, label in (("mala_acceptance", "MALA acceptance of proposals"), ("acceptance", "acceptance")):
            if name in ss:
                lines.append(f"  mean {label}: {float(np.nanmean(ss[name].values[kept])):.3f}")
        if self.num_diverged:
            lines.append(
                f"  {self.num_diverged} chain(s) diverged and were left out: "
                f"chains {np.flatnonzero(self.diverged_chains).tolist()} at steps {self.diverged_at[self.diverged_chains].tolist()}"
            )
        if self.theory is not None:
            lines.append(f"  theory: lambda = {self.theory}")
        if self.partial:
            lines.append(f"  PARTIAL: interrupted after {self.idata['sample_stats'].sizes['draw']} draws")
        return "\n".join(lines)

    def plot(self, ax=None):
        """Loss trace and running LLC per chain over draws, divergences marked with x.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            The axes to draw on. None: a new figure.

        Returns
        -------
        matplotlib.axes.Axes
            The axes drawn on.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, (ax_loss, ax) = plt.subplots(1, 2, figsize=(12, 4))
            self._plot_loss(ax_loss)
        ss = self.idata["sample_stats"]
        running = ss["llc_running"].values
        burnin = int(self.idata.attrs.get("num_burnin", 0))
        for c in range(running.shape[0]):
            style = ":" if self.diverged_chains[c] else "-"
            ax.plot(running[c], style, lw=1, label=f"chain {c}" + (" (diverged)" if self.diverged_chains[c] else ""))
            if self.diverged_chains[c] and self.diverged_at[c] >= burnin:
                at = int(self.diverged_at[c]) - burnin
                last = running[c][:at][np.isfinite(running[c][:at])]
                ax.plot([at], [last[-1] if len(last) else 0.0], "rx", ms=8)
        ax.axhline(self.llc, color="k", lw=1.5, label=f"llc = {self.llc:.3f}")
        if self.theory is not None:
            ax.axhline(float(self.theory), color="r", ls="--", lw=1, label=f"theory = {float(self.theory):.3f}")
        ax.set_xlabel("draw")
        ax.set_ylabel("running LLC estimate")
        ax.legend(fontsize=7)
        return ax

    def _plot_loss(self, ax):
        """Per-chain loss trace (burn-in shaded) beside L_n(w*): a trace below it means w* is no minimum."""
        parts = [g for g in ("warmup_sample_stats", "sample_stats") if g in self.idata.children]
        loss = np.concatenate([self.idata[g]["loss"].values for g in parts], axis=1)
        burnin = self.idata["warmup_sample_stats"]["loss"].shape[1] if "warmup_sample_stats" in parts else 0
        for c in range(loss.shape[0]):
            ax.plot(loss[c], lw=0.6, label=f"chain {c}")
        if burnin:
            ax.axvspan(0, burnin, color="0.9", label="burn-in")
        ax.axhline(self.idata.attrs["loss_at_params"], color="k", ls="--", lw=1, label="L_n(w*)")
        ax.set_xlabel("step")
        ax.set_ylabel("minibatch loss")
        ax.legend(fontsize=7)
        return ax
