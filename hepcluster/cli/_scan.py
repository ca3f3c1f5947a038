"""``hepcluster scan``: Cluster Scanning of an EventTable file."""

import logging
import math
import shlex
import sys
from pathlib import Path

from ._figures import figure_style, save_figure
from ._options import (
    N_JOBS_HELP,
    SCANNER,
    add_overwrite_option,
    add_region_options,
    check_plotting,
    check_positive,
    check_region_events,
    defaults,
    events_digest,
    output_folder,
    read_events,
    region_bins,
)

__all__ = ["add_parser", "run"]

logger = logging.getLogger(__name__)


def add_parser(subparsers):
    """Register ``hepcluster scan``."""
    parser = subparsers.add_parser(
        "scan",
        help="Cluster Scanning of an EventTable file: images, k-means, spectra, local MLS",
        description=(
            "Run Cluster Scanning (arXiv:2402.17714) on the events of an event file (HDF5, "
            "ROOT or parquet) and write the ScanResult, a summary and the figures into a "
            "folder. The MLS it reports is a local significance; turn it into a global one with "
            "'hepcluster calibrate EVENTS --observed OUTPUT/scan.npz'."
        ),
    )
    parser.add_argument(
        "events", type=Path, help="event file: HDF5, ROOT (.root) or parquet (.parquet)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("hepcluster-scan"),
        help="output folder (default: %(default)s)",
    )
    add_scan_options(parser)
    parser.add_argument(
        "--idealized",
        "--idealised",
        dest="idealized",
        action="store_true",
        help="idealized Cluster Scanning: clusters from the truth labels, an upper bound on "
        "the sensitivity (--idealised is the old spelling)",
    )
    parser.add_argument("--n-jobs", type=int, default=None, help=N_JOBS_HELP)
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the k-means ensemble (default: %(default)s)"
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the figure")
    add_overwrite_option(parser)
    parser.set_defaults(handler=run)


def add_scan_options(parser):
    """Every scanner setting that changes the statistic (shared by scan and calibrate)."""
    window = tuple(SCANNER.TRAIN_WINDOW)
    parser.add_argument(
        "--train-window",
        type=float,
        nargs=2,
        default=window,
        metavar=("LOW", "HIGH"),
        help="m_jj window of the k-means fit in GeV (default: {:g} {:g})".format(*window),
    )
    add_region_options(parser)
    parser.add_argument(
        "--statistic",
        choices=defaults("stats._defaults").STATISTICS,
        default=SCANNER.STATISTIC,
        help="local significance of a bin (default: %(default)s, Eq. 3.2)",
    )


def check_scan_options(args):
    """Counts, windows and the region of :func:`add_scan_options`; the m_jj bin edges."""
    check_positive(args, "--n-clusters", "--n-ensemble", "--n-bins")
    clustered = getattr(args, "method", "cluster-scanning") == "cluster-scanning"
    if args.n_clusters < 2 and clustered and not args.idealized:
        raise ValueError(
            f"--n-clusters must be at least 2, got {args.n_clusters}: Cluster Scanning "
            "standardises each cluster's spectrum against the other clusters'."
        )
    low, high = args.train_window
    if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
        raise ValueError(f"--train-window LOW HIGH needs finite LOW < HIGH, got {low:g} {high:g}.")
    if not math.isfinite(args.threshold):
        raise ValueError(f"--threshold must be a finite number, got {args.threshold:g}.")
    return region_bins(args.region, args.n_bins)


def scan_settings(args):
    """The settings of a scan that a calibration must share, by their flag."""
    return {
        "--n-clusters": int(args.n_clusters),
        "--n-ensemble": int(args.n_ensemble),
        "--threshold": float(args.threshold),
        "--statistic": str(args.statistic),
        "--train-window": [float(edge) for edge in args.train_window],
        "--region/--n-bins": [float(edge) for edge in region_bins(args.region, args.n_bins)],
        "--idealized": bool(args.idealized),
    }


def _number(value):
    """A float as short as it reads back exactly (3000, not 3000.0; 0.30000000000000004)."""
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


def calibrate_command(args, observed):
    """The ``hepcluster calibrate`` command line that calibrates a scan of these settings."""
    window = " ".join(_number(edge) for edge in args.train_window)
    region = " ".join(_number(edge) for edge in args.region)
    command = (
        f"hepcluster calibrate {shlex.quote(str(args.events))} --observed "
        f"{shlex.quote(str(observed))} --n-clusters {args.n_clusters} --n-ensemble "
        f"{args.n_ensemble} --threshold {_number(args.threshold)} --statistic "
        f"{args.statistic} --train-window {window} --region {region} --n-bins {args.n_bins}"
    )
    return command + (" --idealized" if args.idealized else "")


def run(args):
    """Handler of ``hepcluster scan``."""
    from ..scanning import ClusterScanner
    from ..utils._results import write_json
    from ._analysis import scan_events

    bins = check_scan_options(args)
    output = output_folder(
        args.output, results=("scan.npz", "scan.json", "scan.png"), overwrite=args.overwrite
    )
    check_plotting(args)
    events = read_events(args.events)
    check_region_events(
        events, bins, args.events, n_clusters=None if args.idealized else args.n_clusters
    )
    if args.idealized and not events.is_signal.any():
        raise ValueError(
            f"--idealized takes its clusters from the truth labels, but no event of "
            f"{args.events} is labelled signal: its MLS would be 0 whatever the data hold."
        )
    digest = events_digest(args.events)
    logger.info("read %r", events)
    scanner = ClusterScanner(
        n_clusters=args.n_clusters,
        train_window=tuple(args.train_window),
        bins=bins,
        threshold=args.threshold,
        statistic=args.statistic,
        n_ensemble=args.n_ensemble,
        idealized=args.idealized,
        random_state=args.seed,
        n_jobs=args.n_jobs,
    )
    _, result, summary = scan_events(events, scanner=scanner, idealized=args.idealized)
    if result.untestable_bins.all():
        from ._calibrate import untestable_message

        raise ValueError(untestable_message(args.threshold))
    result.metadata["scan_settings"] = scan_settings(args)
    result.metadata["events_sha256"] = digest
    result.metadata["events_file"] = str(args.events)
    result.save(output / "scan.npz")
    write_json(summary, output / "scan.json")
    if not args.no_plots:
        write_scan_figure(result, output / "scan.png")
    if not result.selected.any():
        sys.stdout.write(
            f"no cluster is signal-rich: the largest standardised spectrum is "
            f"{result.standardized_spectra.max():.2f}, not above --threshold "
            f"{args.threshold:g}, so the MLS is 0.\n"
        )
    sys.stdout.write(
        f"{result!r}\n"
        f"local MLS = {result.statistic:.2f}σ (mean of {result.n_members} members): a local "
        "significance, not a global one. Calibrate it with\n"
        f"  {calibrate_command(args, output / 'scan.npz')}\n"
    )
    logger.info("results written to %s", output.resolve())


def write_scan_figure(result, path):
    """The three panels of a ScanResult (spectra, standardised spectra, selection)."""
    with figure_style() as plt:
        fig, axes = plt.subplots(1, 3, figsize=(24, 7.5))
        result.plot(ax=axes)
        return save_figure(fig, path)
