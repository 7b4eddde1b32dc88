"""Every sampler on zoo models with exact (finite-n) values: accuracy, ESS per second, compute.

Prints a table and writes benchmarks/results/compare_samplers.{json,txt}. Run:
    .venv/bin/python benchmarks/compare_samplers.py
Each sampler runs with step_size="auto" and its defaults; time includes warmup and compilation.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from slt_ppl import models  # noqa: E402
import slt_ppl as slt  # noqa: E402
from slt_ppl.samplers import SAMPLERS  # noqa: E402

CASES = {
    "normal_crossing k=(1,1)": lambda: models.normal_crossing.make((1, 1)),
    "rrr (3,2,3) r=1 n=2000": lambda: models.rrr.make(3, 2, 3, 1, n=2000),
    "dln [3,4,3,3] r=1": lambda: models.dln.make((3, 4, 3, 3), 1),
}


def target(case, res):
    if case.finite_n is not None:
        return case.finite_n(res.nbeta, res.localization)
    return float(case.coefficient.lam) - (case.coefficient.m - 1) / math.log(res.nbeta)


def main() -> None:
    rows = []
    for name, make in CASES.items():
        case = make()
        for sampler in SAMPLERS:
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = slt.estimate_llc(**case.llc_kwargs(), sampler=sampler, seed=0)
            secs = time.perf_counter() - t0
            tgt = target(case, res)
            row = dict(case=name, sampler=sampler, target=tgt, llc=res.llc, mcse=res.mcse, ess=res.ess,
                       rel_error=(res.llc - tgt) / tgt, seconds=secs, ess_per_s=res.ess / secs,
                       step_size=res.step_size, diverged=res.num_diverged)
            rows.append(row)
            print(f"{name:26s} {sampler:13s} target {tgt:6.3f}  llc {res.llc:7.3f} ± {res.mcse:5.3f}  "
                  f"rel {row['rel_error']:+6.1%}  ESS {res.ess:7.0f}  {secs:6.1f} s  ESS/s {row['ess_per_s']:7.1f}", flush=True)
    summary = {}
    for sampler in SAMPLERS:
        mine = [r for r in rows if r["sampler"] == sampler]
        summary[sampler] = dict(
            median_abs_rel_error=float(np.median([abs(r["rel_error"]) for r in mine])),
            median_ess_per_s=float(np.median([r["ess_per_s"] for r in mine])),
        )
    print("\nsampler        median|rel err|  median ESS/s")
    for sampler, s in summary.items():
        print(f"{sampler:13s}  {s['median_abs_rel_error']:14.1%}  {s['median_ess_per_s']:12.1f}")
    out = os.path.join(os.path.dirname(__file__), "results", "compare_samplers.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as fh:
        json.dump({"machine": "2-core CPU (developer machine)", "rows": rows, "summary": summary}, fh, indent=2)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
