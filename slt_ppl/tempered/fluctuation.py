"""Singular fluctuation, functional variance and WAIC from per-datum log-likelihood draws.

    V_n = sum_i { E_w[(log p(X_i|w))^2] - (E_w[log p(X_i|w)])^2 }      (functional variance)
    T_n = -(1/n) sum_i log E_w[p(X_i|w)]                                (Bayes training loss)
    WAIC = T_n + (beta/n) V_n,   nu = (beta/2) V_n                       (singular fluctuation)
(Watanabe, "Equations of states in singular statistical estimation", arXiv 0712.0653, and JMLR 11
(2010), the definitions of V_n, T_n and WAIC.) E_w is over the posterior at inverse temperature beta, the one
the draws came from. WAIC is on the per-sample scale: -elpd_waic / n in ArviZ's terms. Variances
use ddof = 1, as ArviZ's p_waic does.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr
from scipy.special import logsumexp

from slt_ppl.results import between_chain_se
from slt_ppl.tempered.results import SingularFluctuationResult

__all__ = ["singular_fluctuation"]


def _datatree(data) -> xr.DataTree:
    tree = getattr(data, "idata", data)
    if not isinstance(tree, xr.DataTree):
        raise TypeError(
            f"singular_fluctuation needs an ArviZ DataTree (e.g. az.from_numpyro(mcmc, log_likelihood=True)) or an "
            f"slt_ppl result with idata, got {type(data).__name__}"
        )
    if "log_likelihood" not in tree.children:
        raise ValueError(
            "the DataTree has no log_likelihood group: build it with az.from_numpyro(mcmc, log_likelihood=True), "
            "or run slt.estimate_wbic(..., log_likelihood=True)"
        )
    return tree


def _pointwise_draws(tree: xr.DataTree, var_name) -> np.ndarray:
    """(chain, draw, n) per-datum log-likelihoods; several observed sites are summed per datum."""
    group = tree["log_likelihood"].to_dataset()
    names = list(group.data_vars)
    if var_name is not None:
        if var_name not in names:
            raise ValueError(f"var_name {var_name!r} is not in the log_likelihood group (variables: {names})")
        names = [var_name]
    if not names:
        raise ValueError("the log_likelihood group is empty")
    arrays = []
    for name in names:
        da = group[name]
        missing = {"chain", "draw"} - set(da.dims)
        if missing:
            raise ValueError(f"log_likelihood variable {name!r} lacks the sample dims {sorted(missing)} (dims {da.dims})")
        da = da.transpose("chain", "draw", ...)
        arrays.append(np.asarray(da.values, dtype=np.float64).reshape(da.sizes["chain"], da.sizes["draw"], -1))
    if len({a.shape for a in arrays}) != 1:
        raise ValueError(
            f"log_likelihood variables {names} have different numbers of data points "
            f"({[a.shape[-1] for a in arrays]}); pass var_name= to choose one"
        )
    return np.sum(arrays, axis=0)


def _labelled(tree: xr.DataTree) -> xr.DataTree:
    """A shallow copy of the draws' DataTree (no data copied) whose attrs name this estimator and the source."""
    out = tree.copy()
    out.attrs = {**tree.attrs, "estimator": "singular_fluctuation", "source_estimator": tree.attrs.get("estimator", "")}
    return out


def _resolve_beta(tree, beta) -> float:
    recorded = tree.attrs.get("beta")
    if beta is None:
        beta = recorded if recorded is not None else 1.0
    elif recorded is not None and not np.isclose(float(beta), float(recorded), rtol=1e-9):
        raise ValueError(
            f"beta={beta} but these draws come from the posterior at beta={recorded}; the singular fluctuation "
            "must use the temperature the draws were taken at (leave beta=None)"
        )
    if isinstance(beta, bool) or not np.isfinite(float(beta)) or float(beta) <= 0:
        raise ValueError(f"beta must be a finite number > 0 (the inverse temperature of the draws), got {beta!r}")
    return float(beta)


def _fluctuation(ll: np.ndarray, beta: float):
    """(nu, V_n, WAIC, pointwise WAIC, T_n) from (samples, n) log-likelihoods."""
    S, n = ll.shape
    var = ll.var(axis=0, ddof=1)
    lme = logsumexp(ll, axis=0) - np.log(S)
    pointwise = -lme + beta * var
    V = float(var.sum())
    return 0.5 * beta * V, V, float(pointwise.mean()), pointwise, float(-lme.mean())


def singular_fluctuation(data, beta: float | None = None, *, var_name: str | None = None) -> SingularFluctuationResult:
    """Singular fluctuation, functional variance and WAIC from per-datum log-likelihood draws.

    With E_w over the posterior at inverse temperature beta (the one the draws came from),
    V_n = sum_i (E_w[(log p(X_i | w))^2] - E_w[log p(X_i | w)]^2), T_n = -(1/n) sum_i log E_w[p(X_i | w)],
    WAIC = T_n + (beta / n) V_n and nu = (beta / 2) V_n (Watanabe, "Equations of states in singular statistical
    estimation", arXiv 0712.0653, and JMLR 11 (2010)). WAIC is on the per-sample scale: -elpd_waic / n in ArviZ's
    terms; variances use ddof = 1, as ArviZ's p_waic does.

    Parameters
    ----------
    data : DataTree or Result
        A DataTree with a ``log_likelihood`` group (e.g. from NumPyro's MCMC via ArviZ), or an slt_ppl result run
        with ``log_likelihood=True``.
    beta : float, optional
        The inverse temperature the draws were taken at. None: the one recorded in the DataTree's attrs
        (slt_ppl results), else 1.0 (an ordinary posterior).
    var_name : str, optional
        The variable of the ``log_likelihood`` group to use. None: every variable, summed per datum (several
        observed sites).

    Returns
    -------
    SingularFluctuationResult
        ``nu``, ``functional_variance``, ``waic``, ``training_loss`` and their standard errors.

    Warns
    -----
    RuntimeWarning
        When chains listed in ``attrs["diverged_chains"]`` or holding non-finite values are left out.

    Examples
    --------
    >>> w = slt.estimate_wbic(model, (X, y), beta=1.0, log_likelihood=True)  # doctest: +SKIP
    >>> s = slt.singular_fluctuation(w)  # doctest: +SKIP
    >>> s.nu, s.waic  # doctest: +SKIP
    """
    tree = _datatree(data)
    beta = _resolve_beta(tree, beta)
    ll = _pointwise_draws(tree, var_name)
    C, D, n = ll.shape
    bad = np.zeros(C, bool)
    bad[[c for c in tree.attrs.get("diverged_chains", []) if 0 <= c < C]] = True
    bad |= ~np.all(np.isfinite(ll), axis=(1, 2))
    if bad.all():
        raise ValueError("every chain of the log_likelihood group holds non-finite values or diverged: nothing to use")
    if bad.any():
        warnings.warn(f"chains {np.flatnonzero(bad).tolist()} diverged or hold non-finite log-likelihoods; left out",
                      RuntimeWarning, stacklevel=2)
    ll = ll[~bad]
    if ll.shape[0] * D < 2:
        raise ValueError(f"the functional variance needs >= 2 draws, got {ll.shape[0] * D}")
    nu, V, waic, pointwise, T = _fluctuation(ll.reshape(-1, n), beta)
    per_chain = np.full(C, np.nan)
    if D >= 2:
        per_chain[~bad] = [_fluctuation(chain, beta)[0] for chain in ll]
    if ll.shape[0] >= 2 and D >= 2:
        # the chains' spread with its Student-t factor (results.between_chain_se): with 4 chains the bare
        # sd / sqrt(C) covered the exact nu within 2 se in 2 of 4 singular cases (benchmarks/global_exact.py)
        nu_se = between_chain_se(per_chain[~bad][:, None])
    else:
        nu_se = float("nan")
        warnings.warn("nu_se needs >= 2 usable chains; set to NaN", RuntimeWarning, stacklevel=2)
    return SingularFluctuationResult(
        nu=float(nu), se=nu_se, functional_variance=V, waic=waic, waic_se=float(pointwise.std(ddof=1) / np.sqrt(n)),
        training_loss=T, beta=beta, n=n, num_samples=int(ll.shape[0] * D), idata=_labelled(tree), nu_per_chain=per_chain,
        sampler=str(tree.attrs.get("sampler", "unknown")), num_diverged=int(bad.sum()), diverged_chains=bad,
        **_source_verdict(tree),
    )


def _source_verdict(tree) -> dict:
    """The verdict of the slt_ppl run the draws came from (its DataTree attrs); none for outside draws."""
    if "converged" not in tree.attrs:
        return {"diagnosis": ("no verdict: the draws did not come from an slt_ppl run",)}
    return {"converged": bool(tree.attrs["converged"]), "diagnosis": tuple(tree.attrs.get("diagnosis", ())),
            "rhat": float(tree.attrs.get("rhat", float("nan"))), "trend_z": float(tree.attrs.get("trend_z", float("nan")))}
