"""Peak memory of estimate_llc against num_draws: flat, because the scan is chunked and stores no positions.

Run: .venv/bin/python benchmarks/memory.py   (prints, writes benchmarks/results/memory.{txt,json})

A DLN [58,58,58,58] (d = 10 092), 4 chains, batch 500, SGLD with a fixed step, num_draws from 1e3
to 4e4, each in a fresh process; the peak is the process's high-water resident set (VmHWM). Only
the per-draw statistics (a few scalars per chain and draw) grow with num_draws; storing positions
would add 4 chains x d x 4 bytes per draw (160 KB here, 6.5 GB at 4e4 draws).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
import slt_ppl as slt
from slt_ppl.models import dln
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
case = dln.make((58, 58, 58, 58), 14, n=10000, seed=0)
before = peak_mb()
t = time.perf_counter()
res = slt.estimate_llc(**case.llc_kwargs(), num_chains=4, num_draws={draws}, num_burnin=0, step_size=1e-6,
                       batch_size=500, seed=0, chunk_size=1000, progress_bar=False)
print(json.dumps({{"draws": {draws}, "d": case.d, "seconds": time.perf_counter() - t, "peak_before_mb": before,
                  "peak_mb": peak_mb(), "llc": res.llc}}))
"""


def main() -> None:
    rows = []
    for draws in (1_000, 4_000, 16_000, 40_000):
        out = subprocess.run([sys.executable, "-W", "ignore", "-c", CHILD.format(root=ROOT, draws=draws)],
                             capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        row["positions_if_stored_mb"] = 4 * row["d"] * 4 * draws / 2**20
        rows.append(row)
        print(f"num_draws {draws:>6}: peak RSS {row['peak_mb']:.0f} MB (before sampling {row['peak_before_mb']:.0f} MB), "
              f"{row['seconds']:.1f} s; storing positions would add {row['positions_if_stored_mb']:.0f} MB", flush=True)
    growth = rows[-1]["peak_mb"] - rows[0]["peak_mb"]
    print(f"growth from {rows[0]['draws']} to {rows[-1]['draws']} draws: {growth:+.0f} MB")
    machine = f"{platform.machine()} {os.cpu_count()} CPU cores"
    out_dir = os.path.join(ROOT, "benchmarks", "results")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "memory.json"), "w") as fh:
        json.dump({"machine": machine, "rows": rows, "growth_mb": growth}, fh, indent=1)
    with open(os.path.join(out_dir, "memory.txt"), "w") as fh:
        fh.write(f"# {machine}; growth {growth:+.1f} MB from {rows[0]['draws']} to {rows[-1]['draws']} draws\n")
        fh.write("\n".join(json.dumps(r) for r in rows) + "\n")


if __name__ == "__main__":
    main()
