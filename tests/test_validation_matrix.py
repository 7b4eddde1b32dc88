"""Every public entry point against malformed inputs: each is refused with an error naming the argument.

The matrix is (entry point) x (malformed input); the count of rows is printed by
`test_matrix_size`, so a run shows how many malformed inputs it refused.
"""

import jax.numpy as jnp
import numpy as np
import pytest
from arviz_base import from_dict

from slt_ppl import models
import slt_ppl as slt
from slt_ppl import theory

CASE = models.linear_regression.make(n=100, d=2, seed=0)
X, Y, SIGMA = CASE.model_args
NAN_Y = Y.at[3].set(jnp.nan)
INF_X = X.at[0, 0].set(jnp.inf)

# malformed values shared by every sampling entry point: (kwargs, regex naming the argument)
COMMON = [
    ({"num_chains": 0}, "num_chains"), ({"num_chains": 1.5}, "num_chains"), ({"num_chains": "4"}, "num_chains"),
    ({"num_draws": 0}, "num_draws"), ({"num_draws": -5}, "num_draws"), ({"num_burnin": -1}, "num_burnin"),
    ({"step_size": 0.0}, "step_size"), ({"step_size": -1e-3}, "step_size"), ({"step_size": float("nan")}, "step_size"),
    ({"step_size": "big"}, "step_size"), ({"seed": "zero"}, "seed"), ({"seed": 1.5}, "seed"),
    ({"sampler": "gibbs"}, "sampler"), ({"batch_size": 0}, "batch_size"), ({"batch_size": 10**6}, "batch_size"),
    ({"model_args": (X, NAN_Y, SIGMA)}, "NaN"), ({"model_args": (INF_X, Y, SIGMA)}, "NaN or infinite"),
    ({"model_args": (X[:0], Y[:0], SIGMA)}, "n = 0|empty|no data"), ({"not_an_option": 1}, "not_an_option"),
    ({"model": "not a model"}, "model"), ({"model": None}, "model"),
]

LLC_ONLY = [
    ({"nbeta": 0.0}, "nbeta"), ({"nbeta": -1.0}, "nbeta"), ({"nbeta": float("inf")}, "nbeta"),
    ({"localization": -1.0}, "localization"), ({"localization": "wide"}, "localization"),
    ({"params": {"w": jnp.ones(3)}}, "params"), ({"params": {"v": jnp.ones(2)}}, "params"),
    ({"params": {"w": jnp.array([jnp.nan, 0.0])}}, "params"), ({"params": [1.0, 2.0]}, "params"),
    ({"kappa": 0.0}, "kappa"), ({"dtype": "float16"}, "dtype"), ({"burnin_step_factor": -2.0}, "burnin_step_factor"),
]

GLOBAL_ONLY = {
    "estimate_wbic": [({"beta": 0.0}, "beta"), ({"beta": -1.0}, "beta"), ({"beta": float("nan")}, "beta"),
                      ({"init_params": {"w": jnp.ones(5)}}, "params")],
    "estimate_rlct": [({"betas": [0.1]}, "betas"), ({"betas": [0.0, 0.1]}, "betas"), ({"betas": [0.1, -0.2]}, "betas"),
                      ({"betas": "hot"}, "betas"), ({"num_betas": 1}, "num_betas"), ({"num_chains": 1}, "num_chains")],
    "estimate_free_energy": [({"betas": [0.1, 0.5, 1.0]}, "0"), ({"betas": [0.0, 0.5, 0.8]}, "1"),
                             ({"betas": [0.0, float("nan"), 1.0]}, "betas"), ({"method": "harmonic"}, "method"),
                             ({"num_betas": 0}, "num_betas"), ({"coefficient": 6}, "true_params|coefficient")],
}


def _call(name, kwargs):
    base = {"model": CASE.model, "model_args": CASE.model_args, "num_draws": 5, "num_burnin": 5}
    if name == "estimate_llc":
        base["params"] = CASE.params
    return getattr(slt, name)(**{**base, **kwargs})


ROWS = [(name, kw, m) for name in ("estimate_llc", *GLOBAL_ONLY) for kw, m in COMMON]
ROWS += [("estimate_llc", kw, m) for kw, m in LLC_ONLY]
ROWS += [(name, kw, m) for name, rows in GLOBAL_ONLY.items() for kw, m in rows]


@pytest.mark.parametrize("name, kwargs, match", ROWS, ids=[f"{r[0]}-{'-'.join(map(str, r[1]))}-{i}" for i, r in enumerate(ROWS)])
def test_sampling_entry_points_refuse(name, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        _call(name, kwargs)


LL_TREE = from_dict({"log_likelihood": {"y": np.zeros((2, 10, 5))}})
OTHER = [
    (lambda: slt.singular_fluctuation(from_dict({"posterior": {"w": np.zeros((2, 10))}})), "log_likelihood"),
    (lambda: slt.singular_fluctuation([1, 2, 3]), "DataTree"),
    (lambda: slt.singular_fluctuation(LL_TREE, beta=0.0), "beta"),
    (lambda: slt.singular_fluctuation(LL_TREE, beta=-1.0), "beta"),
    (lambda: slt.singular_fluctuation(LL_TREE, beta=float("inf")), "beta"),
    (lambda: slt.singular_fluctuation(LL_TREE, var_name="z"), "var_name"),
    (lambda: slt.singular_fluctuation(from_dict({"log_likelihood": {"y": np.full((2, 10, 5), np.nan)}})), "non-finite"),
    (lambda: slt.Likelihood("nll", jnp.ones(3)), "nll_per_example|callable"),
    (lambda: slt.Likelihood(lambda p, b: b, jnp.zeros(0)), "n = 0"),
    (lambda: slt.Likelihood(lambda p, b: b, jnp.array([1.0, jnp.nan])), "NaN"),
    (lambda: slt.Likelihood(lambda p, b: b, (jnp.ones(3), jnp.ones(4))), "leading axis"),
    (lambda: slt.Likelihood(lambda p, b: b, jnp.float32(1.0)), "leading data axis"),
    (lambda: slt.Likelihood(lambda p, b: b, jnp.ones(3), log_prior=3.0), "log_prior"),
    (lambda: slt.Likelihood(lambda p, b: b, {}), "empty"),
    (lambda: slt.calibrate_step_size(CASE.model, CASE.params, [1e-3, -1e-3], model_args=CASE.model_args), "step_size"),
    (lambda: slt.calibrate_step_size(CASE.model, CASE.params, [1e-3], nbetas=[10.0], model_args=CASE.model_args), "nbetas"),
    (lambda: theory.rrr(0, 1, 1, 0), "M"), (lambda: theory.rrr(3, 2, 3, 5), "r"), (lambda: theory.rrr(3.5, 2, 3, 0), "M"),
    (lambda: theory.regular(-1), "d"), (lambda: theory.regular(2.5), "d"), (lambda: theory.dln([3, 0, 3], 0), "widths"),
    (lambda: theory.dln([3], 0), "widths"), (lambda: theory.dln([3, 2, 3], 4), "r"),
    (lambda: theory.normal_crossing([]), "k"), (lambda: theory.normal_crossing([-1, 2]), "k"),
    (lambda: theory.tanh(0), "H"), (lambda: theory.tanh(-2), "H"),
    (lambda: theory.rrr(3, 2, 3, -1), "r"), (lambda: theory.dln([3, 2, 3], -1), "r"),
    (lambda: theory.normal_crossing([1, 2], h=[0]), "h"),
    (lambda: slt.singular_fluctuation(from_dict({"log_likelihood": {"y": np.zeros((1, 1, 5))}})), "2 draws"),
    (lambda: slt.Likelihood(lambda p, b: b, jnp.ones(3), log_prior="flat"), "log_prior"),
    (lambda: slt.estimate_llc(slt.Likelihood(lambda p, b: b * p, jnp.ones(3)), {}), "params"),
    (lambda: slt.estimate_llc(slt.Likelihood(lambda p, b: jnp.sum(b * p), jnp.ones(3)), jnp.ones(())), "one value per example"),
    (lambda: slt.estimate_llc(slt.Likelihood(lambda p, b: b * p, jnp.ones(3)), jnp.ones(()), model_args=(1,)), "model_args"),
    (lambda: slt.estimate_wbic(slt.Likelihood(lambda p, b: b * p, jnp.ones(3)), init_params=jnp.ones(())), "log_prior"),
]


@pytest.mark.parametrize("call, match", OTHER, ids=[str(i) for i in range(len(OTHER))])
def test_other_entry_points_refuse(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_matrix_size():
    total = len(ROWS) + len(OTHER)
    print(f"validation matrix: {total} malformed inputs over {len({r[0] for r in ROWS}) + 5} entry points")
    assert total >= 140  # guards against the matrix silently shrinking
