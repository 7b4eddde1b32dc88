"""Stochastic-gradient Langevin dynamics as a BlackJAX-style (init, step) pair.

Step-size convention (Lau et al., arXiv 2308.12108, and devinterp):
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
from jax.flatten_util import ravel_pytree

from slt_ppl.trees import sq_norm

__all__ = ["SGLDState", "SGLDInfo", "init", "build_kernel", "to_blackjax_step_size", "gaussian_noise"]

NOISE_BLOCK = 2**16  # positions larger than this draw their noise in blocks of this many numbers


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


def gaussian_noise(rng_key, position):
    """N(0, I) shaped like `position`.

    Up to NOISE_BLOCK numbers this is BlackJAX's generate_gaussian_noise (one draw over the
    flattened position), so the numbers are BlackJAX's. A larger position gets its noise leaf by
    leaf, in blocks of NOISE_BLOCK numbers from keys split off `rng_key`. Threefry's intermediate
    arrays then stay in cache: on a CPU, noise for 4 x 1e7 parameters takes 250 ms instead of 490 ms,
    and it was as costly as the gradient. The result is the same distribution from another stream.
    """
    flat, unravel = ravel_pytree(position)
    if flat.size <= NOISE_BLOCK:
        return unravel(jax.random.normal(rng_key, flat.shape, flat.dtype))
    leaves, treedef = jax.tree.flatten(position)

    def blocked(key, leaf):
        size = max(int(leaf.size), 1)
        nb = -(-size // NOISE_BLOCK)
        blocks = jax.lax.map(lambda k: jax.random.normal(k, (NOISE_BLOCK,), leaf.dtype), jax.random.split(key, nb))
        return blocks.reshape(-1)[: leaf.size].reshape(leaf.shape)

    keys = jax.random.split(rng_key, len(leaves))
    return jax.tree.unflatten(treedef, [blocked(keys[i], leaf) for i, leaf in enumerate(leaves)])


def build_kernel() -> Callable:
    def kernel(rng_key, state: SGLDState, logdensity_fn: Callable, minibatch, step_size):
        (logdensity, aux), grad = jax.value_and_grad(logdensity_fn, has_aux=True)(state.position, minibatch)
        # BlackJAX's overdamped-Langevin Euler step (blackjax.sgmcmc.diffusions), with the noise above
        h = to_blackjax_step_size(step_size)
        noise = gaussian_noise(rng_key, state.position)
        new_position = jax.tree.map(lambda p, g, n: p + h * g + jnp.sqrt(2 * h) * n, state.position, grad, noise)
        grad_norm = jnp.sqrt(sq_norm(grad))
        return SGLDState(new_position), SGLDInfo(logdensity, grad_norm, aux, grad)

    return kernel
