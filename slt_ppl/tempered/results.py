"""Result objects of the global estimators (WBIC, RLCT, free energy, singular fluctuation).

Numbers a researcher reads, each beside its error (`.se`), and an ArviZ DataTree whose sample_stats
hold the per-draw n L_n(w) over (chain, draw[, beta]). The older names of the errors (wbic_se,
rlct_se, free_energy_se, nu_se) are aliases of `.se`, kept for one release.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import xarray as xr

from slt_ppl.results import Result

__all__ = ["WBICResult", "RLCTResult", "FreeEnergyResult", "SingularFluctuationResult", "VerdictFields",
           "ladder_idata"]


@dataclass(kw_only=True)
class VerdictFields:
    """The verdict every global result carries (tempered/verdict.py), keyword-only so that it follows each
    result's own fields."""

    converged: bool = True  # diagnosis: the reasons, failures first
    diagnosis: tuple = ()
    rhat: float = float("nan")  # the largest rank-normalised split R-hat of n L_n over the ladder
    trend_z: float = float("nan")  # the largest drift between the halves of the draws, in standard errors

    def __post_init__(self):
        self.diagnosis = tuple(self.diagnosis)  # a list after a round trip through a saved file


def verdict_line(result) -> str:
    """The verdict as summary() prints it: converged or NOT CONVERGED, then the reasons."""
    return ("  verdict: " + ("converged" if result.converged else "NOT CONVERGED")
            + "".join(f"\n    - {reason}" for reason in result.diagnosis))


def ladder_idata(run, kept: np.ndarray, attrs: dict, log_likelihood: bool = False) -> xr.DataTree:
    """DataTree of a TemperedRun: sample_stats over (chain, draw, beta); log_likelihood over (chain, draw, obs_id)
    for a single temperature when it was recorded."""
    from arviz_base import from_dict

    K = len(run.betas)
    move = lambda a: np.moveaxis(a, 0, -1)  # (K, C, D) -> (C, D, K)  # noqa: E731
    stats = {"nll": move(run.nll), **{k: move(v) for k, v in run.stats.items()}}
    dims = {name: ["beta"] for name in stats}
    coords = {"beta": run.betas}
    groups = {"sample_stats": stats}
    if log_likelihood and run.log_likelihood is not None and K == 1:
        groups["log_likelihood"] = {"loglik": np.asarray(run.log_likelihood[0], dtype=np.float64)}
        dims["loglik"] = ["obs_id"]
    if K == 1:  # a single temperature: plain (chain, draw) arrays, as ArviZ expects
        groups["sample_stats"] = {k: v[..., 0] for k, v in stats.items()}
        dims = {k: v for k, v in dims.items() if k == "loglik"}
        coords = {}
    tree = from_dict(groups, dims=dims, coords=coords)
    tree.attrs.update(attrs)
    tree.attrs["diverged_chains"] = np.flatnonzero(~kept).tolist()
    return tree


@dataclass
class WBICResult(VerdictFields, Result):
    """The result of ``estimate_wbic``: WBIC = E_w^beta[n L_n(w)] at beta = 1 / log n (Watanabe, JMLR 14 (2013)).

    The expectation is over the global tempered posterior; ``se`` is the larger of the MCSE and the
    between-chain se. ``rlct_variance`` = beta^2 Var_beta[n L_n] is the variance form of lambda
    (d/dbeta E_beta[n L_n] = -Var_beta[n L_n]).

    Attributes
    ----------
    converged : bool
        The verdict: True when no check failed.
    diagnosis : tuple
        The verdict's reasons, failures first, as readable sentences.
    rhat : float
        Rank-normalised split R-hat.
    trend_z : float
        Drift between the halves of the draws, in standard errors.
    wbic : float
        WBIC, E_beta[n L_n(w)] at the run's beta.
    se : float
        Total standard error of the estimate.
    wbic_per_chain : np.ndarray
        The estimate of each chain.
    ess : float
        Effective sample size of the pooled draws (ArviZ).
    beta : float
        The inverse temperature of the draws.
    n : int
        The number of data rows (the size of the data plate).
    rlct_variance : float
        lambda ~ beta^2 Var_beta[n L_n]: the variance form (d/dbeta E_beta[n L_n] = -Var_beta[n L_n])
    sampler : str
        The sampler's name.
    num_diverged : int
        The number of chains that diverged and were left out.
    diverged_chains : np.ndarray
        Boolean mask of the chains left out.
    idata : xr.DataTree
        ArviZ DataTree: sample_stats with the per-draw statistics, attrs with the settings.
    step_size : np.ndarray
        The step size used (for the automatic step, the calibrated value).
    partial : bool
        True when the run was interrupted and the estimate uses fewer draws than asked.
    mcse : float
        Monte Carlo standard error alone, sd / sqrt(ESS).
    per_chain
        The estimate of each chain.
    value
        The estimate, whatever its name.
    wbic_se
        Alias of ``se``.
    """

    estimator: ClassVar[str] = "wbic"
    value_name: ClassVar[str] = "wbic"

    wbic: float
    se: float  # total se: the larger of the MCSE and the between-chain se (results.total_llc_se)
    wbic_per_chain: np.ndarray
    ess: float
    beta: float
    n: int
    rlct_variance: float  # lambda ~ beta^2 Var_beta[n L_n]: the variance form (d/dbeta E_beta[n L_n] = -Var_beta[n L_n])
    sampler: str
    num_diverged: int
    diverged_chains: np.ndarray
    idata: xr.DataTree
    step_size: np.ndarray
    partial: bool = False  # a global run needs every temperature: interrupted runs raise instead
    mcse: float = float("nan")  # the MCSE alone (autocorrelation within chains)

    @property
    def wbic_se(self) -> float:
        """Alias of `se` (kept for one release)."""
        return self.se

    def summary(self) -> str:
        """A short human-readable report of the estimate, its errors and the verdict.

        Returns
        -------
        str
            The report; ``print(res)`` prints the same.
        """
        return "\n".join([
            f"WBIC ({self.sampler}) = {self.wbic:.4f} +/- {self.se:.4f} (se; MCSE {self.mcse:.4f}), ESS {self.ess:.0f}",
            f"  per chain: {np.array2string(self.wbic_per_chain, precision=3)}",
            f"  n = {self.n}, beta = {self.beta:.4g}; variance-form lambda = beta^2 Var[n L_n] = {self.rlct_variance:.3f}",
            *([f"  {self.num_diverged} chain(s) diverged and were left out"] if self.num_diverged else []),
            verdict_line(self),
        ])


@dataclass
class RLCTResult(VerdictFields, Result):
    """The result of ``estimate_rlct``: the global learning coefficient as the slope of E_beta[n L_n] on 1 / beta.

    ``se`` is the larger of ``se_between_chains`` (the per-chain slopes' spread with its Student-t factor) and
    ``se_regression`` (the OLS slope's error from the per-temperature MCSEs).

    Attributes
    ----------
    converged : bool
        The verdict: True when no check failed.
    diagnosis : tuple
        The verdict's reasons, failures first, as readable sentences.
    rhat : float
        Rank-normalised split R-hat.
    trend_z : float
        Drift between the halves of the draws, in standard errors.
    rlct : float
        The global learning coefficient, the fitted slope.
    se : float
        Total standard error of the estimate.
    rlct_per_chain : np.ndarray
        The slope of each chain.
    betas : np.ndarray
        The temperature ladder.
    mean_nll : np.ndarray
        E_beta[n L_n] at each temperature.
    mean_nll_mcse : np.ndarray
        MCSE of each mean.
    intercept : float
        estimate of n L_n(w0)
    rlct_variance : float
        beta^2 Var_beta[n L_n], averaged over the ladder
    reweighted : bool
        Whether neighbouring temperatures were pooled by importance reweighting.
    importance_ess : np.ndarray
        (K, K) mean importance ESS fraction from temperature j (row) to k (col)
    n : int
        The number of data rows (the size of the data plate).
    sampler : str
        The sampler's name.
    num_diverged : int
        The number of chains that diverged and were left out.
    diverged_chains : np.ndarray
        Boolean mask of the chains left out.
    idata : xr.DataTree
        ArviZ DataTree: sample_stats with the per-draw statistics, attrs with the settings.
    theory : Any
        The exact coefficient, when the model carries one (else None).
    partial : bool
        True when the run was interrupted and the estimate uses fewer draws than asked.
    se_between_chains : float
        Standard error from the spread of the chains' means, a Student-t interval over the chains.
    se_regression : float
        the OLS slope's error from the per-temperature MCSEs
    per_chain
        The estimate of each chain.
    rlct_se
        Alias of ``se``.
    value
        The estimate, whatever its name.
    """

    estimator: ClassVar[str] = "rlct"
    value_name: ClassVar[str] = "rlct"

    rlct: float
    se: float  # standard error from the spread of the independent chains' slopes
    rlct_per_chain: np.ndarray
    betas: np.ndarray
    mean_nll: np.ndarray  # (K,) E_beta[n L_n] per temperature (reweighted where it paid)
    mean_nll_mcse: np.ndarray  # (K,) MCSE of the unreweighted means
    intercept: float  # estimate of n L_n(w0)
    rlct_variance: float  # beta^2 Var_beta[n L_n], averaged over the ladder
    reweighted: bool
    importance_ess: np.ndarray  # (K, K) mean importance ESS fraction from temperature j (row) to k (col)
    n: int
    sampler: str
    num_diverged: int
    diverged_chains: np.ndarray
    idata: xr.DataTree
    theory: Any = field(default=None, repr=False)
    partial: bool = False
    se_between_chains: float = float("nan")  # (t_{C-1} / 1.96) std of the per-chain slopes / sqrt(C)
    se_regression: float = float("nan")  # the OLS slope's error from the per-temperature MCSEs

    @property
    def rlct_se(self) -> float:
        """Alias of `se` (kept for one release)."""
        return self.se

    def summary(self) -> str:
        """A short human-readable report of the estimate, its errors and the verdict.

        Returns
        -------
        str
            The report; ``print(res)`` prints the same.
        """
        lines = [
            f"RLCT ({self.sampler}) = {self.rlct:.4f} +/- {self.se:.4f} (se: the larger of {self.se_between_chains:.4f} "
            f"between {len(self.rlct_per_chain)} chains and {self.se_regression:.4f} through the regression)",
            f"  per chain: {np.array2string(self.rlct_per_chain, precision=3)}",
            f"  variance form beta^2 Var[n L_n] = {self.rlct_variance:.3f}; intercept n L_n(w0) ~ {self.intercept:.3f}",
            f"  betas: {np.array2string(self.betas, precision=4)} (n = {self.n}, 1/log n = {1 / np.log(self.n):.4f})",
        ]
        if self.theory is not None:
            lines.append(f"  theory: lambda = {self.theory}")
        lines.append(verdict_line(self))
        return "\n".join(lines)

    def plot(self, ax=None):
        """E_beta[n L_n] against 1 / beta with the fitted line of slope ``rlct``.

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
            _, ax = plt.subplots(figsize=(6, 4))
        x = 1.0 / self.betas
        ax.errorbar(x, self.mean_nll, yerr=2 * self.mean_nll_mcse, fmt="o", label="E_beta[n L_n] (2 MCSE)")
        grid = np.linspace(x.min(), x.max(), 50)
        ax.plot(grid, self.intercept + self.rlct * grid, "-", label=f"slope = {self.rlct:.3f}")
        ax.set_xlabel("1 / beta")
        ax.set_ylabel("E_beta[n L_n]")
        ax.legend(fontsize=8)
        return ax


@dataclass
class FreeEnergyResult(VerdictFields, Result):
    """The result of ``estimate_free_energy``: F_n = -log integral phi(w) exp(-n L_n(w)) dw over a ladder from 0 to 1.

    ``se`` = sqrt(mc_error^2 + quadrature_error^2); the thermodynamic and stepping-stone estimates are both kept.

    Attributes
    ----------
    converged : bool
        The verdict: True when no check failed.
    diagnosis : tuple
        The verdict's reasons, failures first, as readable sentences.
    rhat : float
        Rank-normalised split R-hat.
    trend_z : float
        Drift between the halves of the draws, in standard errors.
    free_energy : float
        The Bayes free energy estimate by ``method``.
    se : float
        Total standard error of the estimate.
    method : str
        ``"thermodynamic"`` or ``"stepping_stone"``: which estimate ``free_energy`` is.
    mc_error : float
        The Monte Carlo part of the se.
    quadrature_error : float
        The quadrature part of the se: abs(corrected - plain trapezoid).
    thermodynamic : float
        The thermodynamic-integration estimate.
    stepping_stone : float
        The stepping-stone estimate from the same draws.
    betas : np.ndarray
        The temperature ladder.
    mean_nll : np.ndarray
        E_beta[n L_n] at each temperature.
    var_nll : np.ndarray
        Var_beta[n L_n] at each temperature.
    mean_nll_mcse : np.ndarray
        MCSE of each mean.
    wbic : float | None
        WBIC, E_beta[n L_n(w)] at the run's beta.
    asymptotic : float | None
        n L_n(w0) + lambda log n - (m - 1) log log n, when lambda and w0 are given
    n : int
        The number of data rows (the size of the data plate).
    sampler : str
        The sampler's name.
    num_diverged : int
        The number of chains that diverged and were left out.
    idata : xr.DataTree
        ArviZ DataTree: sample_stats with the per-draw statistics, attrs with the settings.
    free_energy_per_chain : np.ndarray
        The plain trapezoid estimate, chain by chain.
    diverged_chains : np.ndarray
        Boolean mask of the chains left out.
    partial : bool
        True when the run was interrupted and the estimate uses fewer draws than asked.
    free_energy_se
        Alias of ``se``.
    per_chain
        The estimate of each chain.
    value
        The estimate, whatever its name.
    """

    estimator: ClassVar[str] = "free_energy"
    value_name: ClassVar[str] = "free_energy"

    free_energy: float
    se: float  # sqrt(mc_error^2 + quadrature_error^2)
    method: str
    mc_error: float
    quadrature_error: float
    thermodynamic: float
    stepping_stone: float
    betas: np.ndarray
    mean_nll: np.ndarray
    var_nll: np.ndarray
    mean_nll_mcse: np.ndarray
    wbic: float | None  # E_beta*[n L_n] when 1/log n is on the ladder
    asymptotic: float | None  # n L_n(w0) + lambda log n - (m - 1) log log n, when lambda and w0 are given
    n: int
    sampler: str
    num_diverged: int
    idata: xr.DataTree
    free_energy_per_chain: np.ndarray = field(default_factory=lambda: np.zeros(0))  # plain trapezoid, chain by chain
    diverged_chains: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    partial: bool = False

    @property
    def free_energy_se(self) -> float:
        """Alias of `se` (kept for one release)."""
        return self.se

    def summary(self) -> str:
        """A short human-readable report of the estimate, its errors and the verdict.

        Returns
        -------
        str
            The report; ``print(res)`` prints the same.
        """
        lines = [
            f"free energy ({self.method}, {self.sampler}) = {self.free_energy:.4f} +/- {self.se:.4f} "
            f"(MC {self.mc_error:.4f}, quadrature {self.quadrature_error:.4f})",
            f"  thermodynamic integration {self.thermodynamic:.4f}, stepping stone {self.stepping_stone:.4f}, "
            f"{len(self.betas)} temperatures",
        ]
        if self.wbic is not None:
            lines.append(f"  WBIC (beta = 1/log n) = {self.wbic:.4f}")
        if self.asymptotic is not None:
            lines.append(f"  asymptotic n L_n(w0) + lambda log n - (m-1) log log n = {self.asymptotic:.4f}")
        if self.num_diverged:
            lines.append(f"  {self.num_diverged} chain(s) diverged and were left out")
        lines.append(verdict_line(self))
        return "\n".join(lines)

    def plot(self, ax=None):
        """The thermodynamic-integration integrand E_beta[n L_n] over the ladder (log beta axis).

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
            _, ax = plt.subplots(figsize=(6, 4))
        b = self.betas[self.betas > 0]
        ax.errorbar(b, self.mean_nll[self.betas > 0], yerr=2 * self.mean_nll_mcse[self.betas > 0], fmt="o-", ms=3)
        ax.set_xscale("log")
        ax.set_xlabel("beta")
        ax.set_ylabel("E_beta[n L_n]")
        ax.set_title(f"F_n = {self.free_energy:.2f} +/- {self.se:.2f}")
        return ax


@dataclass
class SingularFluctuationResult(VerdictFields, Result):
    """The result of ``singular_fluctuation``: nu = (beta / 2) V_n and WAIC = T_n + beta V_n / n.

    Watanabe, JMLR 11 (2010); WAIC on the per-sample scale. ``se`` is the spread of the per-chain values /
    sqrt(chains) (NaN, with a warning, with one chain); ``waic_se`` is over data points, the sd of the pointwise
    WAIC / sqrt(n).

    Attributes
    ----------
    converged : bool
        The verdict: True when no check failed.
    diagnosis : tuple
        The verdict's reasons, failures first, as readable sentences.
    rhat : float
        Rank-normalised split R-hat.
    trend_z : float
        Drift between the halves of the draws, in standard errors.
    nu : float
        The singular fluctuation nu = (beta / 2) V_n.
    se : float
        Total standard error of the estimate.
    functional_variance : float
        V_n
    waic : float
        WAIC = T_n + beta V_n / n, per sample.
    waic_se : float
        over data points: sd of pointwise WAIC / sqrt(n)
    training_loss : float
        T_n
    beta : float
        The inverse temperature of the draws.
    n : int
        The number of data rows (the size of the data plate).
    num_samples : int
        The number of draws used.
    idata : xr.DataTree
        ArviZ DataTree: sample_stats with the per-draw statistics, attrs with the settings.
    nu_per_chain : np.ndarray
        nu of each chain.
    sampler : str
        The sampler's name.
    num_diverged : int
        The number of chains that diverged and were left out.
    diverged_chains : np.ndarray
        Boolean mask of the chains left out.
    partial : bool
        True when the run was interrupted and the estimate uses fewer draws than asked.
    nu_se
        Alias of ``se``.
    per_chain
        The estimate of each chain.
    value
        The estimate, whatever its name.
    """

    estimator: ClassVar[str] = "singular_fluctuation"
    value_name: ClassVar[str] = "nu"

    nu: float
    se: float  # spread of per-chain values / sqrt(chains); NaN (with a warning) with one chain
    functional_variance: float  # V_n
    waic: float
    waic_se: float  # over data points: sd of pointwise WAIC / sqrt(n)
    training_loss: float  # T_n
    beta: float
    n: int
    num_samples: int
    idata: xr.DataTree = None  # the DataTree the draws came from
    nu_per_chain: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sampler: str = "unknown"  # the DataTree's attrs["sampler"] when it has one
    num_diverged: int = 0
    diverged_chains: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    partial: bool = False

    @property
    def nu_se(self) -> float:
        """Alias of `se` (kept for one release)."""
        return self.se

    def summary(self) -> str:
        """A short human-readable report of the estimate, its errors and the verdict.

        Returns
        -------
        str
            The report; ``print(res)`` prints the same.
        """
        return (
            f"singular fluctuation nu = {self.nu:.4f} +/- {self.se:.4f} (beta = {self.beta:.4g}), "
            f"V_n = {self.functional_variance:.4f}\n"
            f"  WAIC = {self.waic:.6f} +/- {self.waic_se:.6f} (per sample), T_n = {self.training_loss:.6f}, "
            f"n = {self.n}, {self.num_samples} draws\n"
            + verdict_line(self)
        )
