"""Observables of the localized tempered posterior, from the LLC's own draws: posterior covariances of
per-sample losses (the Bayesian influence function) and susceptibilities per weight restriction.

    moments.py         running co-moments in each chain's carry (memory flat in the draws)
    observe.py         per-sample losses of other data (query, probe) at the sampled position
    bif.py             estimate_bif, BIFResult
    susceptibility.py  estimate_susceptibilities, SusceptibilityResult
"""

from slt_ppl.observables.bif import BIFResult, estimate_bif
from slt_ppl.observables.susceptibility import SusceptibilityResult, estimate_susceptibilities

__all__ = ["estimate_bif", "BIFResult", "estimate_susceptibilities", "SusceptibilityResult"]
