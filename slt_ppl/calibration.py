"""Automatic step size for Langevin kernels, chosen by a warmup before sampling.

Euler-Langevin (SGLD) on a quadratic with curvature c has stationary variance
1/(c (1 - eps c / 4)): a relative bias of about eps c / 4 in that direction, independent of the
dimension, and instability past eps c = 4. So the step is set from the largest curvature the
chains meet, not only at w*:
  1. c = top |eigenvalue| of the Hessian of U = -log density at w* (power iteration on
     Hessian-vector products); eps = kappa / c (kappa = 0.1: about 2.5% bias in the stiffest
     direction, less in the others).
  2. Warmup segments from the current chain states at eps; after each, the curvature at every
     chain's state is measured again. If some chain met a larger curvature, eps shrinks to
     kappa / c_max and another segment runs; a chain that diverges is reset to w* and eps is
     halved. Stops when a segment meets no larger curvature.
The MALA acceptance of the SGLD proposals (devinterp's diagnostic) is recorded for each
segment; the chains' final states are returned so that sampling starts warmed up.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from slt_ppl.samplers import sgld
from slt_ppl.samplers.mala_diagnostic import mala_acceptance

__all__ = ["StepSizeCalibration", "top_curvature", "calibrate_sgld"]


class StepSizeCalibration(NamedTuple):
    step_size: float
    acceptance: float  # mean MALA acceptance of the last warmup segment
    curvature: float  # largest curvature met
    kappa: float
    segments: tuple  # ((eps, max curvature after, acceptance, diverged chains), ...)
    positions: object  # warm chain states (leading chain axis)


def _curvature_fn(logdensity_fn: Callable, position_template, iters: int):
    flat0, unravel = ravel_pytree(position_template)

    def top(position, minibatch, key):
        flat, _ = ravel_pytree(position)

        def grad_flat(x):
            return ravel_pytree(jax.grad(lambda p: logdensity_fn(p, minibatch)[0])(unravel(x)))[0]

        def body(v, _):
            hv = jax.jvp(grad_flat, (flat,), (v,))[1]
            norm = jnp.linalg.norm(hv)
            return hv / jnp.where(norm > 0, norm, 1.0), norm

        v0 = jax.random.normal(key, flat0.shape, flat0.dtype)
        _, norms = jax.lax.scan(body, v0 / jnp.linalg.norm(v0), None, length=iters)
        return norms[-1]

    return top


def top_curvature(logdensity_fn: Callable, position, minibatch, key, iters: int = 30) -> float:
    """Largest |eigenvalue| of the Hessian of -logdensity at `position` by power iteration."""
    return float(jax.jit(_curvature_fn(logdensity_fn, position, iters))(position, minibatch, key))


def _make_segment(logdensity_fn, minibatch_fn, num_steps, curvature):
    kernel = sgld.build_kernel()

    def one_chain(key, position, eps):
        def body(state, k):
            k_batch, k_step = jax.random.split(k)
            batch = minibatch_fn(k_batch)
            grad = jax.grad(lambda p: logdensity_fn(p, batch)[0])(state.position)
            new_state, info = kernel(k_step, state, logdensity_fn, batch, eps)
            acc = mala_acceptance(logdensity_fn, batch, state.position, new_state.position, info.logdensity, grad, eps)
            finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(new_state.position)]))
            return new_state, (acc, finite & jnp.isfinite(info.logdensity))

        k_run, k_batch, k_curv = jax.random.split(key, 3)
        state, (acc, finite) = jax.lax.scan(body, sgld.init(position), jax.random.split(k_run, num_steps))
        diverged = ~jnp.all(finite)
        curv = curvature(state.position, minibatch_fn(k_batch), k_curv)
        return state.position, jnp.mean(acc), diverged, jnp.where(diverged, jnp.inf, curv)

    return jax.jit(jax.vmap(one_chain, in_axes=(0, 0, None)))


def calibrate_sgld(
    logdensity_fn: Callable,
    position,
    minibatch_fn: Callable,
    key,
    *,
    num_chains: int = 4,
    kappa: float = 0.1,
    segment_steps: int = 200,
    max_segments: int = 20,
) -> StepSizeCalibration:
    """Step size eps = kappa / (largest curvature met in warmup) and warm chain states (module doc)."""
    curvature = _curvature_fn(logdensity_fn, position, 30)
    k0, key = jax.random.split(key)
    c_max = float(jax.jit(curvature)(position, minibatch_fn(k0), k0))
    if not np.isfinite(c_max) or c_max <= 0:
        raise ValueError(
            f"the curvature of the potential at params is {c_max}; the loss must be finite and twice "
            "differentiable at params (give localization > 0 if the loss is flat there)"
        )
    eps = kappa / c_max
    segment = _make_segment(logdensity_fn, minibatch_fn, segment_steps, curvature)
    start = jax.tree.map(lambda x: jnp.broadcast_to(x, (num_chains,) + x.shape), position)
    states = start
    history = []
    acc = float("nan")
    for i in range(max_segments):
        keys = jax.random.split(jax.random.fold_in(key, i), num_chains)
        new_states, acc_c, div_c, curv_c = segment(keys, states, jnp.asarray(eps, dtype=jnp.result_type(float)))
        div_c = np.asarray(div_c)
        acc = float(np.mean(np.asarray(acc_c)[~div_c])) if (~div_c).any() else 0.0
        met = float(np.max(np.asarray(curv_c)[~div_c])) if (~div_c).any() else np.inf
        history.append((eps, met, acc, int(div_c.sum())))
        keep = jnp.asarray(~div_c).reshape((num_chains,))
        states = jax.tree.map(
            lambda new, old: jnp.where(keep.reshape((-1,) + (1,) * (new.ndim - 1)), new, old), new_states, start
        )
        if div_c.any():
            eps = min(eps, kappa / met) * 0.5 if np.isfinite(met) else eps * 0.5
            continue
        if met * eps <= kappa * 1.05:
            return StepSizeCalibration(float(eps), acc, max(c_max, met), kappa, tuple(history), states)
        c_max = max(c_max, met)
        eps = kappa / c_max
    raise RuntimeError(
        f"step-size calibration did not settle after {max_segments} warmup segments "
        f"(history eps, curvature, acceptance, diverged: {history[-3:]}); the curvature keeps growing "
        "away from params: use a larger localization, or pass step_size explicitly"
    )
