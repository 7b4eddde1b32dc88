"""Peak resident memory of an LLC run whose data are an np.memmap of 1M rows vs 20M rows.

Each size runs in a fresh process: write a linear-regression dataset (d features + target, float32) to a
memory-mapped file, estimate the LLC with minibatches streamed from it (slt.Likelihood keeps memmaps on the
host), and report the peak RSS (ru_maxrss) and the time. Flat memory means the peak RSS of the 20M-row run
is within 10% of the 1M-row one; a version that copied the data to the device would add 20M x (d+1) x 4
bytes (720 MB at d = 8). Writes benchmarks/results/memmap_memory.txt.

    python benchmarks/memmap_memory.py [--rows 1000000 20000000] [--d 8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, os, resource, sys, time
import numpy as np
rows, d, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
STEP_C, BURNIN, DRAWS = float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
data = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, d + 1))
rng = np.random.default_rng(0)
w0 = rng.normal(size=d).astype(np.float32)
xtx, xty = np.zeros((d, d)), np.zeros(d)
for start in range(0, rows, 1 << 20):  # written in blocks, pages released as we go
    stop = min(rows, start + (1 << 20))
    X = rng.normal(size=(stop - start, d)).astype(np.float32)
    data[start:stop, :d] = X
    y = X @ w0 + rng.normal(size=stop - start).astype(np.float32)
    data[start:stop, d] = y
    xtx += X.T.astype(np.float64) @ X
    xty += X.T.astype(np.float64) @ y
    data.flush()
    data._mmap.madvise(__import__("mmap").MADV_DONTNEED)
del data
w_hat = np.linalg.solve(xtx, xty)  # the least-squares minimiser: w* a minimum of L_n
import jax, jax.numpy as jnp
# float64 arithmetic: at n beta ~ 1e6 a step moves w by ~1e-7 per coordinate, float32's resolution at |w| ~ 1;
# in float32 the rounding adds its own noise and the estimate reads high (5.07 for lambda 4 at 1M rows)
jax.config.update("jax_enable_x64", True)
import slt_ppl as slt
table = np.load(path, mmap_mode="r")
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
def nll(w, rows):
    return 0.5 * (rows[:, -1] - rows[:, :-1] @ w) ** 2
lik = slt.Likelihood(nll, table)
t = time.perf_counter()
import math
step = STEP_C / (rows / math.log(rows))  # c / (n beta): the same relaxation (1/c steps) at both sizes
res = slt.estimate_llc(lik, jnp.asarray(w_hat), batch_size=512, num_draws=DRAWS, num_burnin=BURNIN,
                       step_size=step, diagnostic_every=None)
elapsed = time.perf_counter() - t
print(json.dumps({"rows": rows, "d": d, "on_host": lik.on_host, "peak_rss_mb": resource.getrusage(
    resource.RUSAGE_SELF).ru_maxrss / 1024, "rss_before_estimate_mb": rss_before / 1024, "seconds": elapsed,
    "llc": res.llc, "se": res.se, "step": step, "file_mb": os.path.getsize(path) / 2**20}))
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 20_000_000])
    parser.add_argument("--d", type=int, default=8)
    parser.add_argument("--step-c", type=float, default=1e-4,
                        help="step = c / (n beta): minibatch noise (c n beta / 2b of the injected) stays small")
    parser.add_argument("--burnin", type=int, default=4000)
    parser.add_argument("--draws", type=int, default=12000)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "memmap_memory.txt"))
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            path = os.path.join(tmp, f"data_{rows}.npy")
            out = subprocess.run([sys.executable, "-c", CHILD, str(rows), str(args.d), path,
                                  str(args.step_c), str(args.burnin), str(args.draws)], capture_output=True,
                                 text=True, env={**os.environ, "SLT_PPL_COMPILATION_CACHE": "off"})
            if out.returncode:
                sys.exit(f"the {rows}-row run failed:\n{out.stderr[-3000:]}")
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            os.remove(path)
            print(results[-1], flush=True)
    base = results[0]["peak_rss_mb"]
    lines = [f"LLC with minibatches streamed from an np.memmap (linear regression, d = {args.d}: lambda = "
             f"{args.d / 2:g}; batch 512, 4 chains x ({args.burnin} + {args.draws}) steps, step {args.step_c:g} / "
             "(n beta), float64); rows read from the file with pread", "",
             f"{'rows':>12} {'file MB':>9} {'peak RSS MB':>12} {'vs first':>9} {'before run':>10} {'seconds':>8} "
             f"{'step':>9} {'llc':>8} {'se':>6}"]
    for r in results:
        lines.append(f"{r['rows']:>12,} {r['file_mb']:>9.0f} {r['peak_rss_mb']:>12.0f} "
                     f"{(r['peak_rss_mb'] / base - 1) * 100:>+8.1f}% {r['rss_before_estimate_mb']:>10.0f} "
                     f"{r['seconds']:>8.1f} {r['step']:>9.2e} {r['llc']:>8.3f} {r['se']:>6.3f}")
    text = "\n".join(lines)
    print(text)
    with open(args.out, "w") as fh:
        fh.write(text + "\n")


if __name__ == "__main__":
    main()
