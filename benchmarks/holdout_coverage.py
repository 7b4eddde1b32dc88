"""Held-out coverage: do today's defaults keep their error-bar promise on cases drawn after they were tuned?

Every default of estimate_llc was chosen while looking at the 30 cases of benchmarks/certified_llc.py. This
script draws new cases from a seed fixed on 2026-12-07, after the last default was set, and runs each with all
defaults (the finite-n check, the cheap-model length, the curvature check), recording the estimate, its total se,
the MCSE, the verdict and its first reason:
- 8 deep linear networks with Gaussian teachers (models.dln.gaussian_teacher: ill-conditioned products, the rank
  cut in the first layer), depth 2-4, widths 4-23, every third at batch 500, target Aoyagi's lambda;
- 3 normal crossings K = w1^(2 k1) w2^(2 k2) / 2 with random uneven powers k in {1, 2, 3}, target the exact
  finite-n value at the run's (n beta, gamma) by quadrature (theory.finite_llc_quadrature);
- 2 reduced-rank regressions with random shapes, target lambda (their multiplicity term included in the miss).
n = 10 000 throughout. Coverage = the share with |estimate - target| <= 2 se (95% if the se is honest).

Run: .venv/bin/python benchmarks/holdout_coverage.py [--quick]
     (prints a row per case as it ends; writes benchmarks/results/holdout_coverage.{txt,json})
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings

import numpy as np

RESULTS = os.path.join(os.path.dirname(__file__), "results")
SEED = 20261207


def draw_cases(quick: bool):
    """(name, group, case, kwargs, target function of the result) for every held-out case, in a fixed order."""
    from slt_ppl.models import dln, normal_crossing, rrr

    rng = np.random.default_rng(SEED)
    out = []
    for i in range(8):
        depth = int(rng.integers(2, 5))
        widths = [int(w) for w in rng.integers(4, 24, size=depth + 1)]
        r = int(rng.integers(1, max(2, min(widths) // 2 + 1)))
        case = dln.gaussian_teacher(widths, r, n=10_000, seed=100 + i)
        kw = {"batch_size": 500} if i % 3 == 2 else {}
        out.append((f"dln_gauss{widths} r={r}" + (" b500" if kw else ""), "dln", case, kw,
                    lambda res, c=case: float(c.coefficient.lam)))
    crossing_rng = np.random.default_rng([SEED, 1])
    for _ in range(3):
        k = tuple(int(x) for x in crossing_rng.integers(1, 4, size=2))
        case = normal_crossing.make(k)
        out.append((f"normal_crossing{list(k)}", "crossing", case, {},
                    lambda res, c=case: float(c.finite_n(res.nbeta, res.localization))))
    rrr_rng = np.random.default_rng([SEED, 2])
    for _ in range(2):
        M, H, N = (int(x) for x in rrr_rng.integers(2, 6, size=3))
        r = int(rrr_rng.integers(0, min(M, H, N)))
        case = rrr.make(M, H, N, r)
        out.append((f"rrr(M={M},H={H},N={N},r={r})", "rrr", case, {}, lambda res, c=case: float(c.coefficient.lam)))
    return [out[i] for i in (0, 2, 8)] if quick else out


def run(quick: bool) -> list[dict]:
    import slt_ppl as slt

    rows = []
    for name, group, case, kw, target_of in draw_cases(quick):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = slt.estimate_llc(**case.llc_kwargs(), progress_bar=False, **kw)
        target = target_of(res)
        row = dict(name=name, group=group, d=int(case.d), target=target, estimate=float(res.llc), se=float(res.se),
                   mcse=float(res.mcse), rel_error=float(res.llc / target - 1), z=float((res.llc - target) / res.se),
                   covered=bool(abs(res.llc - target) <= 2 * res.se), converged=bool(res.converged),
                   first_reason=res.diagnosis[0] if res.diagnosis and not res.converged else "",
                   time_s=time.perf_counter() - t0)
        rows.append(row)
        print(format_row(row), flush=True)
    return rows


def format_row(r: dict) -> str:
    flag = ("" if r["covered"] else "!") + ("" if r["converged"] else "x")
    return (f"{r['name']:<34} {r['d']:>5} {r['target']:>9.3f} | {r['estimate']:>9.3f} +/- {r['se']:<7.3f} "
            f"(MCSE {r['mcse']:.3f}) {100 * r['rel_error']:+6.1f}%  z {r['z']:+5.2f} {flag:<2} {r['time_s']:5.0f}s")


def summary(rows: list[dict]) -> str:
    covered = sum(r["covered"] for r in rows)
    errors = [abs(r["rel_error"]) for r in rows]
    lines = [f"coverage {covered}/{len(rows)} ({100 * covered / len(rows):.0f}%) within 2 se; median |rel err| "
             f"{100 * np.median(errors):.1f}%, worst {100 * max(errors):.1f}%; converged "
             f"{sum(r['converged'] for r in rows)}/{len(rows)}; {sum(r['time_s'] for r in rows):.0f} s"]
    lines += [f"not converged: {r['name']}: {r['first_reason']}" for r in rows if not r["converged"]]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 cases")
    args = parser.parse_args()
    rows = run(args.quick)
    text = "\n".join([f"{'case':<34} {'d':>5} {'target':>9} | estimate, total se, relative error, z = (est - target) / se",
                      *map(format_row, rows),
                      "(! = the target lies outside 2 se; x = not converged by the verdict)", summary(rows),
                      f"machine: {platform.machine()}, {os.cpu_count()} CPU cores; seed {SEED}"])
    print(text)
    if not args.quick:
        os.makedirs(RESULTS, exist_ok=True)
        with open(os.path.join(RESULTS, "holdout_coverage.txt"), "w") as f:
            f.write(text + "\n")
        with open(os.path.join(RESULTS, "holdout_coverage.json"), "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
