"""The global estimators at their defaults against exact finite-n values (quadrature), on singular models.

Each case is y ~ N(x prod_j w_j^{k_j}, 1), w_j ~ N(0, 1), n data (slt_ppl.tempered.exact, whose grid is
checked to agree with a 1.5x finer one). Per quantity (WBIC, the free energy F_n, the RLCT slope on the
estimator's own ladder, nu at beta = 1): coverage within 2 se, the std of z = (est - exact) / se, the median
se / |value| and the time per case. Results are written after every case.

    python benchmarks/global_exact.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
import warnings
from pathlib import Path

import numpy as np

import slt_ppl as slt
from slt_ppl.tempered.exact import ProductRegression, product_data

OUT = Path(__file__).parent / "results"
CASES = [  # (powers, signal, n, data seed)
    ((1, 2), 0.03, 3000, 0), ((1, 2), 0.0, 3000, 1), ((1, 3), 0.03, 3000, 2), ((1, 3), 0.0, 3000, 3),
    ((2, 3), 0.03, 3000, 4), ((2, 3), 0.0, 3000, 5), ((1, 2), 0.05, 1000, 6), ((2, 2), 0.0, 2000, 7),
    ((1, 1, 1), 0.03, 3000, 8), ((1, 1, 1), 0.0, 3000, 9), ((1, 1, 2), 0.02, 2000, 10), ((1, 2), 0.1, 3000, 11),
]


# --before: the settings before the exact comparison (NUTS at BlackJAX's 0.8 acceptance everywhere; the RLCT on
# 4 chains x 1000 draws with no precision target; nu's se the chains' sd / sqrt(C) without the Student-t factor)
BEFORE = {"target_accept_prob": 0.8}
BEFORE_RLCT = {"sampler": "nuts", "num_chains": 4, "num_draws": 1000, "rtol": None, "target_accept_prob": 0.8}


def run_case(powers, signal, n, seed, before=False):
    x, y = product_data(n, signal, seed=seed)
    ex = ProductRegression(x, y, powers)
    ok, rel = ex.converged()
    exact = ex.targets()
    model, args = ex.numpyro_model()
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.time()
        kw = BEFORE if before else {}
        w = slt.estimate_wbic(model, args, seed=seed, progress_bar=False, **kw)
        rows.append(("wbic", w.wbic, w.se, exact["wbic"], time.time() - t, w.converged))
        t = time.time()
        f = slt.estimate_free_energy(model, args, seed=seed, progress_bar=False, **kw)
        rows.append(("free_energy", f.free_energy, f.se, exact["free_energy"], time.time() - t, f.converged))
        t = time.time()
        g = slt.estimate_rlct(model, args, seed=seed, progress_bar=False, **(BEFORE_RLCT if before else {}))
        rows.append(("rlct", g.rlct, g.se, exact["rlct"], time.time() - t, g.converged))
        t = time.time()
        w1 = slt.estimate_wbic(model, args, seed=seed, beta=1.0, log_likelihood=True, progress_bar=False, **kw)
        s = slt.singular_fluctuation(w1)
        se = float(np.std(s.nu_per_chain, ddof=1) / np.sqrt(len(s.nu_per_chain))) if before else s.se
        rows.append(("nu", s.nu, se, exact["nu"], time.time() - t, s.converged))
    return {"case": f"{powers} signal={signal} n={n} seed={seed}", "grid_converged": bool(ok),
            "grid_rel_diff": max(rel.values()),
            "rows": [dict(zip(("quantity", "estimate", "se", "exact", "time_s", "converged"), r)) for r in rows]}


def summarise(results):
    out = {}
    for q in ("wbic", "free_energy", "rlct", "nu"):
        r = [row for res in results for row in res["rows"] if row["quantity"] == q]
        if not r:
            continue
        z = np.array([(a["estimate"] - a["exact"]) / a["se"] for a in r])
        rel = np.array([a["se"] / abs(a["exact"]) for a in r])
        out[q] = {"cases": len(r), "coverage_2se": float(np.mean(np.abs(z) <= 2)), "std_z": float(np.std(z)),
                  "mean_z": float(np.mean(z)), "median_se_over_value": float(np.median(rel)),
                  "median_se": float(np.median([a["se"] for a in r])),
                  "median_time_s": float(np.median([a["time_s"] for a in r])),
                  "converged": int(sum(bool(a["converged"]) for a in r))}
    return out


def write(results, header, name="global_exact"):
    summary = summarise(results)
    (OUT / f"{name}.json").write_text(json.dumps({"header": header, "cases": results, "summary": summary},
                                                      indent=1, default=float))
    lines = [header, ""]
    for res in results:
        for a in res["rows"]:
            z = (a["estimate"] - a["exact"]) / a["se"]
            lines.append(f"{res['case']:<34} {a['quantity']:<12} {a['estimate']:12.4f} +/- {a['se']:8.4f}  exact "
                         f"{a['exact']:12.4f}  z {z:+6.2f}  {a['time_s']:6.1f} s  {'ok' if a['converged'] else 'NOT converged'}")
        lines.append(f"{'':<34} (quadrature: 1.5x grid agrees to {res['grid_rel_diff']:.1e})")
    lines += ["", f"{'quantity':<12} {'cases':>5} {'cov 2se':>8} {'std z':>6} {'mean z':>7} {'med se':>8} {'med se/|v|':>10} "
              f"{'med time':>9} {'converged':>9}"]
    for q, s in summary.items():
        lines.append(f"{q:<12} {s['cases']:5d} {s['coverage_2se']:8.2f} {s['std_z']:6.2f} {s['mean_z']:+7.2f} {s['median_se']:8.4f} "
                     f"{s['median_se_over_value']:10.2e} {s['median_time_s']:8.1f}s {s['converged']:9d}")
    (OUT / f"{name}.txt").write_text("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="the first 2 cases only")
    ap.add_argument("--tag", default="", help="a label for the header (e.g. the commit)")
    ap.add_argument("--before", action="store_true", help="the earlier settings (BEFORE), to global_exact_before.*")
    ap.add_argument("--rewrite", action="store_true", help="rewrite the text table from the saved JSON")
    args = ap.parse_args()
    name = "global_exact_before" if args.before else "global_exact"
    if args.rewrite:
        saved = json.loads((OUT / f"{name}.json").read_text())
        write(saved["cases"], saved["header"], name)
        return
    import jax

    import os

    header = (f"# {platform.machine()} {os.cpu_count()} CPU cores, jax {jax.__version__} on {jax.devices()[0].platform}, "
              f"{time.strftime('%Y-%m-%d')} {args.tag}: "
              f"{'the earlier settings (BEFORE in the script)' if args.before else 'all estimator defaults'}; exact values by quadrature "
              "(slt_ppl.tempered.exact); z = (est - exact) / se")
    results = []
    for case in CASES[:2] if args.quick else CASES:
        results.append(run_case(*case, before=args.before))
        write(results, header, name)
        print(results[-1]["case"], [(a["quantity"], round((a["estimate"] - a["exact"]) / a["se"], 2)) for a in results[-1]["rows"]], flush=True)


if __name__ == "__main__":
    main()
