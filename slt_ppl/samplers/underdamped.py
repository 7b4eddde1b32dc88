"""SGHMC and SGNHT on BlackJAX's diffusion solvers, as (init, step) pairs with value_and_grad.

BlackJAX's solvers (`blackjax.sgmcmc.diffusions.sghmc` / `sgnht`, Ma et al. 2015 scaling) step
    x <- x + h p,  p <- (1 - alpha h) p + h grad log p(x) + sqrt(2 alpha h) N(0, I)
(SGNHT replaces alpha h by a thermostat xi h). Here `step_size` is BlackJAX's h, not the SGLD eps:
a second-order scheme whose bias is about h^2 c / 4 for curvature c, so the calibration sets
h = sqrt(kappa / c). BlackJAX's SGHMC kernel resamples the momentum every call and returns only
the position; these keep the momentum as state (one solver step per draw, friction alpha), so
one draw costs one gradient, like SGLD, and the kernel also returns the log density it evaluated.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from blackjax.sgmcmc.diffusions import sghmc as sghmc_solver
from blackjax.sgmcmc.diffusions import sgnht as sgnht_solver

from blackjax.util import generate_gaussian_noise

__all__ = ["MomentumState", "init_sghmc", "init_sgnht", "build_sghmc_kernel", "build_sgnht_kernel"]


class MomentumState(NamedTuple):
    position: Any
    momentum: Any
    xi: jax.Array  # thermostat (SGNHT); the fixed friction alpha for SGHMC


class MomentumInfo(NamedTuple):
    logdensity: jax.Array
    grad_norm: jax.Array
    aux: Any


def _init(position, key, xi) -> MomentumState:
    return MomentumState(position, generate_gaussian_noise(key, position), jnp.asarray(xi, jnp.float32))


def init_sghmc(position, key, alpha: float = 0.1) -> MomentumState:
    return _init(position, key, alpha)


def init_sgnht(position, key, alpha: float = 0.1) -> MomentumState:
    return _init(position, key, alpha)


def _value_and_grad(logdensity_fn, position, minibatch):
    (logdensity, aux), grad = jax.value_and_grad(logdensity_fn, has_aux=True)(position, minibatch)
    return logdensity, aux, grad, jnp.sqrt(sum(jnp.sum(g * g) for g in jax.tree.leaves(grad)))


def build_sghmc_kernel(alpha: float = 0.1) -> Callable:
    solver = sghmc_solver(alpha=alpha)

    def kernel(rng_key, state: MomentumState, logdensity_fn: Callable, minibatch, step_size):
        logdensity, aux, grad, gnorm = _value_and_grad(logdensity_fn, state.position, minibatch)
        position, momentum = solver(rng_key, state.position, state.momentum, grad, step_size)
        return MomentumState(position, momentum, state.xi), MomentumInfo(logdensity, gnorm, aux)

    return kernel


def build_sgnht_kernel(alpha: float = 0.1) -> Callable:
    solver = sgnht_solver(alpha=alpha)

    def kernel(rng_key, state: MomentumState, logdensity_fn: Callable, minibatch, step_size):
        logdensity, aux, grad, gnorm = _value_and_grad(logdensity_fn, state.position, minibatch)
        position, momentum, xi = solver(rng_key, state.position, state.momentum, state.xi, grad, step_size)
        return MomentumState(position, momentum, xi), MomentumInfo(logdensity, gnorm, aux)

    return kernel
