"""Local learning coefficient (LLC) estimation.

    llc_hat(w*) = n beta (E_w[L_n(w)] - L_n(w*)),
    w ~ p(w) ∝ exp{-n beta L_n(w) - (gamma/2) ||w - w*||^2}
(Lau et al., "The Local Learning Coefficient", arXiv 2308.12108; reference sheet section 1).

Baseline: each draw uses the paired difference on the step's own minibatch B_t,
    n beta [L_{B_t}(w_t) - L_{B_t}(w*)],
with the per-datum losses at w* computed once, full batch, so the pairing costs nothing.
It is unbiased for n beta (L_n(w_t) - L_n(w*)) (B_t is drawn independently of w_t), the batch
noise cancels, and per-datum differences avoid subtracting two large sums (precision at
large n). Per-draw values are accumulated in float64 on the host.
"""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from slt_ppl.llc_sampling import sample_mcmc, sample_sg
from slt_ppl.numpyro_adapter import from_numpyro
from slt_ppl.potential import Likelihood, Potential, from_likelihood, minibatch_fn
from slt_ppl.restriction import restrict_potential
from slt_ppl.results import LLCResult, build_idata, mcse_of_mean
from slt_ppl.samplers import MCMC_SAMPLERS, SAMPLERS
from slt_ppl.validation import choice, non_negative_float, non_negative_int, positive_float, positive_int

__all__ = ["estimate_llc", "make_potential", "default_nbeta"]


def default_nbeta(n: int) -> float:
    """n beta* = n / log n (Watanabe's WBIC temperature beta* = 1/log n, n = size of the data plate)."""
    return n / math.log(n) if n > 1 else 1.0


def _as_float64(tree):
    """Floating arrays of a pytree in float64 (None and non-float leaves unchanged)."""
    def cast(x):
        if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating):
            return jnp.asarray(x, jnp.float64)
        return x

    return jax.tree.map(cast, tree)


def make_potential(model, params, model_args=(), model_kwargs=None) -> Potential:
    """A NumPyro model or slt.Likelihood at the point `params`, reduced to a Potential."""
    if isinstance(model, Likelihood):
        if model_args or model_kwargs:
            raise ValueError("model_args/model_kwargs are for NumPyro models; a Likelihood carries its data")
        return from_likelihood(model, params)
    return from_numpyro(model, params, model_args, model_kwargs)


def localized_logdensity(loglik_fn, nbeta, gamma, w_star, ll_star):
    """(position, idx) -> (log density, aux) of the localized target at w* with per-datum log-liks ll_star."""

    def logdensity_fn(position, idx):
        ll = loglik_fn(position, idx)
        diff = jnp.mean(jnp.asarray(ll_star)[idx] - ll)
        sq = sum(jnp.sum((a - b) ** 2) for a, b in zip(jax.tree.leaves(position), jax.tree.leaves(w_star)))
        return -(nbeta * diff + 0.5 * gamma * sq), (-jnp.mean(ll), diff, sq)

    return logdensity_fn


def check_settings(sampler, num_chains, num_draws, num_burnin, step_size, localization, seed, burnin_step_factor):
    """The sampling settings, validated, with defaults filled in (errors name the argument)."""
    choice("sampler", sampler, SAMPLERS)
    burnin_step_factor = positive_float("burnin_step_factor", burnin_step_factor)
    num_chains = positive_int("num_chains", num_chains)
    if num_draws is None:  # a Metropolis draw is a whole trajectory: fewer draws for the same work
        num_draws = 1000 if sampler in MCMC_SAMPLERS else 4000
    num_draws = positive_int("num_draws", num_draws)
    num_burnin = num_draws if num_burnin is None else non_negative_int("num_burnin", num_burnin)
    localization = 1.0 if localization is None else non_negative_float("localization", localization)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    if not (isinstance(step_size, str) and step_size == "auto"):
        step_size = positive_float("step_size", step_size, " (or 'auto'); try a smaller positive value such as 1e-4")
    return num_chains, num_draws, num_burnin, step_size, localization, burnin_step_factor


def check_nbeta_and_batch(n, nbeta, batch_size):
    nbeta = default_nbeta(n) if nbeta is None else positive_float("nbeta", nbeta, " (n*beta, the inverse temperature times n)")
    if batch_size is not None:
        batch_size = positive_int("batch_size", batch_size)
        if batch_size > n:
            raise ValueError(f"batch_size={batch_size} exceeds the data size n={n}; use batch_size=None for full batch")
    return nbeta, batch_size


def estimate_llc(
    model,
    params,
    model_args=(),
    model_kwargs=None,
    sampler: str = "sgld",
    num_chains: int = 4,
    num_draws: int | None = None,
    num_burnin: int | None = None,
    step_size="auto",
    nbeta: float | None = None,
    localization: float | None = 1.0,
    batch_size: int | None = None,
    seed: int = 0,
    *,
    kappa: float = 0.1,
    burnin_step_factor: float = 4.0,
    chunk_size: int = 500,
    progress_bar: bool | None = None,
    checkpoint=None,
    dtype: str = "float32",
    restrict=None,
    diagnostic_every: int | None = 10,
) -> LLCResult:
    """Estimate the local learning coefficient of `model` at `params` (w*).

    model: a NumPyro model (observed sites in one data plate) or an `slt.Likelihood`.
    params: w*; for NumPyro a dict site -> constrained value, for a Likelihood any pytree.
    sampler: "sgld" (default) | "rmsprop_sgld" | "sghmc" | "sgnht" (stochastic gradient, any
        batch_size) | "mala" | "hmc" | "nuts" (full batch, Metropolis-adjusted, BlackJAX warmup).
    step_size: for sgld/rmsprop_sgld eps in the paper's convention (noise variance eps, drift
        eps/2 grad U); for sghmc/sgnht/mala/hmc/nuts BlackJAX's own step size. "auto":
        stochastic-gradient kernels take the step from the largest curvature met in a warmup
        (calibration.py); MALA/HMC/NUTS adapt during num_burnin warmup steps.
    nbeta: n beta; None -> n / log n. localization: gamma of the Gaussian localization.
    batch_size: minibatch size (drawn with replacement); None -> full batch.
    num_draws: None -> 4000 for stochastic-gradient kernels, 1000 for MALA/HMC/NUTS.
    num_burnin: steps dropped before the draws (SG kernels: run at burnin_step_factor times the
        step to explore degenerate directions faster; MALA/HMC/NUTS: adaptation); None -> num_draws.
    checkpoint: a directory: per-draw statistics and chain states are saved there every chunk, and
        the same call (same seed and settings) resumes from it after a crash or kill, giving the
        numbers an uninterrupted run gives. Ctrl-C returns the draws completed, marked `partial`.
    restrict: weight-restricted LLC: sample only these parameters, the rest stay at w*. Site names
        (["A"]), a predicate (path, leaf) -> bool or bool array, or a pytree of booleans like params.
    dtype: "float32" (default; per-datum paired differences keep it accurate at n = 1e6) or
        "float64": data, parameters and sampling in double precision end to end.
    diagnostic_every: SGLD / RMSprop-SGLD record the MALA acceptance of their proposal every this
        many steps (sample_stats.mala_acceptance; it costs one extra gradient each time, 7-12% of
        the run at 10, measured); None turns it off for the last bit of throughput.
    """
    dtype = choice("dtype", dtype, ("float32", "float64"))
    if dtype == "float64" and not jax.config.jax_enable_x64:
        with jax.enable_x64(True):
            return estimate_llc(model, params, model_args, model_kwargs, sampler, num_chains, num_draws, num_burnin,
                                step_size, nbeta, localization, batch_size, seed, kappa=kappa,
                                burnin_step_factor=burnin_step_factor, chunk_size=chunk_size,
                                progress_bar=progress_bar, checkpoint=checkpoint, dtype=dtype, restrict=restrict,
                                diagnostic_every=diagnostic_every)
    num_chains, num_draws, num_burnin, step_size, localization, burnin_step_factor = check_settings(
        sampler, num_chains, num_draws, num_burnin, step_size, localization, seed, burnin_step_factor)
    if diagnostic_every is not None:
        diagnostic_every = positive_int("diagnostic_every", diagnostic_every)
    if dtype == "float64":
        params, model_args, model_kwargs = _as_float64((params, tuple(model_args), model_kwargs))
        if isinstance(model, Likelihood):
            model = Likelihood(model.nll_per_example, _as_float64(model.data), model.log_prior)
    pot = restrict_potential(make_potential(model, params, model_args, model_kwargs), restrict)
    n = pot.n
    nbeta, batch_size = check_nbeta_and_batch(n, nbeta, batch_size)

    ll_star = pot.loglik_star()  # per-datum log-likelihoods at w*, computed once
    logdensity_fn = localized_logdensity(pot.loglik_fn, nbeta, localization, pot.position, ll_star)
    loss_star = float(-np.mean(np.asarray(ll_star, dtype=np.float64)))
    d = pot.num_params
    bound = 100.0 * (d + 10)  # E[n beta (L - L*)] <= d/2 under the target: far past that is divergence
    key = jax.random.key(int(seed))
    common = dict(num_chains=num_chains, num_burnin=num_burnin, num_draws=num_draws, step_size=step_size,
                  nbeta=nbeta, bound=bound, chunk_size=chunk_size, progress_bar=progress_bar)
    if sampler in MCMC_SAMPLERS:
        if batch_size is not None and batch_size < n:
            raise ValueError(f"sampler {sampler!r} is full-batch (Metropolis-adjusted); use batch_size=None, "
                             "or a stochastic-gradient sampler (sgld, rmsprop_sgld, sghmc, sgnht) for minibatches")
        out = sample_mcmc(sampler, logdensity_fn, pot.position, n, key, checkpoint=checkpoint, **common)
    else:
        kappa = positive_float("kappa", kappa)
        # w* and its per-datum log-likelihoods ride in each chain's carry (not closure constants), so a
        # second call on the same model and data reuses the compiled sampling loop (runner cache)
        per_chain = lambda x: np.broadcast_to(np.asarray(x), (num_chains,) + np.shape(x))  # noqa: E731  (numpy: no eager compile)
        consts = (jax.tree.map(per_chain, pot.position), per_chain(ll_star))
        loglik_fn = pot.loglik_fn
        factory = lambda c: localized_logdensity(loglik_fn, nbeta, localization, c[0], c[1])  # noqa: E731
        data = jax.tree.leaves((model_args, model_kwargs)) if not isinstance(model, Likelihood) else jax.tree.leaves(model.data)
        cache_key = None
        if restrict is None:
            cache_key = ("llc", id(model), tuple(id(x) for x in data), str(jax.tree.structure(pot.position)),
                         str(jax.tree.map(jnp.shape, pot.position)), n, batch_size, float(localization), dtype)
        out = sample_sg(sampler, factory, consts[0], minibatch_fn(n, batch_size), key, kappa=kappa,
                        burnin_step_factor=burnin_step_factor, minibatched=batch_size is not None and batch_size < n,
                        checkpoint=checkpoint, consts=consts, cache_key=cache_key, cache_refs=(model, data),
                        diagnostic_every=diagnostic_every, **common)
    return _assemble(out, loss_star, nbeta, localization, n, sampler, d)


def _assemble(out, loss_star, nbeta, localization, n, sampler, d) -> LLCResult:
    run, num_burnin, step_size, calibration = out.run, out.num_burnin, out.step_size, out.calibration
    partial = run.completed < out.num_steps
    if run.completed - num_burnin < 2:
        raise KeyboardInterrupt(
            f"interrupted after {run.completed} steps, before 2 draws past the {num_burnin} burn-in steps: nothing "
            "to estimate yet (give checkpoint= to keep the work across interruptions)")
    if partial:
        warnings.warn(f"the run was interrupted: the estimate uses {run.completed - num_burnin} of "
                      f"{out.num_steps - num_burnin} draws and is marked partial (res.partial)", RuntimeWarning,
                      stacklevel=3)
    diverged = run.diverged.copy()
    draws = {k: v[:, num_burnin:].astype(np.float64) for k, v in run.stats.items()}
    warmup = {k: v[:, :num_burnin].astype(np.float64) for k, v in run.stats.items()}
    for group in (draws, warmup):
        if "mala_acceptance" in group:  # computed every few steps; -1 marks the others
            group["mala_acceptance"][group["mala_acceptance"] < 0] = np.nan
    stuck = np.zeros_like(diverged)
    if "acceptance" in draws and draws["acceptance"].shape[1]:
        with np.errstate(invalid="ignore"):
            stuck = np.nanmean(draws["acceptance"], axis=1) < 0.01
        if stuck.any():
            warnings.warn(
                f"chains {np.flatnonzero(stuck).tolist()} accepted < 1% of proposals (step size far too large): "
                "treated as diverged", RuntimeWarning, stacklevel=3)
        diverged |= stuck
    num_diverged = int(diverged.sum())
    if num_diverged == len(diverged):
        steps = run.diverged_at.tolist()
        raise RuntimeError(
            f"all {len(diverged)} chains diverged (at steps {steps}, step_size={step_size:.3g}); "
            "use a smaller step_size (or step_size='auto'), a larger localization, or check params"
        )
    if num_diverged:
        warnings.warn(
            f"{num_diverged} of {len(diverged)} chains diverged (chains {np.flatnonzero(diverged).tolist()}, "
            f"at steps {run.diverged_at[diverged].tolist()}) and were left out of the estimate; "
            "consider a smaller step_size",
            RuntimeWarning,
            stacklevel=3,
        )
    llc_draws = draws["llc"]
    with np.errstate(invalid="ignore"):
        per_chain = np.mean(llc_draws, axis=1)
        running = np.cumsum(llc_draws, axis=1) / np.arange(1, llc_draws.shape[1] + 1)
    kept = llc_draws[~diverged]
    llc = float(np.mean(per_chain[~diverged]))
    llc_std = float(np.std(per_chain[~diverged], ddof=1)) if kept.shape[0] > 1 else float("nan")
    mcse, ess = mcse_of_mean(kept)
    if not (np.isfinite(mcse) and np.isfinite(llc_std)):
        warnings.warn(
            f"with {kept.shape[0]} usable chain(s) of {kept.shape[1]} draws, "
            + ("llc_std (needs >= 2 chains) " if not np.isfinite(llc_std) else "")
            + ("mcse (needs >= 4 draws in all) " if not np.isfinite(mcse) else "")
            + "is undefined and set to NaN; use num_chains >= 2 and more draws",
            RuntimeWarning,
            stacklevel=3,
        )
    if not np.isfinite(llc):
        raise RuntimeError("the LLC estimate is not finite although no chain was flagged; please report this")
    if llc < 0:
        warnings.warn(
            f"the LLC estimate {llc:.3g} is negative: the sampler found losses below L_n(w*), so w* is "
            "probably not a local minimum (train further), or the step size is too large",
            RuntimeWarning,
            stacklevel=3,
        )
    draws["llc_running"] = running
    draws["diverged"] = np.broadcast_to(diverged[:, None], llc_draws.shape).copy()
    attrs = {
        "sampler": sampler,
        "step_size": float(step_size),
        "step_size_convention": "eps: noise variance eps, drift (eps/2) grad log p",
        "nbeta": float(nbeta),
        "localization": float(localization),
        "n": int(n),
        "num_params": int(d),
        "loss_at_params": float(loss_star),
        "num_burnin": int(num_burnin),
        "step_size_per_chain": out.step_size_per_chain.tolist(),
        "partial": int(partial),
    }
    idata = build_idata(draws, warmup, attrs)
    return LLCResult(
        llc=llc,
        llc_std=llc_std,
        llc_per_chain=per_chain,
        mcse=mcse,
        ess=ess,
        idata=idata,
        step_size=float(step_size),
        nbeta=float(nbeta),
        localization=float(localization),
        n=int(n),
        sampler=sampler,
        num_diverged=num_diverged,
        diverged_chains=diverged,
        diverged_at=run.diverged_at,
        calibration=calibration,
        partial=bool(partial),
    )
