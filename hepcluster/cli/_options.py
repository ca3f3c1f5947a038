"""Options and checks shared by several subcommands: counts, folders, event files, m_jj bins."""

import os
from pathlib import Path

from ._defaults import constant, default

__all__ = [
    "N_JOBS_HELP",
    "SCANNER",
    "add_region_options",
    "check_plotting",
    "check_positive",
    "output_folder",
    "read_events",
    "region_bins",
]

SCANNER = "hepcluster.scanning._scanner:ClusterScanner"
"""Where the Cluster Scanning defaults of scan, calibrate and demo come from."""

N_JOBS_HELP = (
    "parallel workers: an integer, -1 for every core, -2 for all but one "
    "(default: 1, no parallelism)"
)


def check_positive(args, *flags):
    """Count options must be positive; messages name the flag, not the Python argument."""
    for flag in flags:
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if value is not None and value < 1:
            raise ValueError(f"{flag} must be a positive integer, got {value}.")


def output_folder(path, flag="--output"):
    """Create (or reuse) an output folder before any computation, or fail with its path."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{flag} {path} is an existing file, expected a folder.")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(f"{flag} {path} cannot be created: {error.strerror or error}.") from error
    if not os.access(path, os.W_OK):
        raise PermissionError(f"{flag} {path} is not writable.")
    return path


def check_plotting(args):
    """Fail before any work when figures are asked for but matplotlib is missing."""
    if getattr(args, "no_plots", True):
        return
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(
            'the figures need matplotlib: pip install "hepcluster[plot]", or pass --no-plots.'
        ) from None


def read_events(path):
    """The EventTable of an HDF5 file, or a FileNotFoundError naming the path."""
    from ..datasets import EventTable

    if not path.exists():
        raise FileNotFoundError(f"no such event file: {path}")
    return EventTable.read_hdf5(path)


def region_bins(region, n_bins):
    """Equal m_jj bin edges of ``--region LOW HIGH`` and ``--n-bins``, as a tuple of floats."""
    low, high = region
    if not low < high:
        raise ValueError(f"--region LOW HIGH needs LOW < HIGH, got {low:g} {high:g}.")
    if n_bins < 1:
        raise ValueError(f"--n-bins must be at least 1, got {n_bins}.")
    width = (high - low) / n_bins
    # the same edges as numpy.linspace(low, high, n_bins + 1), without importing numpy
    return tuple(float(low + i * width) if i < n_bins else float(high) for i in range(n_bins + 1))


def scanner_bins():
    """The default evaluation-region edges of ClusterScanner (the paper's 16 × 100 GeV)."""
    bins = default(SCANNER, "bins")
    return tuple(
        constant("hepcluster.stats._binning:CLUSTER_SCANNING_BINS") if bins is None else bins
    )


def add_region_options(parser):
    """``--region``, ``--n-bins``, ``--n-clusters``, ``--n-ensemble``, ``--threshold``."""
    bins = scanner_bins()
    region = (bins[0], bins[-1])
    parser.add_argument(
        "--region",
        type=float,
        nargs=2,
        default=region,
        metavar=("LOW", "HIGH"),
        help="m_jj evaluation region in GeV (default: {:g} {:g})".format(*region),
    )
    parser.add_argument(
        "--n-bins",
        type=int,
        default=len(bins) - 1,
        help="equal m_jj bins of the region (default: %%(default)s, %g GeV each)"
        % ((bins[-1] - bins[0]) / (len(bins) - 1)),
    )
    parser.add_argument(
        "--n-clusters",
        type=int,
        default=default(SCANNER, "n_clusters"),
        help="k-means clusters k (default: %(default)s)",
    )
    parser.add_argument(
        "--n-ensemble",
        type=int,
        default=default(SCANNER, "n_ensemble"),
        help="k-means initialisations whose MLS is averaged (default: %(default)s, as in "
        "the paper; each costs one k-means fit per pseudo-experiment)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=default(SCANNER, "threshold"),
        help="θ: a cluster is signal-rich when its standardised spectrum exceeds θ in a bin "
        "(default: %(default)s)",
    )
