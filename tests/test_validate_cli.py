"""`slt-ppl validate --quick` passes (CI runs it on every change) and `slt-ppl llc` prints theory."""

import json
import os
import subprocess
import sys

import pytest

from slt_ppl import validate


def _cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    return subprocess.run([sys.executable, "-m", "slt_ppl.cli", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=900)


def test_validate_quick_passes_and_writes_json_and_csv(tmp_path):
    out_json, out_csv = tmp_path / "v.json", tmp_path / "v.csv"
    proc = _cli("validate", "--quick", "--out", str(out_json), "--out", str(out_csv), cwd=os.getcwd())
    print(proc.stdout[-3000:], proc.stderr[-2000:])
    assert proc.returncode == 0
    result = json.loads(out_json.read_text())
    rows = result["rows"]
    assert len(rows) == len(validate.quick_cases())
    assert all(r["passed"] for r in rows)
    assert result["summary"]["failed"] == []
    assert out_csv.read_text().splitlines()[0].startswith("model,group,d,lambda")
    assert "median |relative error|" in proc.stdout
    assert "coverage" in proc.stdout and "2se?" in proc.stdout
    assert all(r["covered"] in (True, False) for r in rows)
    assert result["summary"]["coverage_cases"] == len(rows)
    assert result["summary"]["converged"] == sum(r["converged"] for r in rows)
    assert f"converged {result['summary']['converged']}/{len(rows)}" in proc.stdout
    # no sampler named: estimate_llc's choice, which for these (none cheap without a named length) is sgld
    assert "default sampler" in proc.stdout and "kernel" in proc.stdout
    assert [r["sampler"] for r in rows] == ["sgld"] * len(rows)


def test_full_run_validates_the_library_defaults_of_cheap_models():
    """--quick names a short fixed length for its cheap models (CI time); the full run names none, so the crossings
    get estimate_llc's own cheap-model default (llc/default_length.py: HMC), the numbers a user's call gives."""
    quick, full = validate.quick_cases(), validate.full_cases()
    assert [c.llc_kwargs for c in quick].count(validate.LONG) == 2
    assert validate.LONG not in [c.llc_kwargs for c in full]
    assert sum(c.llc_kwargs == {} and c.group == "zoo" for c in full) > sum(c.llc_kwargs == {} for c in quick) + 5


def test_summary_flags_a_miss_and_computes_rank_correlation():
    row = dict(model="x", group="dln", d=2, lambda_exact="1", m=1, finite_n_target=float("nan"), mcse=0.1, time_s=1.0)
    rows = [
        {**row, "lambda": 1.0, "estimate": 1.05, "rel_error": 0.05, "rel_error_vs_lambda": 0.05, "passed": True},
        {**row, "model": "y", "lambda": 2.0, "estimate": 2.6, "rel_error": 0.3, "rel_error_vs_lambda": 0.3, "passed": False},
        {**row, "model": "z", "lambda": 3.0, "estimate": 2.9, "rel_error": -0.033, "rel_error_vs_lambda": -0.033, "passed": True},
    ]
    s = validate.summarize(rows)
    assert s["failed"] == ["y"] and s["passed"] == 2
    assert s["dln_spearman"] == pytest.approx(1.0)
    assert s["median_abs_rel_error_vs_lambda"] == pytest.approx(0.05)
    covered = [{**r, "covered": c} for r, c in zip(rows, (True, False, None))]
    s = validate.summarize(covered)
    assert (s["covered"], s["coverage_cases"]) == (1, 2)
    verdicts = [{**r, "converged": c, "diagnosis": d} for r, c, d in
                zip(covered, (True, False, False), ([], ["R-hat 1.127 > 1.05: the chains disagree"], []))]
    table = validate.format_table({"rows": verdicts, "summary": validate.summarize(verdicts)})
    assert "not converged: y: R-hat 1.127 > 1.05" in table  # the first reason of each run the verdict refused
    assert "not converged: x" not in table and "not converged: z" not in table  # z: no reason recorded


def test_llc_command_prints_estimate_beside_theory():
    proc = _cli("llc", "--model", "linear_regression", "--d", "2", "--n", "2000", "--num-draws", "500", cwd=os.getcwd())
    assert proc.returncode == 0, proc.stderr
    assert "LLC estimate" in proc.stdout and "lambda = 1" in proc.stdout


def test_llc_command_reports_bad_input_without_a_traceback():
    proc = _cli("llc", "--model", "rrr", "--M", "3", "--H", "2", "--N", "3", "--r", "5", cwd=os.getcwd())
    assert proc.returncode == 2
    assert "error: true rank r=5 cannot exceed" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_llc_and_bench_print_json(capsys):
    import json

    from slt_ppl.cli import main

    assert main(["llc", "--model", "linear_regression", "--n", "1000", "--num-draws", "300", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["lambda"] == "5/2" and abs(out["llc"] - 2.5) < 0.5 and out["partial"] is False
    assert main(["bench", "--widths", "3", "4", "3", "--r", "1", "--n", "1000", "--num-draws", "200", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["first_call_s"] > 0 and out["chain_steps_per_s"] > 0 and out["d"] == 24


def test_cli_help_explains_every_option(capsys):
    import pytest

    from slt_ppl.cli import main

    for command in ("llc", "validate", "bench"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert "--json" in text and "--seed" in text
    with pytest.raises(SystemExit) as info:  # refused by the parser, naming the option
        main(["llc", "--num-chains", "0", "--num-draws", "10"])
    assert info.value.code == 2
    assert "argument --num-chains: must be a positive integer" in capsys.readouterr().err
