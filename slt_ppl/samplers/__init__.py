"""Sampling kernels (BlackJAX-style init/step pairs) and the vectorised chain runner.

Nothing here knows about models or estimators: kernels take log-density functions, the
runner takes a step function.
"""

from slt_ppl.samplers import sgld
from slt_ppl.samplers.registry import MCMC_SAMPLERS, SAMPLERS, SG_SAMPLERS
from slt_ppl.samplers.runner import run_chains

__all__ = ["sgld", "run_chains", "SAMPLERS", "SG_SAMPLERS", "MCMC_SAMPLERS"]
