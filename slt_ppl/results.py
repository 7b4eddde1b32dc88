"""What every estimator's result shares: its shape, its ArviZ DataTree, its summary, saving and loading.

One record shape for the family (as ArviZ gives every group the same (chain, draw) dims): each result
is a dataclass with the estimate under its own name (`llc`, `wbic`, `rlct`, `free_energy`, `nu`),
`.se` (its standard error), per-chain values, `.idata` (an `xarray.DataTree` whose attrs name the
`estimator`), `sampler`, `n`, `num_diverged` / `diverged_chains` and `partial`. Older names of the
standard error (`wbic_se`, `rlct_se`, `free_energy_se`, `nu_se`) remain as aliases for one release.

`res.save(path)` writes the DataTree and the result's numbers into one netCDF-4 file (h5netcdf);
`slt.load(path)` gives back a result of the same class with the same numbers.
"""

from __future__ import annotations

import dataclasses
import json
import os
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np
import xarray as xr
from arviz_base import from_dict
from arviz_stats.base import array_stats  # imported with the package, not inside the first estimate

__all__ = ["Result", "build_idata", "mcse_of_mean", "rank_rhat", "trend_z", "between_chain_se", "total_llc_se", "load",
           "RESULT_CLASSES", "variance_form", "beyond_half_dimension", "VARIANCE_RATIO"]

RESULT_CLASSES: dict[str, type] = {}  # class name -> class, for load()
_RESULT_ATTR = "slt_ppl_result"


def build_idata(stats: dict, warmup_stats: dict, attrs: dict, posterior: tuple = ()) -> xr.DataTree:
    """An ArviZ DataTree with groups sample_stats and warmup_sample_stats over (chain, draw).

    posterior: names of per-draw observables also placed in a `posterior` group (for the LLC: llc and
    loss under the localized tempered posterior), where `arviz.summary(idata)` looks by default.
    """
    groups = {"sample_stats": stats}
    if posterior:
        groups["posterior"] = {name: stats[name] for name in posterior if name in stats}
    if warmup_stats and next(iter(warmup_stats.values())).shape[1] > 0:
        groups["warmup_sample_stats"] = warmup_stats
    tree = from_dict(groups, save_warmup=True)
    tree.attrs.update(attrs)
    return tree


def mcse_of_mean(draws: np.ndarray) -> tuple[float, float]:
    """(MCSE, ESS) of the mean of a (chain, draw) array, from ArviZ's bulk ESS: sd / sqrt(ess)."""
    if draws.shape[0] * draws.shape[1] < 4:
        return float("nan"), float("nan")
    ess = float(array_stats.ess(draws, chain_axis=0, draw_axis=1, method="mean"))
    sd = float(np.std(draws, ddof=1))
    return sd / np.sqrt(max(ess, 1.0)), ess


# convergence thresholds shared by the LLC's and the global estimators' verdicts (sources in llc/verdict.py)
RHAT_FAIL, RHAT_NOTE, TREND_Z, MALA_MIN, METROPOLIS_MIN = 1.05, 1.01, 3.0, 0.5, 0.3
VARIANCE_RATIO = 1.5  # the variance form may exceed its bound (the mean form, or d / 2) by this factor


def variance_form(draws: np.ndarray, beta_scale: float = 1.0) -> tuple[float, float]:
    """(beta_scale^2 * pooled within-chain variance, its se from the spread of the chains' variances) of a
    (chain, draw) array: the variance form of a learning coefficient, (n beta)^2 Var[L_n] for the LLC's draws
    n beta (L_n(w) - L_n(w*)) (beta_scale 1), beta^2 Var_beta[n L_n] for a tempered run's n L_n draws."""
    per_chain = beta_scale ** 2 * draws.var(axis=1, ddof=1)
    se = float(per_chain.std(ddof=1) / np.sqrt(len(per_chain))) if len(per_chain) > 1 else float("nan")
    return float(per_chain.mean()), se


def beyond_half_dimension(name: str, value: float, se: float, num_params: int | None,
                          factor: float = 1.0) -> str | None:
    """The failure, if `value` (an estimate of a learning coefficient) exceeds factor * d / 2 by more than 3 se.

    A learning coefficient is at most d / 2 (Watanabe, "Algebraic Geometry and Statistical Learning Theory",
    Cambridge 2009, Thm 7.2: 0 < lambda <= d / 2 when the prior is positive at the truth; the finite-n LLC of a
    regular direction, (1/2) n beta h / (n beta h + gamma), is below 1/2 too). A value beyond it cannot be
    the target's: the chains do not sample it, a step too large being the usual cause (measured on linear
    regression, d = 3: at 30x the automatic SGLD step the WBIC run's variance form read 17.1 and the RLCT
    slope -12.7, both with R-hat and the MALA acceptance quiet)."""
    if num_params is None or not (np.isfinite(value) and np.isfinite(se)):
        return None
    bound = factor * num_params / 2
    if value - 3 * se <= bound:
        return None
    return (f"{name} = {value:.4g} +/- {se:.2g} exceeds {'' if factor == 1 else f'{factor:.4g} x '}d / 2 = {bound:.4g}"
            f" (d = {num_params} parameters), more than any learning coefficient can be: the chains do not sample the "
            "target (a step too large is the usual cause; use step_size='auto' or a smaller step)")


def rank_rhat(kept: np.ndarray) -> float:
    """Rank-normalised split R-hat of (chain, draw) values (NaN with fewer than 2 chains or 4 draws)."""
    if kept.shape[0] >= 2 and kept.shape[1] >= 4:
        return float(array_stats.rhat(kept, chain_axis=0, draw_axis=1, method="rank"))
    return float("nan")


def trend_z(kept: np.ndarray) -> float:
    """z of the drift between the halves of the draws (llc/verdict.py), pooled over the rows (kept chains)."""
    half = kept.shape[1] // 2
    if half < 4:
        return float("nan")
    first, second = kept[:, :half], kept[:, half: 2 * half]
    se1, se2 = mcse_of_mean(first)[0], mcse_of_mean(second)[0]
    denom = np.hypot(se1, se2)
    return float((second.mean() - first.mean()) / denom) if denom > 0 else float("nan")


def between_chain_se(draws: np.ndarray, *, student_t: bool = True) -> float:
    """The standard error of the mean of a (chain, draw) array from the spread of the chains' means alone,
    scaled so that +/- 2 of it is a 95% Student-t interval over the chains:
        se_between = (t_{C-1, 0.975} / 1.96) * sd(chain means) / sqrt(C).
    The chains start independently, so their means are independent draws whatever the autocorrelation;
    the MCSE's ESS reads the autocorrelation within a run, and a mode slower than the run (a degenerate
    direction still diffusing, measured on DLNs: seeds and burn-ins spread 2-3x the MCSE) escapes it.
    student_t=False: sd(chain means) / sqrt(C) alone, the figure to compare with the MCSE. NaN with fewer
    than 2 chains."""
    from scipy.stats import t as student_t_dist

    C = draws.shape[0]
    if C < 2 or draws.shape[1] < 1:
        return float("nan")
    means = draws.mean(axis=1)
    factor = student_t_dist.ppf(0.975, C - 1) / 1.959964 if student_t else 1.0
    return float(factor * np.std(means, ddof=1) / np.sqrt(C))


def total_llc_se(draws: np.ndarray) -> tuple[float, float, float]:
    """(se, MCSE, ESS): se = max(MCSE, between_chain_se), the error bar that holds when either the
    autocorrelation within chains or the disagreement between them dominates (NaN if the MCSE is)."""
    mcse, ess = mcse_of_mean(draws)
    between = between_chain_se(draws)
    se = max(mcse, between) if np.isfinite(between) else mcse
    return float(se), mcse, ess


class Result:
    """The shape every result of every estimator shares.

    Subclasses (``LLCResult``, ``WBICResult``, ``RLCTResult``, ``FreeEnergyResult``,
    ``SingularFluctuationResult``, ``BIFResult``, ``SusceptibilityResult``) are dataclasses that set
    ``estimator`` (the DataTree's ``attrs["estimator"]``) and ``value_name`` (the attribute holding the
    estimate).

    Attributes
    ----------
    value : float
        The estimate, whatever its name (``res.llc``, ``res.wbic``, ...).
    per_chain : numpy.ndarray
        The estimate of each chain (diverged chains included, NaN where undefined).
    se : float
        The estimate's standard error.
    idata : xarray.DataTree
        The ArviZ DataTree of the run: per-draw statistics, the settings and the verdict in its attrs.

    Examples
    --------
    >>> res.save("llc.nc")              # doctest: +SKIP
    >>> res = slt.load("llc.nc")        # doctest: +SKIP
    """

    estimator: ClassVar[str] = ""
    value_name: ClassVar[str] = ""
    not_saved: ClassVar[tuple] = ()  # fields that hold live objects (warm kernel states): None after load()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        RESULT_CLASSES[cls.__name__] = cls

    @property
    def value(self) -> float:
        """The estimate, whatever its name."""
        return getattr(self, self.value_name)

    @property
    def per_chain(self) -> np.ndarray:
        """The estimate of each chain (diverged chains included, NaN where undefined)."""
        return getattr(self, f"{self.value_name}_per_chain")

    def summary(self) -> str:  # pragma: no cover - every subclass has its own
        """A short human-readable report of the estimate, its errors and the verdict.

        Returns
        -------
        str
            The report; ``print(res)`` prints the same.
        """
        raise NotImplementedError

    def __str__(self) -> str:
        return self.summary()

    def plot(self, ax=None):
        """Plot the result's draws; result classes without a plot raise NotImplementedError.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            The axes to draw on. None: a new figure.

        Returns
        -------
        matplotlib.axes.Axes
            The axes drawn on.
        """
        raise NotImplementedError(f"{type(self).__name__} has no plot; read its numbers or .idata")

    def save(self, path) -> str:
        """Write this result to ``path`` (netCDF-4, one file): the DataTree plus every number.

        ``slt.load(path)`` reads it back as the same class with the same numbers; ``res.idata`` alone can also be
        written with ``to_netcdf`` or ``to_zarr``.

        Parameters
        ----------
        path : str or path-like
            The file to write (replaced atomically if it exists).

        Returns
        -------
        str
            The path written.
        """
        return save(self, path)


def _encode(value):
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, Fraction):
        return {"__fraction__": str(value)}
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, tuple) and hasattr(value, "_asdict"):  # a NamedTuple such as theory.Coefficient
        return {"__namedtuple__": type(value).__name__, "fields": {k: _encode(v) for k, v in value._asdict().items()}}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot save a value of type {type(value).__name__}")


def _decode(value):
    if isinstance(value, dict):
        if "__ndarray__" in value:
            return np.asarray(value["__ndarray__"], dtype=value["dtype"]).reshape(value["shape"])
        if "__fraction__" in value:
            return Fraction(value["__fraction__"])
        if "__namedtuple__" in value:
            fields = {k: _decode(v) for k, v in value["fields"].items()}
            if value["__namedtuple__"] == "Coefficient":
                from slt_ppl.theory import Coefficient

                return Coefficient(**fields)
            return fields
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _netcdf_safe_attrs(tree: xr.DataTree) -> xr.DataTree:
    """netCDF attributes are strings, numbers or 1-D numeric arrays: anything else (empty lists, nested
    lists, None, bools) is stored as JSON text under the same name, prefixed 'json:'."""
    for node in tree.subtree:
        for key, value in list(node.attrs.items()):
            ok = isinstance(value, (str, int, float, np.number)) and not isinstance(value, bool)
            if isinstance(value, (list, tuple, np.ndarray)):
                arr = np.asarray(value)
                ok = arr.ndim == 1 and arr.size > 0 and np.issubdtype(arr.dtype, np.number)
            if not ok:
                node.attrs[key] = "json:" + json.dumps(_encode(value))
    return tree


def _restore_attrs(tree: xr.DataTree) -> xr.DataTree:
    for node in tree.subtree:
        for key, value in list(node.attrs.items()):
            if isinstance(value, str) and value.startswith("json:"):
                node.attrs[key] = _decode(json.loads(value[5:]))
            elif isinstance(value, np.ndarray):
                node.attrs[key] = value.tolist()
            elif isinstance(value, np.generic):
                node.attrs[key] = value.item()
    return tree


def save(result: Result, path) -> str:
    """Write `result` to `path` (module doc). Returns the path."""
    if not isinstance(result, Result):
        raise TypeError(f"save needs an slt_ppl result, got {type(result).__name__}")
    path = os.fspath(path)
    fields = {}
    for f in dataclasses.fields(result):
        if f.name == "idata" or f.name in result.not_saved:
            continue
        fields[f.name] = _encode(getattr(result, f.name))
    tree = result.idata.copy(deep=True) if result.idata is not None else xr.DataTree()
    _netcdf_safe_attrs(tree)
    tree.attrs[_RESULT_ATTR] = json.dumps({"class": type(result).__name__, "fields": fields})
    tmp = path + ".tmp"
    tree.to_netcdf(tmp, engine="h5netcdf")
    os.replace(tmp, path)
    return path


def load(path) -> Result:
    """Read a result written by ``res.save(path)``.

    Parameters
    ----------
    path : str or path-like
        The netCDF file ``save`` wrote.

    Returns
    -------
    Result
        A result of the same class, with the same numbers and DataTree (fields that held live objects, such as
        ``LLCResult.calibration``, are None).

    Raises
    ------
    FileNotFoundError
        When nothing is at ``path``.
    ValueError
        When the file is netCDF but not an slt_ppl result, or holds a result class this version does not know.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no saved result at {path!r}")
    with xr.open_datatree(path, engine="h5netcdf") as tree:
        tree = tree.load()
    meta = tree.attrs.pop(_RESULT_ATTR, None)
    if meta is None:
        raise ValueError(f"{path!r} is a netCDF file but not an slt_ppl result (no {_RESULT_ATTR!r} attribute); "
                         "open it with xarray.open_datatree")
    meta = json.loads(meta)
    cls = RESULT_CLASSES.get(meta["class"])
    if cls is None:
        raise ValueError(f"{path!r} holds a {meta['class']}, which this version of slt_ppl does not know")
    fields = {k: _decode(v) for k, v in meta["fields"].items()}
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {k: v for k, v in fields.items() if k in names}
    for name in cls.not_saved:
        kwargs[name] = None
    return cls(**kwargs, idata=_restore_attrs(tree) if tree.children or tree.attrs else tree)
