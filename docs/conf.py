"""Sphinx configuration: MyST pages, stored-executed notebooks (myst-nb, never executed at build time),
an API reference generated from the docstrings (autodoc + napoleon), pydata-sphinx-theme.

Pages that must not drift from the code are written at build time by _ext/generate.py: the API reference
(every name in slt_ppl.__all__), the module list of the architecture page and the benchmark tables (from
benchmarks/results/*.json). Build: `sphinx-build -W -b html docs docs/_build/html`.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "_ext"))
sys.path.insert(0, os.path.dirname(HERE))

import slt_ppl  # noqa: E402

project = "slt_ppl"
author = "The slt_ppl developers"
copyright = "2026, the slt_ppl developers"
release = slt_ppl.__version__
version = release

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_copybutton",
    "generate",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints", "_ext"]
nb_execution_mode = "off"             # the notebooks are stored executed; the build never runs them
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type", "misc.highlighting_failure"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"
autodoc_default_options = {"members": False, "undoc-members": False}
autodoc_mock_imports = ["safetensors", "huggingface_hub"]
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

html_theme = "pydata_sphinx_theme"
html_title = f"slt_ppl {release}"
html_theme_options = {
    "navigation_depth": 2,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
}
html_static_path = []
