"""RMSProp-preconditioned SGLD as a BlackJAX-style (init, step) pair (BlackJAX has none).

Hitchcock & Hoogland, "From Global to Local: A Scalable Benchmark for Local Posterior Sampling",
arXiv 2507.21449 (transcribed from secondary sources, not checked against the paper's text):
    v_t = alpha v_{t-1} + (1 - alpha) g_t^2,  v_hat_t = v_t / (1 - alpha^{t+1}),
    eps_t = eps / (sqrt(v_hat_t) + a)   (per coordinate),
    w_{t+1} = w_t + (eps_t / 2) grad log p(w_t) + sqrt(eps_t) eta_t.
Differences from the sheet, on purpose: g_t is the gradient of the whole log density (drift
including the localization) rather than of L_m alone, so the preconditioner is a pure
transformation of whatever the kernel is given; v starts at 0 with Adam's bias correction.
The two differ by the constant factor n beta in g, which the calibrated eps absorbs; for the same
reason a = 1 (not 1e-8): on the n beta scale it only caps the step of directions whose gradient
vanishes (flat, degenerate directions), which 1e-8 would let explode. The
divergence term of a position-dependent preconditioner is neglected, as in pSGLD (Li et al. 2016).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from blackjax.util import generate_gaussian_noise

from slt_ppl.trees import sq_norm

__all__ = ["RMSPropSGLDState", "init", "build_kernel", "preconditioner"]


class RMSPropSGLDState(NamedTuple):
    position: Any
    square_avg: Any  # v_t, same pytree as position
    count: jax.Array  # t


class RMSPropSGLDInfo(NamedTuple):
    logdensity: jax.Array
    grad_norm: jax.Array
    aux: Any


def init(position) -> RMSPropSGLDState:
    return RMSPropSGLDState(position, jax.tree.map(jnp.zeros_like, position), jnp.zeros((), jnp.int32))


def preconditioner(state: RMSPropSGLDState, alpha: float = 0.99, a: float = 1.0):
    """Per-coordinate factor 1 / (sqrt(v_hat) + a) of the current state (ones before the first step)."""
    correction = 1.0 - alpha ** jnp.maximum(state.count, 1).astype(jnp.result_type(float))
    started = state.count > 0
    return jax.tree.map(lambda v: jnp.where(started, 1.0 / (jnp.sqrt(v / correction) + a), 1.0), state.square_avg)


def build_kernel(alpha: float = 0.99, a: float = 1.0) -> Callable:
    def kernel(rng_key, state: RMSPropSGLDState, logdensity_fn: Callable, minibatch, step_size):
        (logdensity, aux), grad = jax.value_and_grad(logdensity_fn, has_aux=True)(state.position, minibatch)
        square_avg = jax.tree.map(lambda v, g: alpha * v + (1 - alpha) * g * g, state.square_avg, grad)
        new = RMSPropSGLDState(state.position, square_avg, state.count + 1)
        precond = preconditioner(new, alpha, a)
        noise = generate_gaussian_noise(rng_key, state.position)
        position = jax.tree.map(
            lambda w, g, p, z: w + 0.5 * step_size * p * g + jnp.sqrt(step_size * p) * z,
            state.position, grad, precond, noise,
        )
        grad_norm = jnp.sqrt(sq_norm(grad))
        return new._replace(position=position), RMSPropSGLDInfo(logdensity, grad_norm, aux)

    return kernel
