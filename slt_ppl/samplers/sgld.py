"""Stochastic-gradient Langevin dynamics as a BlackJAX-style (init, step) pair.

Step-size convention (reference sheet section 1, as in Lau et al. and devinterp):
    w_{t+1} = w_t + (eps/2) * grad log p(w_t) + sqrt(eps) * eta_t,   eta_t ~ N(0, I)
so `step_size` is eps, the variance of the injected noise. BlackJAX's `overdamped_langevin`
solver steps x + h grad log p + sqrt(2h) xi, i.e. h = eps / 2: the conversion happens here
and nowhere else. The kernel knows nothing of models: it takes a function
`logdensity_fn(position, minibatch) -> (log density, aux)` and differentiates it.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from blackjax.sgmcmc.diffusions import overdamped_langevin

__all__ = ["SGLDState", "SGLDInfo", "init", "build_kernel", "to_blackjax_step_size"]


class SGLDState(NamedTuple):
    position: Any


class SGLDInfo(NamedTuple):
    logdensity: jax.Array  # log density at the *pre-step* position, on this minibatch
    grad_norm: jax.Array
    aux: Any  # whatever logdensity_fn returned beside the log density
    grad: Any  # gradient of the log density at the pre-step position (for the MALA diagnostic)


def to_blackjax_step_size(eps):
    """Paper / devinterp eps (noise variance) -> BlackJAX overdamped-Langevin h = eps / 2."""
    return 0.5 * eps


def init(position) -> SGLDState:
    return SGLDState(position)


def build_kernel() -> Callable:
    solver = overdamped_langevin()

    def kernel(rng_key, state: SGLDState, logdensity_fn: Callable, minibatch, step_size):
        (logdensity, aux), grad = jax.value_and_grad(logdensity_fn, has_aux=True)(state.position, minibatch)
        new_position = solver(rng_key, state.position, grad, to_blackjax_step_size(step_size))
        grad_norm = jnp.sqrt(sum(jnp.sum(g * g) for g in jax.tree.leaves(grad)))
        return SGLDState(new_position), SGLDInfo(logdensity, grad_norm, aux, grad)

    return kernel
