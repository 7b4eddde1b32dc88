"""The recorded certified runs scored again with the LLC's error budget counted once.

The certified suite (benchmarks/certified_llc.py) recorded, for every run with the finite-n check, the total se
under the formula se_old^2 = 2 se_main^2 + shift^2 + se_partner^2 and, in the diagnosis, the shift and its se
(se_shift^2 = se_main^2 + se_partner^2). So se_main^2 = se_old^2 - shift^2 - se_shift^2 is recovered exactly
and the se of today's formula, se_new = sqrt(se_main^2 + shift^2) (llc/temperature_check.total_se), is
computed without sampling again: the estimates are those of the recorded run, only the error bar changes.

Scored, as the suite scores them, against lambda for the DLNs whose rank is resolved at n beta and the RRRs
(m = 2); the 10 rank-unresolved DLNs have no exact target (their bracket is in certified_llc.txt) and the five
crossings' recorded rows carry no shift, so neither enters. Writes benchmarks/results/rescore_error_budget.txt.

    python benchmarks/rescore_error_budget.py
"""

from __future__ import annotations

import json
import math
import os
import re
from statistics import median, pstdev

HERE = os.path.dirname(os.path.abspath(__file__))
SHIFT = re.compile(r"shift ([+-]?[\d.]+(?:e[+-]?\d+)?) \+/- ([\d.]+(?:e[+-]?\d+)?)")


def rows():
    with open(os.path.join(HERE, "results", "certified_llc.json")) as f:
        data = json.load(f)
    for r in data["rows"]:
        after = r["after"]
        found = [SHIFT.search(d) for d in after.get("diagnosis") or []]
        found = [m for m in found if m]
        resolved = r.get("rank_at_nbeta") is None or r.get("rank_at_nbeta") == r.get("r")
        if not found or not resolved or r["group"] == "crossing":
            continue
        shift, shift_se = float(found[-1].group(1)), float(found[-1].group(2))
        se_main = math.sqrt(max(after["se"] ** 2 - shift ** 2 - shift_se ** 2, 0.0))
        yield {"name": r["name"], "group": r["group"], "target": after["target"], "estimate": after["estimate"],
               "se_old": after["se"], "se_new": math.hypot(se_main, shift), "se_main": se_main, "shift": shift}


def summary(rs, key):
    z = [(r["estimate"] - r["target"]) / r[key] for r in rs]
    return {"cases": len(rs), "within_2se": sum(abs(v) <= 2 for v in z), "std_z": pstdev(z),
            "rms_z": math.sqrt(sum(v * v for v in z) / len(z)),
            "median_width": median(r[key] / abs(r["target"]) for r in rs)}


def main() -> None:
    rs = list(rows())
    lines = ["The certified runs scored with the error budget counted once (benchmarks/rescore_error_budget.py)",
             "(source: benchmarks/results/certified_llc.json, the recorded after side; no new sampling)", "",
             "| se | cases | within 2 se | std(z) | rms(z) | median se/target |", "|---|---|---|---|---|---|"]
    for key, label in (("se_old", "before: 2 se_main^2 + shift^2 + se_partner^2"),
                       ("se_new", "after: se_main^2 + shift^2")):
        s = summary(rs, key)
        lines.append(f"| {label} | {s['cases']} | {s['within_2se']}/{s['cases']} | {s['std_z']:.2f} | "
                     f"{s['rms_z']:.2f} | {100 * s['median_width']:.1f}% |")
    lines += ["", "| case | target | estimate | se before | se after | z before | z after |",
              "|---|---|---|---|---|---|---|"]
    for r in rs:
        lines.append(f"| {r['name']} | {r['target']:.4g} | {r['estimate']:.4g} | {r['se_old']:.3g} | {r['se_new']:.3g} | "
                     f"{(r['estimate'] - r['target']) / r['se_old']:+.2f} | {(r['estimate'] - r['target']) / r['se_new']:+.2f} |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(HERE, "results", "rescore_error_budget.txt"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
