"""Sphinx configuration for the sksplice documentation."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sksplice import __version__  # noqa: E402

project = "sksplice"
author = "The sksplice developers"
copyright = "2026, The sksplice developers"
version = release = __version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    # MathJax from the docs' own _static folder, not a CDN: the equations render offline
    "sphinx-mathjax-offline",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "examples/*.py", "README.md"]
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

autosummary_generate = True
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable/", None),
    "scipy": ("https://docs.scipy.org/doc/scipy/", None),
    "sklearn": ("https://scikit-learn.org/stable/", None),
    "torch": ("https://pytorch.org/docs/stable/", None),
}
# Offline builds (CI) cannot fetch inventories; intersphinx then only warns, so it is
# switched off unless asked for.
if os.environ.get("SKSPLICE_DOCS_INTERSPHINX") != "1":
    extensions.remove("sphinx.ext.intersphinx")

html_theme = "pydata_sphinx_theme"
html_title = f"sksplice {version}"
html_static_path = ["_static"]
# (long inline code in table cells wraps: the parameter tables fit the page)
html_css_files = ["tables.css"]
html_theme_options = {"navigation_with_keys": False}
