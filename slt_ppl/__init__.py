"""slt_ppl: Singular Learning Theory estimators for NumPyro programs and JAX models."""

from slt_ppl import theory
from slt_ppl.llc import estimate_llc
from slt_ppl.potential import Likelihood, Potential

__version__ = "0.1.0"

__all__ = ["estimate_llc", "Likelihood", "Potential", "theory", "__version__"]
