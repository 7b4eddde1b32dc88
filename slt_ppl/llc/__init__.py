"""The local learning coefficient: at a point, at many points in one run, along training, over step sizes.

    target.py           the localized tempered target and the per-draw statistics
    sampling.py         any sampler on that target (calibration included)
    assemble.py         a finished run -> LLCResult (divergences left out, MCSE, DataTree)
    result.py           LLCResult
    estimate.py         estimate_llc
    batched.py          estimate_llc_batched: many w* in one vmapped, once-compiled run
    trajectory.py       estimate_llc_trajectory: the LLC over training checkpoints
    stages.py           stage_boundaries: the significant critical points of an LLC curve
    step_size_study.py  calibrate_step_size: the step-size sweep as a table
"""

from slt_ppl.llc.batched import estimate_llc_batched
from slt_ppl.llc.estimate import estimate_llc, llc_settings
from slt_ppl.llc.result import LLCResult
from slt_ppl.llc.stages import StageBoundary, stage_boundaries
from slt_ppl.llc.step_size_study import StepSizeStudy, calibrate_step_size, combine_studies
from slt_ppl.llc.target import default_nbeta, localized_logdensity
from slt_ppl.llc.trajectory import LLCTrajectory, estimate_llc_trajectory

__all__ = ["estimate_llc", "estimate_llc_batched", "estimate_llc_trajectory", "LLCResult", "LLCTrajectory",
           "calibrate_step_size", "combine_studies", "StepSizeStudy", "default_nbeta", "localized_logdensity",
           "llc_settings", "stage_boundaries", "StageBoundary"]
