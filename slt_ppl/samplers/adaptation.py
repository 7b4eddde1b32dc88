"""Automatic step size for stochastic-gradient kernels, chosen by a warmup before sampling.

Euler-Langevin (SGLD) on a quadratic with curvature c has stationary variance
1/(c (1 - eps c / 4)): a relative bias of about eps c / 4 in that direction, independent of the
dimension, and instability past eps c = 4. So the step is set from the largest curvature the
chains meet, not only at w*:
  1. c = top |eigenvalue| of the Hessian of U = -log density at w* (power iteration on
     Hessian-vector products; with a preconditioner P, of P^1/2 H P^1/2); the step is
     spec.step_from_curvature(c, kappa) (kappa = 0.1: about 2.5% bias in the stiffest direction).
  2. Warmup segments from the current chain states; after each, the curvature is measured again
     at every chain's state. If it asks for a smaller step, the segment's states are discarded
     (a too-large step throws chains into unrepresentative regions) and it reruns at that step;
     if it allows a step over 25% larger, the step grows to the geometric mean. A chain that diverges
     restarts from w* and the step halves. Stops at the first segment whose step fits.
  3. With minibatches, the gradient noise is measured at the warm states (variance v along the
     top principal direction of the minibatch gradients, by sample splitting over 16 batches)
     and the step is lowered until that noise
     adds at most a fraction kappa to the injected noise (SGLD: eps v / 4 <= kappa). Near
     singularities the gradient noise is not the curvature, so this is a separate check.
     The bound on the bias eps tr(Sigma) / 8 of a quadratic is the larger of 0.25 (absolute) and
     NOISE_SHARE = 1% of the pilot estimate (the warmup's last segment's mean n beta (L - L*), which
     under-reads, so the bound errs small). An absolute bound alone starved large models: on a DLN with
     d = 16 000 (lambda 1 650, batch 500) it set the step 40x below the curvature step, and 8 000 steps
     there left the chains at -20%; at half the curvature step they read -2.7%. The relative bound leaves
     the step to the curvature, which the sampling then checks where the chains went (4.).
  4. The chains drift along the degenerate directions (on DLNs |w|^2 grew 7-15x over a default run), and
     the curvature grows with them: at the chains' final states it was 10-40x the one at w*, so a step
     that fits the warmup does not fit the draws. `measure` gives the top curvature at any states, and
     llc/sampling.py repeats the run while eps c at the end of the run exceeds FIT_LIMIT, at the smaller of
     half the step and the step that fits the curvature reached (eps c_end = FIT_LIMIT) (a random 1K DLN,
     lambda 93.5: eps c_end 2.6 read +20%, 0.46 read +1.9%, 0.2 read +0.3%; a d = 16 000 DLN: 2.2 read +10%,
     0.84 read -2.7%).
For first-order kernels the MALA acceptance of the proposals (devinterp's diagnostic) is recorded
per segment. The chains' final states are returned so that sampling starts warmed up.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from slt_ppl.caching import LRUCache
from slt_ppl.samplers.mala_diagnostic import mala_acceptance
from slt_ppl.trees import broadcast_leading, where_leading

__all__ = ["StepSizeCalibration", "top_curvature", "calibrate_sg", "NOISE_SHARE", "FIT_LIMIT"]

NOISE_SHARE = 0.01  # minibatch-noise bias (quadratic model) allowed, as a share of the pilot estimate
FIT_LIMIT = 1.0  # eps c at the chains' final states (first-order kernels) above which the step is halved


class StepSizeCalibration(NamedTuple):
    step_size: float
    acceptance: float  # mean MALA acceptance of the last warmup segment (NaN if not first order)
    curvature: float  # curvature the step was set from
    kappa: float
    segments: tuple  # ((step, curvature met, acceptance, diverged chains), ...)
    states: object  # warm kernel states (leading chain axis)
    pilot: float = float("nan")  # mean n beta (L - L*) of the last warmup segment (under-reads the llc)
    measure: Callable | None = None  # (states, key) -> (chains,) top curvature at each chain's state


def _curvature_fn(factory: Callable, position_template, iters: int = 30):
    """(consts, position, minibatch, key, precond) -> top |eigenvalue| of the Hessian of -factory(consts)."""
    flat0, unravel = ravel_pytree(position_template)

    def top(consts, position, minibatch, key, precond=None):
        logdensity_fn = factory(consts)
        flat, _ = ravel_pytree(position)
        scale = jnp.sqrt(ravel_pytree(precond)[0]) if precond is not None else jnp.ones_like(flat)

        def grad_flat(x):
            return ravel_pytree(jax.grad(lambda p: logdensity_fn(p, minibatch)[0])(unravel(x)))[0]

        def body(v, _):
            hv = scale * jax.jvp(grad_flat, (flat,), (scale * v,))[1]
            norm = jnp.linalg.norm(hv)
            return hv / jnp.where(norm > 0, norm, 1.0), norm

        v0 = jax.random.normal(key, flat0.shape, flat0.dtype)
        _, norms = jax.lax.scan(body, v0 / jnp.linalg.norm(v0), None, length=iters)
        return norms[-1]

    return top


def top_curvature(logdensity_fn: Callable, position, minibatch, key, iters: int = 30) -> float:
    """Largest |eigenvalue| of the Hessian of -logdensity at `position` by power iteration."""
    return float(jax.jit(_curvature_fn(lambda _: logdensity_fn, position, iters))(None, position, minibatch, key))


def _make_segment(spec, factory, minibatch_fn, num_steps, curvature, max_potential, observable):
    kernel = spec.build_kernel()

    def one_chain(key, state, step, consts):
        logdensity_fn = factory(consts)

        def body(state, k):
            k_batch, k_step = jax.random.split(k)
            batch = minibatch_fn(k_batch)
            new_state, info = kernel(k_step, state, logdensity_fn, batch, step)
            if spec.first_order:
                acc = mala_acceptance(logdensity_fn, batch, state.position, new_state.position, info.logdensity, info.grad, step)
            else:
                acc = jnp.nan
            finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(new_state.position)]))
            sane = jnp.isfinite(info.logdensity) & (info.logdensity > -max_potential)
            obs = observable(info) if observable is not None else jnp.nan
            return new_state, (acc, finite & sane, obs)

        k_run, k_batch, k_curv = jax.random.split(key, 3)
        state, (acc, finite, obs) = jax.lax.scan(body, state, jax.random.split(k_run, num_steps))
        diverged = ~jnp.all(finite)
        precond = spec.precondition(state) if spec.precondition is not None else None
        curv = curvature(consts, state.position, minibatch_fn(k_batch), k_curv, precond)
        return state, jnp.mean(acc), diverged, jnp.where(diverged, jnp.inf, curv), jnp.mean(obs[num_steps // 2 :])

    return jax.jit(jax.vmap(one_chain, in_axes=(0, 0, None, None)))


def _make_noise_trace(spec, factory, minibatch_fn, num_batches: int = 8):
    """(consts, states, keys) -> tr(P Sigma) per chain: the summed per-coordinate variance of the
    (preconditioned) minibatch gradient, unbiased from `num_batches` batches at each warm state."""

    def one_chain(state, k, consts):
        logdensity_fn = factory(consts)
        grads = jax.vmap(lambda kb: ravel_pytree(jax.grad(lambda p: logdensity_fn(p, minibatch_fn(kb))[0])(state.position))[0])(
            jax.random.split(k, num_batches)
        )
        var = jnp.var(grads, axis=0, ddof=1)
        if spec.precondition is not None:
            var = var * ravel_pytree(spec.precondition(state))[0]
        return jnp.sum(var)

    return jax.jit(jax.vmap(one_chain, in_axes=(0, 0, None)))


_CALIBRATION_CACHE = LRUCache(8)  # cache_key -> (curvature, segment, noise trace), compiled


def _compiled(spec, factory, position, minibatch_fn, segment_steps, max_potential, observable, cache_key, cache_refs):
    """The jitted curvature, warmup segment and noise trace; with a cache_key, those an earlier call made."""

    def make():
        curvature = _curvature_fn(factory, position)
        return (jax.jit(curvature),
                _make_segment(spec, factory, minibatch_fn, segment_steps, curvature, max_potential, observable),
                _make_noise_trace(spec, factory, minibatch_fn))

    return _CALIBRATION_CACHE.get_or_make(cache_key, make, refs=cache_refs)


def _measure(spec, curvature, minibatch_fn, consts, num_chains):
    """(states, key) -> (chains,) top curvature (of P^1/2 H P^1/2 with a preconditioner) at each state."""

    def measure(states, key):
        out, count = [], jax.tree.leaves(states)[0].shape[0]
        keys = jax.random.split(key, num_chains)
        if count != num_chains:  # more states than calibrated chains (partner chains): the first keep their keys
            keys = jnp.concatenate([keys[:count], jax.random.split(jax.random.fold_in(key, 1), max(0, count - num_chains))])
        for c, k in enumerate(keys):
            state = jax.tree.map(lambda x: x[c], states)
            kb, kc = jax.random.split(k)
            if spec.precondition is None:  # the call signature the calibration compiled (no retrace)
                out.append(float(curvature(consts, state.position, minibatch_fn(kb), kc)))
            else:
                out.append(float(curvature(consts, state.position, minibatch_fn(kb), kc, spec.precondition(state))))
        return np.asarray(out)

    return measure


def calibrate_sg(
    spec,
    logdensity_fn: Callable,
    position,
    minibatch_fn: Callable,
    key,
    *,
    num_chains: int = 4,
    kappa: float = 0.1,
    max_potential: float = np.inf,
    minibatched: bool = False,
    observable: Callable | None = None,
    noise_bias: float = 0.25,
    segment_steps: int = 200,
    max_segments: int = 25,
    consts=None,
    cache_key=None,
    cache_refs=None,
) -> StepSizeCalibration:
    """The step of `spec` (a registry SGSpec) from the largest curvature met in warmup (module doc).

    consts: when given, `logdensity_fn(consts)` is the log density (w* and the like are arguments of
    the compiled functions, not constants in them), and with a `cache_key` naming everything else
    the functions close over, a later call reuses the compiled calibration (`cache_refs` kept alive).
    """
    factory = logdensity_fn if consts is not None else (lambda _: logdensity_fn)
    key_parts = None if cache_key is None else (cache_key, segment_steps, float(max_potential))
    curvature, segment, noise_trace = _compiled(spec, factory, position, minibatch_fn, segment_steps, max_potential,
                                                observable, key_parts, cache_refs)
    k0, k_init, key = jax.random.split(key, 3)
    c_ref = float(curvature(consts, position, minibatch_fn(k0), k0))
    if not np.isfinite(c_ref) or c_ref <= 0:
        raise ValueError(
            f"the curvature of the potential at params is {c_ref}; the loss must be finite and twice "
            "differentiable at params (give localization > 0 if the loss is flat there)"
        )
    step = spec.step_from_curvature(c_ref, kappa)
    start = jax.vmap(spec.init)(broadcast_leading(position, num_chains), jax.random.split(k_init, num_chains))
    states, history, too_large = start, [], np.inf
    for i in range(max_segments):
        keys = jax.random.split(jax.random.fold_in(key, i), num_chains)
        new_states, acc_c, div_c, curv_c, obs_c = segment(keys, states, jnp.asarray(step, dtype=jnp.result_type(float)),
                                                          consts)
        div_c = np.asarray(div_c)
        ok = ~div_c
        acc = float(np.mean(np.asarray(acc_c)[ok])) if ok.any() else 0.0
        met = float(np.max(np.asarray(curv_c)[ok])) if ok.any() else np.inf
        history.append((step, met, acc, int(div_c.sum())))
        obs_ok = np.asarray(obs_c)[ok]
        pilot = float(np.nanmean(obs_ok)) if obs_ok.size and np.isfinite(obs_ok).any() else float("nan")
        if div_c.any():  # diverged chains restart from w*, the step halves
            states = where_leading(jnp.asarray(ok), new_states, start)
            step = min(step, spec.step_from_curvature(met, kappa)) * 0.5 if np.isfinite(met) else step * 0.5
            continue
        new_step = spec.step_from_curvature(met, kappa)
        if new_step < step / 1.05:
            # the step was too large for the curvature this segment met: its states may have been
            # thrown into unrepresentative regions, so discard them and retry with the smaller step
            too_large, step = min(too_large, step), new_step
            continue
        states = new_states
        if new_step > step * 1.25 and step * 1.25 < too_large:  # room to grow, below any step that failed
            step = float(min(np.sqrt(step * new_step), np.sqrt(step * too_large)))
            continue
        if minibatched:
            traces = noise_trace(states, jax.random.split(jax.random.fold_in(key, 10_000 + i), num_chains), consts)
            trace = float(jnp.max(traces))
            allowed = max(noise_bias, NOISE_SHARE * pilot) if np.isfinite(pilot) else noise_bias
            noise_step = spec.step_from_noise(trace, allowed)
            history.append(("minibatch noise: tr(Sigma), step", trace, noise_step))
            step = min(step, noise_step)
        return StepSizeCalibration(float(step), acc, met, kappa, tuple(history), states, pilot,
                                   _measure(spec, curvature, minibatch_fn, consts, num_chains))
    raise RuntimeError(
        f"step-size calibration did not settle after {max_segments} warmup segments "
        f"(last (step, curvature, acceptance, diverged): {history[-3:]}); the curvature keeps changing "
        "away from params: use a larger localization, or pass step_size explicitly"
    )
