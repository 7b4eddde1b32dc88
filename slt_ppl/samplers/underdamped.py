"""SGHMC and SGNHT as (init, step) pairs with value_and_grad, in semi-implicit (symplectic) order.

Both follow Ma et al. (2015)'s scaling, as BlackJAX's `blackjax.sgmcmc.diffusions.sghmc/sgnht`:
    p <- (1 - xi h) p + h grad log p(x) + sqrt(2 alpha h) N(0, I),   x <- x + h p,
with xi = alpha (SGHMC, fixed friction) or a Nose-Hoover thermostat xi <- xi + h (p.p/d - 1)
(SGNHT, Ding et al. 2014). Difference from BlackJAX, on purpose: BlackJAX moves x with the *old*
momentum (explicit Euler), which amplifies every oscillation by sqrt(1 + h^2 c) per step; BlackJAX's
SGHMC hides that by resampling the momentum every call. Here the momentum is updated first and
kept as state (one gradient per draw, like SGLD), which is stable for h sqrt(c) < 2.
`step_size` is h, not the SGLD eps; the calibration sets h = sqrt(kappa / c) (bias ~ h^2 c / 4).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from blackjax.util import generate_gaussian_noise

from slt_ppl.trees import sq_norm

__all__ = ["MomentumState", "init_sghmc", "init_sgnht", "build_sghmc_kernel", "build_sgnht_kernel"]


class MomentumState(NamedTuple):
    position: Any
    momentum: Any
    xi: jax.Array  # friction: fixed alpha (SGHMC) or the thermostat (SGNHT)


class MomentumInfo(NamedTuple):
    logdensity: jax.Array
    grad_norm: jax.Array
    aux: Any


def _init(position, key, xi) -> MomentumState:
    return MomentumState(position, generate_gaussian_noise(key, position), jnp.asarray(xi, jnp.result_type(float)))


def init_sghmc(position, key, alpha: float = 1.0) -> MomentumState:
    return _init(position, key, alpha)


def init_sgnht(position, key, alpha: float = 1.0) -> MomentumState:
    return _init(position, key, alpha)


def _build(alpha: float, thermostat: bool) -> Callable:
    def kernel(rng_key, state: MomentumState, logdensity_fn: Callable, minibatch, step_size):
        (logdensity, aux), grad = jax.value_and_grad(logdensity_fn, has_aux=True)(state.position, minibatch)
        noise = generate_gaussian_noise(rng_key, state.position)
        scale = jnp.sqrt(2.0 * alpha * step_size)
        momentum = jax.tree.map(
            lambda p, g, z: (1.0 - state.xi * step_size) * p + step_size * g + scale * z, state.momentum, grad, noise
        )
        position = jax.tree.map(lambda x, p: x + step_size * p, state.position, momentum)
        xi = state.xi
        if thermostat:
            leaves = jax.tree.leaves(momentum)
            kinetic = sq_norm(leaves) / sum(p.size for p in leaves)
            xi = xi + step_size * (kinetic - 1.0)
        grad_norm = jnp.sqrt(sq_norm(grad))
        return MomentumState(position, momentum, xi), MomentumInfo(logdensity, grad_norm, aux)

    return kernel


def build_sghmc_kernel(alpha: float = 1.0) -> Callable:
    return _build(alpha, thermostat=False)


def build_sgnht_kernel(alpha: float = 1.0) -> Callable:
    return _build(alpha, thermostat=True)
