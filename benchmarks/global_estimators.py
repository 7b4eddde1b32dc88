"""WBIC, RLCT, free energy and singular fluctuation against closed forms and exact coefficients, over seeds.

Prints a table and writes benchmarks/results/global_estimators.{json,txt}. Run:
    .venv/bin/python benchmarks/global_estimators.py [--seeds 3]
Bayesian linear regression (d = 5, N(0, I) prior, known noise) has exact finite-n values for
every quantity (slt_ppl.conjugate); reduced-rank regression has the exact Aoyagi-Watanabe lambda.
Times include warmup and compilation, on whatever machine runs it (recorded in the output).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import warnings


sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import jax  # noqa: E402

import slt_ppl as slt  # noqa: E402
from slt_ppl.models import linear_regression, rrr  # noqa: E402
from slt_ppl.conjugate import GaussianLinearRegression  # noqa: E402


def timed(fn):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn()
    return out, time.perf_counter() - t0


def linreg_rows(seed: int, n: int = 1000, d: int = 5):
    case = linear_regression.make(n=n, d=d, seed=seed)
    X, y, sigma = case.model_args
    ex = GaussianLinearRegression(X, y, sigma, 1.0)
    b = 1.0 / math.log(n)
    rows = []
    f, s = timed(lambda: slt.estimate_free_energy(case.model, case.model_args, seed=seed, true_params=case.params,
                                                  coefficient=case.coefficient))
    rows.append(dict(case=f"linreg d={d} n={n}", quantity="free energy (TI)", estimate=f.free_energy,
                     se=f.free_energy_se, exact=ex.free_energy(1.0), seconds=s))
    rows.append(dict(case=f"linreg d={d} n={n}", quantity="free energy (stepping stone)", estimate=f.stepping_stone,
                     se=float("nan"), exact=ex.free_energy(1.0), seconds=0.0))
    rows.append(dict(case=f"linreg d={d} n={n}", quantity="asymptotic nL(w0)+lambda log n", estimate=f.asymptotic,
                     se=0.0, exact=ex.free_energy(1.0), seconds=0.0))
    w, s = timed(lambda: slt.estimate_wbic(case.model, case.model_args, seed=seed, log_likelihood=True))
    rows.append(dict(case=f"linreg d={d} n={n}", quantity="WBIC", estimate=w.wbic, se=w.wbic_se,
                     exact=ex.mean_nll(b), seconds=s))
    nu = slt.singular_fluctuation(w)
    rows.append(dict(case=f"linreg d={d} n={n}", quantity="nu at 1/log n", estimate=nu.nu, se=nu.nu_se,
                     exact=ex.singular_fluctuation(b), theory=d / 2, seconds=0.0))
    w1, s = timed(lambda: slt.estimate_wbic(case.model, case.model_args, beta=1.0, seed=seed, log_likelihood=True))
    nu1 = slt.singular_fluctuation(w1)
    rows.append(dict(case=f"linreg d={d} n={n}", quantity="nu at 1", estimate=nu1.nu, se=nu1.nu_se,
                     exact=ex.singular_fluctuation(1.0), theory=d / 2, seconds=s))
    import arviz as az

    loo = az.loo(w1.idata, reff=1.0)
    rows.append(dict(case=f"linreg d={d} n={n}", quantity="WAIC (per sample) vs exact", estimate=nu1.waic,
                     se=nu1.waic_se, exact=ex.waic(1.0), loo=float(-loo.elpd / n), seconds=0.0))
    g, s = timed(lambda: slt.estimate_rlct(case.model, case.model_args, seed=seed))
    rows.append(dict(case=f"linreg d={d} n={n}", quantity="RLCT", estimate=g.rlct, se=g.rlct_se, exact=d / 2,
                     seconds=s))
    return rows


def rrr_rows(seed: int, n: int = 1000):
    rows = []
    for M, H, N, r in ((4, 3, 8, 0), (5, 3, 5, 0), (3, 2, 3, 1)):
        case = rrr.make(M, H, N, r, n=n, seed=seed)
        g, s = timed(lambda: slt.estimate_rlct(case.model, case.model_args, sampler="hmc", seed=seed))
        rows.append(dict(case=f"{case.name} n={n} m={case.coefficient.m}", quantity="RLCT (hmc)", estimate=g.rlct,
                         se=g.rlct_se, exact=float(case.coefficient.lam), seconds=s))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for seed in range(args.seeds):
        for row in linreg_rows(seed) + rrr_rows(seed):
            row["seed"] = seed
            row["rel_error"] = (row["estimate"] - row["exact"]) / abs(row["exact"]) if row["exact"] else float("nan")
            rows.append(row)
            print(f"seed {seed} {row['case']:32s} {row['quantity']:32s} {row['estimate']:12.4f} ± {row['se']:7.4f} "
                  f"exact {row['exact']:12.4f}  diff {row['estimate'] - row['exact']:+8.4f} ({row['rel_error']:+.2%})"
                  f"  {row['seconds']:5.1f} s", flush=True)
    machine = f"{platform.machine()} {os.cpu_count()} CPU cores, jax {jax.__version__} on {jax.default_backend()}"
    out = os.path.join(os.path.dirname(__file__), "results")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "global_estimators.json"), "w") as fh:
        json.dump({"machine": machine, "rows": rows}, fh, indent=1)
    with open(os.path.join(out, "global_estimators.txt"), "w") as fh:
        fh.write(f"# {machine}\n")
        for row in rows:
            fh.write(f"seed {row['seed']} {row['case']:32s} {row['quantity']:32s} {row['estimate']:12.4f} ± "
                     f"{row['se']:7.4f} exact {row['exact']:12.4f} diff {row['estimate'] - row['exact']:+8.4f} "
                     f"({row['rel_error']:+.2%}) {row['seconds']:5.1f} s\n")


if __name__ == "__main__":
    main()
