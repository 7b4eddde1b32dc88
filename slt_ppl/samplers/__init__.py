"""Sampling kernels (BlackJAX-style init/step pairs), their step-size adaptation, and the chain runner.

Nothing here knows about models or estimators: kernels take log-density functions, the runner
takes a step function.

    registry.py         the samplers by name, and how each one's step relates to curvature
    sgld.py, rmsprop_sgld.py, underdamped.py (sghmc, sgnht), mcmc.py (mala, hmc, nuts)
    adaptation.py       step_size="auto" for the stochastic-gradient kernels (curvature warmup)
    mala_diagnostic.py  MALA acceptance of an SGLD proposal
    settings.py         SamplingSettings: the one settings object, checked once
    runner.py           vmap over chains, lax.scan over steps, in chunks (progress, interrupts)
    placement.py        devices (sharding), host transfer, XLA options
    checkpoint.py       resume a run after a crash
"""

from slt_ppl.samplers import sgld
from slt_ppl.samplers.registry import MCMC_SAMPLERS, SAMPLERS, SG_SAMPLERS, STEP_SIZE_CONVENTIONS
from slt_ppl.samplers.runner import ChainRun, run_chains
from slt_ppl.samplers.settings import SamplingSettings, sampling_settings

__all__ = ["sgld", "run_chains", "ChainRun", "SAMPLERS", "SG_SAMPLERS", "MCMC_SAMPLERS", "STEP_SIZE_CONVENTIONS",
           "SamplingSettings", "sampling_settings"]
