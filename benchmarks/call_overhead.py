"""The fixed cost of a call: estimate_llc repeated with the same data objects and with fresh copies.

Run: .venv/bin/python benchmarks/call_overhead.py [--quick] [--label before]
     (prints, appends a labelled record to benchmarks/results/call_overhead.json and rewrites .txt)

A loop over checkpoints, probe sets or self-distilled data calls the estimator again and again
with new arrays of the same shapes. Such a call must reuse every compiled program of the first
one. Per workload (a NumPyro DLN [100,100,100,100] at n = 10 000, the same network as a
slt.Likelihood, batch 500, 4 chains), in one process:
  first call (compilation included), then REPEATS calls with the same array objects and REPEATS
  with fresh copies (np.array(x) of every data array and of w*), best of the repeats, each with
  10 draws: the sampling is then about 30 ms, and the call time is the fixed cost of a call. The
  time per draw is measured beside it (calls with 2x and 1x `draws` draws, the difference), so the
  sampling share of the 10-draw call is known.
Fixed step (the sampling loop alone) and step_size="auto" (the calibration warmup too).
Cold vs warm persistent compilation cache: `--compile-cache` times the first call in two fresh
processes sharing an empty cache directory (the second finds the first's programs on disk).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)
RESULTS = os.path.join(ROOT, "benchmarks", "results")


def _workloads(n: int, widths):
    import jax.numpy as jnp

    import slt_ppl as slt
    from slt_ppl.models import dln

    case = dln.make(widths=widths, r=10, n=n, seed=0)
    X, y = np.asarray(case.model_args[0]), np.asarray(case.model_args[1])
    depth = len(widths) - 1

    def nll(params, batch):
        xb, yb = batch
        h = xb
        for l in range(depth):
            h = h @ params[f"W{l}"].T
        return 0.5 * jnp.sum((h - yb) ** 2, axis=-1)

    params = {k: np.asarray(v) for k, v in case.params.items()}

    def numpyro_call(X, y, params, **kw):
        return slt.estimate_llc(case.model, params, (X, y, case.model_args[2], case.model_args[3]), **kw)

    def likelihood_call(X, y, params, **kw):
        return slt.estimate_llc(slt.Likelihood(nll, (X, y)), params, **kw)

    return {"numpyro": numpyro_call, "likelihood": likelihood_call}, X, y, params, case.d


def _timed(fn, *args, **kw) -> float:
    t0 = time.perf_counter()
    res = fn(*args, **kw)
    float(res.llc)
    return time.perf_counter() - t0


SHORT = 10  # draws of the timed calls: their sampling costs about 30 ms


def measure(quick: bool) -> list[dict]:
    n, widths = (2_000, (30, 30, 30, 30)) if quick else (10_000, (100, 100, 100, 100))
    draws, repeats = (100, 2) if quick else (400, 3)
    calls, X, y, params, d = _workloads(n, widths)
    rows = []
    for name, call in calls.items():
        for step in (1e-5, "auto"):
            kw = dict(num_draws=SHORT, num_burnin=0, batch_size=500, step_size=step, progress_bar=False, seed=0,
                      chunk_size=2 * draws, temperature_check=None)
            first = _timed(call, X, y, params, **kw)
            same = min(_timed(call, X, y, params, **kw) for _ in range(repeats))
            fresh = min(_timed(call, np.array(X), np.array(y), {k: np.array(v) for k, v in params.items()}, **kw)
                        for _ in range(repeats))
            one = min(_timed(call, X, y, params, **{**kw, "num_draws": draws}) for _ in range(repeats))
            two = min(_timed(call, X, y, params, **{**kw, "num_draws": 2 * draws}) for _ in range(repeats))
            sampling = (two - one) / draws * SHORT  # the 10 draws' share of the short call
            row = dict(workload=name, step=str(step), d=d, n=n, draws=SHORT, first_s=first, same_s=same,
                       fresh_s=fresh, sampling_s=sampling, overhead_same_s=same - sampling,
                       overhead_fresh_s=fresh - sampling)
            rows.append(row)
            print(f"{name:10s} step={str(step):6s} first {first:6.2f} s | same arrays {same:5.2f} s | fresh copies "
                  f"{fresh:5.2f} s | sampling {sampling:5.2f} s | overhead same {same - sampling:5.2f} s, "
                  f"fresh {fresh - sampling:5.2f} s", flush=True)
    return rows


COLD_CHILD = r"""
import sys, time
sys.path.insert(0, {root!r})
t0 = time.perf_counter()
import jax, numpy as np, slt_ppl as slt
from slt_ppl.models import dln
compiles = []
jax.monitoring.register_event_duration_secs_listener(
    lambda name, secs, **kw: compiles.append(secs) if "backend_compile" in name else None)
case = dln.make(widths=(100, 100, 100, 100), r=10, n=10_000, seed=0)
t1 = time.perf_counter()
res = slt.estimate_llc(**case.llc_kwargs(), num_draws=400, num_burnin=0, batch_size=500, progress_bar=False)
float(res.llc)
print(len(compiles), sum(compiles))
print(time.perf_counter() - t1)
"""


def compile_cache_first_calls() -> dict:
    """First call in a fresh process, twice, sharing one empty persistent compilation cache directory."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "SLT_PPL_COMPILATION_CACHE": cache}
        out = []
        for _ in range(2):
            proc = subprocess.run([sys.executable, "-c", COLD_CHILD.format(root=ROOT)], env=env, capture_output=True,
                                  text=True, check=True)
            out.append(float(proc.stdout.strip().splitlines()[-1]))
        no_cache = subprocess.run([sys.executable, "-c", COLD_CHILD.format(root=ROOT)],
                                  env={**os.environ, "SLT_PPL_COMPILATION_CACHE": ""}, capture_output=True,
                                  text=True, check=True)
    count, secs = no_cache.stdout.strip().splitlines()[-2].split()
    figures = dict(no_cache_s=float(no_cache.stdout.strip().splitlines()[-1]), cold_cache_s=out[0], warm_cache_s=out[1],
                   programs_compiled=int(count), compile_s=float(secs))
    print(f"first call in a fresh process: no cache {figures['no_cache_s']:.2f} s ({count} programs compiled in "
          f"{float(secs):.2f} s), cold cache {figures['cold_cache_s']:.2f} s, warm cache {figures['warm_cache_s']:.2f} s",
          flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--label", default="current")
    parser.add_argument("--compile-cache", action="store_true")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    record = dict(label=args.label, commit=commit, machine=platform.processor() or platform.machine(),
                  cores=os.cpu_count(), rows=measure(args.quick))
    if args.compile_cache:
        record["first_call"] = compile_cache_first_calls()
    if args.quick:
        return
    path = os.path.join(RESULTS, "call_overhead.json")
    records = json.load(open(path)) if os.path.exists(path) else []
    records = [r for r in records if r["label"] != args.label] + [record]
    json.dump(records, open(path, "w"), indent=1)
    lines = ["Fixed cost of an estimate_llc call (benchmarks/call_overhead.py); seconds, best of repeats",
             "overhead = call time - sampling time of its 10 draws (per draw: calls with 800 and 400 draws, the difference)", ""]
    for r in records:
        lines.append(f"[{r['label']}] commit {r['commit']}, {r['cores']} cores")
        for row in r["rows"]:
            lines.append(f"  {row['workload']:10s} step={row['step']:6s} d={row['d']} n={row['n']} draws={row['draws']}: "
                         f"first {row['first_s']:.2f} | same {row['same_s']:.2f} | fresh {row['fresh_s']:.2f} | "
                         f"sampling {row['sampling_s']:.2f} | overhead same {row['overhead_same_s']:.2f}, "
                         f"fresh {row['overhead_fresh_s']:.2f}")
        if "first_call" in r:
            f = r["first_call"]
            lines.append(f"  first call, fresh process: no cache {f['no_cache_s']:.2f}"
                         + (f" ({f['programs_compiled']} programs compiled, {f['compile_s']:.2f} s)"
                            if "programs_compiled" in f else "")
                         + f" | cold cache {f['cold_cache_s']:.2f} | warm cache {f['warm_cache_s']:.2f}")
    open(os.path.join(RESULTS, "call_overhead.txt"), "w").write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
