"""slt_ppl: Singular Learning Theory estimators for NumPyro programs and JAX models.

The public names load on first use (PEP 562), so `import slt_ppl` starts no JAX backend:
`slt.distributed.initialize(...)` can still join a multi-process run right after the import.
"""

from importlib import import_module as _import_module

from slt_ppl import distributed, theory

__version__ = "0.3.0"

_LAZY = {
    "estimate_llc": "slt_ppl.llc",
    "estimate_llc_batched": "slt_ppl.llc",
    "estimate_llc_trajectory": "slt_ppl.llc",
    "calibrate_step_size": "slt_ppl.llc",
    "combine_studies": "slt_ppl.llc",
    "stage_boundaries": "slt_ppl.llc",
    "estimate_wbic": "slt_ppl.tempered",
    "estimate_rlct": "slt_ppl.tempered",
    "estimate_free_energy": "slt_ppl.tempered",
    "singular_fluctuation": "slt_ppl.tempered",
    "Likelihood": "slt_ppl.model",
    "Potential": "slt_ppl.model",
    "preview_restriction": "slt_ppl.model",
    "component_names": "slt_ppl.model",
    "LLCResult": "slt_ppl.llc",
    "LLCTrajectory": "slt_ppl.llc",
    "StepSizeStudy": "slt_ppl.llc",
    "WBICResult": "slt_ppl.tempered",
    "RLCTResult": "slt_ppl.tempered",
    "FreeEnergyResult": "slt_ppl.tempered",
    "SingularFluctuationResult": "slt_ppl.tempered",
    "estimate_bif": "slt_ppl.observables",
    "estimate_susceptibilities": "slt_ppl.observables",
    "BIFResult": "slt_ppl.observables",
    "SusceptibilityResult": "slt_ppl.observables",
    "Result": "slt_ppl.results",
    "load": "slt_ppl.results",
    "SAMPLERS": "slt_ppl.samplers",
    "SamplingSettings": "slt_ppl.samplers",
    "from_hf": "slt_ppl.hf",
    "hf_trajectory": "slt_ppl.hf",
    "HFCausalLM": "slt_ppl.hf",
}

__all__ = [*_LAZY, "theory", "distributed", "__version__"]


_CACHE_READY = False


def __getattr__(name):
    global _CACHE_READY
    if name in _LAZY:
        if not _CACHE_READY:  # before the first estimator compiles anything (caching.enable_compilation_cache)
            _CACHE_READY = True
            from slt_ppl.caching import enable_compilation_cache

            enable_compilation_cache()
        value = getattr(_import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module 'slt_ppl' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
