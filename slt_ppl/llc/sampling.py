"""Run any registered sampler on the localized tempered target of the LLC and collect per-draw stats.

The target's log density returns aux = (L_B(w), L_B(w) - L_B(w*), ||w - w*||^2) beside its
value; every sampler's per-draw statistics are built from it (target.draw_stats): loss,
llc = n beta (L_B(w) - L_B(w*)), distance from w*, plus the kernel's own diagnostics (MALA
acceptance of SGLD proposals every `diagnostic_every` steps, None: never; acceptance and
divergences for MALA/HMC/NUTS).

Overdispersed starts (burnin_temperature, plain SGLD; opt-in). Every chain starts at w*, so a burn-in too short for
the slow directions leaves every chain short of equilibrium together: the trace reads low with R-hat and the
trend quiet. So every second chain burns in hot, on the target raised to 1/T: the log density divided by T and the
step multiplied by T, which keeps eps * curvature (the stability and the discretisation bias) as in the cold
burn-in while the diffusion is T times faster and the stationary spread T times wider. A direction of curvature c
then reaches T (1 - e^{-eps c t}) / c, above its equilibrium 1/c once eps c t > -log(1 - 1/T) (0.29 at T = 4), and
the hot chains begin their draws from above while the cold ones begin from below: the equilibrium lies between
them, R-hat sees the gap, and the between-chain se (results.between_chain_se) spans it (the classical
overdispersed starts of Gelman and Rubin, "Inference from iterative simulation using multiple sequences",
Statist. Sci. 7 (1992)). Models whose stiffness grows without bound along the axes lose hot chains to divergence:
T halves (a repair, named in the diagnosis) down to 1.
It is not the default because hot chains need not come back within the run: spread along the flat directions of a
singular model, where only the localization pulls them back (relaxation ~ 1 / (eps gamma) steps), they keep their
start's memory for longer than an affordable run, and the pooled estimate is then worse than the cold one. The
disagreement it shows is a true statement (the estimate depends on the start). Evidence: the "hot" side of
benchmarks/results/certified_llc.txt.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from slt_ppl.llc.run_length import stop_rule
from slt_ppl.llc.run_length import extend_burnin as _extend_burnin, outcome_steps as _outcome_steps
from slt_ppl.llc.target import draw_stats
from slt_ppl.samplers import MCMC_SAMPLERS, SG_SAMPLERS, SamplingSettings, run_chains
from slt_ppl.samplers.adaptation import FIT_LIMIT, calibrate_sg, top_curvature
from slt_ppl.samplers.mala_diagnostic import mala_acceptance

__all__ = ["SamplingOutcome", "Observer", "sample_sg", "sample_mcmc", "in_subdirectory"]


class Observer(NamedTuple):
    """Per-draw observables reduced chunk by chunk on the host, so memory stays flat in the draws.

    stat_fn(position) -> {name: array}: evaluated at every draw after the burn-in (zeros during it);
    consume({name: (chains, steps, ...)}, start, stop): gets each chunk's values (NaN after a chain's
    divergence, rows before `first_draw` to be skipped by step index) and keeps its own running sums;
    the runner stores none of them.
    """

    stat_fn: Callable
    consume: Callable


class SamplingOutcome(NamedTuple):
    run: object  # runner.ChainRun
    num_burnin: int  # leading steps of run that are burn-in
    step_size: float
    step_size_per_chain: np.ndarray
    calibration: object
    num_steps: int  # steps asked for (burn-in + draws); run.completed is fewer when interrupted
    burnin_extended: int = 0  # steps moved into the burn-in (and sampled anew) because the trace drifted
    burnin_step_factor: float | None = None  # the burn-in step's factor used (lowered if chains diverged in it)
    notes: tuple = ()  # what the sampling changed on its own, for the verdict's diagnosis
    burnin_temperature: float = 1.0  # the hot chains' burn-in temperature used (1: none were hot)
    curvature_end: float = float("nan")  # largest top curvature at the kept chains' final states (auto step, SG)
    step_fits: bool = True  # the step fits that curvature (adaptation.FIT_LIMIT), after any halvings


OBSERVED = "observed_"  # prefix of the stats an Observer consumes


def _observe(observer, stats, position, t, first_draw):
    """Add the observer's values at `position` to the step's stats (zeros during the burn-in: not computed)."""
    if observer is None:
        return stats
    shapes = jax.eval_shape(observer.stat_fn, position)
    zeros = lambda _: jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)  # noqa: E731
    values = jax.lax.cond(t >= first_draw, observer.stat_fn, zeros, position)
    return {**stats, **{OBSERVED + k: v for k, v in values.items()}}


def _consumer(observer):
    if observer is None:
        return None
    return lambda piece, start, stop: observer.consume({k[len(OBSERVED):]: v for k, v in piece.items()}, start, stop)


CALIBRATION_POOL = 8192  # rows on the device while calibrating a run whose data stay on the host
MAX_STEP_HALVINGS = 2  # reruns at a smaller automatic step (half, or less where the curvature reached asks it)


def sample_sg(settings: SamplingSettings, logdensity_fn, position, minibatch_fn, key, *, consts, nbeta, bound,
              minibatched: bool = False, group_size: int | None = None, cache_key=None,
              cache_refs=None, observer: Observer | None = None, data=None,
              step_factors=None, stream=None, temperatures=None, localization: float = 0.0) -> SamplingOutcome:
    """SG sampling of the localized target with `settings` (a SamplingSettings).

    `consts` holds per-chain constants (w* and its per-datum log-likelihoods, leading chain axis) and
    `logdensity_fn(consts_of_a_chain, data)` returns that chain's log density; `data` (the model's
    arrays, shared by every chain, not copied per chain) and the constants are arguments of the
    compiled loop and calibration, never baked into them, so new data or a new w* of the same shapes
    reuse them (with a cache_key naming everything else logdensity_fn closes over).
    step_factors: (num_chains,) multiples of the step per chain (chains at eps and eps/2 in one run, for the
    step-size bias, llc/step_bias.py); None: every chain at the step.
    temperatures: (num_chains,) T >= 1 per chain: a chain with T > 1 samples the target at n beta / T from its
    burn-in on (the localization, gamma = `localization`, kept; SGLD's step T eps, the same stiffness of the
    likelihood part; SGHMC/SGNHT keep h, see partner_step), and its llc draws read (n beta / T)(L_B(w) - L_B(w*)):
    the partner chains of llc/temperature_check.py; None: all at 1.
    stream: a samplers.host_stream.HostStream when the data rows stay on the host: each step's minibatch
    arrives gathered (the same indices the device path draws), `data` holds the rest of the data argument,
    and the automatic step is calibrated on a pool of CALIBRATION_POOL rows drawn once.
    `position` has a leading chain axis. Chains come in groups of `group_size` that reuse the same keys
    (several w* in one run, batched.py), so chain c of every group draws the noise chain c of a single
    run with the same seed would.
    """
    sampler, num_chains, num_burnin = settings.sampler, settings.num_chains, settings.num_burnin
    step_size, kappa, diagnostic_every = settings.step_size, settings.kappa, settings.diagnostic_every
    spec = SG_SAMPLERS[sampler]
    k_calib, k_init, k_chains = jax.random.split(key, 3)
    calibration = None
    group = num_chains if group_size is None else group_size
    curvature_end, step_fits = float("nan"), True
    # temperature partners (the last chains, temperatures != 1) start from their counterparts' warm states with keys
    # of their own, so the other chains draw exactly what a run without partners draws
    partners = temperatures is not None and bool(np.any(np.asarray(temperatures) != 1.0))
    temps = np.ones(num_chains) if temperatures is None else np.asarray(temperatures, dtype=np.float64)
    partner_block = int(np.sum(temps != 1.0)) if partners else None
    own = num_chains - (partner_block or 0)
    deciding = np.arange(num_chains) < own

    size = own if group_size is None else group_size  # keys per group (several w* in one run, batched.py)

    def chain_keys(k):  # the partners, a block after the others in the same groups, draw keys of their own
        keys = lambda k, count: jax.random.split(k, count) if size >= count else jnp.tile(  # noqa: E731
            jax.random.split(k, size), (count // size,))
        return jnp.concatenate([keys(k, own), keys(jax.random.fold_in(k, 7), partner_block)]) if partners else keys(k, own)

    def with_partners(tree):  # (own, ...) -> (num_chains, ...): partner c copies chain c
        if not partners:
            return tree
        return jax.tree.map(lambda x: jnp.concatenate([x, x[:partner_block]]), tree)

    if settings.auto_step:
        if group != num_chains:
            raise ValueError("batched sampling needs a fixed step_size (calibrate once first)")
        first = lambda tree: jax.tree.map(lambda x: x[0], tree)  # noqa: E731  (every chain shares one w*)
        calib_batches, calib_data = minibatch_fn, data
        if stream is not None:  # a pool of rows on the device stands for the data while calibrating
            size = min(stream.n, max(CALIBRATION_POOL, 16 * stream.batch_size))
            calib_data = stream.place(data, stream.pool(jax.random.fold_in(k_calib, 1), size))
            calib_batches = lambda k: jax.random.randint(k, (stream.batch_size,), 0, min(stream.n, size))  # noqa: E731
        calib_factory = (lambda cd: logdensity_fn(*cd)) if stream is None else _pool_factory(logdensity_fn, size)
        calibration = calibrate_sg(spec, calib_factory, first(position), calib_batches, k_calib,
                                   num_chains=own, kappa=kappa, max_potential=bound, minibatched=minibatched,
                                   observable=lambda info: nbeta * info.aux[1], consts=(first(consts), calib_data),
                                   cache_key=None if cache_key is None else ("calibrate", cache_key, sampler,
                                                                             float(nbeta), stream is not None),
                                   cache_refs=cache_refs)
        step_size, states = calibration.step_size, with_partners(calibration.states)
    else:
        init_keys = chain_keys(k_init)[:own]
        states = with_partners(jax.vmap(spec.init)(jax.tree.map(lambda x: x[:own], position), init_keys))
    kernel = spec.build_kernel()
    dtype = jnp.result_type(float)
    # the step sizes ride in the carry (burn-in, sampling) per chain: a second call whose calibration
    # lands on another step reuses the compiled loop
    factors = np.ones(num_chains) if step_factors is None else np.asarray(step_factors, dtype=np.float64)

    hot = hot_chains(sampler, num_chains, settings.burnin_temperature)

    def partner_step(step, T):
        # a partner at n beta / T sees 1 / T of the likelihood's curvature: SGLD's step T eps keeps the stiffness.
        # SGHMC/SGNHT keep h: at sqrt(T) h (the same stiffness at w*) or T h their partners, 4x wider, reach the
        # crossings' stiffer arms and diverged (normal_crossing (1,1,1): every partner, by step 7000 of 16 000)
        return step * T if spec.first_order or spec.precondition is not None else step

    def step_table(step_size, burnin_factor, temperature):
        # every group burns in at the same step (equally warm when sampling starts); only the draws' step differs.
        # Columns: burn-in step, draws' step, the log density's scale in the burn-in (1 / temperature); with
        # partner chains at T (temperatures) a fourth, the scale of n beta (1 / T), which also scales their llc
        cold = spec.scale_step(step_size, burnin_factor)
        rows = []
        for f, h, T in zip(factors, hot, temps):
            hot_t = temperature if h else 1.0
            row = [partner_step(cold * hot_t, T), partner_step(f * step_size, T), 1.0 / hot_t]
            rows.append(row + [1.0 / T] if partners else row)
        return np.stack(rows).astype(dtype)

    def step_fn(key, carry, t, shared, streamed=None):
        k_batch, k_step = jax.random.split(key)
        if streamed is None:
            state, lf = carry[0], logdensity_fn(carry[1], shared[0])
            batch = minibatch_fn(k_batch)
        else:  # this step's rows, gathered on the host with the indices minibatch_fn draws from k_batch
            state, lf = carry[0], logdensity_fn(carry[1], stream.place(shared[0], streamed))
            batch = jnp.arange(stream.batch_size)
        h = jnp.where(t < num_burnin, carry[2][0], carry[2][1])
        scale = jnp.where(t < num_burnin, carry[2][2], 1.0)
        if partners:
            lf = _nbeta_scaled(lf, carry[2][3], localization)
        lf = _scaled(lf, scale)
        new_state, info = kernel(k_step, state, lf, batch, h)
        stats = draw_stats(info.aux, nbeta * carry[2][3] if partners else nbeta, bound)
        stats["grad_norm"] = info.grad_norm
        if spec.first_order and diagnostic_every:
            def accept(_):
                return mala_acceptance(lf, batch, state.position, new_state.position, info.logdensity, info.grad, h)

            stats["mala_acceptance"] = jax.lax.cond(t % diagnostic_every == 0, accept, lambda _: jnp.array(-1.0, dtype), None)
        return (new_state, *carry[1:]), _observe(observer, stats, new_state.position, t, num_burnin)

    if observer is not None:
        cache_key = None  # the observer's function is not named by the key
    loop_key = None if cache_key is None else (cache_key, sampler, num_burnin, float(nbeta), float(bound),
                                               diagnostic_every, num_chains, group, stream is not None, partners)
    keys = chain_keys(k_chains)
    burnin_factor, notes, halvings = settings.burnin_step_factor, [], 0
    temperature = settings.burnin_temperature if hot.any() else 1.0
    while True:
        attempt = settings if not notes else in_subdirectory(settings, f"repair_{len(notes)}")
        run = run_chains(step_fn, (states, consts, step_table(step_size, burnin_factor, temperature)), keys, settings.num_steps,
                         attempt, desc=f"LLC {sampler}", consume=_consumer(observer), consumed_prefix=OBSERVED,
                         checkpoint_settings={"sampler": sampler, "step_size": float(step_size), "nbeta": float(nbeta),
                                              "num_burnin": num_burnin, "burnin_step_factor": float(burnin_factor),
                                              # named only when on, so checkpoints of earlier runs still resume
                                              **({"burnin_temperature": float(temperature)} if temperature > 1 else {}),
                                              **({"temperatures": sorted(set(temps.tolist()))} if partners else {})},
                         cache_key=loop_key, cache_refs=cache_refs, stop_when=stop_rule(settings, num_burnin, partner_block),
                         shared=(data,), stream=stream)
        # Divergences our own heuristics caused are repaired, not reported as the user's: the faster burn-in
        # step first (rerun gentler), then the automatic step (halved, at most MAX_STEP_HALVINGS times). The
        # step sizes ride in the carry, so a rerun uses the same compiled loop (and a checkpointed run keeps
        # each rerun in a subdirectory, so that resuming repeats the same decisions); an interrupted or observed
        # run is left as it is. Only the chains before the temperature partners decide (the partners never change
        # the others' run: their own divergences or misfit are reported by llc/temperature_check.py).
        diverged = run.diverged & deciding
        if (not diverged.any() or observer is not None
                or (run.completed < settings.num_steps and not run.stopped)):
            curvature_end, step_fits = _curvature_at_end(run, calibration, spec, step_size, k_chains,
                                                         eligible=observer is None and group == num_chains,
                                                         deciding=deciding)
            partial = run.completed < settings.num_steps and not run.stopped
            if (step_fits or halvings >= MAX_STEP_HALVINGS or diverged.any() or partial
                    or settings.max_time is not None):  # a time budget is not spent twice
                break
            # the chains drifted to where the curvature is larger than the step was set for (adaptation.py, 4.):
            # the run is repeated from the warm states (going on from where the chains were lets them drift further
            # as the curvature grows again), at the smaller of half the step and the step that fits the curvature
            # reached (eps c_end = FIT_LIMIT): halving alone can leave the chains drifting back to the edge of
            # stability at each step (benchmarks/results/validate_full.txt, the 10K-parameter DLNs). A curvature
            # that could not be measured (inf) is met by halving alone: no step fits it, and a zero step would
            # freeze the chains.
            read = float(np.nanmean(run.stats["llc"][:own, num_burnin:run.completed]))
            measured = bool(np.isfinite(curvature_end) and curvature_end > 0)
            fitted = min(step_size / 2, spec.step_from_curvature(curvature_end, FIT_LIMIT)) if measured else step_size / 2
            where = (f"the chains reached curvature {curvature_end:.3g}, where the step {step_size:.3g} is "
                     f"{step_size / spec.step_from_curvature(curvature_end, kappa):.1f}x the one kappa asks"
                     if measured else
                     "the curvature at the chains' final states is not finite, so no step is known to fit it")
            notes.append(f"{where} (the llc read {read:.4g} there): the run was repeated at half the step or less "
                         f"({fitted:.3g}, the smaller of half and the step that fits that curvature)")
            step_size, halvings = fitted, halvings + 1
            continue
        in_burnin = diverged & (run.diverged_at < num_burnin)
        if (in_burnin & hot).any() and temperature > 1.0:
            notes.append(f"{int((in_burnin & hot).sum())} hot chain(s) diverged during the burn-in at temperature "
                         f"{temperature:g}: the run was repeated at {max(1.0, temperature / 2):g}")
            temperature = max(1.0, temperature / 2)
        elif in_burnin.any() and burnin_factor > 1.0:
            notes.append(f"{int(in_burnin.sum())} chain(s) diverged during the burn-in at {burnin_factor:g}x the step: "
                         f"the run was repeated with the burn-in at {max(1.0, burnin_factor / 2):g}x")
            burnin_factor = max(1.0, burnin_factor / 2)
        elif settings.auto_step and halvings < MAX_STEP_HALVINGS:
            notes.append(f"{int(diverged.sum())} chain(s) diverged at the automatic step {step_size:.3g}: the run "
                         f"was repeated at half the step")
            step_size, halvings = step_size / 2, halvings + 1
        else:
            break
    run, burnin, extended = _extend_burnin(run, attempt, num_burnin, lambda prev, total, k: run_chains(
        step_fn, None, keys, total, in_subdirectory(attempt, f"extension_{k}"), desc=f"LLC {sampler} (burn-in extended)",
        cache_key=loop_key, cache_refs=cache_refs, shared=(data,), continue_from=prev, stream=stream,
        checkpoint_settings={"sampler": sampler, "step_size": float(step_size), "extension": k}),
        eligible=observer is None and group == num_chains,
        groups=len(set(zip(factors.tolist(), temps.tolist()))), unjudged=1 if partners else 0)
    per_chain_step = np.array([partner_step(float(step_size) * f, T) for f, T in zip(factors, temps)])
    return SamplingOutcome(run, burnin, float(step_size), per_chain_step, calibration,
                           _outcome_steps(run, settings.num_steps + extended), extended, float(burnin_factor),
                           tuple(notes), float(temperature), float(curvature_end), bool(step_fits))


def _curvature_at_end(run, calibration, spec, step_size, key, *, eligible: bool, deciding=None) -> tuple[float, bool]:
    """(largest top curvature at the kept chains' final states, whether the step fits it within FIT_LIMIT):
    the curvature the step was set from is the warmup's, and the chains drift to larger ones (adaptation.py, 4.).
    (nan, True) when there is nothing to measure (a given step, an observed or batched run, no kept chain).
    deciding: (chains,) bool, the chains measured (the temperature partners are not)."""
    if not eligible or calibration is None or getattr(calibration, "measure", None) is None:
        return float("nan"), True
    kept = ~np.asarray(run.diverged)
    if deciding is not None:
        kept = kept & deciding
    if not kept.any():
        return float("nan"), True
    own = len(kept) if deciding is None else int(np.sum(deciding))
    states = jax.tree.map(lambda x: x[:own], run.state[0])
    curv = np.asarray(calibration.measure(states, jax.random.fold_in(key, 77)))[kept[:own]]
    met = float(np.max(curv)) if np.isfinite(curv).all() else float("inf")
    return met, bool(step_size <= spec.step_from_curvature(met, FIT_LIMIT) * 1.0001)


def hot_chains(sampler: str, num_chains: int, temperature: float) -> np.ndarray:
    """(num_chains,) bool: the chains that burn in hot (every second one; plain SGLD with >= 2 chains only)."""
    on = sampler == "sgld" and num_chains >= 2 and temperature > 1.0
    return (np.arange(num_chains) % 2 == 1) & on


def _scaled(logdensity_fn, scale):
    """logdensity_fn with its value (not its aux) multiplied by scale: the target raised to the power scale."""
    def scaled(position, batch):
        value, aux = logdensity_fn(position, batch)
        return scale * value, aux

    return scaled


def _nbeta_scaled(logdensity_fn, scale, gamma):
    """The localized log density -(n beta diff + gamma sq / 2) with n beta multiplied by scale, gamma kept: from
    its value and aux = (loss, diff, sq), value * scale - (1 - scale) gamma sq / 2."""
    def scaled(position, batch):
        value, aux = logdensity_fn(position, batch)
        return scale * value - (1.0 - scale) * 0.5 * gamma * aux[2], aux

    return scaled


def _pool_factory(logdensity_fn, size: int):
    """The calibration's log density on a pool of `size` rows, minus its gradient at w* (a linear term).

    A pool of a few thousand rows standing for n rows has its own minimum away from w* (its gradient at w*
    is O(1/sqrt(size)), times n beta), and chains calibrated on it would rush down that slope and diverge at
    large n. The step depends only on the curvature and the minibatch-gradient noise, which a linear term
    leaves unchanged, so the pool's gradient at w* is removed."""

    def factory(cd):
        lf = logdensity_fn(*cd)
        w_star, every = cd[0][0], jnp.arange(size)
        g = jax.grad(lambda p: lf(p, every)[0])(w_star)

        def logdensity(p, idx):
            value, aux = lf(p, idx)
            tilt = sum(jnp.vdot(a, b - c) for a, b, c in zip(jax.tree.leaves(g), jax.tree.leaves(p),
                                                            jax.tree.leaves(w_star)))
            return value - tilt, aux

        return logdensity

    return factory


def sample_mcmc(settings: SamplingSettings, logdensity_fn, position, n, key, *, nbeta, bound,
                observer: Observer | None = None) -> SamplingOutcome:
    """MALA / HMC / NUTS on the full-batch localized target, adapted during the burn-in (unless a step is given)."""
    sampler, num_chains, num_burnin, num_draws = settings.sampler, settings.num_chains, settings.num_burnin, settings.num_draws
    spec = MCMC_SAMPLERS[sampler]
    full = jnp.arange(n)
    logdensity = lambda w: logdensity_fn(w, full)[0]  # noqa: E731
    k_curv, k_adapt, k_chains = jax.random.split(key, 3)
    given = None if settings.auto_step else float(settings.step_size)
    init_step = 1.0
    if given is None:  # start the adaptation at the scale the curvature at w* suggests
        c = top_curvature(logdensity_fn, position, full, k_curv)
        init_step = float(0.5 / c) if sampler == "mala" else float(1.0 / np.sqrt(c))
    adapt = lambda k: spec.adapt(logdensity, position, k, num_burnin, given, init_step,  # noqa: E731
                                 settings.target_accept_prob)
    states, params = jax.jit(jax.vmap(adapt))(jax.random.split(k_adapt, num_chains))
    one = spec.step(logdensity)

    extra_burnin = num_burnin if given is not None else 0  # adaptation already consumed the burn-in

    def step_fn(key, carry, t):
        state, p = carry
        state, stats = one(key, state, p)
        stats.update(draw_stats(logdensity_fn(state.position, full)[1], nbeta, bound))
        return (state, p), _observe(observer, stats, state.position, t, extra_burnin)

    run = run_chains(step_fn, (states, params), jax.random.split(k_chains, num_chains), extra_burnin + num_draws,
                     settings, desc=f"LLC {sampler}", consume=_consumer(observer), consumed_prefix=OBSERVED,
                     checkpoint_settings={"sampler": sampler, "nbeta": float(nbeta), "num_burnin": num_burnin,
                                          **({} if settings.target_accept_prob is None  # earlier checkpoints resume
                                             else {"target_accept_prob": settings.target_accept_prob})},
                     stop_when=stop_rule(settings, extra_burnin))
    per_chain = np.asarray(params["step_size"], dtype=np.float64).reshape(num_chains)
    return SamplingOutcome(run, extra_burnin, float(np.mean(per_chain)), per_chain, None,
                           _outcome_steps(run, extra_burnin + num_draws))


def in_subdirectory(settings: SamplingSettings, name: str) -> SamplingSettings:
    """The settings of a follow-up run (a repair, an extension): its checkpoint, if any, in a subdirectory."""
    if settings.checkpoint is None:
        return settings
    import os

    return settings._replace(checkpoint=os.path.join(os.fspath(settings.checkpoint), name))
