"""benchmarks/gpu.py --dry-run: every part runs at tiny sizes and its table holds finite numbers."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "gpu.py")

# the columns of each part that must hold a finite number in every measured row
NUMERIC = {
    "peak": ("n", "best_ms", "tflops", "median_tflops"),
    "dln": ("d", "steps", "ms_per_step", "gflop_per_step", "tflops", "frac_f32", "frac_bf16", "first_call_s"),
    "llc": ("d", "n", "estimate", "se", "theory", "wall_s", "step_size"),
    "icl": ("params", "checkpoints", "s_per_ckpt_first", "s_per_ckpt_again", "first_s", "again_s", "llc_min",
            "llc_max"),
    "peers": ("ms_per_step", "first_s", "call_s", "llc"),
}
ROWS = {"peak": 3, "dln": 2, "llc": 1, "icl": 1, "peers": 2}


def sections(text: str) -> dict:
    """'## part: ...' -> list of rows, each a dict column -> cell (the last column may hold spaces)."""
    out, lines = {}, text.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("## "):
            continue
        part = line[3:].split(":", 1)[0]
        rows = out.setdefault(part, [])
        if i + 1 >= len(lines) or not lines[i + 1].strip():
            continue  # a part that was not run or failed: a title line alone
        cols = lines[i + 1].split()
        for row in lines[i + 2:]:
            if not row.strip() or row.startswith("#"):
                break
            rows.append(dict(zip(cols, row.split(None, len(cols) - 1))))
    return out


def finite(cell: str) -> bool:
    try:
        return math.isfinite(float(cell))
    except ValueError:
        return False


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu") / "gpu.txt"
    proc = subprocess.run([sys.executable, SCRIPT, "--dry-run", "--out", str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out.read_text(), json.loads(out.with_suffix(".json").read_text())


def test_names_the_device(dry_run):
    text, report = dry_run
    import jax

    kind = jax.devices()[0].device_kind
    assert f"device: {kind} (" in text
    assert f"jax {jax.__version__}" in text
    assert report["device"]["device_kind"] == kind and report["dry_run"] is True
    assert "skipped for time: nothing" in text


def test_every_part_has_a_table_of_finite_numbers(dry_run):
    text, report = dry_run
    found = sections(text)
    assert sorted(found) == sorted(NUMERIC), text
    for part, cols in NUMERIC.items():
        rows = found[part]
        assert len(rows) == ROWS[part], (part, text)
        words = {w.strip(",;()").lower() for r in rows for c in r.values() for w in c.split()}
        assert not words & {"nan", "-nan", "inf", "-inf", "+inf"}, (part, text)
        measured = [r for r in rows if not r.get("note", "").startswith("skipped")]
        assert measured, (part, text)
        for row in measured:
            bad = {c: row.get(c) for c in cols if not finite(row.get(c, ""))}
            assert not bad, (part, bad, text)
        assert all(float(r["ms_per_step"]) > 0 for r in measured if "ms_per_step" in cols)
    peers = {r["tool"]: r for r in found["peers"]}
    assert set(peers) == {"slt_ppl", "canonical-interp"}
    assert finite(peers["canonical-interp"]["ms_per_step"]) or peers["canonical-interp"]["note"].startswith("skipped: ")
    assert float(found["icl"][0]["checkpoints"]) == 2
    assert all(math.isfinite(v) for v in report["results"]["icl"]["rows"][0]["llcs"])
