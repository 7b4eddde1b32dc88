"""One markdown table per benchmark, read from benchmarks/results/<name>.json (the files the scripts in
benchmarks/ write). A results file that is absent gives no table; a page that includes it then fails the
build, which is what should happen.
"""

from __future__ import annotations

import json
import math
import os
from statistics import median, pstdev


def _fmt(x, digits=4) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}".replace(",", " ")
    if isinstance(x, float):
        if not math.isfinite(x):
            return "-"
        return f"{x:.{digits}g}"
    return str(x).replace("|", "/")


def _pct(x) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{100 * x:+.1f}%"


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r if isinstance(r, str) else _fmt(r) for r in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _source(name: str, data) -> str:
    machine = data.get("machine") if isinstance(data, dict) else None
    if isinstance(machine, dict):
        machine = f"{machine.get('cpu', '')}, {machine.get('cores', '?')} cores"
    where = f"; machine: {machine}" if machine else ""
    return f"\n*Source: `benchmarks/results/{name}.json` (written by `benchmarks/{name}.py`){where}.*\n"


def calibration_summary(rows: list[dict]) -> str:
    """Per group: coverage within 2 se, std of z = (estimate - target) / se, median se / |target|, median and
    worst |relative error|, time."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["group"], []).append(r)
    groups["all"] = rows
    out = []
    for g, rs in groups.items():
        z = [r["z"] for r in rs if r.get("z") is not None and math.isfinite(r["z"])]
        width = [r["se"] / abs(r["target"]) for r in rs if r.get("target")]
        err = [abs(r["rel_error"]) for r in rs if r.get("rel_error") is not None and math.isfinite(r["rel_error"])]
        covered = sum(bool(r.get("covered")) for r in rs)
        out.append([g, len(rs), f"{covered}/{len(rs)}", pstdev(z) if len(z) > 1 else None,
                    _pct(median(width)).lstrip("+") if width else "-",
                    _pct(median(err)).lstrip("+") if err else "-", _pct(max(err)).lstrip("+") if err else "-",
                    sum(r.get("time_s", 0.0) for r in rs)])
    return _table(["group", "cases", "within 2 se", "std(z)", "median se/target", "median error", "worst error",
                   "time (s)"], out)


def validate_full(d) -> str:
    rows = [[r["model"], r["d"], r.get("lambda_exact", r["lambda"]), r["estimate"], r["se"],
             _pct(r.get("rel_error_vs_lambda")), r["covered"], r["converged"], r.get("time_s")]
            for r in d["rows"]]
    s = d["summary"]
    head = (f"{s['passed']}/{s['checked']} within tolerance, {s['covered']}/{s['coverage_cases']} within 2 se, "
            f"{s['converged']}/{s['cases']} converged, median |error| vs lambda {100 * s['median_abs_rel_error_vs_lambda']:.1f}%, "
            f"Spearman over {s['dln_cases']} DLNs {s['dln_spearman']:.3f}, {s['total_time_s']:.0f} s in all.\n\n")
    return head + _table(["model", "d", "lambda", "estimate", "se", "error vs lambda", "within 2 se", "converged",
                          "time (s)"], rows)


def certified_llc(d) -> str:
    rows = []
    for r in d["rows"]:
        a = dict(r["after"], group=r["group"], d=r["d"])
        rows.append(a)
    per_case = [[r["name"], r["d"], r["target"], r["estimate"], r["se"], _pct(r["rel_error"]), r["z"],
                 r["converged"], r["time_s"]] for r in rows]
    return (calibration_summary(rows) + "\n"
            + _table(["case", "d", "target", "estimate", "se", "error", "z", "converged", "time (s)"], per_case))


def holdout_coverage(d) -> str:
    rows = [dict(r) for r in d]
    per_case = [[r["name"], r["d"], r["target"], r["estimate"], r["se"], _pct(r["rel_error"]), r["z"],
                 r["converged"], r.get("time_s")] for r in rows]
    return (calibration_summary(rows) + "\n"
            + _table(["case", "d", "target", "estimate", "se", "error", "z", "converged", "time (s)"], per_case))


def global_estimators(d) -> str:
    rows = []
    for r in d["rows"]:
        z = (r["estimate"] - r["exact"]) / r["se"] if r.get("se") else None
        rows.append([r["case"], r["quantity"], r["exact"], r["estimate"], r["se"], z, _pct(r.get("rel_error")),
                     r["seconds"]])
    return _table(["case", "quantity", "exact", "estimate", "se", "z", "error", "time (s)"], rows)


def compare_samplers(d) -> str:
    rows = [[r["case"], r["sampler"], r["target"], r["llc"], r["mcse"], _pct(r["rel_error"]), r["ess_per_s"],
             r["seconds"]] for r in d["rows"]]
    return _table(["case", "sampler", "target", "estimate", "mcse", "error", "ESS/s", "time (s)"], rows)


def peers_compare(d) -> str:
    rows = []
    for r in d["rows"]:
        sps = r["steps_per_s"]
        rows.append([r["problem"], r["d"], r["chains"], r["batch"], sps.get("slt_ppl"), sps.get("slt_ppl_with_diagnostic"),
                     sps.get("canonical"), sps.get("devinterp"), f"{r['vs_canonical']['steady']:.2f}x",
                     f"{r['vs_devinterp']['steady']:.1f}x"])
    return _table(["problem", "d", "chains", "batch", "slt_ppl steps/s", "with diagnostic", "canonical-interp",
                   "devinterp", "vs canonical-interp", "vs devinterp"], rows)


def devinterp_compare(d) -> str:
    rows = [[r["problem"], r["d"], r["steps"], r["slt_ppl_steps_per_s"], r["devinterp_steps_per_s"],
             f"{r['steady_ratio']:.1f}x", f"{r['first_call_ratio']:.1f}x"] for r in d["rows"]]
    return _table(["problem", "d", "steps", "slt_ppl steps/s", "devinterp steps/s", "steady ratio",
                   "first-call ratio"], rows)


def scaling(d) -> str:
    rows = [["[" + ",".join(map(str, r["widths"])) + "]", r["d"], r["steps"], r["first_call_s"],
             1e3 * r["s_per_step"], r["gflops"], _pct(r["fraction_of_roofline"]).lstrip("+")] for r in d["rows"]]
    return (f"Measured matmul peak: {d['peak_gflops']:.0f} GFLOP/s.\n\n"
            + _table(["widths", "d", "steps", "first call (s)", "ms/step", "GFLOP/s", "of peak"], rows))


def memory(d) -> str:
    rows = [[r["draws"], r["d"], r["seconds"], r["peak_mb"], r["positions_if_stored_mb"], r["llc"]] for r in d["rows"]]
    return _table(["draws", "d", "time (s)", "peak RSS (MB)", "positions if stored (MB)", "llc"], rows)


def sharding(d) -> str:
    rows = [["[" + ",".join(map(str, r["widths"])) + "]", r["d"], r["one_device_s"], r["two_devices_s"],
             r["two_processes_s"], f"{r['speedup_two_devices']:.2f}x", f"{r['speedup_two_processes']:.2f}x"]
            for r in d["rows"]]
    return _table(["widths", "d", "one device (s)", "two devices (s)", "two processes (s)", "speed-up, devices",
                   "speed-up, processes"], rows)


def call_overhead(d) -> str:
    latest = d[-1]
    rows = [[r["workload"], r["step"], r["d"], r["draws"], r["first_s"], r["same_s"], r["fresh_s"],
             1e3 * r["overhead_same_s"]] for r in latest["rows"]]
    return _table(["workload", "step", "d", "draws", "first call (s)", "same call (s)", "fresh model (s)",
                   "overhead (ms)"], rows)


def icl_throughput(d) -> str:
    rows = [["slt_ppl", r["checkpoint"], r["seconds"], r["llc"], r.get("se")] for r in d["slt_ppl"]]
    rows += [["devinterp", r["checkpoint"], r["seconds"], r["llc"], None] for r in d.get("devinterp") or []]
    return (f"{d['num_params']:,} parameters.\n\n".replace(",", " ")
            + _table(["tool", "checkpoint", "time (s)", "llc", "se"], rows))


def bif_scale(d) -> str:
    rows = [[r["draws"], r["seconds"], r["peak_mb"], r["influence_bytes"]] for r in d["memory"]]
    return _table(["draws", "time (s)", "peak RSS (MB)", "influence matrix (bytes)"], rows)


def cost_of_trust(d) -> str:
    configs = list(d["rows"][0]["seconds"])
    rows = [[f"DLN {r['widths']}", r["d"], r["draws"]]
            + [f"{r['seconds'][k]:.2f} s ({r['ratio_to_plain'][k]:.2f}x)" for k in configs] for r in d["rows"]]
    return _table(["problem", "d", "draws"] + configs, rows)


def gpu(d) -> str:
    head = f"Device: {d.get('device', '?')}.\n\n"
    rows = [[k, _fmt(v)] for k, v in d.items() if not isinstance(v, (dict, list))]
    return head + _table(["figure", "value"], rows)


BUILDERS = {f.__name__: f for f in (validate_full, certified_llc, holdout_coverage, global_estimators,
                                     compare_samplers, peers_compare, devinterp_compare, scaling, memory, sharding,
                                     call_overhead, icl_throughput, bif_scale, cost_of_trust, gpu)}


def all_tables(results_dir: str) -> dict[str, str]:
    out = {}
    for name, build in BUILDERS.items():
        path = os.path.join(results_dir, f"{name}.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
            out[name] = build(data) + _source(name, data)
    return out
