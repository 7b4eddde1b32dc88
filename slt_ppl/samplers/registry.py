"""The samplers estimate_llc can run, by name, and how each one's step size relates to curvature.

Stochastic-gradient kernels ("sg") take a minibatch and a log density returning (value, aux);
Metropolis kernels ("mcmc") run full batch with BlackJAX's adaptation (samplers/mcmc.py).
`step_from_curvature(c, kappa)` maps the largest curvature met to the kernel's step: eps = kappa/c
for first-order Langevin (bias ~ eps c / 4), h = sqrt(kappa / c) for the second-order momentum
schemes (bias ~ h^2 c / 4).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Optional

from slt_ppl.samplers import rmsprop_sgld, sgld, underdamped
from slt_ppl.samplers.mcmc import MCMC_SAMPLERS

__all__ = ["SGSpec", "SG_SAMPLERS", "SAMPLERS", "MCMC_SAMPLERS", "STEP_SIZE_CONVENTIONS"]


class SGSpec(NamedTuple):
    init: Callable  # (position, key) -> state
    build_kernel: Callable  # () -> kernel(key, state, logdensity_fn, minibatch, step_size)
    step_from_curvature: Callable  # (c, kappa) -> step size
    precondition: Optional[Callable]  # state -> per-coordinate factor, or None
    first_order: bool  # the MALA acceptance of its proposal is a meaningful diagnostic
    # (tr Sigma, allowed bias) -> largest step whose minibatch-gradient noise biases the estimate
    # by at most that much: SGLD bias = eps tr(Sigma) / 8 (adaptation.py, step 3)
    step_from_noise: Callable = lambda trace, bias: 8.0 * bias / trace

    def scale_step(self, step, factor):
        """The step whose bias/stability is `factor` times that of `step` (eps c, or h^2 c)."""
        return step * factor if self.first_order or self.precondition is not None else step * factor**0.5


SG_SAMPLERS = {
    "sgld": SGSpec(lambda w, k: sgld.init(w), sgld.build_kernel, lambda c, kappa: kappa / c, None, True),
    "rmsprop_sgld": SGSpec(
        lambda w, k: rmsprop_sgld.init(w), rmsprop_sgld.build_kernel, lambda c, kappa: kappa / c,
        rmsprop_sgld.preconditioner, False,
    ),
    # momentum schemes (friction alpha = 1): bias = h tr(Sigma) / (4 alpha)
    "sghmc": SGSpec(underdamped.init_sghmc, underdamped.build_sghmc_kernel, lambda c, kappa: math.sqrt(kappa / c), None,
                    False, lambda trace, bias: 4.0 * bias / trace),
    "sgnht": SGSpec(underdamped.init_sgnht, underdamped.build_sgnht_kernel, lambda c, kappa: math.sqrt(kappa / c), None,
                    False, lambda trace, bias: 4.0 * bias / trace),
}

SAMPLERS = tuple(SG_SAMPLERS) + tuple(MCMC_SAMPLERS)

# what `step_size` means for each kernel (recorded in every DataTree's attrs)
STEP_SIZE_CONVENTIONS = {
    "sgld": "eps: noise variance eps, drift (eps/2) grad log p (Lau et al. 2023; BlackJAX h = eps/2)",
    "rmsprop_sgld": "eps before preconditioning: per coordinate eps_i = eps / (sqrt(v_hat_i) + a), noise variance "
                    "eps_i, drift (eps_i/2) grad log p",
    "sghmc": "h: BlackJAX's SGHMC step; momentum updated first (semi-implicit), friction alpha = 1, noise variance 2 alpha h",
    "sgnht": "h: BlackJAX's SGNHT step; momentum updated first (semi-implicit), thermostat xi, noise variance 2 alpha h",
    "mala": "h: BlackJAX's MALA step, proposal x + h grad log p + sqrt(2h) xi (h = eps/2 in the SGLD convention)",
    "hmc": "BlackJAX's leapfrog step size (16 integration steps), with the adapted inverse mass matrix",
    "nuts": "BlackJAX's leapfrog step size of NUTS (at most 2^7 steps a tree), with the adapted inverse mass matrix",
}
assert set(STEP_SIZE_CONVENTIONS) == set(SAMPLERS)
