"""`calibrate_step_size`: the step-size sweep users otherwise do by eye, as a labelled table.

For each step size on a grid (default: the auto-calibrated step times 1/8 ... 8), estimate_llc
runs with that fixed step and records the estimate, its MCSE, ESS, the mean MALA acceptance of
the proposals (first-order kernels) or Metropolis acceptance, and the number of diverged chains.
The auto-calibrated step is marked as the recommendation. A flat stretch of llc against step,
with acceptance near 1 and no divergences, is what a trustworthy step looks like.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import xarray as xr

from slt_ppl.llc.estimate import estimate_llc

__all__ = ["StepSizeStudy", "calibrate_step_size", "combine_studies"]


@dataclass
class StepSizeStudy:
    """The result of ``calibrate_step_size``: the LLC diagnostics at each step size tried.

    Attributes
    ----------
    table : xr.Dataset
        xarray Dataset over dim ``step_size``: llc, mcse, ess, acceptance, diverged.
    recommended : float
        The recommended step size.
    """
    table: xr.Dataset  # dim "step_size": llc, mcse, ess, acceptance, diverged
    recommended: float

    def plot(self, ax=None):
        """The LLC with 2 MCSE error bars against the step size, steps with diverged chains marked.

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
        t = self.table
        ax.errorbar(t.step_size, t.llc, yerr=2 * t.mcse, marker="o", capsize=3, label="LLC ± 2 MCSE")
        bad = t.diverged.values > 0
        ax.scatter(t.step_size.values[bad], t.llc.values[bad], color="r", marker="x", zorder=3, label="diverged chains")
        ax.axvline(self.recommended, color="k", ls="--", lw=1, label=f"auto: {self.recommended:.3g}")
        ax.set_xscale("log")
        ax.set_xlabel("step size")
        ax.set_ylabel("LLC estimate")
        twin = ax.twinx()
        twin.plot(t.step_size, t.acceptance, color="g", alpha=0.6, marker=".", label="acceptance")
        twin.set_ylim(0, 1.05)
        twin.set_ylabel("acceptance", color="g")
        ax.legend(fontsize=7, loc="lower left")
        return ax


def calibrate_step_size(model, params, step_sizes=None, *, sampler: str = "sgld", num_draws: int = 1000, seed: int = 0,
                        nbetas=None, **llc_kwargs):
    """Sweep step sizes and tabulate the LLC diagnostics at each, to choose a step by hand.

    An SG-MCMC estimate carries a bias of order eps (discretisation and minibatch noise) and mixes more slowly as
    eps shrinks; the sweep shows both: the estimate, its MCSE, the MALA acceptance of the proposals and the
    divergences at step factors around the automatic step (``slt_ppl/samplers/adaptation.py``), as recommended
    for SGLD-based LLC estimation by Lau et al. (AISTATS 2025).

    Parameters
    ----------
    model : callable or Likelihood
        As in ``estimate_llc``.
    params : dict or pytree
        w*.
    step_sizes : sequence of float, optional
        The steps to try. None: the automatic step times 2^-3, ..., 2^3.
    sampler : str, default "sgld"
        A stochastic-gradient kernel.
    num_draws : int, default 1000
        Draws per step size.
    seed : int, default 0
        The PRNG seed.
    nbetas : sequence of float, optional
        Repeat the sweep at each n beta (each with its own automatic step and the default grid around it).
    **llc_kwargs
        Any further keyword argument of ``estimate_llc``.

    Returns
    -------
    StepSizeStudy or dict
        A StepSizeStudy; with ``nbetas``, a dict n beta -> StepSizeStudy, which ``combine_studies`` turns into one
        table over (nbeta, step_factor).
    """
    if nbetas is not None:
        if step_sizes is not None:
            raise ValueError("give either step_sizes or nbetas (each nbeta sweeps around its own auto step)")
        return {float(nb): calibrate_step_size(model, params, sampler=sampler, num_draws=num_draws, seed=seed,
                                               nbeta=float(nb), **llc_kwargs) for nb in nbetas}
    auto = estimate_llc(model, params, sampler=sampler, num_draws=num_draws, seed=seed, **llc_kwargs)
    grid = np.asarray(step_sizes if step_sizes is not None else auto.step_size * 2.0 ** np.arange(-3, 4), dtype=float)
    if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid <= 0):
        raise ValueError(f"step_sizes must be a non-empty 1-D sequence of positive numbers, got {step_sizes!r}")
    rows = []
    for step in grid:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = estimate_llc(model, params, sampler=sampler, step_size=float(step), num_draws=num_draws,
                                   seed=seed, **llc_kwargs)
            except RuntimeError:  # every chain diverged at this step
                rows.append((np.nan, np.nan, np.nan, np.nan, len(auto.llc_per_chain)))
                continue
        ss = res.idata["sample_stats"]
        acc_name = "mala_acceptance" if "mala_acceptance" in ss else ("acceptance" if "acceptance" in ss else None)
        acc = float(np.nanmean(ss[acc_name].values)) if acc_name else np.nan
        rows.append((res.llc, res.mcse, res.ess, acc, res.num_diverged))
    llc, mcse, ess, acc, div = map(np.asarray, zip(*rows))
    table = xr.Dataset(
        {"llc": ("step_size", llc), "mcse": ("step_size", mcse), "ess": ("step_size", ess),
         "acceptance": ("step_size", acc), "diverged": ("step_size", div.astype(int))},
        coords={"step_size": grid},
        attrs={"sampler": sampler, "recommended_step_size": auto.step_size, "auto_llc": auto.llc},
    )
    return StepSizeStudy(table, auto.step_size)



def combine_studies(studies: dict) -> xr.Dataset:
    """Combine the per-n-beta sweeps of ``calibrate_step_size(..., nbetas=...)`` into one table.

    Parameters
    ----------
    studies : dict
        n beta -> StepSizeStudy, each on the default grid of step factors.

    Returns
    -------
    xarray.Dataset
        The diagnostics over the dims (nbeta, step_factor).
    """
    tables = []
    for nb, study in studies.items():
        t = study.table
        factor = np.round(t.step_size.values / study.recommended, 6)
        t = t.assign_coords(step_factor=("step_size", factor)).swap_dims(step_size="step_factor")
        tables.append(t.reset_coords("step_size").expand_dims(nbeta=[nb]))
    return xr.concat(tables, dim="nbeta")
