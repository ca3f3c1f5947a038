"""Sphinx configuration of the hepcluster documentation."""

import sys
from pathlib import Path

import hepcluster

# the base URLs of the local intersphinx inventories, from the script that writes them
sys.path.insert(0, str(Path(__file__).parent / "_tools"))
from write_inventories import URLS as INVENTORY_URLS

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

templates_path = ["_templates"]  # autosummary/class.rst: the class page without member tables
exclude_patterns = ["_build", "auto_examples/**/*.ipynb", "auto_examples/**/*.py"]

html_theme = "pydata_sphinx_theme"
html_title = f"hepcluster {release}"
html_theme_options = {"show_toc_level": 2}

# Every cross-reference must resolve (``-W`` turns a broken one into an error).
nitpicky = True
# Projects without a Sphinx inventory to link to.
nitpick_ignore = [
    ("py:class", "tqdm.tqdm"),
    ("py:func", "keras.utils.set_random_seed"),
]

# The build machines have no network: each project's inventory is a local file written by
# docs/_tools/write_inventories.py (the names these pages refer to, at the project's URLs).
intersphinx_mapping = {
    project: (url, f"_intersphinx/{project}.inv") for project, url in INVENTORY_URLS.items()
}

# Types in numpydoc's Parameters/Returns sections link where a name below (or numpydoc's
# defaults for Python and NumPy) matches; other words stay text.
numpydoc_xref_param_type = True
numpydoc_xref_ignore = "all"
numpydoc_xref_aliases = {
    "Axes": "matplotlib.axes.Axes",
    "matplotlib.axes.Axes": "matplotlib.axes.Axes",
    "Figure": "matplotlib.figure.Figure",
    "matplotlib.figure.Figure": "matplotlib.figure.Figure",
    "DataFrame": "pandas.DataFrame",
    "pandas.DataFrame": "pandas.DataFrame",
    "Minuit": "iminuit.Minuit",
    "iminuit.Minuit": "iminuit.Minuit",
    "csr_matrix": "scipy.sparse.csr_matrix",
    "scipy.sparse.csr_matrix": "scipy.sparse.csr_matrix",
    "Generator": "numpy.random.Generator",
    "numpy.random.Generator": "numpy.random.Generator",
    "Pipeline": "sklearn.pipeline.Pipeline",
    "path-like": "os.PathLike",
    "Path": "pathlib.Path",
    "pathlib.Path": "pathlib.Path",
}

# The gallery is executed by `python -m sphinx docs docs/_build/html`; CI passes
# `-D plot_gallery=0` and runs every example as a slow test (tests/test_examples.py).
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "subsection_order": [
        "../examples/data",
        "../examples/cluster_scanning",
        "../examples/ucluster",
    ],
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
}
