"""The notebooks' code cells run (concatenated as a script) with small settings substituted."""

import json
import os

import matplotlib
import numpy as np

matplotlib.use("Agg")

NOTEBOOK = os.path.join(os.path.dirname(__file__), "..", "notebooks", "llc_quickstart.ipynb")


def test_quickstart_notebook_code_runs(monkeypatch):
    import slt_ppl

    original = slt_ppl.estimate_llc

    def small(*args, **kwargs):  # keep the notebook's calls, at test size
        kwargs["num_draws"] = min(kwargs.get("num_draws") or 200, 200)
        kwargs.setdefault("num_burnin", 100)
        return original(*args, **kwargs)

    monkeypatch.setattr(slt_ppl, "estimate_llc", small)
    monkeypatch.setattr("slt_ppl.llc.estimate_llc", small)
    monkeypatch.chdir(os.path.dirname(NOTEBOOK))
    cells = json.load(open(NOTEBOOK))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    code = code.replace("models.rrr.make(M=4, H=3, N=5, r=1)", "models.rrr.make(M=4, H=3, N=5, r=1, n=1000)")
    namespace = {}
    exec(compile(code, NOTEBOOK, "exec"), namespace)
    assert len(namespace["rows"]) == 7
    assert namespace["study"].table.sizes["step_size"] == 7


def test_compare_samplers_notebook_code_runs(monkeypatch):
    path = os.path.join(os.path.dirname(__file__), "..", "notebooks", "compare_samplers.ipynb")
    monkeypatch.chdir(os.path.dirname(path))
    cells = json.load(open(path))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    namespace = {}
    exec(compile(code, path, "exec"), namespace)
    from slt_ppl.samplers import SAMPLERS

    assert set(namespace["samplers"]) == set(SAMPLERS)
    assert len(namespace["rows"]) == 3 * len(SAMPLERS)
    assert namespace["best"] in SAMPLERS


def test_wbic_free_energy_notebook_code_runs(monkeypatch):
    path = os.path.join(os.path.dirname(__file__), "..", "notebooks", "wbic_free_energy.ipynb")
    monkeypatch.chdir(os.path.dirname(path))
    cells = json.load(open(path))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    small = {"NS_LINREG = [100, 300, 1000, 3000]": "NS_LINREG = [100, 300]",
             "NS_RRR = [300, 1000, 3000]": "NS_RRR = [300]", "NUM_DRAWS = 1000": "NUM_DRAWS = 200"}
    for old, new in small.items():
        assert old in code, old
        code = code.replace(old, new)
    namespace = {}
    exec(compile(code, path, "exec"), namespace)
    for row in namespace["rows_lin"]:  # even at 200 draws, TI is within a nat of the exact evidence
        assert abs(row["ti"] - row["exact"]) < 1.0, row
    assert len(namespace["rows_rrr"]) == 1 and np.isfinite(namespace["s_rrr"].nu)
