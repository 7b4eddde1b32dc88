"""The Bayesian influence function: posterior covariances of per-sample losses, from the LLC's own draws.

    Cov[l_q(w), l_t(w)],   w ~ p(w) ∝ exp{-n beta L_n(w) - (gamma/2) ||w - w*||^2},
    BIF(z_t, l_q) = -Cov[l_t(w), l_q(w)]
(Kreer, Wu, Adam, Furman, Hoogland, "Bayesian Influence Functions for Hessian-Free Data Attribution",
arXiv 2509.26544, ICLR 2026: the local BIF of a training sample z_t on an observable phi is
-Cov_gamma[l_t(w), phi(w)]; here phi is a query sample's loss). l is the per-sample loss -log p in the
likelihood's own units. The sign follows the paper: a training sample whose loss moves with the query's
has negative BIF (upweighting it lowers the query's expected loss, since d/dh E[l_q] = -beta Cov[l_q, l_t]
when h l_t is added to n L_n). devinterp 2.0 returns the Pearson correlation instead: `res.correlation`.

Accumulated chunk by chunk (observables/moments.py): memory is (queries x train) per chain, whatever
the number of draws, and no per-draw matrix is formed (a chunk's draws enter through one matrix product).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import xarray as xr

from slt_ppl.llc import llc_settings
from slt_ppl.llc.estimate import run_llc
from slt_ppl.llc.sampling import Observer
from slt_ppl.observables.moments import CoMoments
from slt_ppl.observables.observe import check_same_coordinates, first_draw, loss_fn, other_data
from slt_ppl.results import Result

__all__ = ["BIFResult", "estimate_bif"]


@dataclass
class BIFResult(Result):
    """The result of ``estimate_bif``: posterior covariances of query and training losses.

    BIF(z_t, l_q) = -Cov[l_t(w), l_q(w)] under the localized tempered posterior (Kreer et al., arXiv 2509.26544);
    the arrays live in ``idata["influence"]``.

    Attributes
    ----------
    llc : float
        The LLC from the same draws.
    llc_se : float
        Its standard error.
    nbeta : float
        n beta, the inverse temperature times the data size.
    localization : float
        gamma, the strength of the Gaussian localization about w*.
    n : int
        The number of data rows (the size of the data plate).
    sampler : str
        The sampler's name.
    num_draws : int
        Draws entering the covariances (all kept chains).
    num_diverged : int
        The number of chains that diverged and were left out.
    diverged_chains : np.ndarray
        Boolean mask of the chains left out.
    idata : xr.DataTree
        ArviZ DataTree: sample_stats with the per-draw statistics, attrs with the settings.
    partial : bool
        True when the run was interrupted and the estimate uses fewer draws than asked.
    bif
        BIF(z_train, l_query) = -Cov[l_train, l_query], dims ("query", "train").
    correlation
        The Pearson correlation of the same losses, dims ("query", "train").
    covariance
        Cov[l_query(w), l_train(w)], dims ("query", "train").
    covariance_per_chain
        Each chain's covariance matrix, when kept (else None).
    per_chain
        The estimate of each chain.
    se
        Standard error of each covariance: the spread of the chains' own covariances / sqrt(chains).
    value
        The estimate, whatever its name.
    """

    estimator: ClassVar[str] = "bif"
    value_name: ClassVar[str] = "covariance"

    llc: float  # the LLC from the same draws
    llc_se: float
    nbeta: float
    localization: float
    n: int
    sampler: str
    num_draws: int  # draws entering the covariances (all kept chains)
    num_diverged: int
    diverged_chains: np.ndarray
    idata: xr.DataTree
    partial: bool = False

    @property
    def covariance(self) -> xr.DataArray:
        """Cov[l_query(w), l_train(w)], dims ("query", "train")."""
        return self.idata["influence"]["covariance"]

    @property
    def se(self) -> xr.DataArray:
        """Standard error of each covariance: the spread of the chains' own covariances / sqrt(chains)."""
        return self.idata["influence"]["covariance_se"]

    @property
    def correlation(self) -> xr.DataArray:
        ds = self.idata["influence"]
        return (ds["covariance"] / np.sqrt(np.outer(ds["var_query"].values, ds["var_train"].values))).rename("correlation")

    @property
    def bif(self) -> xr.DataArray:
        """BIF(z_train, l_query) = -Cov[l_train, l_query], dims ("query", "train")."""
        return (-self.covariance).rename("bif")

    @property
    def covariance_per_chain(self) -> np.ndarray:
        ds = self.idata["influence"]
        return ds["covariance_per_chain"].values if "covariance_per_chain" in ds else None

    def summary(self) -> str:
        """A short human-readable report of the estimate, its errors and the verdict.

        Returns
        -------
        str
            The report; ``print(res)`` prints the same.
        """
        cov, se = self.covariance.values, self.se.values
        return "\n".join([
            f"BIF ({self.sampler}): {cov.shape[0]} query x {cov.shape[1]} train covariances from {self.num_draws} draws",
            f"  |Cov| mean {np.mean(np.abs(cov)):.4g}, median se {np.median(se):.3g}; LLC from the same draws "
            f"{self.llc:.4f} +/- {self.llc_se:.4f}",
            f"  n = {self.n}, nbeta = {self.nbeta:.4g}, localization = {self.localization:.4g}"
            + (f"; {self.num_diverged} chain(s) diverged and were left out" if self.num_diverged else ""),
        ])


def estimate_bif(model, params, model_args=(), model_kwargs=None, *, query, train_indices=None,
                 sampler: str = "sgld", num_chains: int = 4, num_draws: int | None = None,
                 num_burnin: int | None = None, step_size="auto", seed: int = 0, nbeta: float | None = None,
                 localization: float | None = 1.0, batch_size: int | None = None, restrict=None,
                 dtype: str = "float32", kappa: float = 0.1, burnin_step_factor: float = 4.0,
                 diagnostic_every: int | None = 10, chunk_size: int = 500, progress_bar: bool | None = None,
                 keep_per_chain: bool | None = None) -> BIFResult:
    """Estimate the Bayesian influence function: covariances of per-sample losses under the localized posterior.

    For query samples z_q and training samples z_t, with w drawn from the localized tempered posterior
    p(w) ~ exp(-n beta L_n(w) - gamma / 2 ||w - w*||^2),

        BIF(z_t, l_q) = -Cov[l_t(w), l_q(w)]

    (Kreer, Wu, Adam, Furman, Hoogland, "Bayesian Influence Functions for Hessian-Free Data Attribution",
    arXiv 2509.26544), l being the per-sample loss -log p in the likelihood's own units. The covariances are
    accumulated chunk by chunk from the LLC's own draws, so memory is queries x train per chain whatever the
    number of draws, and the LLC is reported beside them.

    Parameters
    ----------
    model : callable or Likelihood
        As in ``estimate_llc``.
    params : dict or pytree
        w*.
    model_args : tuple, default ()
        The NumPyro model's positional arguments.
    model_kwargs : dict, optional
        The NumPyro model's keyword arguments.
    query : pytree or tuple
        The query samples: for a Likelihood, a pytree like its data; for a NumPyro model, the model's positional
        arguments on the query data, e.g. ``(X_q, y_q)``.
    train_indices : array_like of int, optional
        Which training samples enter the covariance. None: all n. Every draw evaluates the losses of all query
        and chosen training samples (full batch, whatever ``batch_size`` the sampler uses).
    sampler : str, default "sgld"
        As in ``estimate_llc``.
    num_chains : int, default 4
        Chains, vectorised in one run.
    num_draws : int, optional
        Draws per chain. None: as in ``estimate_llc``.
    num_burnin : int, optional
        Burn-in steps. None: ``num_draws``.
    step_size : float or "auto", default "auto"
        As in ``estimate_llc``.
    seed : int, default 0
        The PRNG seed.
    nbeta : float, optional
        n beta. None: n / log n.
    localization : float, default 1.0
        gamma, the Gaussian localization strength.
    batch_size : int, optional
        Minibatch size of the sampler. None: full batch.
    restrict : optional
        Sample only these parameters, as in ``estimate_llc``.
    dtype : {"float32", "float64"}, default "float32"
        Precision of data, parameters and sampling.
    kappa : float, default 0.1
        Stiffness budget of the automatic step.
    burnin_step_factor : float, default 4.0
        SG kernels: the burn-in runs at this multiple of the step.
    diagnostic_every : int or None, default 10
        Record the MALA acceptance of the proposal every this many steps; None: never.
    chunk_size : int, default 500
        Steps per compiled chunk.
    progress_bar : bool, optional
        Show a progress bar. None: only in an interactive terminal.
    keep_per_chain : bool, optional
        Keep each chain's covariance matrix in ``idata``. None: when queries x train <= 1e6.

    Returns
    -------
    BIFResult
        ``covariance``, ``correlation`` and ``bif`` as xarray DataArrays with dims ("query", "train"), their
        ``se``, the LLC of the same draws and the DataTree.

    Examples
    --------
    >>> b = slt.estimate_bif(slt.Likelihood(nll, (X, y)), params, query=(Xq, yq), seed=0)  # doctest: +SKIP
    >>> b.bif.sel(query=0)  # doctest: +SKIP
    """
    settings = llc_settings(sampler=sampler, num_chains=num_chains, num_draws=num_draws, num_burnin=num_burnin,
                            step_size=step_size, seed=seed, kappa=kappa, burnin_step_factor=burnin_step_factor,
                            diagnostic_every=diagnostic_every, chunk_size=chunk_size, progress_bar=progress_bar)
    sizes, acc = {}, []

    def make_observer(pot, nbeta_):
        q_pot = other_data(model, params, model_kwargs, query, restrict, "query")
        check_same_coordinates(pot, q_pot, "query")
        idx = None if train_indices is None else np.asarray(train_indices, dtype=int).ravel()
        if idx is not None and (idx.size == 0 or idx.min() < 0 or idx.max() >= pot.n):
            raise ValueError(f"train_indices must be indices into the {pot.n} training samples, got {train_indices!r}")
        query_losses, train_losses = loss_fn(q_pot), loss_fn(pot, idx)
        sizes.update(query=q_pot.n, train=pot.n if idx is None else idx.size, indices=idx)
        acc.append(CoMoments(settings.num_chains, q_pot.n, sizes["train"], first_draw=first_draw(settings)))
        return Observer(lambda position: {"query": query_losses(position), "train": train_losses(position)},
                        lambda piece, start, stop: acc[0].update(piece["query"], piece["train"], start))

    res, out, _ = run_llc(settings, model, params, model_args, model_kwargs, nbeta=nbeta, localization=localization,
                          batch_size=batch_size, restrict=restrict, dtype=dtype, make_observer=make_observer)
    keep = keep_per_chain if keep_per_chain is not None else sizes["query"] * sizes["train"] <= 1_000_000
    m = acc[0].covariances(~res.diverged_chains, keep_per_chain=keep)
    train_coord = np.arange(sizes["train"]) if sizes["indices"] is None else sizes["indices"]
    coords = {"query": np.arange(sizes["query"]), "train": train_coord}
    data = {"covariance": (("query", "train"), m["cov"]), "covariance_se": (("query", "train"), m["se"]),
            "var_query": (("query",), m["var_a"]), "var_train": (("train",), m["var_b"])}
    if keep:
        data["covariance_per_chain"] = (("chain", "query", "train"), m["per_chain"])
    influence = xr.Dataset(data, coords=coords, attrs={"convention": "bif = -covariance (Kreer et al. 2025)",
                                                        "units": "per-sample loss -log p"})
    idata = res.idata.copy()
    idata["influence"] = xr.DataTree(influence)
    idata.attrs = {**res.idata.attrs, "estimator": "bif"}
    return BIFResult(llc=res.llc, llc_se=res.se, nbeta=res.nbeta, localization=res.localization, n=res.n,
                     sampler=res.sampler, num_draws=m["draws"], num_diverged=res.num_diverged,
                     diverged_chains=res.diverged_chains, idata=idata, partial=res.partial)
