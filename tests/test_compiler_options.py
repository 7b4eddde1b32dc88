"""The sampling loops' XLA options: 512-bit vectors on an AVX-512 CPU, overridable, same numbers.

The vector width reorders float32 reductions at most, so the LLC of a run agrees between widths to
float32 rounding (rtol 1e-5), far below any Monte-Carlo error; a changed width compiles a new loop
rather than reusing one compiled under the other.
"""

import numpy as np
import pytest

from slt_ppl import models
import slt_ppl as slt
from slt_ppl.samplers import placement, runner


def test_vector_width_follows_the_environment(monkeypatch):
    monkeypatch.setenv("SLT_PPL_CPU_VECTOR_WIDTH", "256")
    assert placement.compiler_options() == {"xla_cpu_prefer_vector_width": 256}
    monkeypatch.setenv("SLT_PPL_CPU_VECTOR_WIDTH", "wide")
    with pytest.raises(ValueError, match="SLT_PPL_CPU_VECTOR_WIDTH must be 128, 256 or 512"):
        placement.compiler_options()
    monkeypatch.delenv("SLT_PPL_CPU_VECTOR_WIDTH")
    expected = {"xla_cpu_prefer_vector_width": 512} if placement._cpu_has_avx512() else None
    assert placement.compiler_options() == expected


def test_both_widths_give_the_same_llc_and_each_its_own_compiled_loop(monkeypatch):
    case = models.dln.make((6, 8, 8, 6), 2, n=2000)
    kw = dict(**case.llc_kwargs(), num_draws=300, num_burnin=100, step_size=1e-5, batch_size=200, seed=1)
    out = {}
    for width in ("256", "512"):
        monkeypatch.setenv("SLT_PPL_CPU_VECTOR_WIDTH", width)
        before = len(runner._CHUNK_CACHE)
        out[width] = slt.estimate_llc(**kw)
        assert any(str(placement.compiler_options()) in str(k) for k in runner._CHUNK_CACHE)
        assert len(runner._CHUNK_CACHE) == min(before + 1, runner._CHUNK_CACHE.maxsize)
    np.testing.assert_allclose(out["256"].llc_per_chain, out["512"].llc_per_chain, rtol=1e-5)

