"""The face of the package: the wheel holds every package, the API reference places every public name, the
README is one screen that starts with its two commands, and the repository speaks of the product only."""

import os
import re
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _packages_on_disk() -> set[str]:
    found = set()
    for top, name in (("slt_ppl", "slt_ppl"), ("models", "slt_ppl.models")):
        for folder, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
            if "__init__.py" in files:
                rel = os.path.relpath(folder, os.path.join(ROOT, top))
                found.add(name if rel == "." else name + "." + rel.replace(os.sep, "."))
    return found


def test_the_wheel_holds_every_package(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(tmp_path), ROOT], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("slt_ppl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    in_wheel = {os.path.dirname(n).replace("/", ".") for n in names if n.endswith("/__init__.py")}
    missing = _packages_on_disk() - in_wheel
    assert not missing, f"packages missing from the wheel: {sorted(missing)}"
    assert not any(n.startswith("models/") for n in names), "the zoo must install as slt_ppl.models, not models"
    assert "slt_ppl/py.typed" in names


def test_the_api_reference_places_every_public_name():
    pytest.importorskip("sphinx")
    sys.path.insert(0, os.path.join(ROOT, "docs", "_ext"))
    try:
        import generate
    finally:
        sys.path.pop(0)
    import slt_ppl

    placed = [n for _, names in generate.FAMILIES.values() for n in names]
    missing = set(slt_ppl.__all__) - set(placed)
    assert not missing, f"public names in no family of docs/_ext/generate.py: {sorted(missing)}"


def test_the_readme_is_one_screen_and_starts_with_its_two_commands():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines"
    head = "\n".join(lines[:8])
    assert "bash .ci/setup && .venv/bin/slt-ppl llc" in head
    assert "bash .ci/setup && .venv/bin/python -m pytest" in head


def test_the_repository_speaks_of_the_product_only():
    pattern = "sess" + r"ions? [0-9]+|clos" + "ing note"   # split, so that this file does not match itself
    out = subprocess.run(["git", "grep", "-nIiE", pattern], cwd=ROOT, capture_output=True, text=True)
    if out.returncode not in (0, 1):
        pytest.skip("not a git checkout")
    assert out.stdout == "", "development history in the product:\n" + out.stdout[:2000]


def test_the_version_has_its_changelog_entry():
    import slt_ppl

    with open(os.path.join(ROOT, "CHANGELOG.md"), encoding="utf-8") as f:
        text = f.read()
    assert re.search(rf"^## \[{re.escape(slt_ppl.__version__)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", text, re.M)
