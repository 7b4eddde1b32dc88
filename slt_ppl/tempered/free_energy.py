"""Bayes free energy F_n = -log ∫ phi(w) exp{-n L_n(w)} dw over a ladder of temperatures from 0 to 1.

Thermodynamic integration (Ogata 1989; Friel & Pettitt, JRSS B 70 (2008)): d/dbeta F(beta) = E_beta[n L_n], F(0) = 0 for
a normalised prior, so F_n = ∫_0^1 E_beta[n L_n] dbeta. The integral is the trapezoid rule with the
Euler-Maclaurin end correction, which needs the derivative of the integrand, known exactly from the
same draws: d/dbeta E_beta[n L_n] = -Var_beta[n L_n] (Friel, Hurn & Wyse, Stat. Comput. 24 (2014)):
    F ≈ sum_k h_k (E_k + E_{k+1}) / 2 + sum_k h_k^2 / 12 (V_{k+1} - V_k),  h_k = beta_{k+1} - beta_k.
The default ladder is beta_k = (k/K)^5 (Friel & Pettitt 2008), dense near 0 where E_beta changes
fastest, with 1/log n added so WBIC comes from the same run. Stepping stone (Xie et al. 2011),
F = -sum_k log E_{beta_k}[exp{-h_k n L_n}], is computed from the same draws as a cross-check.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp

from slt_ppl.checks import choice, positive_float, positive_int
from slt_ppl.model import make_potential
from slt_ppl.results import mcse_of_mean
from slt_ppl.tempered.results import FreeEnergyResult, ladder_idata
from slt_ppl.tempered.setup import check_betas, global_settings, kept_chains, run_ladder, warn_if_undefined
from slt_ppl.tempered.run_length import precision_note
from slt_ppl.tempered.verdict import ladder_verdict, verdict_attrs, warn_if_not_converged

__all__ = ["estimate_free_energy", "thermodynamic_ladder", "asymptotic_free_energy"]

METHODS = ("thermodynamic", "stepping_stone")


def thermodynamic_ladder(n: int, num_betas: int = 32, power: float = 5.0) -> np.ndarray:
    """beta_k = (k / K)^power for k = 0..K, plus beta* = 1/log n (for WBIC from the same run)."""
    ladder = (np.arange(num_betas + 1) / num_betas) ** power
    if n > 1:
        ladder = np.union1d(ladder, [1.0 / math.log(n)])
    return ladder


def _check_ti_ladder(betas) -> np.ndarray:
    b = check_betas(betas)
    if b.size < 3 or b[0] != 0.0 or b[-1] != 1.0:
        raise ValueError(
            f"thermodynamic integration needs a ladder of >= 3 temperatures from exactly 0 (the prior) to exactly 1 "
            f"(the posterior); got {b.tolist()}. Use betas=None for the default (k/K)^5 ladder"
        )
    return b


def asymptotic_free_energy(nll_at_truth: float, lam: float, m: int, n: int) -> float:
    """n L_n(w0) + lambda log n - (m - 1) log log n (Watanabe, JMLR 14 (2013), the asymptotic expansion of
    the Bayes free energy F_n, up to O_p(1))."""
    return float(nll_at_truth + lam * math.log(n) - (m - 1) * math.log(math.log(n)))


def _nll_at(model, model_args, model_kwargs, params) -> float:
    """n L_n(params) = -sum_i log p(X_i | params), in float64 on the host."""
    ll = np.asarray(make_potential(model, params, model_args, model_kwargs).loglik_star(), dtype=np.float64)
    return float(-ll.sum())


def _stepping_stone(nll: np.ndarray, betas: np.ndarray) -> tuple[float, float]:
    """(F, its MCSE) by stepping stone over pooled chains; nll is (K, C, D)."""
    total, var = 0.0, 0.0
    for k in range(len(betas) - 1):
        h = betas[k + 1] - betas[k]
        x = -h * nll[k]
        log_ratio = logsumexp(x) - math.log(x.size)
        total -= log_ratio
        u = np.exp(x - x.max())
        se_u, _ = mcse_of_mean(u)
        var += (se_u / u.mean()) ** 2  # delta method: Var[log mean u] = Var[mean u] / mean(u)^2
    return float(total), float(math.sqrt(var))


def _thermodynamic(nll: np.ndarray, b: np.ndarray):
    """(corrected, plain trapezoid, Monte Carlo error, E, V, MCSE) of (K, C, D) draws on the ladder b."""
    K = len(b)
    E = nll.reshape(K, -1).mean(axis=1)
    V = nll.reshape(K, -1).var(axis=1, ddof=1)
    mcse = np.array([mcse_of_mean(nll[k])[0] for k in range(K)])
    h = np.diff(b)
    plain = float(np.sum(h * (E[:-1] + E[1:]) / 2))
    corrected = plain + float(np.sum(h**2 / 12 * (V[1:] - V[:-1])))
    weights = np.zeros(K)
    weights[:-1] += h / 2
    weights[1:] += h / 2
    mc_error = float(np.sqrt(np.sum((weights * mcse) ** 2)))
    return corrected, plain, mc_error, E, V, mcse


def estimate_free_energy(model, model_args=(), model_kwargs=None, *, sampler: str = "nuts", num_chains: int = 4,
                         num_draws: int | None = None, num_burnin: int | None = None, step_size="auto",
                         seed: int = 0, method: str = "thermodynamic", betas=None, num_betas: int = 32,
                         batch_size: int | None = None, init_params=None, true_params=None, coefficient=None,
                         kappa: float = 0.1, chunk_size: int = 500, progress_bar: bool | None = None,
                         checkpoint=None, rtol: float | None = None, atol: float | None = None,
                         max_time: float | None = None, target_accept_prob: float | None = None) -> FreeEnergyResult:
    """Estimate the Bayes free energy F_n = -log p(data) of a model by thermodynamic integration.

    With a normalised prior, dF/dbeta = E_beta[n L_n] and F(0) = 0, so F_n = integral_0^1 E_beta[n L_n] dbeta
    (Ogata 1989; Friel & Pettitt, JRSS B 70 (2008)). The integral is the trapezoid rule over a ladder of
    temperatures with the Euler-Maclaurin end correction from d/dbeta E_beta[n L_n] = -Var_beta[n L_n] (Friel,
    Hurn & Wyse, Stat. Comput. 24 (2014)); the stepping-stone estimate (Xie et al. 2011) comes from the same draws
    as a cross-check. The se combines the Monte Carlo error (the MCSE of each E_beta through the quadrature
    weights) and the quadrature error (abs(corrected - plain trapezoid)).

    Parameters
    ----------
    model : callable or Likelihood
        A NumPyro model with a normalised prior, or an ``slt.Likelihood`` with ``log_prior``.
    model_args : tuple, default ()
        The NumPyro model's positional arguments.
    model_kwargs : dict, optional
        The NumPyro model's keyword arguments.
    sampler : str, default "nuts"
        As in ``estimate_wbic``.
    num_chains : int, default 4
        Chains per temperature.
    num_draws : int, optional
        Draws per chain and temperature. None: the sampler's default.
    num_burnin : int, optional
        Burn-in steps. None: ``num_draws``.
    step_size : float or "auto", default "auto"
        As in ``estimate_llc``.
    seed : int, default 0
        The PRNG seed.
    method : {"thermodynamic", "stepping_stone"}, default "thermodynamic"
        Which estimate is ``free_energy``; both are reported.
    betas : sequence of float, optional
        A ladder from exactly 0 to exactly 1. None: beta_k = (k / K)^5 with ``num_betas`` rungs (dense near 0,
        where E_beta changes fastest), with 1 / log n added so that WBIC comes from the same run.
    num_betas : int, default 32
        The size of the default ladder.
    batch_size : int, optional
        Minibatch size for SG kernels. None: full batch.
    init_params : dict or pytree, optional
        Where the chains start. None: one prior draw per chain (NumPyro models).
    true_params : dict or pytree, optional
        The true parameter w0; with ``coefficient``, the asymptotic form
        n L_n(w0) + lambda log n - (m - 1) log log n is reported beside the estimate.
    coefficient : slt_ppl.theory.Coefficient, optional
        The exact (lambda, m) of the model, for the asymptotic form.
    kappa : float, default 0.1
        Stiffness budget of the automatic SG step.
    chunk_size : int, default 500
        Steps per compiled chunk.
    progress_bar : bool, optional
        Show a progress bar. None: only in an interactive terminal.
    checkpoint : str or path, optional
        A directory to save and resume the run from.
    rtol : float, optional
        Full-batch samplers: stop once the thermodynamic estimate's se / abs(free_energy) <= rtol (checked every
        ``chunk_size`` draws from 200 on; ``num_draws`` is the budget). F_n is of order n: ``atol`` is usually the
        target to give.
    atol : float, optional
        Full-batch samplers: stop once the thermodynamic estimate's se <= atol (nats).
    max_time : float, optional
        Full-batch samplers: stop after this many seconds of sampling (a budget).
    target_accept_prob : float, optional
        NUTS/HMC/MALA step adaptation target. None: 0.95 for NUTS/HMC (setup.GLOBAL_TARGET_ACCEPT), 0.574 for MALA.

    Returns
    -------
    FreeEnergyResult
        ``free_energy``, ``free_energy_se`` (= ``se``), the stepping-stone estimate, the ladder and the DataTree.

    Examples
    --------
    >>> f = slt.estimate_free_energy(model, (X, y), seed=0)  # doctest: +SKIP
    >>> f.free_energy, f.free_energy_se  # doctest: +SKIP
    """
    settings = global_settings(sampler=sampler, num_chains=num_chains, num_draws=num_draws, num_burnin=num_burnin,
                               step_size=step_size, seed=seed, kappa=kappa, chunk_size=chunk_size,
                               progress_bar=progress_bar, checkpoint=checkpoint, rtol=rtol, max_time=max_time,
                               target_accept_prob=target_accept_prob)
    if atol is not None:
        atol = positive_float("atol", atol, " (the target standard error, in nats)")
        if not settings.metropolis:
            raise ValueError("atol needs a full-batch sampler (nuts, hmc, mala)")
    choice("method", method, METHODS)
    if betas is not None:
        ladder = _check_ti_ladder(betas)
    else:
        num_betas = positive_int("num_betas", num_betas)
        if num_betas < 2:
            raise ValueError(f"num_betas must be >= 2, got {num_betas}")
        ladder = lambda n: thermodynamic_ladder(n, num_betas)  # noqa: E731
    if (true_params is None) != (coefficient is None):
        raise ValueError("give both true_params (w0) and coefficient (theory.Coefficient) for the asymptotic form, or neither")
    if coefficient is not None and not (hasattr(coefficient, "lam") and hasattr(coefficient, "m")):
        raise TypeError(f"coefficient must be a theory.Coefficient (with .lam and .m), got {type(coefficient).__name__}")
    holder = {}

    def ladder_for(n):
        holder["betas"] = np.asarray(ladder(n) if callable(ladder) else ladder, dtype=np.float64)
        return holder["betas"]

    def reduce(nll):
        corrected, plain, mc_error = _thermodynamic(nll, holder["betas"])[:3]
        return corrected, math.sqrt(mc_error**2 + (corrected - plain) ** 2)

    pot, run = run_ladder(settings, model, model_args, model_kwargs, ladder_for, batch_size=batch_size,
                          init_params=init_params, desc=f"free energy {sampler}", reduce=reduce, atol=atol)
    kept = kept_chains(run)
    b = run.betas
    nll = run.nll[:, kept]
    corrected, plain, mc_error, E, V, mcse = _thermodynamic(nll, b)
    h = np.diff(b)
    per_chain_E = run.nll.mean(axis=2)  # (K, all chains)
    per_chain = np.sum(h[:, None] * (per_chain_E[:-1] + per_chain_E[1:]) / 2, axis=0)
    quadrature_error = abs(corrected - plain)
    ss, ss_se = _stepping_stone(nll, b)
    warn_if_undefined(free_energy_se=mc_error, stepping_stone_se=ss_se)
    if method == "thermodynamic":
        value, se = corrected, math.sqrt(mc_error**2 + quadrature_error**2)
    else:
        value, se = ss, ss_se
    wbic = None
    if pot.n > 1 and np.any(np.isclose(b, 1.0 / math.log(pot.n), rtol=1e-12)):
        wbic = float(E[np.argmin(np.abs(b - 1.0 / math.log(pot.n)))])
    asymptotic = None
    if coefficient is not None:
        asymptotic = asymptotic_free_energy(_nll_at(model, model_args, model_kwargs, true_params),
                                            float(coefficient.lam), int(coefficient.m), pot.n)
    verdict = ladder_verdict(run, kept, notes=precision_note(
        corrected, math.sqrt(mc_error**2 + quadrature_error**2), rtol=rtol, atol=atol, stopped=bool(run.stopped),
        what="free_energy"))
    warn_if_not_converged(verdict, "free energy")
    idata = ladder_idata(run, kept, {"n": pot.n, "sampler": sampler, "estimator": "free_energy", "method": method,
                                     **verdict_attrs(verdict)})
    return FreeEnergyResult(
        free_energy=float(value), se=float(se), method=method, mc_error=mc_error,
        quadrature_error=float(quadrature_error), thermodynamic=float(corrected), stepping_stone=ss, betas=b,
        mean_nll=E, var_nll=V, mean_nll_mcse=mcse, wbic=wbic, asymptotic=asymptotic, n=pot.n, sampler=sampler,
        num_diverged=int((~kept).sum()), idata=idata, free_energy_per_chain=per_chain, diverged_chains=~kept,
        converged=verdict.converged, diagnosis=verdict.diagnosis, rhat=verdict.rhat, trend_z=verdict.trend_z,
    )
