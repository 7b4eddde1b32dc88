"""slt_ppl: Singular Learning Theory estimators for NumPyro programs and JAX models.

The public names load on first use (PEP 562), so `import slt_ppl` starts no JAX backend:
`slt.distributed.initialize(...)` can still join a multi-process run right after the import.
"""

from importlib import import_module

from slt_ppl import distributed, theory

__version__ = "0.1.0"

_LAZY = {
    "estimate_llc": "slt_ppl.llc",
    "estimate_llc_trajectory": "slt_ppl.trajectory",
    "LLCTrajectory": "slt_ppl.trajectory",
    "estimate_wbic": "slt_ppl.wbic",
    "estimate_rlct": "slt_ppl.wbic",
    "estimate_free_energy": "slt_ppl.free_energy",
    "singular_fluctuation": "slt_ppl.waic",
    "calibrate_step_size": "slt_ppl.step_size_study",
    "combine_studies": "slt_ppl.step_size_study",
    "StepSizeStudy": "slt_ppl.step_size_study",
    "Likelihood": "slt_ppl.potential",
    "Potential": "slt_ppl.potential",
}

__all__ = [*_LAZY, "theory", "distributed", "__version__"]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module 'slt_ppl' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
