"""The LLC along a training run: one estimate per checkpoint, labelled over a `checkpoint` dim.

Developmental interpretability reads stage transitions off this curve (Hoogland et al., "The
developmental landscape of in-context learning", arXiv 2402.02364). The step size is calibrated
once (at one checkpoint, reused for all, so every estimate shares its discretisation bias) or at
each checkpoint (each at its own curvature), as the user chooses.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import xarray as xr

from slt_ppl.checks import choice
from slt_ppl.llc.batched import estimate_llc_batched
from slt_ppl.llc.estimate import estimate_llc
from slt_ppl.samplers import SG_SAMPLERS

__all__ = ["estimate_llc_trajectory", "LLCTrajectory"]


@dataclass
class LLCTrajectory:
    """The result of ``estimate_llc_trajectory``: the LLC at each checkpoint of a training run.

    Attributes
    ----------
    table : xr.Dataset
        xarray Dataset of the estimates and diagnostics.
    results : list
        The LLCResult of each checkpoint.
    llc
        The LLC of each checkpoint.
    """

    table: xr.Dataset
    results: list

    @property
    def llc(self) -> np.ndarray:
        return self.table["llc"].values

    def plot(self, train_loss=None, ax=None, theory=None):
        """The LLC per checkpoint with 2 se error bars, the training loss on a twin axis, and theory values.

        Parameters
        ----------
        train_loss : array_like, optional
            The training loss at each checkpoint, drawn on a twin axis.
        ax : matplotlib.axes.Axes, optional
            The axes to draw on. None: a new figure.
        theory : array_like, optional
            Exact values at each checkpoint, drawn as a dashed line.

        Returns
        -------
        matplotlib.axes.Axes
            The axes drawn on.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        x = self.table["checkpoint"].values
        ax.errorbar(x, self.llc, yerr=2 * self.table["se"].values, fmt="o-", ms=3, color="C0", label="LLC")
        if theory is not None:
            ax.plot(x, np.asarray(theory, dtype=float), "--", color="C2", label="theory")
        ax.set_xlabel("checkpoint")
        ax.set_ylabel("LLC", color="C0")
        if train_loss is not None:
            twin = ax.twinx()
            twin.plot(x, np.asarray(train_loss, dtype=float), color="C1", lw=1)
            twin.set_ylabel("training loss", color="C1")
        ax.legend(fontsize=8, loc="upper left")
        return ax


def estimate_llc_trajectory(model, checkpoints, model_args=(), model_kwargs=None, *, steps=None,
                            calibrate: str = "once", calibrate_at: int = -1, batched: bool = True,
                            progress_bar=None, **llc_kwargs) -> LLCTrajectory:
    """Estimate the LLC at every checkpoint of a training run, with the same seed and settings.

    The developmental LLC curve of Hoogland et al. ("The developmental landscape of in-context learning",
    arXiv 2402.02364): ``estimate_llc`` at each w* in ``checkpoints``, with one step size calibrated once (by
    default) so that the estimates differ only through the checkpoints. With one step size and a
    stochastic-gradient sampler every checkpoint runs in one vmapped, once-compiled run (same numbers as one at a
    time). The automatic burn-in extension is off here (``extend_burnin=0`` unless given): a batched run cannot
    extend one checkpoint's chains alone; each checkpoint's verdict still says when its draws are unsettled.

    Parameters
    ----------
    model : callable or Likelihood
        As in ``estimate_llc``.
    checkpoints : sequence of dict or pytree
        The parameters at each checkpoint.
    model_args : tuple, default ()
        The NumPyro model's positional arguments.
    model_kwargs : dict, optional
        The NumPyro model's keyword arguments.
    steps : sequence of int, optional
        The training step of each checkpoint (the ``checkpoint`` coordinate). None: 0, 1, ...
    calibrate : {"once", "each"}, default "once"
        ``"once"``: ``step_size="auto"`` at ``checkpoints[calibrate_at]``, that step reused for all;
        ``"each"``: the automatic step at every checkpoint. A float ``step_size`` in ``llc_kwargs`` overrides
        both.
    calibrate_at : int, default -1
        The index of the checkpoint calibrated on with ``calibrate="once"``.
    batched : bool, default True
        Run every checkpoint in one vmapped run when the step size is shared and the sampler is
        stochastic-gradient.
    progress_bar : bool, optional
        Show a progress bar. None: only in an interactive terminal.
    **llc_kwargs
        Any further keyword argument of ``estimate_llc``.

    Returns
    -------
    LLCTrajectory
        The estimates over the checkpoints, with ``stages()`` and ``plot()``.

    Examples
    --------
    >>> traj = slt.estimate_llc_trajectory(model, checkpoints, (X, y), steps=saved_steps)  # doctest: +SKIP
    >>> traj.stages()  # doctest: +SKIP
    """
    checkpoints = list(checkpoints)
    if not checkpoints:
        raise ValueError("checkpoints is empty: give a sequence of parameter values (one per training checkpoint)")
    choice("calibrate", calibrate, ("once", "each"))
    steps = np.arange(len(checkpoints)) if steps is None else np.asarray(steps)
    if steps.shape != (len(checkpoints),):
        raise ValueError(f"steps has shape {steps.shape} but there are {len(checkpoints)} checkpoints")
    step_size = llc_kwargs.pop("step_size", "auto")
    llc_kwargs.setdefault("extend_burnin", 0)
    if calibrate == "once" and isinstance(step_size, str):
        if not -len(checkpoints) <= calibrate_at < len(checkpoints):
            raise ValueError(f"calibrate_at={calibrate_at} is not an index into {len(checkpoints)} checkpoints")
        first = estimate_llc(model, checkpoints[calibrate_at], model_args, model_kwargs, step_size="auto",
                             progress_bar=progress_bar, **llc_kwargs)
        step_size = first.step_size
    sampler = llc_kwargs.get("sampler", "sgld")
    unsupported = {"checkpoint", "dtype", "restrict", "kappa"} & set(llc_kwargs)
    if batched and not isinstance(step_size, str) and sampler in SG_SAMPLERS and not unsupported \
            and not llc_kwargs["extend_burnin"]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            results = estimate_llc_batched(model, checkpoints, model_args, model_kwargs, step_size=step_size,
                                           progress_bar=progress_bar,
                                           **{k: v for k, v in llc_kwargs.items() if k != "extend_burnin"})
        for w in caught:
            warnings.warn(str(w.message), w.category, stacklevel=2)
        return _table(results, steps, calibrate)
    results = []
    for i, params in enumerate(checkpoints):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = estimate_llc(model, params, model_args, model_kwargs, step_size=step_size,
                               progress_bar=progress_bar, **llc_kwargs)
        for w in caught:
            warnings.warn(f"checkpoint {steps[i]}: {w.message}", w.category, stacklevel=2)
        results.append(res)
    return _table(results, steps, calibrate)


def _table(results, steps, calibrate) -> LLCTrajectory:
    table = xr.Dataset(
        {
            "llc": ("checkpoint", [r.llc for r in results]),
            "llc_std": ("checkpoint", [r.llc_std for r in results]),
            "se": ("checkpoint", [r.se for r in results]),
            "se_lambda": ("checkpoint", [r.se_lambda for r in results]),
            "mcse": ("checkpoint", [r.mcse for r in results]),
            "temperature_shift": ("checkpoint", [np.nan if r.temperature_shift is None else r.temperature_shift
                                                 for r in results]),
            "ess": ("checkpoint", [r.ess for r in results]),
            "step_size": ("checkpoint", [r.step_size for r in results]),
            "loss_at_params": ("checkpoint", [r.idata.attrs["loss_at_params"] for r in results]),
            "num_diverged": ("checkpoint", [r.num_diverged for r in results]),
            "converged": ("checkpoint", [bool(r.converged) for r in results]),
            "rhat": ("checkpoint", [r.rhat for r in results]),
        },
        coords={"checkpoint": steps},
        attrs={"calibrate": calibrate, "sampler": results[0].sampler, "nbeta": results[0].nbeta},
    )
    return LLCTrajectory(table, results)
