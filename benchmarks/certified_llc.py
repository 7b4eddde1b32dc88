"""Do the error bars cover the exact value? The LLC with the MCSE alone against the step-bias-corrected se.

Run: .venv/bin/python benchmarks/certified_llc.py [--quick]
     (prints, writes benchmarks/results/certified_llc.{txt,json})

Cases none of which is in the zoo's validate suite as such, each with an exact target:
- deep linear networks with Gaussian teachers (weights N(0, 1/fan-in), spread singular values, the
  rank cut to r in the first layer; noise projected off the column space of X so that w* is an exact
  minimiser of L_n): lambda from Aoyagi's formula (slt_ppl.theory.dln), full batch and batch 500;
- reduced-rank regressions whose coefficient has multiplicity m = 2 (slt_ppl.theory.rrr);
- normal crossings with uneven powers, K = w1^2 w2^4 / 2, w1^4 w2^6 / 2, w1^2 w2^6 / 2, w1^4 w2^4 / 2,
  against the exact finite-n value by 2-D quadrature (slt_ppl.theory.finite_llc_quadrature).
Each case runs twice with every other setting at its default: "before", today's estimator (se =
MCSE), and "after", step_bias="richardson" (chains at eps and eps/2 in one run, the measured bias in
se). Coverage = the share of cases with |estimate - target| <= 2 se; also the median and worst
relative error, Spearman(estimate, lambda) over the DLNs, and time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)
RESULTS = os.path.join(ROOT, "benchmarks", "results")


def gaussian_dln(widths, r, *, n=10_000, seed=0):
    """A DLN case whose teacher has Gaussian weights (ill-conditioned product) of rank r (module doc)."""
    import jax.numpy as jnp

    from slt_ppl import theory
    from slt_ppl.models import dln
    from slt_ppl.models.noise import orthogonal_noise

    rng = np.random.default_rng([seed, 7])
    params = {}
    for l in range(len(widths) - 1):
        W = rng.normal(size=(widths[l + 1], widths[l])) / np.sqrt(widths[l])
        if l == 0:
            W[r:] = 0.0
        params[f"W{l}"] = W.astype(np.float32)
    X = rng.normal(size=(n, widths[0])).astype(np.float32)
    mean = X
    for l in range(len(widths) - 1):
        mean = mean @ params[f"W{l}"].T
    y = (mean + orthogonal_noise(X, mean.shape, 1.0, rng)).astype(np.float32)
    d = sum(widths[l] * widths[l + 1] for l in range(len(widths) - 1))
    return dict(name=f"dln_gauss{list(widths)} r={r}", model=dln.model, params={k: jnp.asarray(v) for k, v in params.items()},
                model_args=(jnp.asarray(X), jnp.asarray(y), tuple(widths), 1.0), lam=float(theory.dln(tuple(widths), r).lam),
                finite_n=None, d=d, group="dln")


def zoo(case, group):
    return dict(name=case.name, model=case.model, params=case.params, model_args=case.model_args,
                lam=float(case.coefficient.lam), finite_n=case.finite_n, d=case.d, group=group)


def cases(quick: bool):
    from slt_ppl.models import normal_crossing, rrr

    rng = np.random.default_rng(2026)
    out = []
    for k in ((1, 2), (2, 3), (1, 3), (2, 2)):
        out.append((zoo(normal_crossing.make(k), "crossing"), {"num_draws": 8000}))
    for M, H, N, r in ((2, 2, 2, 1), (2, 3, 2, 0), (3, 2, 2, 0), (2, 2, 3, 0)):
        out.append((zoo(rrr.make(M, H, N, r), "rrr m=2"), {}))
    shapes = []
    for i in range(12):
        depth = int(rng.integers(2, 5))
        h = int(rng.integers(8, 30))
        widths = tuple(int(rng.integers(max(3, h // 2), h + h // 2 + 1)) for _ in range(depth + 1))
        r = int(rng.integers(1, min(widths) + 1))
        shapes.append((widths, r, 500 if i % 2 else None))
    for i, (widths, r, batch) in enumerate(shapes):
        kw = {} if batch is None else {"batch_size": batch}
        out.append((gaussian_dln(widths, r, seed=i), kw))
    return out[:6] if quick else out


def run_case(case, kw, step_bias):
    import slt_ppl as slt

    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = slt.estimate_llc(case["model"], case["params"], case["model_args"], progress_bar=False,
                                   **kw, **({} if step_bias is None else {"step_bias": step_bias}))
    except RuntimeError as err:  # every chain diverged: a failure of the defaults, counted as a miss
        return dict(estimate=float("nan"), se=float("nan"), mcse=float("nan"), target=float("nan"),
                    rel_error=float("inf"), z=float("nan"), covered=False, converged=False, step_bias=float("nan"),
                    extrapolated=False, time_s=time.perf_counter() - t0, error=str(err)[:200])
    elapsed = time.perf_counter() - t0
    finite = case["finite_n"](res.nbeta, res.localization) if case["finite_n"] is not None else None
    target = float(finite) if finite is not None else case["lam"]
    rel = (res.llc - target) / target
    return dict(estimate=float(res.llc), se=float(res.se), mcse=float(res.mcse), target=target, rel_error=rel,
                z=(res.llc - target) / res.se if res.se > 0 else float("inf"),
                covered=bool(abs(res.llc - target) <= 2 * res.se), converged=bool(res.converged),
                step_bias=float("nan") if res.step_bias is None else float(res.step_bias),
                extrapolated=bool(res.extrapolated), time_s=elapsed)


def summarize(rows, key):
    from scipy.stats import spearmanr

    errs = [abs(r[key]["rel_error"]) for r in rows]
    dln = [r for r in rows if r["group"] == "dln"]
    rho = float(spearmanr([r[key]["estimate"] for r in dln], [r["lam"] for r in dln])[0]) if len(dln) >= 3 else float("nan")
    return dict(coverage=float(np.mean([r[key]["covered"] for r in rows])), covered=int(sum(r[key]["covered"] for r in rows)),
                cases=len(rows), median_abs_rel_error=float(np.median(errs)), worst_abs_rel_error=float(np.max(errs)),
                dln_spearman=rho, converged=int(sum(r[key]["converged"] for r in rows)),
                time_s=float(sum(r[key]["time_s"] for r in rows)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rows = []
    head = (f"{'case':34s} {'d':>5s} {'target':>8s} | {'before: est +/- se':>22s} {'z':>6s} | "
            f"{'after: est +/- se':>22s} {'z':>6s} {'bias':>8s} {'t before/after':>14s}")
    print(head, flush=True)
    for case, kw in cases(args.quick):
        before = run_case(case, kw, None)
        after = run_case(case, kw, "richardson")
        rows.append(dict(name=case["name"], d=case["d"], group=case["group"], lam=case["lam"], kwargs=kw,
                         before=before, after=after))
        line = (f"{case['name'][:34]:34s} {case['d']:5d} {before['target']:8.3f} | {before['estimate']:10.3f} +/- "
                f"{before['se']:<7.3f}{'' if before['covered'] else '!'} {before['z']:+6.1f} | {after['estimate']:10.3f} +/- "
                f"{after['se']:<7.3f}{'' if after['covered'] else '!'} {after['z']:+6.1f} {after['step_bias']:+8.3f} "
                f"{before['time_s']:6.1f}/{after['time_s']:6.1f}s")
        print(line, flush=True)
    summary = {"before": summarize(rows, "before"), "after": summarize(rows, "after")}
    lines = [head] + []
    for label, s in summary.items():
        line = (f"{label:6s}: coverage {s['covered']}/{s['cases']} ({s['coverage']:.0%}) within 2 se; median |rel err| "
                f"{s['median_abs_rel_error']:.1%}, worst {s['worst_abs_rel_error']:.1%}; Spearman over DLNs "
                f"{s['dln_spearman']:.3f}; converged {s['converged']}/{s['cases']}; {s['time_s']:.0f} s")
        print(line)
        lines.append(line)
    if args.quick:
        return
    record = dict(machine=platform.processor() or platform.machine(), cores=os.cpu_count(), rows=rows, summary=summary)
    json.dump(record, open(os.path.join(RESULTS, "certified_llc.json"), "w"), indent=1, default=float)
    table = [head] + [
        f"{r['name'][:34]:34s} {r['d']:5d} {r['before']['target']:8.3f} | {r['before']['estimate']:10.3f} +/- "
        f"{r['before']['se']:<7.3f}{'' if r['before']['covered'] else '!'} {r['before']['z']:+6.1f} | "
        f"{r['after']['estimate']:10.3f} +/- {r['after']['se']:<7.3f}{'' if r['after']['covered'] else '!'} "
        f"{r['after']['z']:+6.1f} {r['after']['step_bias']:+8.3f} {r['before']['time_s']:6.1f}/{r['after']['time_s']:6.1f}s"
        for r in rows] + ["(! = the target lies outside 2 se; z = (estimate - target) / se)"] + lines[1:]
    open(os.path.join(RESULTS, "certified_llc.txt"), "w").write("\n".join(table) + "\n")


if __name__ == "__main__":
    main()
