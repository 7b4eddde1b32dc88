"""Do the DLN misses of benchmarks/certified_llc.py shrink with a longer run? Default length against 4x and 8x.

Run: .venv/bin/python benchmarks/dln_run_length.py
     (prints, writes benchmarks/results/dln_run_length.{txt,json})

Two DLNs of the certified suite whose teachers' singular values are all resolved at this n beta (every kept
singular value s of the product has n beta s^2 / 2 >= 30) but whose default estimates read 10-12% under
Aoyagi's lambda, [6,7,10,7,6] r=1 and [21,14,11,20,18,19,11] r=1 (both at batch 500), and two resolved controls
that read within 7% ([9,10,19] r=5 and [15,7,16,14,16,17,9] r=2, batch 500), each at the default length
(4 chains x 4000 burn-in + 4000 draws) and at 4x and 8x the burn-in and draws (4 chains, same seed), with the
finite-n check off (the main chains' estimate is the subject; temperature_check=None). If an estimate rises
toward lambda with the run's length while each run's R-hat and trend test were quiet, the default run ended
short of equilibrium in directions slower than the run (a bias no within-run diagnostic sees).
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
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
RESULTS = os.path.join(ROOT, "benchmarks", "results")
NAMES = ("dln_gauss[6, 7, 10, 7, 6] r=1", "dln_gauss[21, 14, 11, 20, 18, 19, 11] r=1", "dln_gauss[9, 10, 19] r=5",
         "dln_gauss[15, 7, 16, 14, 16, 17, 9] r=2")
LENGTHS = (1, 4, 8)  # multiples of the default 4000 burn-in steps and 4000 draws


def main() -> None:
    import certified_llc

    import slt_ppl as slt

    rows, lines = [], []
    for case, kw in certified_llc.cases(False):
        if case["name"] not in NAMES:
            continue
        row = dict(name=case["name"], d=case["d"], batch_size=kw.get("batch_size"), runs=[])
        for factor in LENGTHS:
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = slt.estimate_llc(case["model"], case["params"], case["model_args"], progress_bar=False,
                                       num_chains=4, num_draws=4000 * factor, num_burnin=4000 * factor,
                                       temperature_check=None, **kw)
            target = case["target"](res.nbeta, res.localization)
            row["target"] = target
            row["runs"].append(dict(factor=factor, estimate=float(res.llc), se=float(res.se), mcse=float(res.mcse),
                                    rel_error=float(res.llc / target - 1), rhat=float(res.rhat),
                                    trend_z=float(res.trend_z), converged=bool(res.converged),
                                    time_s=time.perf_counter() - t0))
        rows.append(row)
        line = f"{case['name'][:40]:40s} lambda {row['target']:7.2f} | " + " | ".join(
            f"{r['factor']}x: {r['estimate']:7.2f} +/- {r['se']:5.2f} {r['rel_error']:+6.1%} (R-hat {r['rhat']:.3f}, "
            f"z {r['trend_z']:+.1f}{'' if r['converged'] else ', x'}) {r['time_s']:4.0f}s" for r in row["runs"])
        print(line, flush=True)
        lines.append(line)
    lines.append(f"(4 chains; Nx = N x 4000 burn-in steps and N x 4000 draws; sgld defaults otherwise; x = not converged "
                 f"by the verdict) machine: {platform.machine()}, {os.cpu_count()} CPU cores")
    print(lines[-1])
    json.dump(dict(rows=rows, machine=platform.machine(), cores=os.cpu_count()),
              open(os.path.join(RESULTS, "dln_run_length.json"), "w"), indent=1)
    open(os.path.join(RESULTS, "dln_run_length.txt"), "w").write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
