"""Chains over 1 vs 2 host devices: wall time of estimate_llc, each in a fresh process, side by side.

Prints and writes benchmarks/results/sharding.{txt,json}. Run: .venv/bin/python benchmarks/sharding.py
Each process times a second call (after a warm-up call) of 4 chains x 4000 SGLD steps on a DLN
(batch 500, fixed step), so compilation is mostly excluded (each call still re-traces; see README).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CHILD = """
import sys, time, json
sys.path.insert(0, {root!r})
import jax
import slt_ppl as slt
from models import dln
case = dln.make({widths!r}, 5, n=20000)
kw = dict(num_chains=4, num_draws=4000, num_burnin=0, step_size=1e-5, batch_size=500, seed=0, chunk_size=1000)
slt.estimate_llc(**case.llc_kwargs(), **{{**kw, "num_draws": 200}})
t = time.perf_counter(); res = slt.estimate_llc(**case.llc_kwargs(), **kw); el = time.perf_counter() - t
print(json.dumps({{"devices": jax.device_count(), "seconds": el, "d": case.d, "llc": res.llc}}))
"""


def run(devices: int, widths) -> dict:
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=ROOT, widths=widths)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    rows = []
    for widths in ((20, 30, 30, 20), (100, 200, 200, 100)):
        one, two = run(1, widths), run(2, widths)
        rows.append({"widths": list(widths), "d": one["d"], "one_device_s": one["seconds"], "two_devices_s": two["seconds"],
                     "speedup": one["seconds"] / two["seconds"], "same_llc": one["llc"] == two["llc"]})
        print(f"DLN {list(widths)} (d = {one['d']}): 1 device {one['seconds']:.2f} s, 2 devices {two['seconds']:.2f} s, "
              f"speedup {rows[-1]['speedup']:.2f}x, same numbers {rows[-1]['same_llc']}", flush=True)
    machine = f"{platform.machine()} {os.cpu_count()} CPU cores (host devices via XLA_FLAGS)"
    os.makedirs(os.path.join(ROOT, "benchmarks", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "benchmarks", "results", "sharding.json"), "w") as fh:
        json.dump({"machine": machine, "rows": rows}, fh, indent=1)
    with open(os.path.join(ROOT, "benchmarks", "results", "sharding.txt"), "w") as fh:
        fh.write(f"# {machine}\n" + "\n".join(json.dumps(r) for r in rows) + "\n")


if __name__ == "__main__":
    main()
