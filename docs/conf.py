"""Sphinx configuration: the user guide (Markdown, MyST) and the API reference generated from the
numpydoc docstrings (autosummary). ``make docs`` builds it with warnings as errors."""

from __future__ import annotations

import xlstsr

project = "xlstsr"
author = "xlstsr developers"
release = version = xlstsr.__version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "contents"
exclude_patterns = ["_build", "results/*.md"]
autosummary_generate = True
autodoc_typehints = "none"  # numpydoc's Parameters sections say it
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
myst_heading_anchors = 3
suppress_warnings = ["myst.header", "myst.xref_missing"]
intersphinx_mapping = {}
html_theme = "alabaster"
html_title = f"xlstsr {release}"
