"""``hepcluster info``: versions of hepcluster and of its dependencies."""

import sys

from .._version import __version__

__all__ = ["add_parser", "run"]

_DEPENDENCIES = (
    "numpy",
    "scipy",
    "scikit-learn",
    "numba",
    "fastjet",
    "pandas",
    "h5py",
    "iminuit",
    "matplotlib",
    "mplhep",
    "pythia8mc",
    "tensorflow",
    "dask",
)


def add_parser(subparsers):
    """Register ``hepcluster info``."""
    parser = subparsers.add_parser(
        "info", help="versions of hepcluster and its dependencies, available extras"
    )
    parser.set_defaults(handler=run)


def run(args):
    """Handler of ``hepcluster info``."""
    import importlib.metadata

    lines = [f"hepcluster {__version__}"]
    for name in _DEPENDENCIES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "not installed"
        lines.append(f"  {name:<13} {version}")
    sys.stdout.write("\n".join(lines) + "\n")
