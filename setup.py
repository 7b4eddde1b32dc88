"""Package discovery (the metadata is in pyproject.toml).

Every package under slt_ppl/ is found automatically, and the zoo in the repository's top-level models/
folder is installed inside the package's namespace as slt_ppl.models, so that no top-level module named
`models` lands in site-packages.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["slt_ppl", "slt_ppl.*"]) + ["slt_ppl.models"],
    package_dir={"slt_ppl.models": "models"},
)
