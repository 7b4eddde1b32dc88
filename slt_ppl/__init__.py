"""slt_ppl: Singular Learning Theory estimators for NumPyro programs and JAX models."""

from slt_ppl import theory
from slt_ppl.llc import estimate_llc
from slt_ppl.potential import Likelihood, Potential
from slt_ppl.step_size_study import StepSizeStudy, calibrate_step_size, combine_studies

__version__ = "0.1.0"

__all__ = ["estimate_llc", "calibrate_step_size", "combine_studies", "StepSizeStudy", "Likelihood", "Potential", "theory", "__version__"]
