"""Scaling study: SGLD time per step from 1e2 to 1e7 parameters beside this machine's matmul roofline.

Run: .venv/bin/python benchmarks/scaling.py [--max-params 1e7]
Prints and writes benchmarks/results/scaling.{txt,json,png}.

In one run: (1) the float32 matrix-multiply throughput of this machine, the best of jnp.dot on
square matrices of 1024..4096 (the roofline); (2) for deep linear networks [w, w, w, w] with
d = 3 w^2 from 1e2 to 1e7 parameters, the wall time per step of estimate_llc's SGLD (4 chains,
batch 500, fixed step, second call so compilation is excluded). Achieved throughput counts only
the model's matmul work per step, 4 chains x (forward 2 b d + weight gradients 2 b d + input
gradients 2 b (d - w0 w1)), and leaves out everything else a step does (noise, localization, the
MALA diagnostic every 10 steps): the fraction of the roofline it reports is a lower bound.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import slt_ppl as slt  # noqa: E402
from slt_ppl.models import dln  # noqa: E402

CHAINS, BATCH = 4, 500


def matmul_throughput(sizes=(1024, 2048, 4096), reps: int = 5) -> dict:
    """Best float32 GFLOP/s of jnp.dot(A, B) on square matrices (2 N^3 flops each)."""
    out = {}
    for n in sizes:
        a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
        b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
        dot = jax.jit(jnp.dot)
        dot(a, b).block_until_ready()
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            dot(a, b).block_until_ready()
            times.append(time.perf_counter() - t)
        out[n] = 2 * n**3 / min(times) / 1e9
    return out


def step_flops(widths) -> float:
    d = sum(widths[i] * widths[i + 1] for i in range(len(widths) - 1))
    return CHAINS * (2 * BATCH * d + 2 * BATCH * d + 2 * BATCH * (d - widths[0] * widths[1]))


def time_per_step(widths, target_s: float = 6.0) -> dict:
    case = dln.make(widths, max(1, widths[1] // 4), n=10_000, seed=0)
    kw = dict(num_chains=CHAINS, num_burnin=0, step_size=1e-9, batch_size=BATCH, seed=0, progress_bar=False,
              temperature_check=None)  # the chains named, no partner chains at n beta / 4
    t = time.perf_counter()
    slt.estimate_llc(**case.llc_kwargs(), num_draws=4, chunk_size=4, **kw)  # compile + a rough speed
    probe = max(time.perf_counter() - t, 1e-3)
    slt.estimate_llc(**case.llc_kwargs(), num_draws=8, chunk_size=4, **kw)
    t = time.perf_counter()
    slt.estimate_llc(**case.llc_kwargs(), num_draws=8, chunk_size=4, **kw)
    rough = (time.perf_counter() - t) / 8
    steps = int(min(20_000, max(20, target_s / rough)))
    chunk = min(steps, 1000)
    steps = max(chunk, steps // chunk * chunk)
    slt.estimate_llc(**case.llc_kwargs(), num_draws=chunk, chunk_size=chunk, **kw)  # compile this chunk size
    t = time.perf_counter()
    slt.estimate_llc(**case.llc_kwargs(), num_draws=steps, chunk_size=chunk, **kw)
    per_step = (time.perf_counter() - t) / steps
    return {"widths": list(widths), "d": case.d, "steps": steps, "first_call_s": probe, "s_per_step": per_step,
            "gflops": step_flops(widths) / per_step / 1e9}


def plot(rows, peak, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = np.array([r["d"] for r in rows], float)
    t = np.array([r["s_per_step"] for r in rows])
    roof = np.array([step_flops(r["widths"]) for r in rows]) / (peak * 1e9)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4))
    ax.loglog(d, t, "o-", label="slt_ppl SGLD, 4 chains, batch 500")
    ax.loglog(d, roof, "k--", label=f"matmul roofline ({peak:.0f} GFLOP/s)")
    ax.set(xlabel="parameters d", ylabel="seconds per step", title="time per step")
    ax.legend()
    bx.semilogx(d, [r["gflops"] / peak for r in rows], "o-")
    bx.axhline(0.4, color="gray", ls=":", label="40%")
    bx.set(xlabel="parameters d", ylabel="fraction of matmul throughput", ylim=(0, 1), title="model FLOP/s / roofline")
    bx.legend()
    fig.suptitle(f"{platform.machine()}, {os.cpu_count()} CPU cores, jax {jax.__version__} {jax.default_backend()}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    max_params = float(sys.argv[sys.argv.index("--max-params") + 1]) if "--max-params" in sys.argv else 1e7
    mm = matmul_throughput()
    peak = max(mm.values())
    print(f"matmul throughput (float32, GFLOP/s): {', '.join(f'{n}: {g:.1f}' for n, g in mm.items())}; peak {peak:.1f}",
          flush=True)
    rows = []
    for exp in range(2, 8):
        if 10**exp > max_params * 1.01:
            break
        w = int(round(math.sqrt(10**exp / 3)))
        row = time_per_step((w, w, w, w))
        row["fraction_of_roofline"] = row["gflops"] / peak
        rows.append(row)
        print(f"d = {row['d']:>10,}: {row['s_per_step'] * 1e3:9.3f} ms/step over {row['steps']} steps, "
              f"{row['gflops']:7.1f} GFLOP/s = {row['fraction_of_roofline']:.0%} of the matmul roofline "
              f"(first call {row['first_call_s']:.1f} s)", flush=True)
    mm_after = matmul_throughput(sizes=(2048,))  # the machine's speed again, to see drift during the run
    machine = f"{platform.machine()} {os.cpu_count()} CPU cores, jax {jax.__version__} on {jax.default_backend()} ({jax.devices()[0].device_kind})"
    out = os.path.join(ROOT, "benchmarks", "results")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "scaling.json"), "w") as fh:
        json.dump({"machine": machine, "matmul_gflops": mm, "matmul_gflops_after": mm_after, "peak_gflops": peak,
                   "rows": rows}, fh, indent=1)
    with open(os.path.join(out, "scaling.txt"), "w") as fh:
        fh.write(f"# {machine}; matmul peak {peak:.1f} GFLOP/s ({mm}); after the run {mm_after}\n")
        fh.write("\n".join(json.dumps(r) for r in rows) + "\n")
    plot(rows, peak, os.path.join(out, "scaling.png"))
    print(f"wrote {out}/scaling.{{txt,json,png}}; matmul at 2048 after the run: {mm_after[2048]:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
