"""The global learning coefficient (RLCT) from a ladder of temperatures of the global tempered posterior.

    E_beta[n L_n] = n L_n(w0) + lambda / beta + O_p(sqrt(lambda / beta))
(Watanabe, "A Widely Applicable Bayesian Information Criterion", JMLR 14 (2013), Theorem 4), so the
RLCT is the slope of E_beta[n L_n] against 1/beta over betas in beta* [1 - 1/sqrt(2 log n),
1 + 1/sqrt(2 log n)], beta* = 1/log n (the regression form of Lau et al.'s code, arXiv 2308.12108).
Nearby temperatures share information by importance reweighting,
E_b'[O] = E_b[O e^{-(b'-b) n L_n}] / E_b[e^{-(b'-b) n L_n}], used only where it pays: a source whose
weights keep at least half its draws' effective size.
"""

from __future__ import annotations

import math

import numpy as np

from slt_ppl.checks import positive_int
from slt_ppl.results import between_chain_se, mcse_of_mean
from slt_ppl.tempered.results import RLCTResult, ladder_idata
from slt_ppl.tempered.setup import check_betas, global_settings, kept_chains, run_ladder, warn_if_undefined
from slt_ppl.tempered.run_length import precision_note
from slt_ppl.tempered.verdict import ladder_verdict, verdict_attrs, warn_if_not_converged
from slt_ppl.tempered.wbic import wbic_beta

__all__ = ["estimate_rlct", "rlct_ladder", "reweight"]

# defaults, measured on 2-3 parameter singular models against quadrature (benchmarks/global_exact.py): HMC
# (16 leapfrog steps; vectorised NUTS waits for the longest tree of all chains and temperatures, 2-3x the
# time for the same se), 8 chains of at most 8000 draws after 1000 steps of adaptation, stopped at
# se / |rlct| <= 5%
DEFAULT_SAMPLER, DEFAULT_CHAINS, DEFAULT_RTOL, DEFAULT_BUDGET, DEFAULT_BURNIN, DEFAULT_CHUNK = "hmc", 8, 0.05, 8000, 1000, 250


def rlct_ladder(n: int, num_betas: int = 5) -> np.ndarray:
    """num_betas evenly spaced in beta* [1 - 1/sqrt(2 log n), 1 + 1/sqrt(2 log n)], beta* = 1/log n."""
    b = wbic_beta(n)
    half = 1.0 / math.sqrt(2.0 * math.log(n))
    return b * np.linspace(1.0 - half, 1.0 + half, num_betas)


def reweight(nll: np.ndarray, beta_from: float, beta_to: float) -> tuple[float, float]:
    """(E_{beta_to}[n L_n], importance ESS) from draws of n L_n at beta_from, by self-normalised weights."""
    logw = -(beta_to - beta_from) * np.asarray(nll, dtype=np.float64).ravel()
    w = np.exp(logw - logw.max())
    return float(np.sum(w * nll.ravel()) / np.sum(w)), float(np.sum(w) ** 2 / np.sum(w**2))


def _reweighted_means(nll_c: np.ndarray, betas: np.ndarray, min_ess_fraction: float):
    """For one chain, (K,) means pooled over the temperatures whose reweighting keeps enough ESS, and (K, K) ESS fractions."""
    K, D = nll_c.shape
    means = np.empty(K)
    ess = np.zeros((K, K))
    for k in range(K):
        num = den = 0.0
        for j in range(K):
            e, s = reweight(nll_c[j], betas[j], betas[k])
            ess[j, k] = s / D
            if j == k or s / D >= min_ess_fraction:
                num, den = num + s * e, den + s
        means[k] = num / den
    return means, ess


def _slope_se(nll: np.ndarray, betas: np.ndarray) -> tuple[float, float, float, float]:
    """(slope, se, se between chains, se through the regression) of (K, C, D) draws, without reweighting."""
    x = 1.0 / betas
    per_chain_means = nll.mean(axis=2)
    slopes = np.polyfit(x, per_chain_means, 1)[0]
    slope = float(np.polyfit(x, per_chain_means.mean(axis=1), 1)[0])
    mcse = np.array([mcse_of_mean(nll[k])[0] for k in range(nll.shape[0])])
    c = (x - x.mean()) / np.sum((x - x.mean()) ** 2)
    se_chains = between_chain_se(np.asarray(slopes)[:, None])
    se_regression = float(np.sqrt(np.sum(c**2 * mcse**2)))
    return slope, max(se_chains, se_regression), se_chains, se_regression


def estimate_rlct(model, model_args=(), model_kwargs=None, *, sampler: str = DEFAULT_SAMPLER, num_chains: int = DEFAULT_CHAINS,
                  num_draws: int | None = None, num_burnin: int | None = None, step_size="auto", seed: int = 0,
                  betas=None, num_betas: int = 5, batch_size: int | None = None, init_params=None,
                  reweight_temperatures: bool = False, min_ess_fraction: float = 0.5, kappa: float = 0.1,
                  chunk_size: int = DEFAULT_CHUNK, progress_bar: bool | None = None, checkpoint=None,
                  rtol: float | None = DEFAULT_RTOL, max_time: float | None = None,
                  target_accept_prob: float | None = None) -> RLCTResult:
    """Estimate the global learning coefficient lambda (the RLCT) from a ladder of temperatures.

    E_beta[n L_n] = n L_n(w0) + lambda / beta + O_p(sqrt(lambda / beta)) (Watanabe, JMLR 14 (2013), Theorem 4), so
    lambda is the slope of E_beta[n L_n] against 1 / beta over inverse temperatures around 1 / log n (the
    regression form of Lau et al., arXiv 2308.12108). The se is the larger of the between-chain standard error of
    the per-chain slopes (with its Student-t factor) and the regression's (sum_k c_k^2 MCSE_k^2)^(1/2); both are
    reported (``se_between_chains``, ``se_regression``).

    Parameters
    ----------
    model : callable or Likelihood
        A NumPyro model with a prior, or an ``slt.Likelihood`` with ``log_prior``.
    model_args : tuple, default ()
        The NumPyro model's positional arguments.
    model_kwargs : dict, optional
        The NumPyro model's keyword arguments.
    sampler : str, default "hmc"
        As in ``estimate_wbic``; HMC by default (the same se as NUTS in a half to a third of the time on 2-3
        parameter singular models: benchmarks/results/global_exact_nuts.txt against global_exact.txt).
    num_chains : int, default 8
        Chains per temperature (the se reads their spread: 8 chains give its Student-t factor 1.2, 4 give 1.6).
    num_draws : int, optional
        Draws per chain and temperature; with ``rtol`` or ``max_time``, the most. None: 8000 with a full-batch
        sampler and ``rtol``, else the sampler's default.
    num_burnin : int, optional
        Burn-in steps. None: 1000 with a full-batch sampler and ``rtol``, else ``num_draws``.
    step_size : float or "auto", default "auto"
        As in ``estimate_llc``.
    seed : int, default 0
        The PRNG seed.
    betas : sequence of float, optional
        The ladder. None: ``num_betas`` temperatures in beta* [1 - 1/sqrt(2 log n), 1 + 1/sqrt(2 log n)],
        beta* = 1 / log n. Needs at least two temperatures > 0.
    num_betas : int, default 5
        The size of the default ladder.
    batch_size : int, optional
        Minibatch size for SG kernels. None: full batch.
    init_params : dict or pytree, optional
        Where the chains start. None: one prior draw per chain (NumPyro models).
    reweight_temperatures : bool, default False
        Pool neighbouring temperatures by importance reweighting,
        E_b'[O] = E_b[O exp(-(b' - b) n L_n)] / E_b[exp(-(b' - b) n L_n)]. Off by default: pooling correlates the
        temperatures, so the chains' spread no longer measures the error and the se undercovers
        (benchmarks/results/global_estimators.txt).
    min_ess_fraction : float, default 0.5
        With ``reweight_temperatures``, a source temperature is used only where its weights keep at least this
        fraction of its draws' effective size.
    kappa : float, default 0.1
        Stiffness budget of the automatic SG step.
    chunk_size : int, default 500
        Steps per compiled chunk.
    progress_bar : bool, optional
        Show a progress bar. None: only in an interactive terminal.
    checkpoint : str or path, optional
        A directory to save and resume the run from.
    rtol : float, optional, default 0.05
        Full-batch samplers: stop once se / abs(rlct) <= rtol (checked every ``chunk_size`` draws from 200 on;
        ``num_draws`` is the budget). None: run ``num_draws``. Ignored by SG kernels (they run each temperature
        apart).
    max_time : float, optional
        Full-batch samplers: stop after this many seconds of sampling (a budget).
    target_accept_prob : float, optional
        NUTS/HMC/MALA step adaptation target. None: 0.95 for NUTS/HMC (the narrow arms of a singular model's
        posterior, setup.GLOBAL_TARGET_ACCEPT), 0.574 for MALA.

    Returns
    -------
    RLCTResult
        ``rlct``, ``rlct_se`` (= ``se``), the per-temperature means and the DataTree.

    Examples
    --------
    >>> g = slt.estimate_rlct(model, (X, y), seed=0)  # doctest: +SKIP
    >>> g.rlct, g.rlct_se  # doctest: +SKIP
    """
    full_batch = sampler in ("nuts", "hmc", "mala")
    if not full_batch:
        rtol = None  # the default precision target is for the full-batch kernels (temperatures run together)
    if rtol is not None:
        num_draws = DEFAULT_BUDGET if num_draws is None else num_draws
        num_burnin = DEFAULT_BURNIN if num_burnin is None else num_burnin
    settings = global_settings(sampler=sampler, num_chains=num_chains, num_draws=num_draws, num_burnin=num_burnin,
                               step_size=step_size, seed=seed, kappa=kappa, chunk_size=chunk_size,
                               progress_bar=progress_bar, checkpoint=checkpoint, rtol=rtol, max_time=max_time,
                               target_accept_prob=target_accept_prob)
    if betas is not None:
        betas = check_betas(betas)
        if betas.size < 2 or np.any(betas <= 0):
            raise ValueError(f"betas needs at least 2 distinct temperatures > 0 for a slope, got {betas.tolist()}")
        ladder = betas
    else:
        num_betas = positive_int("num_betas", num_betas)
        if num_betas < 2:
            raise ValueError(f"num_betas must be >= 2 for a slope, got {num_betas}")
        ladder = lambda n: rlct_ladder(n, num_betas)  # noqa: E731
    if settings.num_chains < 2:
        raise ValueError("estimate_rlct needs num_chains >= 2: its standard error comes from the spread between chains")
    holder = {}

    def reduce(nll):
        slope, se = _slope_se(nll, holder["betas"])[:2]
        return slope, se

    def ladder_for(n):
        holder["betas"] = np.sort(np.asarray(ladder(n) if callable(ladder) else ladder, dtype=np.float64))
        return holder["betas"]

    pot, run = run_ladder(settings, model, model_args, model_kwargs, ladder_for, batch_size=batch_size,
                          init_params=init_params, desc=f"RLCT {sampler}", reduce=reduce)
    kept = kept_chains(run, min_chains=2)
    b = run.betas
    x = 1.0 / b
    nll = run.nll[:, kept]  # (K, C, D)
    K, C, _ = nll.shape
    per_chain_means = nll.mean(axis=2)  # (K, C)
    ess = np.ones((K, K))
    if reweight_temperatures:
        results = [_reweighted_means(nll[:, c], b, min_ess_fraction) for c in range(C)]
        per_chain_means = np.stack([m for m, _ in results], axis=1)
        ess = np.mean([e for _, e in results], axis=0)
    slopes = np.array([np.polyfit(x, per_chain_means[:, c], 1)[0] for c in range(C)])
    slope, intercept = np.polyfit(x, per_chain_means.mean(axis=1), 1)
    mcse = np.array([mcse_of_mean(nll[k])[0] for k in range(K)])
    warn_if_undefined(mean_nll_mcse=mcse)
    # two standard errors of the slope; the larger is reported. Between chains: each chain's ladder is an
    # independent slope, but 4 chains estimate their own spread poorly (3 degrees of freedom). Through the
    # regression: the OLS slope is sum_k c_k E_k, c_k = (x_k - mean x) / sum (x - mean x)^2, so with
    # independent temperatures its variance is sum_k c_k^2 MCSE_k^2.
    c = (x - x.mean()) / np.sum((x - x.mean()) ** 2)
    se_chains = between_chain_se(slopes[:, None])  # with the Student-t factor of C - 1 degrees of freedom
    se_regression = float(np.sqrt(np.sum(c**2 * mcse**2)))
    verdict = ladder_verdict(run, kept, num_params=pot.num_params,
                             coefficient=("the RLCT (slope)", float(slope), max(se_chains, se_regression)),
                             notes=precision_note(float(slope), max(se_chains, se_regression), rtol=rtol,
                                                  stopped=bool(run.stopped), what="rlct"))
    warn_if_not_converged(verdict, "RLCT")
    idata = ladder_idata(run, kept, {"n": pot.n, "sampler": sampler, "estimator": "rlct", **verdict_attrs(verdict)})
    return RLCTResult(
        rlct=float(slope), se=max(se_chains, se_regression), rlct_per_chain=slopes, betas=b,
        mean_nll=per_chain_means.mean(axis=1), mean_nll_mcse=mcse, intercept=float(intercept),
        rlct_variance=float(np.mean(b**2 * nll.reshape(K, -1).var(axis=1, ddof=1))),
        reweighted=bool(reweight_temperatures), importance_ess=ess, n=pot.n, sampler=sampler,
        num_diverged=int((~kept).sum()), diverged_chains=~kept, idata=idata, se_between_chains=se_chains,
        se_regression=se_regression, converged=verdict.converged, diagnosis=verdict.diagnosis, rhat=verdict.rhat,
        trend_z=verdict.trend_z,
    )
