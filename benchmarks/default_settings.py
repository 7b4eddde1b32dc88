"""Defaults chosen by evidence: which stochastic-gradient kernel and which kappa cover the exact LLC best.

Run: .venv/bin/python benchmarks/default_settings.py [--quick]
     (prints, writes benchmarks/results/default_settings.{txt,json})

On 11 of benchmarks/certified_llc.py's cases (none in the zoo's validate suite; the cheaper ones: two
crossings against quadrature, two RRRs with m = 2, seven DLNs with Gaussian teachers at batch 500, 224 to
3 615 parameters), each configuration runs with every other setting at its default: sgld at kappa 0.03, 0.1 (the
default) and 0.3, rmsprop_sgld and sghmc at kappa 0.1. Per configuration: coverage (the target within
2 se), median and worst |relative error|, the verdicts, the time, and covered cases per minute.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")

CONFIGS = [("sgld", 0.03), ("sgld", 0.1), ("sgld", 0.3), ("rmsprop_sgld", 0.1), ("sghmc", 0.1)]
CASE_NAMES = ("normal_crossing(k=[1, 2])", "normal_crossing(k=[1, 1, 1])", "rrr(M=2,H=2,N=2,r=1)",
              "rrr(M=2,H=3,N=2,r=0)", "dln_gauss[20, 19, 18, 21] r=13", "dln_gauss[9, 10, 19] r=5",
              "dln_gauss[25, 14, 10, 11] r=5", "dln_gauss[6, 7, 10, 7, 6] r=1",
              "dln_gauss[15, 7, 16, 14, 16, 17, 9] r=2", "dln_gauss[39, 35, 27, 29, 18] r=7",
              "dln_gauss[34, 19, 27, 27, 30] r=3")


def run(case, kw, sampler, kappa):
    import slt_ppl as slt

    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = slt.estimate_llc(case["model"], case["params"], case["model_args"], progress_bar=False,
                                   sampler=sampler, kappa=kappa, **kw)
    except RuntimeError as err:
        return dict(estimate=float("nan"), se=float("nan"), target=float("nan"), rel_error=float("inf"),
                    covered=False, converged=False, time_s=time.perf_counter() - t0, error=str(err)[:200])
    target = case["target"](res.nbeta, res.localization)
    return dict(estimate=float(res.llc), se=float(res.se), target=float(target),
                rel_error=float((res.llc - target) / target), covered=bool(abs(res.llc - target) <= 2 * res.se),
                converged=bool(res.converged), time_s=time.perf_counter() - t0)


def main() -> None:
    from certified_llc import cases

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    chosen = {case["name"]: (case, kw) for case, kw in cases(False) if case["name"] in CASE_NAMES}
    names = [name for name in CASE_NAMES if name in chosen][: 3 if args.quick else None]
    rows, lines = [], []
    for name in names:
        case, kw = chosen[name]
        for sampler, kappa in CONFIGS:
            got = run(case, kw, sampler, kappa)
            rows.append(dict(case=name, sampler=sampler, kappa=kappa, **got))
            line = (f"{name[:36]:36s} {sampler:13s} kappa {kappa:<5g} target {got['target']:9.3f}  "
                    f"{got['estimate']:9.3f} +/- {got['se']:<8.3f}{' ' if got['covered'] else '!'} "
                    f"{got['rel_error']:+7.1%} {got['time_s']:6.1f} s{'' if got['converged'] else ' (not converged)'}")
            print(line, flush=True)
            lines.append(line)
    lines.append("")
    lines.append(f"{'sampler':13s} {'kappa':>5s}  coverage  median|err|  worst|err|  converged   time  covered/min")
    summary = []
    for sampler, kappa in CONFIGS:
        mine = [r for r in rows if r["sampler"] == sampler and r["kappa"] == kappa]
        errs = [abs(r["rel_error"]) for r in mine]
        covered = sum(r["covered"] for r in mine)
        seconds = sum(r["time_s"] for r in mine)
        s = dict(sampler=sampler, kappa=kappa, covered=covered, cases=len(mine), median=float(np.median(errs)),
                 worst=float(np.max(errs)), converged=sum(r["converged"] for r in mine), time_s=seconds,
                 covered_per_min=60 * covered / seconds)
        summary.append(s)
        lines.append(f"{sampler:13s} {kappa:5g}  {covered:3d}/{len(mine):<3d}   {s['median']:9.1%}  {s['worst']:9.1%}  "
                     f"{s['converged']:4d}/{len(mine):<3d} {seconds:6.0f} s  {s['covered_per_min']:8.2f}")
    print("\n".join(lines[-len(CONFIGS) - 1:]))
    if not args.quick:
        json.dump(dict(rows=rows, summary=summary), open(os.path.join(RESULTS, "default_settings.json"), "w"), indent=1)
        open(os.path.join(RESULTS, "default_settings.txt"), "w").write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
