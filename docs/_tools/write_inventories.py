"""Write the local intersphinx inventories in ``docs/_intersphinx/``.

The documentation is built on machines without network access, so intersphinx cannot fetch
each project's ``objects.inv``. This script writes one small inventory per project holding
the external names the hepcluster documentation refers to, each at the page where the
project's own documentation publishes it (the URL layout of its Sphinx build), so that the
links resolve offline and point to the right pages online. ``docs/conf.py`` reads them
through ``intersphinx_mapping``.

Run it after adding a reference to a name not listed here::

    python docs/_tools/write_inventories.py

It first checks that every Python object it lists exists in the installed packages;
``tests/test_docs_api.py`` checks that the committed files match these tables.
"""

import importlib
import sys
import zlib
from pathlib import Path

OUTPUT = Path(__file__).parents[1] / "_intersphinx"

# Base URL of each project's documentation; docs/conf.py maps its inventories with them.
URLS = {
    "python": "https://docs.python.org/3/",
    "numpy": "https://numpy.org/doc/stable/",
    "scipy": "https://docs.scipy.org/doc/scipy/",
    "sklearn": "https://scikit-learn.org/stable/",
    "iminuit": "https://scikit-hep.org/iminuit/",
    "matplotlib": "https://matplotlib.org/stable/",
    "pandas": "https://pandas.pydata.org/docs/",
    "numba": "https://numba.readthedocs.io/en/stable/",
}


def _generated(folder):
    """Pages of one object each, named by its full name (autosummary's layout)."""
    return lambda name: f"{folder}/{name}.html#{name}"


def _method(folder):
    """A method or attribute documented on its class's autosummary page."""
    return lambda name: f"{folder}/{name.rsplit('.', 1)[0]}.html#{name}"


def _on_anchor(page, anchor):
    """A label: Sphinx turns its dots into hyphens in the anchor."""
    return lambda name: f"{page}#{anchor}"


def _on(page):
    """Objects documented together on one page."""
    return lambda name: f"{page}#{name}"


# project -> [(role, name, uri of name)]
_ENTRIES = {
    "python": [
        ("py:data", name, _on("library/constants.html")) for name in ("None", "True", "False")
    ]
    + [
        ("py:class", name, _on("library/stdtypes.html"))
        for name in ("list", "tuple", "str", "dict", "bytes", "set")
    ]
    + [
        ("py:class", name, _on("library/functions.html"))
        for name in ("int", "float", "bool", "object")
    ]
    + [
        ("py:function", "callable", _on("library/functions.html")),
        ("py:function", "contextlib.contextmanager", _on("library/contextlib.html")),
        ("py:function", "copy.deepcopy", _on("library/copy.html")),
        ("py:function", "collections.namedtuple", _on("library/collections.html")),
        ("py:class", "pathlib.Path", _on("library/pathlib.html")),
        ("py:class", "os.PathLike", _on("library/os.html")),
        ("py:class", "collections.abc.Iterator", _on("library/collections.abc.html")),
        ("py:class", "collections.abc.Iterable", _on("library/collections.abc.html")),
        ("py:class", "collections.abc.Mapping", _on("library/collections.abc.html")),
        ("py:class", "collections.abc.Sequence", _on("library/collections.abc.html")),
        ("py:class", "logging.Logger", _on("library/logging.html")),
        ("std:term", "iterable", lambda name: f"glossary.html#term-{name}"),
        ("std:term", "sequence", lambda name: f"glossary.html#term-{name}"),
        ("std:term", "generator", lambda name: f"glossary.html#term-{name}"),
        ("std:label", "bltin-boolean-values", lambda name: f"library/stdtypes.html#{name}"),
    ],
    "numpy": [
        ("py:module", "numpy", lambda name: "reference/index.html#module-numpy"),
        ("py:class", "numpy.ndarray", _generated("reference/generated")),
        ("py:class", "numpy.dtype", _generated("reference/generated")),
        ("py:function", "numpy.histogram", _generated("reference/generated")),
        ("py:class", "numpy.random.Generator", _on("reference/random/generator.html")),
        ("py:class", "numpy.random.RandomState", _on("reference/random/legacy.html")),
        (
            "py:class",
            "numpy.random.SeedSequence",
            _generated("reference/random/bit_generators/generated"),
        ),
        ("py:data", "numpy.inf", _on("reference/constants.html")),
        ("py:data", "numpy.nan", _on("reference/constants.html")),
        ("std:term", "array_like", lambda name: f"glossary.html#term-{name}"),
        (
            "std:label",
            "arrays.scalars",
            lambda name: "reference/arrays.scalars.html#arrays-scalars",
        ),
    ],
    "scipy": [
        ("py:class", "scipy.sparse.csr_matrix", _generated("reference/generated")),
        ("py:class", "scipy.sparse.csr_array", _generated("reference/generated")),
        ("py:function", "scipy.sparse.issparse", _generated("reference/generated")),
        ("py:function", "scipy.optimize.linear_sum_assignment", _generated("reference/generated")),
        ("py:data", "scipy.stats.genpareto", _generated("reference/generated")),
    ],
    "sklearn": [
        ("py:class", name, _generated("modules/generated"))
        for name in (
            "sklearn.base.BaseEstimator",
            "sklearn.base.TransformerMixin",
            "sklearn.base.ClusterMixin",
            "sklearn.cluster.KMeans",
            "sklearn.cluster.MiniBatchKMeans",
            "sklearn.pipeline.Pipeline",
            "sklearn.model_selection.GridSearchCV",
            "sklearn.model_selection.GroupKFold",
            "sklearn.exceptions.ConvergenceWarning",
            "sklearn.exceptions.EfficiencyWarning",
            "sklearn.exceptions.NotFittedError",
        )
    ]
    + [
        ("py:function", name, _generated("modules/generated"))
        for name in (
            "sklearn.set_config",
            "sklearn.get_config",
            "sklearn.config_context",
            "sklearn.base.clone",
            "sklearn.utils.check_random_state",
        )
    ]
    + [
        ("py:method", name, _method("modules/generated"))
        for name in (
            "sklearn.cluster.KMeans.score",
            "sklearn.cluster.KMeans.fit",
            "sklearn.base.TransformerMixin.set_output",
            "sklearn.base.BaseEstimator.get_params",
            "sklearn.base.BaseEstimator.set_params",
        )
    ]
    + [
        ("std:term", name, lambda name: f"glossary.html#term-{name}")
        for name in ("random_state", "n_jobs", "sample_weight")
    ],
    "iminuit": [
        ("py:class", "iminuit.Minuit", _on("reference.html")),
    ]
    + [
        ("py:method", f"iminuit.Minuit.{method}", _on("reference.html"))
        for method in ("migrad", "hesse", "minos", "mnprofile", "draw_mnprofile")
    ],
    "matplotlib": [
        ("py:class", "matplotlib.axes.Axes", _generated("api/_as_gen")),
        ("py:class", "matplotlib.figure.Figure", _generated("api/_as_gen")),
        ("py:class", "matplotlib.colors.Colormap", _generated("api/_as_gen")),
        ("py:function", "matplotlib.pyplot.subplots", _generated("api/_as_gen")),
    ],
    "pandas": [
        ("py:class", "pandas.DataFrame", _generated("reference/api")),
        ("py:method", "pandas.DataFrame.to_csv", _generated("reference/api")),
    ],
    "numba": [
        ("py:function", "numba.set_num_threads", _on("user/threading-layer.html")),
    ],
}


def inventories():
    """``{project: bytes of its objects.inv}``, in Sphinx's inventory format version 2."""
    out = {}
    for project, entries in _ENTRIES.items():
        header = (
            "# Sphinx inventory version 2\n"
            f"# Project: {project}\n"
            "# Version: stable\n"
            "# The remainder of this file is compressed using zlib.\n"
        ).encode()
        lines = [
            f"{name} {role} 1 {uri(name)} -\n" for role, name, uri in sorted(entries, key=_key)
        ]
        out[project] = header + zlib.compress("".join(lines).encode(), 9)
    return out


def _key(entry):
    return entry[0], entry[1]


def missing_objects():
    """The listed Python objects the installed packages do not have."""
    missing = []
    for project, entries in _ENTRIES.items():
        for role, name, _ in entries:
            if not role.startswith("py:") or (project == "python" and "." not in name):
                continue
            if not _importable(name):
                missing.append(f"{project}: {name}")
    return missing


def _importable(name):
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attr in parts[split:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def main():
    """Check the listed objects, then write ``docs/_intersphinx/<project>.inv``."""
    missing = missing_objects()
    if missing:
        sys.exit("not found in the installed packages: " + ", ".join(missing))
    OUTPUT.mkdir(exist_ok=True)
    for project, payload in inventories().items():
        (OUTPUT / f"{project}.inv").write_bytes(payload)
        print(f"wrote {OUTPUT.name}/{project}.inv ({len(_ENTRIES[project])} names)")


if __name__ == "__main__":
    main()
