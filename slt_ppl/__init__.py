"""slt_ppl: Singular Learning Theory estimators for NumPyro programs and JAX models."""

from slt_ppl import theory
from slt_ppl.free_energy import estimate_free_energy
from slt_ppl.llc import estimate_llc
from slt_ppl.potential import Likelihood, Potential
from slt_ppl.trajectory import LLCTrajectory, estimate_llc_trajectory
from slt_ppl.step_size_study import StepSizeStudy, calibrate_step_size, combine_studies
from slt_ppl.waic import singular_fluctuation
from slt_ppl.wbic import estimate_rlct, estimate_wbic

__version__ = "0.1.0"

__all__ = [
    "estimate_llc", "estimate_llc_trajectory", "LLCTrajectory", "estimate_wbic", "estimate_rlct", "estimate_free_energy", "singular_fluctuation",
    "calibrate_step_size", "combine_studies", "StepSizeStudy", "Likelihood", "Potential", "theory", "__version__",
]
