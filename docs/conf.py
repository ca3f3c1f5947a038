"""Sphinx configuration of the hepcluster documentation."""

from sphinx_gallery.sorting import ExplicitOrder

import hepcluster

project = "hepcluster"
author = "The hepcluster developers"
copyright = "2026, The hepcluster developers"
release = hepcluster.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
autodoc_default_options = {
    "members": True,
    "inherited-members": "BaseEstimator, _MetadataRequester, _SetOutputMixin, object",
    # scikit-learn's generated metadata-routing setters document scikit-learn's glossary.
    "exclude-members": "set_fit_request, set_score_request, set_transform_request, "
    "set_predict_request, set_partial_fit_request",
}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

templates_path = []
exclude_patterns = ["_build", "auto_examples/**/*.ipynb", "auto_examples/**/*.py"]

html_theme = "pydata_sphinx_theme"
html_title = f"hepcluster {release}"
html_theme_options = {"show_toc_level": 2}

intersphinx_mapping = {}  # no network on the build machines: links stay local

# The gallery is executed by `python -m sphinx docs docs/_build/html`; CI passes
# `-D plot_gallery=0` and a slow test runs every example instead.
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "subsection_order": ExplicitOrder(
        ["../examples/data", "../examples/cluster_scanning", "../examples/ucluster"]
    ),
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
}
