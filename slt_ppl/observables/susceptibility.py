"""Susceptibilities: how a weight restriction's loss responds when the data shift toward a probe set.

For a component C (a restrict= spec) sample only C's weights from the localized tempered posterior
at w* (the rest held at w*), and read per draw
    phi_C(w) = L_n(w) - L_n(w*)                  (the training loss change: C's own observable)
    dL_p(w)  = [L_p(w) - L_p(w*)] - phi_C(w)     (L_p the mean loss on probe set p: the shift q -> q_p)
The susceptibility of C to probe p is the first-order response of E[phi_C] to moving the data
distribution toward p, which by the fluctuation-dissipation identity d/dh E_h[O] = -n beta Cov[O, dL]
(for the tempered exponent n beta [L_n + h dL]) is
    chi_C(p) = -n beta Cov_C[phi_C(w), dL_p(w)]
(Baker, Wang, Hoogland, Pathak, Murfet, "Structural Inference: Interpreting Small Language Models with
Susceptibilities", arXiv 2504.18274, ICLR 2026; its per-token factorisation and normalisation were not
checked against the paper's text here). devinterp 2.0's `slt/susceptibilities.py` reports the
covariance without the n beta factor: `res.covariance` is that number. Negative chi: moving toward
the probe data lowers C's expected loss.

Precision: chi is a covariance of two scalars with a small signal, so it needs more draws than the
LLC: the default is 12 000 draws after 4 000 burn-in steps (stochastic-gradient kernels). On Bayesian
linear regression (d = 5, n = 2000, three restrictions x three covariate-shifted probes) the relative
Frobenius error against the closed form was 13% at 4 000 draws and 7.5% / 8.6% at 12 000 (seeds 0, 1).
A probe whose own optimum differs from w* (a large probe gradient at w*) adds a linear term to dL_p
that is uncorrelated with phi_C but dominates its variance: chi then needs many more draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax.numpy as jnp
import numpy as np
import xarray as xr

from slt_ppl.llc import llc_settings
from slt_ppl.llc.estimate import run_llc
from slt_ppl.llc.sampling import Observer
from slt_ppl.observables.moments import CoMoments
from slt_ppl.observables.observe import check_same_coordinates, first_draw, loss_fn, other_data
from slt_ppl.results import Result

__all__ = ["SusceptibilityResult", "estimate_susceptibilities"]


@dataclass
class SusceptibilityResult(Result):
    """The result of ``estimate_susceptibilities``: chi over (restriction, probe).

    chi_C(p) = -n beta Cov_C[phi_C, dL_p] (Baker et al., arXiv 2504.18274), in ``idata["susceptibility"]`` with
    its se and the covariance without the n beta factor.

    Attributes
    ----------
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
        Boolean mask of the chains left out, (restriction, chain).
    idata : xr.DataTree
        ArviZ DataTree: sample_stats with the per-draw statistics, attrs with the settings.
    partial : bool
        True when the run was interrupted and the estimate uses fewer draws than asked.
    chi
        -n beta Cov_C[phi_C, dL_p], dims ("restriction", "probe").
    chi_per_chain
        chi of each chain.
    covariance
        Cov_C[phi_C, dL_p] without the n beta factor (devinterp's number).
    llc
        The restricted LLC of each restriction, from the same draws.
    per_chain
        The estimate of each chain.
    se
        Standard error of each chi, dims ("restriction", "probe").
    value
        The estimate, whatever its name.
    """

    estimator: ClassVar[str] = "susceptibilities"
    value_name: ClassVar[str] = "chi"

    nbeta: float
    localization: float
    n: int
    sampler: str
    num_diverged: int  # over all restrictions' runs
    diverged_chains: np.ndarray  # (restriction, chain)
    idata: xr.DataTree
    partial: bool = False

    @property
    def chi(self) -> xr.DataArray:
        """-n beta Cov_C[phi_C, dL_p], dims ("restriction", "probe")."""
        return self.idata["susceptibility"]["chi"]

    @property
    def se(self) -> xr.DataArray:
        return self.idata["susceptibility"]["chi_se"]

    @property
    def covariance(self) -> xr.DataArray:
        return self.idata["susceptibility"]["covariance"]

    @property
    def chi_per_chain(self) -> np.ndarray:
        return self.idata["susceptibility"]["chi_per_chain"].values

    @property
    def llc(self) -> xr.DataArray:
        """The restricted LLC of each restriction, from the same draws."""
        return self.idata["susceptibility"]["llc"]

    def summary(self) -> str:
        """A short human-readable report of the estimate, its errors and the verdict.

        Returns
        -------
        str
            The report; ``print(res)`` prints the same.
        """
        chi, se = self.chi, self.se
        lines = [f"susceptibilities ({self.sampler}), n = {self.n}, nbeta = {self.nbeta:.4g}: chi +/- se"]
        for r in chi["restriction"].values:
            cells = ", ".join(f"{p}: {float(chi.sel(restriction=r, probe=p)):+.4g} +/- "
                              f"{float(se.sel(restriction=r, probe=p)):.2g}" for p in chi["probe"].values)
            lines.append(f"  {r}: {cells}  (LLC {float(self.llc.sel(restriction=r)):.3f})")
        return "\n".join(lines)


def _name(spec) -> str:
    if spec is None:
        return "all"
    if isinstance(spec, str):
        return spec
    if isinstance(spec, (list, tuple)) and all(isinstance(s, str) for s in spec):
        return "+".join(spec)
    return getattr(spec, "pattern", None) or repr(spec)


def estimate_susceptibilities(model, params, model_args=(), model_kwargs=None, *, restrictions, probes,
                              sampler: str = "sgld", num_chains: int = 4, num_draws: int | None = None,
                              num_burnin: int | None = None, step_size="auto", seed: int = 0,
                              nbeta: float | None = None, localization: float | None = 1.0,
                              batch_size: int | None = None, dtype: str = "float32", kappa: float = 0.1,
                              burnin_step_factor: float = 4.0, diagnostic_every: int | None = 10,
                              chunk_size: int = 500, progress_bar: bool | None = None) -> SusceptibilityResult:
    """Estimate the susceptibilities chi_C(p) of weight restrictions C to probe data sets p.

    For a restriction C, only C's weights are sampled from the localized tempered posterior at w* (the rest held
    at w*); per draw, phi_C(w) = L_n(w) - L_n(w*) and dL_p(w) = [L_p(w) - L_p(w*)] - phi_C(w), L_p the mean loss
    on probe set p. By the fluctuation-dissipation identity the first-order response of E[phi_C] to moving the
    data toward p is

        chi_C(p) = -n beta Cov_C[phi_C(w), dL_p(w)]

    (Baker, Wang, Hoogland, Pathak, Murfet, "Structural Inference: Interpreting Small Language Models with
    Susceptibilities", arXiv 2504.18274). Negative chi: moving toward the probe data lowers C's expected loss.
    One restricted run per restriction. chi is a covariance of two scalars with a small signal, so the default
    run is three times the LLC's.

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
    restrictions : dict or list
        name -> restrict spec (anything ``estimate_llc``'s ``restrict`` takes; None: every weight), or a list of
        specs, named after themselves.
    probes : dict
        name -> probe data, in the form ``estimate_bif``'s ``query`` takes (a pytree like a Likelihood's data; a
        NumPyro model's positional arguments).
    sampler : str, default "sgld"
        As in ``estimate_llc``.
    num_chains : int, default 4
        Chains, vectorised in one run.
    num_draws : int, optional
        Draws per chain. None: 12 000 for SG kernels, 3000 for MALA/HMC/NUTS.
    num_burnin : int, optional
        Burn-in steps. None: 4000 for SG kernels, ``num_draws`` for MALA/HMC/NUTS.
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

    Returns
    -------
    SusceptibilityResult
        ``chi`` and its ``se`` over the dims (restriction, probe), the covariance without the n beta factor, and
        the DataTree.

    Examples
    --------
    >>> s = slt.estimate_susceptibilities(lik, params, restrictions={"attn": "l0 attn"},
    ...                                   probes={"code": (Xc, yc)}, seed=0)  # doctest: +SKIP
    >>> s.chi  # doctest: +SKIP
    """
    if not isinstance(restrictions, dict):
        restrictions = {_name(r): r for r in restrictions}
    if not restrictions:
        raise ValueError("restrictions is empty: give at least one restrict spec (None: every weight)")
    if not isinstance(probes, dict) or not probes:
        raise ValueError("probes must be a non-empty dict name -> probe data")
    if num_draws is None:  # a covariance of two scalar observables: 3x the LLC's draws (measured: module doc)
        num_draws = 3000 if sampler in ("mala", "hmc", "nuts") else 12_000
        num_burnin = 4000 if num_burnin is None and sampler not in ("mala", "hmc", "nuts") else num_burnin
    settings = llc_settings(sampler=sampler, num_chains=num_chains, num_draws=num_draws, num_burnin=num_burnin,
                            step_size=step_size, seed=seed, kappa=kappa, burnin_step_factor=burnin_step_factor,
                            diagnostic_every=diagnostic_every, chunk_size=chunk_size, progress_bar=progress_bar)
    names, probe_names = list(restrictions), list(probes)
    rows, first = [], None
    for name in names:
        spec = restrictions[name]

        acc = []

        def make_observer(pot, nbeta_, spec=spec, acc=acc):
            train = loss_fn(pot)
            probe_losses = []
            for p in probe_names:
                p_pot = other_data(model, params, model_kwargs, probes[p], spec, f"probe {p!r}")
                check_same_coordinates(pot, p_pot, f"probe {p!r}")
                probe_losses.append(loss_fn(p_pot))
            acc.append(CoMoments(settings.num_chains, 1, len(probe_names), first_draw=first_draw(settings)))

            def observe(position):
                phi = jnp.mean(train(position))
                return {"phi": phi[None], "shift": jnp.stack([jnp.mean(f(position)) for f in probe_losses]) - phi}

            return Observer(observe, lambda piece, start, stop: acc[0].update(piece["phi"], piece["shift"], start))

        res, out, _ = run_llc(settings, model, params, model_args, model_kwargs, nbeta=nbeta,
                              localization=localization, batch_size=batch_size, restrict=spec, dtype=dtype,
                              make_observer=make_observer)
        first = first or res
        m = acc[0].covariances(~res.diverged_chains)
        per_chain = np.full((settings.num_chains, len(probe_names)), np.nan)
        per_chain[~res.diverged_chains] = -res.nbeta * m["per_chain"][:, 0, :]
        rows.append((m["cov"][0], m["se"][0], per_chain, res))
    nb = first.nbeta
    ds = xr.Dataset(
        {"chi": (("restriction", "probe"), np.stack([-nb * r[0] for r in rows])),
         "chi_se": (("restriction", "probe"), np.stack([nb * r[1] for r in rows])),
         "covariance": (("restriction", "probe"), np.stack([r[0] for r in rows])),
         "chi_per_chain": (("restriction", "chain", "probe"), np.stack([r[2] for r in rows])),
         "llc": (("restriction",), [r[3].llc for r in rows]),
         "llc_se": (("restriction",), [r[3].se for r in rows]),
         "num_params": (("restriction",), [r[3].idata.attrs["num_params"] for r in rows])},
        coords={"restriction": names, "probe": probe_names},
        attrs={"definition": "chi = -n beta Cov_C[L_n(w) - L_n(w*), (L_p - L_p*) - (L_n - L_n*)] (Baker et al. 2025)"})
    tree = xr.DataTree(children={"susceptibility": xr.DataTree(ds),
                                 **{f"llc_{i}": r[3].idata for i, r in enumerate(rows)}})
    tree.attrs = {"estimator": "susceptibilities", "sampler": first.sampler, "n": first.n, "nbeta": float(nb)}
    diverged = np.stack([r[3].diverged_chains for r in rows])
    return SusceptibilityResult(nbeta=float(nb), localization=first.localization, n=first.n, sampler=first.sampler,
                                num_diverged=int(diverged.sum()), diverged_chains=diverged, idata=tree,
                                partial=any(r[3].partial for r in rows))
