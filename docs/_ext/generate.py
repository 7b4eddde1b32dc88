"""Pages written at build time, so that they cannot drift from the code or the evidence.

- generated/api/*.md: the API reference, one page per family, every name in slt_ppl.__all__ (a name in no
  family is reported as a warning, which `sphinx-build -W` turns into an error).
- generated/modules.md: one line per module of slt_ppl/ and models/, the first line of its docstring.
- generated/tables/<benchmark>.md: one table per benchmark, read from benchmarks/results/<benchmark>.json
  (tables.py).
- tutorials/*.ipynb: the notebooks of notebooks/, copied as stored (executed, with their figures).
"""

from __future__ import annotations

import ast
import os
import shutil

from sphinx.util import logging

import tables

LOG = logging.getLogger(__name__)
DOCS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(DOCS)

# the API reference's families, in reading order; each name once
FAMILIES = {
    "llc": ("The local learning coefficient",
            ["estimate_llc", "estimate_llc_batched", "estimate_llc_trajectory", "calibrate_step_size",
             "combine_studies", "stage_boundaries", "LLCResult", "LLCTrajectory", "StepSizeStudy"]),
    "global": ("Global quantities: WBIC, RLCT, free energy, singular fluctuation",
               ["estimate_wbic", "estimate_rlct", "estimate_free_energy", "singular_fluctuation", "WBICResult",
                "RLCTResult", "FreeEnergyResult", "SingularFluctuationResult"]),
    "observables": ("Influence functions and susceptibilities",
                    ["estimate_bif", "estimate_susceptibilities", "BIFResult", "SusceptibilityResult"]),
    "models": ("Models, likelihoods and restrictions",
               ["Likelihood", "Potential", "preview_restriction", "component_names", "from_hf", "HFCausalLM",
                "hf_trajectory"]),
    "samplers": ("Samplers and their settings", ["SAMPLERS", "SamplingSettings"]),
    "results": ("Results: saving and loading", ["Result", "load"]),
    "theory": ("Exact learning coefficients: slt_ppl.theory", ["theory"]),
    "distributed": ("Several processes: slt_ppl.distributed", ["distributed"]),
    "version": ("Version", ["__version__"]),
}
CLASS_MEMBERS = "summary, plot, save, to_dataframe, table"


def _entry(name: str) -> str:
    import inspect

    import slt_ppl

    obj = getattr(slt_ppl, name)
    if name in ("theory", "distributed"):
        return f"```{{eval-rst}}\n.. automodule:: slt_ppl.{name}\n   :members:\n```\n"
    if name == "__version__":
        return f"## `slt_ppl.__version__`\n\nThe installed version: `{obj}`.\n"
    if name == "SAMPLERS":
        rows = "\n".join(f"- `{s}`" for s in obj)
        return f"## `slt_ppl.SAMPLERS`\n\nThe sampler names `sampler=` accepts:\n\n{rows}\n"
    if inspect.isclass(obj):
        members = [m for m in CLASS_MEMBERS.split(", ") if m in vars(obj) or any(m in vars(b) for b in obj.__mro__[1:-1])]
        opt = f"\n   :members: {', '.join(members)}" if members else ""
        return f"```{{eval-rst}}\n.. autoclass:: slt_ppl.{name}{opt}\n```\n"
    return f"```{{eval-rst}}\n.. autofunction:: slt_ppl.{name}\n```\n"


def write_api(out: str) -> None:
    import slt_ppl

    public = list(slt_ppl.__all__)
    placed = {n for _, names in FAMILIES.values() for n in names}
    for name in public:
        if name not in placed:
            LOG.warning(f"slt_ppl.{name} is public but in no family of the API reference (docs/_ext/generate.py)")
    os.makedirs(out, exist_ok=True)
    index = ["# API reference\n", "Every public name of `slt_ppl`, by family.\n", "```{toctree}\n:maxdepth: 2\n"]
    for key, (title, names) in FAMILIES.items():
        names = [n for n in names if n in public]
        if not names:
            continue
        body = [f"# {title}\n"] + [_entry(n) for n in names]
        _write(os.path.join(out, f"{key}.md"), "\n".join(body))
        index.append(key)
    index.append("```\n")
    _write(os.path.join(out, "index.md"), "\n".join(index))


def _first_line(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        doc = ast.get_docstring(ast.parse(f.read()))
    if not doc:
        LOG.warning(f"{os.path.relpath(path, ROOT)} has no module docstring (the architecture page lists it)")
        return ""
    return doc.strip().splitlines()[0]


def write_modules(path: str) -> None:
    lines = ["| module | what it does |", "|---|---|"]
    for top, label in (("slt_ppl", "slt_ppl"), ("models", "slt_ppl.models")):
        for folder, dirs, files in sorted(os.walk(os.path.join(ROOT, top))):
            dirs[:] = sorted(d for d in dirs if not d.startswith(("_", ".")))
            for f in sorted(files):
                if f.endswith(".py"):
                    full = os.path.join(folder, f)
                    rel = os.path.relpath(full, os.path.join(ROOT, top)).replace(os.sep, "/")
                    lines.append(f"| `{label}/{rel}` | {_first_line(full).replace('|', '/')} |")
    _write(path, "\n".join(lines) + "\n")


def copy_notebooks(out: str) -> None:
    os.makedirs(out, exist_ok=True)
    src = os.path.join(ROOT, "notebooks")
    for f in sorted(os.listdir(src)):
        if f.endswith(".ipynb"):
            shutil.copyfile(os.path.join(src, f), os.path.join(out, f))


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    old = open(path, encoding="utf-8").read() if os.path.exists(path) else None
    if old != text:  # unchanged files keep their time stamps: incremental builds stay incremental
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


def generate(app) -> None:
    write_api(os.path.join(DOCS, "generated", "api"))
    write_modules(os.path.join(DOCS, "generated", "modules.md"))
    for name, text in tables.all_tables(os.path.join(ROOT, "benchmarks", "results")).items():
        _write(os.path.join(DOCS, "generated", "tables", f"{name}.md"), text)
    copy_notebooks(os.path.join(DOCS, "tutorials", "notebooks"))


def setup(app):
    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
