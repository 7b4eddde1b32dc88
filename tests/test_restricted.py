"""Weight-restricted LLC against exact restricted coefficients.

Reduced-rank regression y = B A x with the rank-r teacher of models.rrr (r orthonormal units, the
other H - r zero): holding B at B*, the loss in A is |B*(A - A*)x|^2, a regular model in the r*M
directions B* sees and flat in the rest, so lambda_A = r M / 2; likewise lambda_B = r N / 2.
"""

import jax.numpy as jnp
import numpy as np
import pytest

import slt_ppl as slt
from slt_ppl.models import linear_regression, rrr


@pytest.mark.slow
@pytest.mark.parametrize("site, lam", [("A", 2 * 4 / 2), ("B", 2 * 5 / 2)])
def test_restricted_llc_of_one_rrr_factor(site, lam):
    case = rrr.make(4, 3, 5, 2, n=10_000, seed=0)
    res = slt.estimate_llc(**case.llc_kwargs(), restrict=[site])
    assert abs(res.llc - lam) < 0.10 * lam, res.summary()
    assert res.idata.attrs["num_params"] == 3 * (4 if site == "A" else 5)


def test_restricted_by_predicate_and_mask_on_a_likelihood():
    case = linear_regression.make(n=2000, d=4, seed=0)
    X, y, _ = case.model_args
    lik = slt.Likelihood(lambda w, b: 0.5 * (b[1] - b[0] @ w["w"]) ** 2, (X, y))
    params = {"w": case.params["w"]}
    mask = {"w": np.array([True, True, False, False])}
    kw = dict(num_draws=2000, num_burnin=1000, seed=0)
    by_mask = slt.estimate_llc(lik, params, restrict=mask, **kw)
    by_predicate = slt.estimate_llc(lik, params, restrict=lambda path, leaf: jnp.arange(leaf.size) < 2, **kw)
    np.testing.assert_array_equal(by_mask.llc_per_chain, by_predicate.llc_per_chain)
    assert by_mask.idata.attrs["num_params"] == 2
    assert abs(by_mask.llc - 1.0) < 4 * by_mask.mcse + 0.05  # two regular coordinates: lambda = 1


def test_bad_restrictions_are_named():
    case = linear_regression.make(n=200, d=2, seed=0)
    with pytest.raises(ValueError, match=r"restrict names \['v'\]"):
        slt.estimate_llc(**case.llc_kwargs(), restrict=["v"], num_draws=5)
    with pytest.raises(ValueError, match="selects no parameter"):
        slt.estimate_llc(**case.llc_kwargs(), restrict=lambda path, leaf: False, num_draws=5)
    with pytest.raises(ValueError, match="must be boolean"):
        slt.estimate_llc(**case.llc_kwargs(), restrict={"w": np.array([1, 0])}, num_draws=5)

