"""The model zoo: each model builds a Potential, its w* is where the theory says, sizes are right."""

import jax.numpy as jnp
import numpy as np
import pytest

from slt_ppl import models
from slt_ppl import theory
from slt_ppl.model import make_potential

SMALL = {
    "linear_regression": lambda: models.linear_regression.make(n=300, d=3),
    "normal_crossing": lambda: models.normal_crossing.make((1, 2), n=300),
    "rrr": lambda: models.rrr.make(3, 2, 4, 1, n=300),
    "dln": lambda: models.dln.make((3, 4, 3, 3), 1, n=300),
    "tanh": lambda: models.tanh_net.make(2, n=300),
    "gaussian_mixture": lambda: models.gaussian_mixture.make(n=300),
    "mlp": lambda: models.mlp.make(n=300),
}


@pytest.mark.parametrize("name", list(SMALL))
def test_zoo_models_build_and_w_star_is_a_critical_point(name):
    case = SMALL[name]()
    pot = make_potential(case.model, case.params, case.model_args)
    assert pot.n == 300 and pot.num_params == case.d
    import jax

    grad = jax.grad(lambda p: pot.mean_nll(p, jnp.arange(300)))(pot.position)
    gnorm = float(np.sqrt(sum(np.sum(np.square(g)) for g in jax.tree.leaves(grad))))
    # the noise is orthogonal to the inputs (or the data standardised): w* is a critical point of L_n
    assert gnorm < (1e-3 if name == "mlp" else 1e-4), f"{name}: |grad L_n(w*)| = {gnorm}"
    if case.coefficient is not None:
        assert case.coefficient.lam <= theory.regular(case.d).lam


def test_teacher_is_an_exact_minimiser_for_linear_models():
    case = models.rrr.make(4, 3, 5, 1, n=500, seed=1)
    pot = make_potential(case.model, case.params, case.model_args)
    idx = jnp.arange(500)
    base = float(pot.mean_nll(pot.position, idx))
    rng = np.random.default_rng(0)
    for _ in range(5):
        moved = {k: v + 0.05 * rng.normal(size=v.shape).astype(np.float32) for k, v in pot.position.items()}
        assert float(pot.mean_nll(moved, idx)) > base


def test_normal_crossing_finite_n_target_is_the_quadrature_of_its_loss():
    case = models.normal_crossing.make((1, 1), n=2000)
    x = np.asarray(case.model_args[0], dtype=np.float64)
    scale = np.mean(x**2) / 2
    expected = theory.finite_llc_quadrature(lambda a, b: scale * a**2 * b**2, 2, 300.0, 1.0)
    assert case.finite_n(300.0, 1.0) == pytest.approx(expected, rel=1e-9)
    assert case.finite_n(300.0, 1.0) < float(case.coefficient.lam)


@pytest.mark.parametrize("size_class, lo, hi", [("1K", 300, 3000), ("10K", 3000, 30000), ("100K", 30000, 300000)])
def test_random_dln_instances_fall_in_their_size_class(size_class, lo, hi):
    rng = np.random.default_rng(0)
    for seed in range(10):
        widths, r = models.dln.random_widths(size_class, np.random.default_rng([seed, 1]))
        d = sum(a * b for a, b in zip(widths, widths[1:]))
        assert lo <= d <= hi and 2 <= len(widths) - 1 <= 6
        assert 1 <= r <= min(widths)
    case = models.dln.random_instance("1K", 3, n=200)
    assert case.coefficient == theory.dln(case.model_args[2], int(case.name.split("r=")[1].rstrip(")")))
    assert rng is not None


def test_unknown_size_class_is_refused():
    with pytest.raises(ValueError, match="unknown size class"):
        models.dln.random_instance("1M")
