"""The global (tempered) estimators: chains over the prior at a ladder of inverse temperatures.

    ladder.py       TemperedRun / sample_tempered: the n L_n traces at every beta
    setup.py        settings, the potential with starting points, which chains enter a reduction
    results.py      WBICResult, RLCTResult, FreeEnergyResult, SingularFluctuationResult
    wbic.py         estimate_wbic: E_beta*[n L_n], beta* = 1/log n
    rlct.py         estimate_rlct: the slope of E_beta[n L_n] on 1/beta
    free_energy.py  estimate_free_energy: thermodynamic integration and stepping stone
    fluctuation.py  singular_fluctuation: nu, the functional variance and WAIC from pointwise draws
    run_length.py   the stop rule of rtol / atol / max_time over a ladder
    exact.py        exact finite-n targets by quadrature for 2-3 parameter monomial regressions (tests, benchmarks)
"""

from slt_ppl.tempered.fluctuation import singular_fluctuation
from slt_ppl.tempered.free_energy import asymptotic_free_energy, estimate_free_energy, thermodynamic_ladder
from slt_ppl.tempered.results import FreeEnergyResult, RLCTResult, SingularFluctuationResult, WBICResult
from slt_ppl.tempered.rlct import estimate_rlct, reweight, rlct_ladder
from slt_ppl.tempered.wbic import estimate_wbic, wbic_beta

__all__ = ["estimate_wbic", "estimate_rlct", "estimate_free_energy", "singular_fluctuation", "WBICResult",
           "RLCTResult", "FreeEnergyResult", "SingularFluctuationResult", "rlct_ladder", "reweight", "wbic_beta",
           "thermodynamic_ladder", "asymptotic_free_energy"]
