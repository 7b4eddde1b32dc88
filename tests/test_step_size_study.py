"""calibrate_step_size: a labelled sweep whose large steps show the damage and whose auto step is marked."""

import numpy as np
import pytest

from slt_ppl import models
import slt_ppl as slt
from slt_ppl import theory


def test_sweep_table_marks_auto_and_exposes_bias_at_large_steps():
    case = models.linear_regression.make(d=3, n=2000, seed=0)
    study = slt.calibrate_step_size(**case.llc_kwargs(), num_draws=600, seed=0)
    t = study.table
    assert t.llc.dims == ("step_size",) and t.sizes["step_size"] == 7
    assert np.isclose(t.step_size.values[3], study.recommended)
    X = np.asarray(case.model_args[0], dtype=np.float64)
    exact = theory.regular_finite_llc(np.linalg.eigvalsh(X.T @ X / 2000), 2000 / np.log(2000), 1.0)
    at_auto = float(t.llc.values[3])
    assert abs(at_auto - exact) < 0.15 * exact + 3 * float(t.mcse.values[3])
    # 8x the auto step: Euler-Langevin inflates the estimate (or diverges); acceptance drops
    big = float(t.llc.values[-1])
    assert (not np.isfinite(big)) or big > at_auto
    assert np.nanmean(t.acceptance.values[:3]) > np.nanmean(t.acceptance.values[-2:])
    assert len(study.plot().lines) >= 1


def test_bad_grid_is_refused():
    case = models.linear_regression.make(d=2, n=500)
    with pytest.raises(ValueError, match="step_sizes"):
        slt.calibrate_step_size(**case.llc_kwargs(), step_sizes=[1e-4, -1.0], num_draws=50)


def test_sweep_over_nbeta_gives_one_table_per_temperature():
    case = models.linear_regression.make(d=2, n=1000, seed=1)
    studies = slt.calibrate_step_size(**case.llc_kwargs(), nbetas=[50.0, 200.0], num_draws=300)
    table = slt.combine_studies(studies)
    assert table.llc.dims == ("nbeta", "step_factor") and table.sizes == {"nbeta": 2, "step_factor": 7}
    # regular model: the finite-n target (1/2) sum nbeta h / (nbeta h + 1) rises with nbeta
    at_auto = table.llc.sel(step_factor=1.0).values
    X = np.asarray(case.model_args[0], dtype=np.float64)
    h = np.linalg.eigvalsh(X.T @ X / 1000)
    for nb, value, err in zip(table.nbeta.values, at_auto, table.mcse.sel(step_factor=1.0).values):
        exact = theory.regular_finite_llc(h, nb, 1.0)
        assert abs(value - exact) < 0.15 * exact + 3 * err
