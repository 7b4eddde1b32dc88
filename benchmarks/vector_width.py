"""XLA CPU vector width for the sampling loops: 256 bits (XLA's default) against 512 (slt_ppl's on AVX-512).

Run: .venv/bin/python benchmarks/vector_width.py   (prints, writes benchmarks/results/vector_width.{txt,json})

The runner compiles its chunk loops with jit(compiler_options={"xla_cpu_prefer_vector_width": ...})
(slt_ppl.samplers.runner.compiler_options; SLT_PPL_CPU_VECTOR_WIDTH overrides it). Each width runs in
a fresh process, the two alternate ROUNDS times, and each figure is the best over all calls: the
threefry Gaussian noise of 4 x 28K parameters alone, and steady-state estimate_llc on the 28K- and
1.2M-parameter DLNs of devinterp_compare.py (4 chains, batch 500, fixed eps). The LLCs must agree.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
ROUNDS = 3

CHILD = r"""
import json, math, sys, time
sys.path.insert(0, {root!r})
import jax, jax.numpy as jnp
import slt_ppl as slt
from slt_ppl.samplers.runner import compiler_options
from slt_ppl.samplers.sgld import gaussian_noise
from slt_ppl.models import dln

def best(fn, repeats=3):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
    return min(times)

out = {{"options": compiler_options()}}
position = {{"W": jnp.zeros((4, 28000))}}
keys = jax.random.split(jax.random.key(0), 4)

def noise_loop(keys, position):
    def body(acc, t):
        ks = jax.vmap(lambda k: jax.random.fold_in(k, t))(keys)
        return jax.tree.map(jnp.add, acc, jax.vmap(gaussian_noise)(ks, acc)), None
    return jax.lax.scan(body, position, jnp.arange(500))[0]

noise = jax.jit(noise_loop, compiler_options=compiler_options())
with jax.threefry_partitionable(False):
    out["noise_ms_per_step"] = 1e3 * best(lambda: jax.block_until_ready(noise(keys, position))) / 500
for name, widths, r, steps, eps in (("dln_28k", (90, 100, 100, 90), 20, 2000, 1.0584597928170801e-07),
                                    ("dln_1.2m", (500, 700, 700, 500), 100, 40, 8.324311111977727e-10)):
    case = dln.make(widths, r, n=10_000, seed=0)
    res = {{}}
    def run():
        res["llc"] = slt.estimate_llc(**case.llc_kwargs(), num_chains=4, num_draws=steps, num_burnin=0, step_size=eps,
                                      nbeta=10_000 / math.log(10_000), batch_size=500, seed=0, burnin_step_factor=1.0,
                                      progress_bar=False).llc
    t = best(run)
    out[name] = {{"chain_steps_per_s": 4 * steps / t, "ms_per_step": 1e3 * t / steps, "llc": res["llc"]}}
print(json.dumps(out))
"""


def child(width: int) -> dict:
    env = dict(os.environ, SLT_PPL_CPU_VECTOR_WIDTH=str(width))
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=ROOT)], capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    runs = {256: [], 512: []}
    for _ in range(ROUNDS):
        for width in runs:
            runs[width].append(child(width))
    summary = {}
    for width, rs in runs.items():
        summary[width] = {"noise_ms_per_step": min(r["noise_ms_per_step"] for r in rs)}
        for name in ("dln_28k", "dln_1.2m"):
            summary[width][name] = {"ms_per_step": min(r[name]["ms_per_step"] for r in rs), "llc": rs[0][name]["llc"]}
    lines = [f"# {platform.machine()} {os.cpu_count()} CPU cores, jax CPU; best of {ROUNDS} alternating processes x 3 calls"]
    a, b = summary[256], summary[512]
    lines.append(f"noise 4 x 28K: {a['noise_ms_per_step']:.3f} -> {b['noise_ms_per_step']:.3f} ms/step "
                 f"({a['noise_ms_per_step'] / b['noise_ms_per_step']:.2f}x)")
    for name in ("dln_28k", "dln_1.2m"):
        x, y = a[name], b[name]
        lines.append(f"{name} step: {x['ms_per_step']:.3f} -> {y['ms_per_step']:.3f} ms ({x['ms_per_step'] / y['ms_per_step']:.2f}x); "
                     f"llc {x['llc']:.6g} vs {y['llc']:.6g}")
    print("\n".join(lines))
    os.makedirs(os.path.join(ROOT, "benchmarks", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "benchmarks", "results", "vector_width.txt"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    with open(os.path.join(ROOT, "benchmarks", "results", "vector_width.json"), "w") as fh:
        json.dump({"machine": lines[0], "summary": summary, "runs": runs}, fh, indent=1)


if __name__ == "__main__":
    main()
