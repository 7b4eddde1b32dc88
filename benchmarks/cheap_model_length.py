"""The cheap-model defaults (slt_ppl/llc/default_length.py) on crossings they were not chosen on.

Run: .venv/bin/python benchmarks/cheap_model_length.py
     (prints, writes benchmarks/results/cheap_model_length.{txt,json})

The rules (no sampler and no length named, d x rows per step <= 4e4, full batch: HMC at target acceptance 0.95,
16 chains x 4000 draws; sgld named without a length: 16 chains x 16 000 draws) were set on the crossings of
benchmarks/certified_llc.py and two of benchmarks/holdout_coverage.py. Here, five others, K = w1^2 w2^8 / 2,
w1^6 w2^8 / 2, w1^4 w2^8 / 2, w1^2 w2^2 w3^4 / 2 and w1^2 w2^4 w3^4 / 2 (n = 10 000, seed 0), each with all
defaults ("new": HMC), with sgld named ("sgld": its cheap-model length) and with the
length every model got before (sgld, 4 chains x 4000 draws, "old"), all with the finite-n check, against the
exact finite-n value by 2-D / 3-D quadrature at the run's own (n beta, gamma). Coverage = |estimate - target| <= 2 se.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import warnings

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)
RESULTS = os.path.join(ROOT, "benchmarks", "results")
CROSSINGS = ((1, 4), (3, 4), (2, 4), (1, 1, 2), (1, 2, 2))
SIDES = {"new": {}, "sgld": {"sampler": "sgld"}, "old": {"num_chains": 4, "num_draws": 4000}}


def main() -> None:
    import numpy as np

    import slt_ppl as slt
    from slt_ppl.models import normal_crossing

    rows, lines = [], []
    for k in CROSSINGS:
        case = normal_crossing.make(k)
        row = {"name": case.name}
        for side, kw in SIDES.items():
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = slt.estimate_llc(**case.llc_kwargs(), progress_bar=False, **kw)
            target = float(case.finite_n(res.nbeta, res.localization))
            row[side] = dict(estimate=float(res.llc), se=float(res.se), mcse=float(res.mcse), target=target,
                             rel_error=float(res.llc / target - 1), covered=bool(abs(res.llc - target) <= 2 * res.se),
                             converged=bool(res.converged), chains=len(res.llc_per_chain),
                             time_s=time.perf_counter() - t0)
        rows.append(row)
        line = f"{case.name:30s} target {row['new']['target']:.4f} | " + " | ".join(
            f"{side} {row[side]['chains']:2d} ch: {row[side]['estimate']:.4f} +/- {row[side]['se']:.4f}"
            f"{' ' if row[side]['covered'] else '!'} {row[side]['rel_error']:+7.1%} {row[side]['time_s']:5.1f} s"
            for side in SIDES)
        print(line, flush=True)
        lines.append(line)
    for side in SIDES:
        errs = [abs(r[side]["rel_error"]) for r in rows]
        lines.append(f"{side}: coverage {sum(r[side]['covered'] for r in rows)}/{len(rows)} within 2 se; within 5% "
                     f"{sum(e <= 0.05 for e in errs)}/{len(rows)}; median |rel err| {np.median(errs):.1%}, worst "
                     f"{max(errs):.1%}; converged {sum(r[side]['converged'] for r in rows)}/{len(rows)}; "
                     f"{sum(r[side]['time_s'] for r in rows):.0f} s")
        print(lines[-1])
    lines.append("(! = the target outside 2 se; relative error to the quadrature value at the run's n beta, gamma)")
    json.dump(dict(machine=platform.processor() or platform.machine(), cores=os.cpu_count(), rows=rows),
              open(os.path.join(RESULTS, "cheap_model_length.json"), "w"), indent=1)
    open(os.path.join(RESULTS, "cheap_model_length.txt"), "w").write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
