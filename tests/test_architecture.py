"""The architecture the folder tree promises, checked: layers import only downward, no private names
cross modules, the zoo is installed under slt_ppl's namespace, and every result has one shape."""

import ast
import dataclasses
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "slt_ppl"

# layer -> the slt_ppl layers it may import (besides the leaf utilities below)
LEAVES = {"slt_ppl.caching", "slt_ppl.checks", "slt_ppl.trees", "slt_ppl.results"}
ALLOWED = {
    "theory": set(),
    "conjugate": set(),
    "caching": set(),
    "checks": set(),
    "trees": set(),
    "results": {"theory"},
    "model": set(),
    "samplers": set(),
    "llc": {"model", "samplers"},
    "tempered": {"model", "samplers"},
    "observables": {"model", "samplers", "llc"},
    "distributed": set(),
}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(rel.parts)
        yield (name[: -len(".__init__")] if name.endswith(".__init__") else name), path


def _imports(path):
    """(imported module, [names]) for every `import` / `from ... import` in the file, relative ones resolved."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(path.relative_to(ROOT).with_suffix("").parts[: -node.level])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            yield module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, []


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _allowed(layer: str, module: str) -> bool:
    target = _layer(module)
    if target == layer:
        return True
    if not ALLOWED[layer] and layer not in ("model", "samplers"):
        return False  # the leaves (theory, conjugate, caching, checks, trees, distributed) import nothing of ours
    return module in LEAVES or target in ALLOWED[layer]


def test_layers_import_only_downward():
    """model and samplers know nothing of each other or of the estimators; llc and tempered know nothing
    of each other; the leaves import nothing of the package (results reads theory for loading)."""
    bad = []
    for name, path in _modules():
        layer = _layer(name)
        if layer not in ALLOWED:
            continue  # cli, validate, the package namespace: above every layer
        for module, _ in _imports(path):
            if module.startswith("slt_ppl.") and not _allowed(layer, module):
                bad.append(f"{name} imports {module}")
    assert not bad, "upward or sideways imports:\n" + "\n".join(bad)


def test_the_layer_check_can_fail():
    assert not _allowed("samplers", "slt_ppl.llc.target") and not _allowed("theory", "slt_ppl.trees")
    assert not _allowed("llc", "slt_ppl.tempered.wbic") and _allowed("llc", "slt_ppl.model.build")


def test_theory_and_conjugate_import_nothing_of_the_package():
    for leaf in ("theory.py", "conjugate.py"):
        assert not [m for m, _ in _imports(PACKAGE / leaf) if m.startswith("slt_ppl")], leaf


def test_no_private_name_crosses_a_module():
    bad = []
    paths = list(PACKAGE.rglob("*.py")) + list((ROOT / "models").rglob("*.py"))
    for path in paths:
        for module, names in _imports(path):
            if module.startswith(("slt_ppl", "models")):
                bad += [f"{path.relative_to(ROOT)}: {module}.{n}" for n in names if n.startswith("_") and n != "__future__"]
    assert not bad, bad


def test_the_zoo_uses_only_public_names():
    public = {"theory"}  # and the top-level names: `import slt_ppl as slt`
    for path in (ROOT / "models").rglob("*.py"):
        for module, names in _imports(path):
            if module == "slt_ppl":
                assert set(names) <= public | {"models"}, (path, names)
            elif module.startswith("slt_ppl."):
                assert module in ("slt_ppl.theory", "slt_ppl.models") or module.startswith("slt_ppl.models."), (path, module)


def test_the_package_has_at_most_twelve_modules_at_its_top():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 12, top
    assert not (ROOT / "slt_ppl" / "models").exists()  # the zoo stays in the repository's top-level models/
    assert (ROOT / "models" / "__init__.py").exists()


def test_import_models_fails_outside_the_repository_and_the_zoo_is_under_slt_ppl(tmp_path):
    code = ("import importlib.util, slt_ppl.models as z; print(z.rrr.make.__name__); "
            "print(importlib.util.find_spec('models') is None)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["make", "True"], out.stdout + out.stderr


def test_every_result_class_has_one_shape():
    import slt_ppl as slt
    from slt_ppl.results import RESULT_CLASSES

    classes = [slt.LLCResult, slt.WBICResult, slt.RLCTResult, slt.FreeEnergyResult, slt.SingularFluctuationResult,
               slt.BIFResult, slt.SusceptibilityResult]
    assert set(c.__name__ for c in classes) <= set(RESULT_CLASSES)
    for cls in classes:
        names = {f.name for f in dataclasses.fields(cls)} | {n for n in dir(cls) if isinstance(getattr(cls, n), property)}
        missing = {"se", "idata", "sampler", "n", "num_diverged", "diverged_chains", "partial"} - names
        assert not missing, (cls.__name__, missing)
        assert f"{cls.value_name}_per_chain" in names, cls.__name__
        assert cls.estimator, cls.__name__


@pytest.mark.parametrize("alias,name", [("wbic_se", "WBICResult"), ("rlct_se", "RLCTResult"),
                                        ("free_energy_se", "FreeEnergyResult"), ("nu_se", "SingularFluctuationResult")])
def test_old_error_names_are_aliases_of_se(alias, name):
    import slt_ppl as slt

    assert isinstance(getattr(getattr(slt, name), alias), property)
