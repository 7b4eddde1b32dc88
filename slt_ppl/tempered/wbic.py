"""WBIC from the global tempered posterior.

    WBIC = E_w^beta[n L_n(w)], beta = 1/log n,  p_beta(w) ∝ phi(w) exp{-beta n L_n(w)}
(Watanabe, "A Widely Applicable Bayesian Information Criterion", JMLR 14 (2013) 867-897, its
definition of WBIC; WBIC - F_n = O_p(sqrt(log n)) for the Bayes free energy F_n). The variance form
lambda ~ beta^2 Var_beta[n L_n] follows from d/dbeta E_beta[n L_n] = -Var_beta[n L_n] and
E_beta[n L_n] = n L_n(w0) + lambda / beta + O_p(sqrt(lambda / beta)) (same paper, Theorem 4).
"""

from __future__ import annotations

import math

import numpy as np

from slt_ppl.checks import positive_float
from slt_ppl.results import total_llc_se
from slt_ppl.tempered.results import WBICResult, ladder_idata
from slt_ppl.tempered.setup import global_settings, kept_chains, run_ladder, warn_if_undefined
from slt_ppl.tempered.run_length import precision_note
from slt_ppl.tempered.verdict import ladder_verdict, verdict_attrs, warn_if_not_converged

__all__ = ["estimate_wbic", "wbic_beta"]


def wbic_beta(n: int) -> float:
    """beta* = 1 / log n (n >= 2)."""
    if n < 2:
        raise ValueError(f"WBIC needs n >= 2 data points (beta = 1/log n), got n = {n}")
    return 1.0 / math.log(n)


def estimate_wbic(model, model_args=(), model_kwargs=None, *, sampler: str = "nuts", num_chains: int = 4,
                  num_draws: int | None = None, num_burnin: int | None = None, step_size="auto", seed: int = 0,
                  beta: float | None = None, batch_size: int | None = None, init_params=None,
                  log_likelihood: bool = False, kappa: float = 0.1, chunk_size: int = 500,
                  progress_bar: bool | None = None, checkpoint=None, rtol: float | None = None,
                  atol: float | None = None, max_time: float | None = None,
                  target_accept_prob: float | None = None) -> WBICResult:
    """Estimate Watanabe's widely applicable Bayesian information criterion (WBIC) of a model.

    WBIC = E_beta*[n L_n(w)] at the inverse temperature beta* = 1 / log n, the expectation over the global
    tempered posterior p(w) ~ prior(w) exp(-beta* n L_n(w)); it approximates the Bayes free energy F_n to
    O_p(sqrt(log n)) for singular models as well (Watanabe, "A widely applicable Bayesian information
    criterion", JMLR 14 (2013)).

    Parameters
    ----------
    model : callable or Likelihood
        A NumPyro model with a prior, or an ``slt.Likelihood`` with ``log_prior``.
    model_args : tuple, default ()
        The NumPyro model's positional arguments.
    model_kwargs : dict, optional
        The NumPyro model's keyword arguments.
    sampler : str, default "nuts"
        ``"nuts"``, ``"hmc"`` or ``"mala"`` (full batch), or a stochastic-gradient kernel (``"sgld"``, ...,
        any ``batch_size``) for models too large for full-batch gradients.
    num_chains : int, default 4
        Chains, vectorised in one run.
    num_draws : int, optional
        Draws per chain. None: the sampler's default (1000 for NUTS/HMC/MALA, 4000 for SG kernels).
    num_burnin : int, optional
        Burn-in (adaptation) steps. None: ``num_draws``.
    step_size : float or "auto", default "auto"
        As in ``estimate_llc``.
    seed : int, default 0
        The PRNG seed.
    beta : float, optional
        The inverse temperature. None: 1 / log n (WBIC proper); another value gives E_beta[n L_n] there.
    batch_size : int, optional
        Minibatch size for SG kernels. None: full batch.
    init_params : dict or pytree, optional
        Where the chains start. None: one prior draw per chain (NumPyro models).
    log_likelihood : bool, default False
        Keep the per-datum log p(X_i | w) of every draw in ``idata`` (for ``singular_fluctuation`` and
        ``arviz.loo``).
    kappa : float, default 0.1
        Stiffness budget of the automatic SG step.
    chunk_size : int, default 500
        Steps per compiled chunk.
    progress_bar : bool, optional
        Show a progress bar. None: only in an interactive terminal.
    checkpoint : str or path, optional
        A directory to save and resume the run from, as in ``estimate_llc``.
    rtol : float, optional
        Full-batch samplers: stop once se / abs(wbic) <= rtol (checked every ``chunk_size`` draws from 200 on;
        ``num_draws`` is the budget). WBIC is of order n, so ``atol`` is usually the target to give.
    atol : float, optional
        Full-batch samplers: stop once se <= atol (nats).
    max_time : float, optional
        Full-batch samplers: stop after this many seconds of sampling (a budget).
    target_accept_prob : float, optional
        NUTS/HMC/MALA step adaptation target. None: 0.95 for NUTS/HMC (setup.GLOBAL_TARGET_ACCEPT), 0.574 for MALA.

    Returns
    -------
    WBICResult
        ``wbic`` and its ``se``, the variance form of lambda and the DataTree.

    Examples
    --------
    >>> w = slt.estimate_wbic(model, (X, y), seed=0)  # doctest: +SKIP
    >>> w.wbic, w.se  # doctest: +SKIP
    """
    settings = global_settings(sampler=sampler, num_chains=num_chains, num_draws=num_draws, num_burnin=num_burnin,
                               step_size=step_size, seed=seed, kappa=kappa, chunk_size=chunk_size,
                               progress_bar=progress_bar, checkpoint=checkpoint, rtol=rtol, max_time=max_time,
                               target_accept_prob=target_accept_prob)
    if atol is not None:
        atol = positive_float("atol", atol, " (the target standard error, in nats)")
        if not settings.metropolis:
            raise ValueError("atol needs a full-batch sampler (nuts, hmc, mala)")
    if beta is not None:
        beta = positive_float("beta", beta, " (the inverse temperature; WBIC uses 1/log n)")
    ladder = lambda n: np.array([beta if beta is not None else wbic_beta(n)])  # noqa: E731
    pot, run = run_ladder(settings, model, model_args, model_kwargs, ladder, batch_size=batch_size,
                          init_params=init_params, log_likelihood=log_likelihood, desc=f"WBIC {sampler}",
                          reduce=lambda nll: (float(nll[0].mean()), total_llc_se(nll[0])[0]), atol=atol)
    b = float(run.betas[0])
    kept = kept_chains(run)
    draws = run.nll[0][kept]
    per_chain = run.nll[0].mean(axis=1)
    # the total se, as the LLC's: the larger of the MCSE and the spread of the chain means (a mode slower than the
    # run escapes the MCSE's ESS; results.between_chain_se)
    se, mcse, ess = total_llc_se(draws)
    warn_if_undefined(wbic_se=se)
    verdict = ladder_verdict(run, kept, num_params=pot.num_params,
                             notes=precision_note(float(draws.mean()), se, rtol=rtol, atol=atol,
                                                  stopped=bool(run.stopped), what="wbic"))
    warn_if_not_converged(verdict, "WBIC")
    idata = ladder_idata(run, kept, {"beta": b, "n": pot.n, "sampler": sampler, "estimator": "wbic",
                                     **verdict_attrs(verdict)}, log_likelihood)
    return WBICResult(
        wbic=float(draws.mean()), se=se, mcse=mcse, wbic_per_chain=per_chain, ess=ess, beta=b, n=pot.n,
        rlct_variance=float(b**2 * draws.var(ddof=1)), sampler=sampler, num_diverged=int((~kept).sum()),
        diverged_chains=~kept, idata=idata, step_size=run.step_size[0], converged=verdict.converged,
        diagnosis=verdict.diagnosis, rhat=verdict.rhat, trend_z=verdict.trend_z,
    )


