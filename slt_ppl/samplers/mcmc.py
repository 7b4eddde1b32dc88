"""Full-batch Metropolis kernels from BlackJAX (MALA, HMC, NUTS) with warmup adaptation.

Each sampler is a pair: `adapt(logdensity, position, key, num_steps, step_size)` returns a warm
state and the kernel parameters (step size, inverse mass matrix) of one chain; `step(key, state,
params)` is one transition. HMC and NUTS adapt by BlackJAX's Stan-style window adaptation
(target acceptance 0.8); MALA has none in BlackJAX, so its step size is tuned by BlackJAX's dual
averaging to the optimal-scaling acceptance 0.574 (Roberts & Rosenthal 1998). A given float step
size skips adaptation (unit mass matrix). BlackJAX's MALA uses h = eps/2 in the SGLD convention:
its proposal is x + h grad log p + sqrt(2h) xi, and `step_size` here is BlackJAX's h.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import blackjax
import jax
import jax.numpy as jnp
from blackjax.adaptation.step_size import dual_averaging_adaptation
from jax.flatten_util import ravel_pytree

__all__ = ["MCMCSpec", "MCMC_SAMPLERS"]

HMC_INTEGRATION_STEPS = 16
WINDOW_TARGET = 0.8  # HMC/NUTS window adaptation's acceptance target (BlackJAX's, NumPyro's default)
MALA_TARGET = 0.574  # MALA's optimal acceptance (Roberts & Rosenthal, JRSS B 60 (1998))
# Vectorised chains wait for the longest tree among them: cap NUTS trajectories at 2^7 = 128 steps
# (Stan's default is 2^10); localized LLC targets are well conditioned enough after mass adaptation.
NUTS_MAX_DOUBLINGS = 7


class MCMCSpec(NamedTuple):
    adapt: Callable
    step: Callable


def _unit_mass(position):
    return jnp.ones_like(ravel_pytree(position)[0])


def _window(algorithm, **extra):
    def adapt(logdensity, position, key, num_steps, step_size=None, initial_step_size=1.0, target=None):
        if step_size is not None:
            params = {"step_size": jnp.asarray(step_size, jnp.result_type(float)), "inverse_mass_matrix": _unit_mass(position)}
            return algorithm.init(position, logdensity), params
        warmup = blackjax.window_adaptation(
            algorithm, logdensity, target_acceptance_rate=WINDOW_TARGET if target is None else float(target),
            initial_step_size=initial_step_size, **extra
        )
        (state, params), _ = warmup.run(key, position, num_steps=max(int(num_steps), 20))
        return state, params

    def step(logdensity):
        def one(key, state, params):
            kernel = algorithm(logdensity, **{**params, **extra})  # static settings win over vmapped copies
            state, info = kernel.step(key, state)
            stats = {"acceptance": info.acceptance_rate, "divergent": info.is_divergent.astype(jnp.result_type(float))}
            if hasattr(info, "num_integration_steps"):
                stats["num_integration_steps"] = jnp.asarray(info.num_integration_steps, jnp.result_type(float))
            return state, stats

        return one

    return MCMCSpec(adapt, step)


def _mala():
    def adapt(logdensity, position, key, num_steps, step_size=None, initial_step_size=1e-3, target=None):
        state = blackjax.mala.init(position, logdensity)
        if step_size is not None:
            return state, {"step_size": jnp.asarray(step_size, jnp.result_type(float))}
        da_init, da_update, da_final = dual_averaging_adaptation(target=MALA_TARGET if target is None else float(target))
        kernel = blackjax.mala.build_kernel()

        def body(carry, k):
            state, da = carry
            state, info = kernel(k, state, logdensity, jnp.exp(da.log_step_size))
            return (state, da_update(da, info.acceptance_rate)), None

        da0 = da_init(initial_step_size)
        (state, da), _ = jax.lax.scan(body, (state, da0), jax.random.split(key, max(int(num_steps), 20)))
        return state, {"step_size": da_final(da)}

    def step(logdensity):
        kernel = blackjax.mala.build_kernel()

        def one(key, state, params):
            state, info = kernel(key, state, logdensity, params["step_size"])
            return state, {"acceptance": info.acceptance_rate, "divergent": jnp.zeros((), jnp.result_type(float))}

        return one

    return MCMCSpec(adapt, step)


MCMC_SAMPLERS = {
    "mala": _mala(),
    "hmc": _window(blackjax.hmc, num_integration_steps=HMC_INTEGRATION_STEPS),
    "nuts": _window(blackjax.nuts, max_num_doublings=NUTS_MAX_DOUBLINGS),
}
