"""estimate_llc: the local learning coefficient of a model at a point.

    llc_hat(w*) = n beta (E_w[L_n(w)] - L_n(w*)),
    w ~ p(w) ∝ exp{-n beta L_n(w) - (gamma/2) ||w - w*||^2}
(Lau, Furman, Wang, Murfet, Wei, "The Local Learning Coefficient: A Singularity-Aware Complexity
Measure", arXiv 2308.12108, AISTATS 2025).

Baseline: each draw uses the paired difference on the step's own minibatch B_t,
    n beta [L_{B_t}(w_t) - L_{B_t}(w*)],
with the per-datum losses at w* computed once, full batch, so the pairing costs nothing.
It is unbiased for n beta (L_n(w_t) - L_n(w*)) (B_t is drawn independently of w_t), the batch
noise cancels, and per-datum differences avoid subtracting two large sums (precision at
large n). The flow: model -> Potential (model.make_potential, restrict=) -> localized target
(target.py) -> kernel run (sampling.py) -> LLCResult (assemble.py).
"""

from __future__ import annotations

import jax
import numpy as np

from slt_ppl.checks import batch_size_for, choice, non_negative_float
from slt_ppl.llc.assemble import assemble_partner, assemble_result, split_outcome, with_note
from slt_ppl.llc.default_length import CHEAP_WORK, DEFAULT_CHAINS, cheap_model_kernel, cheap_model_length
from slt_ppl.llc.result import LLCResult
from slt_ppl.llc.step_bias import STEP_FACTORS, combine
from slt_ppl.llc.temperature_check import DEFAULT_TEMPERATURE, check_temperature, combine_temperature
from slt_ppl.llc.sampling import in_subdirectory, sample_mcmc, sample_sg
from slt_ppl.llc.target import check_nbeta, divergence_bound, localized_logdensity, localized_target
from slt_ppl.model import Likelihood, as_float64, make_potential, minibatch_fn, restrict_potential
from slt_ppl.model.host_data import gather_rows
from slt_ppl.model.minibatch_cost import gradient_cost, warn_if_minibatch_costs_a_full_pass
from slt_ppl.samplers.host_stream import HostStream
from slt_ppl.samplers import SamplingSettings, sampling_settings

__all__ = ["estimate_llc", "llc_settings", "run_llc"]


def llc_settings(*, sampler="sgld", num_chains=4, num_draws=None, num_burnin=None, step_size="auto", seed=0,
                 kappa=0.1, burnin_step_factor=4.0, diagnostic_every=10, chunk_size=500, progress_bar=None,
                 checkpoint=None, rtol=None, max_time=None, extend_burnin=1, burnin_temperature=1.0,
                 target_accept_prob=None) -> SamplingSettings:
    """The sampling settings of an LLC estimate, checked (every error names the argument)."""
    return sampling_settings(sampler=sampler, num_chains=num_chains, num_draws=num_draws, num_burnin=num_burnin,
                             step_size=step_size, seed=seed, kappa=kappa, burnin_step_factor=burnin_step_factor,
                             diagnostic_every=diagnostic_every, chunk_size=chunk_size, progress_bar=progress_bar,
                             checkpoint=checkpoint, rtol=rtol, max_time=max_time, extend_burnin=extend_burnin,
                             burnin_temperature=burnin_temperature, target_accept_prob=target_accept_prob)


def estimate_llc(
    model,
    params,
    model_args=(),
    model_kwargs=None,
    *,
    sampler: str | None = None,
    num_chains: int | None = None,
    num_draws: int | None = None,
    num_burnin: int | None = None,
    step_size="auto",
    seed: int = 0,
    nbeta: float | None = None,
    localization: float | None = 1.0,
    batch_size: int | None = None,
    restrict=None,
    dtype: str = "float32",
    kappa: float = 0.1,
    burnin_step_factor: float = 4.0,
    diagnostic_every: int | None = 10,
    chunk_size: int = 500,
    progress_bar: bool | None = None,
    checkpoint=None,
    rtol: float | None = None,
    max_time: float | None = None,
    step_bias: str | None = None,
    extend_burnin: int = 1,
    burnin_temperature: float = 1.0,
    temperature_check: float | None = DEFAULT_TEMPERATURE,
    target_accept_prob: float | None = None,
) -> LLCResult:
    """Estimate the local learning coefficient (LLC) of ``model`` at ``params`` (w*).

    The LLC estimator of Lau et al. ("The Local Learning Coefficient: A Singularity-Aware Complexity Measure",
    AISTATS 2025): with t = n beta and the localized tempered posterior
    p(w) ~ exp(-t L_n(w) - gamma / 2 ||w - w*||^2),

        lambda_hat = t (E_w[L_n(w)] - L_n(w*)),

    the expectation taken over draws of a sampler run on that posterior (stochastic-gradient Langevin by
    default). Its limit as n grows is Watanabe's learning coefficient lambda at w*. Per-datum paired differences
    L(w) - L(w*) are averaged, so the minibatch noise common to both cancels. The error ``res.se`` counts the
    Monte Carlo error, the between-chain spread and, with ``temperature_check``, the finite-n shift to partner
    chains at t / T (``slt_ppl/llc/temperature_check.py``).

    Parameters
    ----------
    model : callable or Likelihood
        A NumPyro model whose observed sites live in one data plate, ``numpyro.plate("data", n)``, or an
        ``slt.Likelihood`` (per-example negative log-likelihood and data).
    params : dict or pytree
        w*. For a NumPyro model a dict site name -> constrained value; for a Likelihood any pytree (an Equinox or
        Flax NNX module too).
    model_args : tuple, default ()
        The NumPyro model's positional arguments (its data). Every argument after ``model_kwargs`` is
        keyword-only.
    model_kwargs : dict, optional
        The NumPyro model's keyword arguments.
    sampler : str, optional
        ``"sgld"``, ``"rmsprop_sgld"``, ``"sghmc"``, ``"sgnht"`` (stochastic gradient, any ``batch_size``),
        ``"mala"``, ``"hmc"`` or ``"nuts"`` (full batch, Metropolis-adjusted, BlackJAX warmup). None (default):
        ``"sgld"``, except that a model that costs little gets ``"hmc"`` at ``target_accept_prob`` 0.95, 16 chains
        x 4000 draws, when no run length and no SG-only setting is named either (the rule of
        ``slt_ppl/llc/default_length.py``; ``res.diagnosis`` says so).
    num_chains : int, optional
        Chains, vectorised in one compiled run. None: 4 (16 on a cheap model, see ``sampler``).
    num_draws : int, optional
        Draws per chain. None: 4000 for stochastic-gradient kernels, 1000 for MALA/HMC/NUTS. A cheap model run
        with sgld gets 16 chains and 16 000 draws (and burn-in) when ``num_chains``, ``num_draws`` and
        ``num_burnin`` are all None.
    num_burnin : int, optional
        Steps dropped before the draws (SG kernels: run at ``burnin_step_factor`` times the step to explore
        degenerate directions faster; MALA/HMC/NUTS: adaptation). None: ``num_draws``.
    step_size : float or "auto", default "auto"
        For sgld/rmsprop_sgld eps in the paper's convention (noise variance eps, drift eps/2 grad U); for
        sghmc/sgnht/mala/hmc/nuts BlackJAX's own step size (``res.idata.attrs["step_size_convention"]`` says
        which). ``"auto"``: SG kernels take the step from the largest curvature met in a warmup,
        eps = ``kappa`` / curvature (``slt_ppl/samplers/adaptation.py``); MALA/HMC/NUTS adapt during the
        ``num_burnin`` warmup steps.
    seed : int, default 0
        The PRNG seed; the same seed and settings give the same numbers.
    nbeta : float, optional
        n beta, the inverse temperature times the data size. None: n / log n (Watanabe's WBIC temperature).
    localization : float, default 1.0
        gamma, the strength of the Gaussian localization about w*.
    batch_size : int, optional
        Minibatch size (rows drawn with replacement). None: full batch.
    restrict : optional
        Weight-restricted LLC: sample only these parameters, the rest stay at w*. Site names (``["A"]``),
        component names, a predicate ``(path, leaf) -> bool`` or bool array, or a pytree of booleans shaped like
        ``params``.
    dtype : {"float32", "float64"}, default "float32"
        Precision of data, parameters and sampling, end to end. Paired per-datum differences keep float32
        accurate at n = 1e6.
    kappa : float, default 0.1
        Stiffness budget of the automatic step: eps = kappa / (largest curvature met).
    burnin_step_factor : float, default 4.0
        SG kernels: the burn-in runs at this multiple of the step.
    diagnostic_every : int or None, default 10
        SGLD records the MALA acceptance of its proposal every this many steps (RMSprop-SGLD has none)
        (``sample_stats.mala_acceptance``; one extra gradient each time); None turns it off.
    chunk_size : int, default 500
        Steps per compiled chunk: the progress bar, checkpoints, ``rtol`` and Ctrl-C act between chunks.
    progress_bar : bool, optional
        Show a progress bar. None: only in an interactive terminal.
    checkpoint : str or path, optional
        A directory: per-draw statistics and chain states are saved there every chunk, and the same call (same
        seed and settings) resumes from it after a crash or kill, giving the numbers an uninterrupted run gives.
        Ctrl-C returns the draws completed, marked ``partial``.
    rtol : float, optional
        Stop as soon as se / abs(llc) <= rtol (checked after each chunk past the burn-in, from 500 draws on);
        ``num_draws`` is then the budget, and a run that ends on it says so in ``res.diagnosis``. Deterministic:
        the same seed stops at the same draw.
    max_time : float, optional
        Seconds of sampling after which the run stops (a budget that depends on the machine's speed).
    step_bias : {None, "richardson"}, default None
        ``"richardson"`` measures the step-size bias (discretisation and minibatch noise, both O(eps)) in the same
        run: ``num_chains`` chains at eps and as many partner chains at 2 eps, extrapolated to eps -> 0;
        ``res.llc`` is the better of L(eps) and 2 L(eps) - L(2 eps), ``res.se`` includes the measured bias
        (``slt_ppl/llc/step_bias.py``). Twice the chains; SG samplers only.
    extend_burnin : int, default 1
        SG kernels: when the llc trace still drifts between the halves of the draws (an unfinished burn-in,
        abs(z) > 3), its first half becomes burn-in and as many new draws are sampled, at most this many times
        (0: never). Not with ``checkpoint``, ``rtol`` or ``max_time``.
    burnin_temperature : float, default 1.0
        sgld, a test of the burn-in (off at 1): every second chain burns in on the target raised to 1/T, so that
        it begins its draws spread wider than the target while the others begin from w*, narrower. If the
        estimate depends on where the chains start, the two halves disagree (R-hat, and an se that spans both)
        instead of every chain reading low together. Off by default because the hot chains' memory of their
        start can outlast the run (``slt_ppl/llc/sampling.py``).
    temperature_check : float or None, default 4.0
        T > 1: partner chains at n beta / T run beside the main ones, and the shift of the estimate between
        n beta / T and n beta, the size of the finite-n terms no within-run diagnostic sees, goes into ``res.se``
        as se = sqrt(se(t)^2 + shift^2) (``slt_ppl/llc/temperature_check.py``). Twice the chains (MALA/HMC/NUTS:
        a second run); None turns it off, and the diagnosis then says the finite-n terms are not in the se.
    target_accept_prob : float, optional
        MALA/HMC/NUTS: the acceptance rate their step adaptation aims at. None: 0.574 for MALA, 0.8 for HMC/NUTS
        (BlackJAX's and NumPyro's defaults). A higher target takes a smaller step, which reaches into the narrow
        necks of a singular posterior.

    Returns
    -------
    LLCResult
        ``llc``, ``se``, ``se_lambda``, ``mcse``, the per-chain estimates, the verdict (``converged``,
        ``diagnosis``) and an ArviZ DataTree with the per-draw statistics.

    Raises
    ------
    ValueError
        When the model breaks the data-plate convention, an argument is malformed, or options that cannot be
        combined are named together (the message names the argument and the fix).

    Examples
    --------
    >>> import numpy as np, numpyro, numpyro.distributions as dist
    >>> import slt_ppl as slt
    >>> def model(X, y=None):
    ...     w = numpyro.sample("w", dist.Normal(0, 1).expand([X.shape[1]]).to_event(1))
    ...     with numpyro.plate("data", X.shape[0]):
    ...         numpyro.sample("y", dist.Normal(X @ w, 1.0), obs=y)
    >>> X = np.random.default_rng(0).normal(size=(2000, 3)); y = X @ np.ones(3)
    >>> res = slt.estimate_llc(model, {"w": np.ones(3)}, (X, y), seed=0)  # doctest: +SKIP
    >>> res.llc, res.se  # close to d / 2 = 1.5 for a regular model  # doctest: +SKIP
    """
    length_named = num_chains is not None or num_draws is not None or num_burnin is not None
    sampler_named = sampler is not None
    sampler = "sgld" if sampler is None else sampler
    num_chains = DEFAULT_CHAINS if num_chains is None else num_chains
    settings = llc_settings(sampler=sampler, num_chains=num_chains, num_draws=num_draws, num_burnin=num_burnin,
                            step_size=step_size, seed=seed, kappa=kappa, burnin_step_factor=burnin_step_factor,
                            diagnostic_every=diagnostic_every, chunk_size=chunk_size, progress_bar=progress_bar,
                            checkpoint=checkpoint, rtol=rtol, max_time=max_time, extend_burnin=extend_burnin,
                            burnin_temperature=burnin_temperature, target_accept_prob=target_accept_prob)
    return run_llc(settings, model, params, model_args, model_kwargs, nbeta=nbeta, localization=localization,
                   batch_size=batch_size, restrict=restrict, dtype=dtype, step_bias=step_bias,
                   temperature_check=temperature_check, default_length=not length_named,
                   default_sampler=not (sampler_named or length_named))[0]


def run_llc(settings: SamplingSettings, model, params, model_args=(), model_kwargs=None, *, nbeta=None,
            localization=1.0, batch_size=None, restrict=None, dtype="float32", make_observer=None, step_bias=None,
            temperature_check=None, default_length=False, default_sampler=False):
    """The LLC run itself: (LLCResult, SamplingOutcome, Potential). `make_observer(pot, nbeta)` may return an
    llc.sampling.Observer whose accumulators over the draws come back in `outcome.run.state[-1]`
    (the observables package measures posterior covariances this way, from the same draws).
    temperature_check: None here (estimate_llc's default is DEFAULT_TEMPERATURE): partner chains at n beta / T.
    default_length: True when the user named no run length: a cheap model then gets llc/default_length.py's
    chains and draws; False: the settings' lengths are final. default_sampler: True when the user named neither a
    sampler nor a run length: a cheap full-batch model then gets llc/default_length.py's kernel (HMC)."""
    dtype = choice("dtype", dtype, ("float32", "float64"))
    localization = 1.0 if localization is None else non_negative_float("localization", localization)
    if step_bias is not None:
        choice("step_bias", step_bias, ("richardson",))
        if settings.metropolis:
            raise ValueError(f"step_bias='richardson' measures the discretisation bias of the stochastic-gradient "
                             f"samplers; {settings.sampler!r} is Metropolis-adjusted (no step bias): drop step_bias")
        if make_observer is not None:
            raise ValueError("step_bias cannot be combined with observables measured from the same draws")
    temperature_check = check_temperature(temperature_check)
    if temperature_check is not None:
        if make_observer is not None:
            raise ValueError("temperature_check cannot be combined with observables measured from the same draws")
    if dtype == "float64" and not jax.config.jax_enable_x64:
        with jax.enable_x64(True):
            return _run(settings, model, params, model_args, model_kwargs, nbeta=nbeta, localization=localization,
                        batch_size=batch_size, restrict=restrict, dtype=dtype, make_observer=make_observer,
                        step_bias=step_bias, temperature_check=temperature_check, default_length=default_length,
                        default_sampler=default_sampler)
    return _run(settings, model, params, model_args, model_kwargs, nbeta=nbeta, localization=localization,
                batch_size=batch_size, restrict=restrict, dtype=dtype, make_observer=make_observer, step_bias=step_bias,
                temperature_check=temperature_check, default_length=default_length, default_sampler=default_sampler)


def _run(settings: SamplingSettings, model, params, model_args, model_kwargs, *, nbeta, localization,
         batch_size, restrict, dtype, make_observer, step_bias=None, temperature_check=None, default_length=False,
         default_sampler=False):
    if dtype == "float64":
        params, model_args, model_kwargs = as_float64((params, tuple(model_args), model_kwargs))
        if isinstance(model, Likelihood) and model.on_host:  # rows become float64 as they are gathered
            model = Likelihood(model.nll_per_example, model.host_data, model.log_prior, on_host=True)
        elif isinstance(model, Likelihood):
            model = Likelihood(model.nll_per_example, as_float64(model.data), model.log_prior)
    pot = restrict_potential(make_potential(model, params, model_args, model_kwargs), restrict)
    n = pot.n
    nbeta = check_nbeta(n, nbeta)
    batch_size = batch_size_for(batch_size, n, sampler=settings.sampler, metropolis=settings.metropolis,
                                subsample_size=pot.subsample_size)

    streamed = pot.on_host and not settings.metropolis and batch_size is not None and batch_size < n
    if not settings.metropolis:
        warn_if_minibatch_costs_a_full_pass(pot, batch_size)
    if streamed:  # rows stay on the host: L_B(w*) is computed in each step, L_n(w*) came from a blockwise pass
        ll_star, loss_star = None, float(-pot.mean_loglik_star)
    else:
        ll_star = pot.loglik_star()  # per-datum log-likelihoods at w*, computed once
        loss_star = float(-np.mean(np.asarray(ll_star, dtype=np.float64)))
    d = pot.num_params
    rows_per_step = n if batch_size is None else min(batch_size, n)
    step_cost = None
    if (default_length or default_sampler) and d * rows_per_step <= CHEAP_WORK:  # priced only where it can matter
        cost = gradient_cost(pot, rows_per_step)
        step_cost = None if cost is None else cost.flop_equivalents
    kernel_note = None
    if default_sampler and step_bias is None and make_observer is None:
        chosen = cheap_model_kernel(settings, d=d, rows_per_step=rows_per_step, full_batch=batch_size is None,
                                    step_cost=step_cost)
        if chosen.sampler != settings.sampler:
            kernel_note = (f"sampler: {chosen.sampler} (target acceptance {chosen.target_accept_prob:g}, "
                           f"{chosen.num_chains} chains x {chosen.num_draws} draws) chosen for a cheap model (d x rows = "
                           f"{d * rows_per_step:.3g} <= {CHEAP_WORK:.0e}, "
                           + ("" if step_cost is None else f"a gradient {step_cost:.2g} flops, ")
                           + "full batch) where no sampler or run length was named: sgld mixes too slowly along the "
                           "arms of such posteriors (llc/default_length.py); name sampler= to choose")
        settings = chosen
    if default_length and not settings.metropolis:
        settings = cheap_model_length(settings, d=d, rows_per_step=rows_per_step, step_cost=step_cost)
    bound = divergence_bound(d)
    key = jax.random.key(settings.seed)
    observer = None if make_observer is None else make_observer(pot, nbeta)
    if settings.metropolis:
        logdensity_fn = localized_logdensity(pot.loglik_fn, nbeta, localization, pot.position, ll_star)
        out = sample_mcmc(settings, logdensity_fn, pot.position, n, key, nbeta=nbeta, bound=bound, observer=observer)
    else:
        # w* and its per-datum log-likelihoods ride in each chain's carry, the data are an argument of the
        # compiled loop (not closure constants): a call on new arrays of the same shapes reuses the loop
        # chain groups of num_chains each: (step factor, temperature); the main group at (1, 1) comes last but for the
        # temperature partners after it (llc/step_bias.py, llc/temperature_check.py)
        groups = [(f, 1.0) for f in STEP_FACTORS] if step_bias is not None else [(1.0, 1.0)]
        if temperature_check is not None:
            groups.append((1.0, float(temperature_check)))
        step_factors = temperatures = None
        if len(groups) > 1:
            step_factors = np.repeat([g[0] for g in groups], settings.num_chains)
            temperatures = np.repeat([g[1] for g in groups], settings.num_chains)
            settings = settings._replace(num_chains=settings.num_chains * len(groups))
        num_chains = settings.num_chains
        per_chain = lambda x: np.broadcast_to(np.asarray(x), (num_chains,) + np.shape(x))  # noqa: E731  (numpy: no eager compile)
        consts = (jax.tree.map(per_chain, pot.position), None if streamed else per_chain(ll_star))
        factory, data, cache_key = localized_target(pot, nbeta, localization, host_rows=streamed)
        if cache_key is not None:
            cache_key = ("llc", cache_key, str(jax.tree.structure(pot.position)),
                         str(jax.tree.map(np.shape, pot.position)), n, batch_size, dtype, streamed)
        stream = None
        if streamed:
            stream = HostStream(pot.host_data, n, batch_size, pot.place_rows, gather_rows)
        out = sample_sg(settings, factory, consts[0], minibatch_fn(n, batch_size), key, nbeta=nbeta, bound=bound,
                        minibatched=batch_size is not None and batch_size < n, consts=consts, cache_key=cache_key,
                        cache_refs=pot.cache_refs, observer=observer, data=data, step_factors=step_factors,
                        stream=stream, temperatures=temperatures, localization=localization)
    full_batch = batch_size is None or batch_size >= n
    assemble = lambda o: assemble_result(o, loss_star, nbeta, localization, n, settings.sampler, d,  # noqa: E731
                                         full_batch=full_batch, rtol=settings.rtol)
    partner_result = lambda part, temperature, biased_by_design=False: assemble_partner(  # noqa: E731
        part, loss_star, nbeta / temperature, localization, n, settings.sampler, d, full_batch=full_batch,
        biased_by_design=biased_by_design)

    if settings.metropolis:
        res = assemble(out)
        if temperature_check is not None:  # the partners: a second run of the same kernel on the target at n beta / T
            T = float(temperature_check)
            partner = partner_result(_metropolis_partner(settings, pot, nbeta / T, localization, ll_star, n, key, bound), T)
            res = combine_temperature(partner, res, temperature=T, rtol=settings.rtol)
        if kernel_note is not None:
            res = with_note(res, kernel_note)
        return res, out, pot
    if len(groups) == 1:
        res = assemble(out)
        if temperature_check is None:
            res = with_note(res, "finite-n terms not measured (temperature_check=None): they are not in the se")
        return res, out, pot
    parts = split_outcome(out, len(groups))

    main = assemble(parts[len(STEP_FACTORS) - 1] if step_bias is not None else parts[0])
    if step_bias is not None:
        main = combine(partner_result(parts[0], 1.0, biased_by_design=True), main, eps=out.step_size)
    if temperature_check is not None:
        main = combine_temperature(partner_result(parts[-1], float(temperature_check)), main,
                                   temperature=float(temperature_check), rtol=settings.rtol)
    else:
        main = with_note(main, "finite-n terms not measured (temperature_check=None): they are not in the se")
    return main, out, pot


def _metropolis_partner(settings, pot, partner_nbeta, localization, ll_star, n, key, bound):
    """The finite-n check's run for a Metropolis kernel (llc/temperature_check.py): num_chains chains of the same
    kernel on the target at n beta / T (gamma kept), adapted on their own from w* in a second run (a full-batch
    kernel has no vmapped groups to share); its outcome, for the same partner_result as the SG partners."""
    logdensity_fn = localized_logdensity(pot.loglik_fn, partner_nbeta, localization, pot.position, ll_star)
    partner_settings = in_subdirectory(settings, "temperature_partner")._replace(rtol=None, max_time=None)
    return sample_mcmc(partner_settings, logdensity_fn, pot.position, n, jax.random.fold_in(key, 1),
                       nbeta=partner_nbeta, bound=bound)
