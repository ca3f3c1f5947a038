"""Options and checks shared by several subcommands: counts, folders, event files, m_jj bins."""

import contextlib
import functools
import hashlib
import importlib.util
import math
import os
import sys
from pathlib import Path

__all__ = [
    "CREATED",
    "N_JOBS_HELP",
    "SCANNER",
    "add_overwrite_option",
    "add_region_options",
    "check_checkpoint_kind",
    "check_n_jobs",
    "check_plotting",
    "check_positive",
    "check_region_events",
    "check_seed",
    "check_target_file",
    "defaults",
    "events_digest",
    "execute_alone",
    "make_parent",
    "output_folder",
    "read_events",
    "region_bins",
    "remove_created",
]

CREATED = []
"""Output folders this command created; removed again when it fails (see remove_created)."""

_PACKAGE = Path(__file__).resolve().parents[1]


@functools.cache
def defaults(module):
    """A constants module of hepcluster (e.g. ``"scanning._defaults"``), cheaply.

    Each layer keeps the defaults of its estimators and functions in a module of plain
    literals (``hepcluster/scanning/_defaults.py``, ``stats/_defaults.py``, …), which its
    signatures use. Importing it the ordinary way would first run its package's
    ``__init__`` (scikit-learn, numba, …), so the command line executes the file alone: the
    module is already imported when its package is, or it imports nothing (a test checks
    that every module read here holds literals only).

    Parameters
    ----------
    module : str
        Module name relative to ``hepcluster``.

    Returns
    -------
    types.ModuleType

    Examples
    --------
    >>> defaults("scanning._defaults").N_CLUSTERS
    50
    """
    return sys.modules.get(f"hepcluster.{module}") or execute_alone(module)


def execute_alone(module):
    """Execute the file of a hepcluster module on its own, without its package."""
    path = _PACKAGE.joinpath(*module.split(".")).with_suffix(".py")
    spec = importlib.util.spec_from_file_location(f"hepcluster.{module}", path)
    constants = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(constants)
    return constants


SCANNER = defaults("scanning._defaults")
"""The Cluster Scanning defaults of scan, calibrate and demo (ClusterScanner's)."""

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


def check_n_jobs(args):
    """``--n-jobs`` is a positive number of workers or a negative count back from every core."""
    n_jobs = getattr(args, "n_jobs", None)
    if n_jobs == 0:
        raise ValueError(
            "--n-jobs 0 runs nothing: pass a number of workers (1 for none in parallel), "
            "-1 for every core or -2 for all but one."
        )


SEED_MAX = 2**32 - 1
"""The largest seed numpy's legacy generators (and so scikit-learn's) take."""


def check_seed(args):
    """``--seed`` is an integer in [0, 2**32 - 1], named by its flag."""
    seed = getattr(args, "seed", None)
    if seed is not None and not 0 <= seed <= SEED_MAX:
        raise ValueError(f"--seed must be an integer in [0, {SEED_MAX}], got {seed}.")


def add_overwrite_option(parser):
    """``--overwrite``: replace the results of an earlier run instead of refusing to."""
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the results of an earlier run in the output (refused by default)",
    )


def output_folder(path, flag="--output", *, results=(), overwrite=False):
    """Create (or reuse) an output folder before any computation, or fail with its path.

    Parameters
    ----------
    path : path-like
    flag : str, default="--output"
        The option, for the messages.
    results : sequence of str, default=()
        The files the command will write there: an existing one is refused unless
        ``overwrite``.
    overwrite : bool, default=False

    Returns
    -------
    pathlib.Path
        The folder; one created here is listed in :data:`CREATED` so that a failing
        command removes it again.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{flag} {path} is an existing file, expected a folder.")
    existing = [name for name in results if (path / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{flag} {path} already holds {', '.join(existing)} of an earlier run: pass "
            "--overwrite to replace them, or choose another folder."
        )
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(f"{flag} {path} cannot be created: {error.strerror or error}.") from error
    if created:
        CREATED.append(path)
    if not os.access(path, os.W_OK):
        raise PermissionError(f"{flag} {path} is not writable.")
    return path


def check_target_file(path, flag, *, overwrite=False):
    """A file to be written: not a folder, not an existing file unless ``overwrite``."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{flag} {path} is a folder, expected a file name.")
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{flag} {path} already exists: pass --overwrite to replace it, or choose "
            "another name."
        )


_SIGNATURES = (
    (b"\x89HDF", "an HDF5 file (an event table?)"),
    (b"\x89PNG", "a PNG image"),
    (b"%PDF", "a PDF document"),
    (b"PK", "a zip archive (a .npz result?)"),
    (b"\x93NUMPY", "a .npy array"),
    (b"root", "a ROOT file"),
    (b"PAR1", "a parquet file"),
)


def check_checkpoint_kind(path):
    """An existing ``--checkpoint`` must be a checkpoint (JSON), not another kind of file.

    The checkpoint's own reader says a damaged one is to be removed; a file of another
    kind (an event file, a result, a figure) given by mistake is refused here with what
    it is, so that nobody removes it on that advice.
    """
    from ..utils._errors import InvalidFileError

    path = Path(path)
    if not path.is_file():
        return
    with open(path, "rb") as file:
        head = file.read(16)
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            raise InvalidFileError(
                f"--checkpoint {path} is {kind}, not a calibration checkpoint (the JSON "
                "file calibrate writes there): choose another path."
            )


def remove_created():
    """Remove the output folders this command created and left empty (it failed).

    A folder that holds anything (a checkpoint placed there, a partial result) stays.
    """
    while CREATED:
        path = CREATED.pop()
        with contextlib.suppress(OSError):
            path.rmdir()


def make_parent(path):
    """Create the folder of an output file, listed in :data:`CREATED` when new."""
    missing = []
    parent = Path(path).parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(f"{path} cannot be written: {parent} is a file, not a folder.")
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(
            f"the folder of {path} cannot be created: {error.strerror or error}."
        ) from error
    CREATED.extend(reversed(missing))


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
    """The EventTable of an HDF5 file, checked; errors name the file and the cause.

    Event weights must be finite and non-negative: the bootstrap multiplies them by
    per-event multiplicities and the local significance needs counts.
    """
    import numpy as np

    from ..datasets import EventTable
    from ..utils._errors import InvalidFileError

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such event file: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"event file {path} is a folder, expected an HDF5 file.")
    try:
        events = EventTable.read(path)  # HDF5, or ROOT / parquet by suffix
    except (KeyError, ValueError, OSError, TypeError) as error:
        message = str(error)
        if str(path) not in message:
            message = f"event file {path}: {message}"
        raise InvalidFileError(message) from None
    weight = np.asarray(events.weight, dtype=np.float64)
    n_nan = int(np.isnan(weight).sum())
    n_inf = int(np.isinf(weight).sum())
    n_negative = int((weight < 0).sum())
    if n_nan or n_inf or n_negative:
        problems = [
            f"{count} {what}"
            for count, what in ((n_negative, "negative"), (n_nan, "NaN"), (n_inf, "infinite"))
            if count
        ]
        first = int(np.flatnonzero(~(np.isfinite(weight) & (weight >= 0)))[0])
        raise InvalidFileError(
            f"event file {path} has {', '.join(problems)} event weight(s) (the first at "
            f"event {first}): weights must be finite and non-negative."
        )
    return events


def events_digest(path):
    """SHA-256 of an event file's bytes: which data a scan or a calibration read."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def region_bins(region, n_bins):
    """Equal m_jj bin edges of ``--region LOW HIGH`` and ``--n-bins``, as a tuple of floats."""
    low, high = region
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"--region LOW HIGH must be finite m_jj values, got {low:g} {high:g}.")
    if not low < high:
        raise ValueError(f"--region LOW HIGH needs LOW < HIGH, got {low:g} {high:g}.")
    if n_bins < 1:
        raise ValueError(f"--n-bins must be at least 1, got {n_bins}.")
    width = (high - low) / n_bins
    # the same edges as numpy.linspace(low, high, n_bins + 1), without importing numpy
    return tuple(float(low + i * width) if i < n_bins else float(high) for i in range(n_bins + 1))


def _largest_filled_bins(mjj, low, high, n_bins):
    """The largest number of equal bins of [low, high), at most ``n_bins``, none empty."""
    import numpy as np

    # bins narrower than half the largest gap between neighbouring m_jj values (or the
    # region's edges) leave one inside the gap, empty: start there, count down
    points = np.concatenate(([low], np.sort(mjj), [high]))
    widest_gap = float(np.diff(points).max())
    count = max(1, min(n_bins, int(2 * (high - low) / widest_gap) + 1))
    while count > 1 and _n_empty(mjj, region_bins((low, high), count)):
        count -= 1
    return count


def _n_empty(mjj, bins):
    import numpy as np

    from ..stats import histogram

    return int(np.count_nonzero(histogram(mjj, np.asarray(bins)) == 0))


def check_region_events(events, bins, path, *, n_clusters=None):
    """Refuse a region or bin count that the events cannot fill (see ``--n-bins``' help).

    Every m_jj bin of the region must hold at least one event of positive weight (an
    empty bin has no background to test against), and Cluster Scanning needs at least
    ``n_clusters`` jets (two per event) in the region for k clusters to share.

    Parameters
    ----------
    events : EventTable
    bins : tuple of float
        Bin edges of ``--region`` and ``--n-bins``.
    path : path-like
        The event file, for the messages.
    n_clusters : int, optional
        ``--n-clusters`` of a Cluster Scanning run; None for the dijet fit.
    """
    import numpy as np

    mjj = np.asarray(events.mjj, dtype=np.float64)
    low, high = bins[0], bins[-1]
    mjj = mjj[(np.asarray(events.weight) > 0) & (mjj >= low) & (mjj < high)]
    n_events, n_bins = int(mjj.size), len(bins) - 1
    region = f"--region {low:g} {high:g}"
    held = f"holds {n_events} event(s) ({2 * n_events} jets) of {path}"
    if n_events == 0 or (n_clusters is not None and 2 * n_events < n_clusters):
        everything = np.asarray(events.mjj, dtype=np.float64)
        everything = everything[np.isfinite(everything)]
        spans = (
            f"inside the file's m_jj range {everything.min():.0f}–{everything.max():.0f} GeV"
            if everything.size
            else "where the file has events"
        )
        need = (
            "events to test"
            if not n_events
            else f"at least --n-clusters {n_clusters} jets to share among the clusters"
        )
        raise ValueError(f"{region} {held}, and the scan needs {need}: choose a region {spans}.")
    n_empty = _n_empty(mjj, bins)
    if n_empty:
        largest = _largest_filled_bins(mjj, low, high, n_bins)
        raise ValueError(
            f"{region} --n-bins {n_bins} leaves {n_empty} of the {n_bins} bins empty: the "
            f"region {held}, and every bin needs at least one event for a background "
            f"estimate; --n-bins {largest} is the largest count that leaves none empty."
        )


def scanner_bins():
    """The default evaluation-region edges of ClusterScanner (the paper's 16 × 100 GeV)."""
    return tuple(defaults("stats._defaults").CLUSTER_SCANNING_BINS)


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
        help="equal m_jj bins of the region (default: %%(default)s, %g GeV each); every "
        "bin must hold at least one event of the file, since an empty bin has no background "
        "to test against: a region or a bin count that leaves a bin empty is refused, as is "
        "a region with fewer jets than --n-clusters" % ((bins[-1] - bins[0]) / (len(bins) - 1)),
    )
    parser.add_argument(
        "--n-clusters",
        type=int,
        default=SCANNER.N_CLUSTERS,
        help="k-means clusters k (default: %(default)s)",
    )
    parser.add_argument(
        "--n-ensemble",
        type=int,
        default=SCANNER.N_ENSEMBLE,
        help="k-means initialisations whose MLS is averaged (default: %(default)s, as in "
        "the paper; each costs one k-means fit per pseudo-experiment)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=SCANNER.THRESHOLD,
        help="θ: a cluster is signal-rich when its standardised spectrum exceeds θ in a bin "
        "(default: %(default)s)",
    )
