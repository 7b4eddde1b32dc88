"""MALA acceptance probability of a Langevin proposal: the step-size diagnostic for SGLD.

U = -log density. For the proposal w' = w - (eps/2) grad U(w) + sqrt(eps) eta,
    log q(w'|w) = -||w' - w + (eps/2) grad U(w)||^2 / (2 eps),
    A = min{1, exp[U(w) - U(w') + log q(w|w') - log q(w'|w)]}
(devinterp `slt/mala.py`; Lau et al. 2023). A healthy chain has mean A near 0.9; near 0 means
eps is too large. Both points are evaluated on the same minibatch.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from slt_ppl.trees import sq_norm

__all__ = ["mala_acceptance"]


def mala_acceptance(
    logdensity_fn: Callable, minibatch, position, new_position, logdensity, grad, step_size
) -> jax.Array:
    """Acceptance probability of moving from `position` to `new_position` (grad = grad log density)."""
    (new_logdensity, _), new_grad = jax.value_and_grad(logdensity_fn, has_aux=True)(new_position, minibatch)
    half = 0.5 * step_size
    fwd = jax.tree.map(lambda w1, w0, g0: w1 - w0 - half * g0, new_position, position, grad)
    bwd = jax.tree.map(lambda w0, w1, g1: w0 - w1 - half * g1, position, new_position, new_grad)
    log_ratio = new_logdensity - logdensity + (sq_norm(fwd) - sq_norm(bwd)) / (2.0 * step_size)
    accept = jnp.exp(jnp.minimum(0.0, log_ratio))
    return jnp.where(jnp.isfinite(accept), accept, 0.0)
