"""The ``hepcluster`` command line: demo, generation, Cluster Scanning, information."""

import argparse
import logging
import os
import sys
import traceback
from pathlib import Path

from . import __version__, set_config
from ._logging import configure_logging

logger = logging.getLogger(__name__)

_N_JOBS_HELP = (
    "parallel workers: an integer, -1 for every core, -2 for all but one "
    "(default: 1, no parallelism)"
)


def _add_demo(subparsers):
    import inspect

    from ._demo import run_demo

    # One source for the defaults: the demo function's own.
    default = {
        name: parameter.default
        for name, parameter in inspect.signature(run_demo).parameters.items()
    }
    parser = subparsers.add_parser(
        "demo",
        help="end-to-end study on events the package generates itself",
        description=(
            "Generate dijet events with a resonance signal, scan them with Cluster Scanning, "
            "calibrate Cluster Scanning and the dijet fit on the same bootstrap "
            "pseudo-experiments and write a comparison table and figures into a folder "
            "(about 3 minutes on 2 CPU cores with the defaults)."
        ),
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("hepcluster-demo"),
        help="output folder (default: %(default)s)",
    )
    parser.add_argument(
        "--n-background",
        type=int,
        default=default["n_background"],
        help="QCD dijet events (default: %(default)s)",
    )
    parser.add_argument(
        "--n-signal",
        type=int,
        default=default["n_signal"],
        help="signal pool the injections draw from (default: %(default)s)",
    )
    parser.add_argument(
        "--n-injected",
        type=int,
        default=default["n_injected"],
        help="signal events in the scanned data set (default: %(default)s)",
    )
    parser.add_argument(
        "--injections",
        type=int,
        nargs="+",
        default=list(default["signal_injections"]),
        help="numbers of injected signal events of the calibration (default: "
        + " ".join(str(level) for level in default["signal_injections"])
        + ")",
    )
    parser.add_argument(
        "--n-background-only",
        type=int,
        default=default["n_background_only"],
        help="background-only pseudo-experiments (default: %(default)s; 3,900 in the paper)",
    )
    parser.add_argument(
        "--n-per-injection",
        type=int,
        default=default["n_per_injection"],
        help="pseudo-experiments per injection level (default: %(default)s; 100 in the paper)",
    )
    parser.add_argument(
        "--n-ensemble",
        type=int,
        default=default["n_ensemble"],
        help="k-means initialisations per scan (default: %(default)s, scaled down from the "
        "paper's 15 that scan and calibrate use, to keep the demo in minutes)",
    )
    parser.add_argument("--n-jobs", type=int, default=None, help=_N_JOBS_HELP)
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--no-plots", action="store_true", help="skip the figures")
    parser.set_defaults(handler=_run_demo)


def _run_demo(args):
    from ._demo import run_demo

    run_demo(
        args.output,
        n_background=args.n_background,
        n_signal=args.n_signal,
        n_injected=args.n_injected,
        signal_injections=tuple(args.injections),
        n_background_only=args.n_background_only,
        n_per_injection=args.n_per_injection,
        n_ensemble=args.n_ensemble,
        n_jobs=args.n_jobs,
        random_state=args.seed,
        plots=not args.no_plots,
    )


def _add_generate(subparsers):
    parser = subparsers.add_parser(
        "generate",
        help="generate dijet events or boosted jets (synthetic or Pythia8) into HDF5",
        description=(
            "Generate dijet events (written as an EventTable) or, with --jets, boosted "
            "W/Z/top jets (written in the hls4ml LHC jet layout, read by read_hls4ml)."
        ),
    )
    parser.add_argument(
        "output", type=Path, help="HDF5 file to write (an EventTable; hls4ml layout with --jets)"
    )
    parser.add_argument(
        "--jets",
        action="store_true",
        help="boosted W/Z/top jets (UCluster's task) instead of dijet events",
    )
    parser.add_argument(
        "--classes",
        nargs="+",
        choices=["W", "Z", "top"],
        default=["W", "Z", "top"],
        help="jet classes with --jets",
    )
    parser.add_argument(
        "--n-per-class",
        type=int,
        default=10_000,
        help="jets per class with --jets (default: %(default)s)",
    )
    parser.add_argument(
        "--generator",
        choices=["synthetic", "pythia"],
        default="synthetic",
        help="fast synthetic generator or Pythia8+FastJet (default: %(default)s)",
    )
    parser.add_argument(
        "--n-background",
        type=int,
        default=100_000,
        help="QCD dijet events (default: %(default)s)",
    )
    parser.add_argument(
        "--n-signal",
        type=int,
        default=1_000,
        help="W′ → X Y signal events (default: %(default)s)",
    )
    parser.add_argument(
        "--m-resonance", type=float, default=3500.0, help="W′ mass in GeV (default: %(default)s)"
    )
    parser.add_argument(
        "--m-x", type=float, default=500.0, help="X mass in GeV (default: %(default)s)"
    )
    parser.add_argument(
        "--m-y", type=float, default=100.0, help="Y mass in GeV (default: %(default)s)"
    )
    parser.add_argument(
        "--n-constituents",
        type=int,
        default=100,
        help="constituent slots per jet, zero padded (default: %(default)s)",
    )
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=None,
        help="processes for Pythia: an integer, -1 for every core (default: 1)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed of the generation (default: %(default)s)"
    )
    parser.set_defaults(handler=_run_generate)


def _check_positive(args, *flags):
    """Count options must be positive; messages name the flag, not the Python argument."""
    for flag in flags:
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if value < 1:
            raise ValueError(f"{flag} must be a positive integer, got {value}.")


def _run_generate(args):
    from . import datasets

    counts = ("--n-per-class",) if args.jets else ("--n-background",)
    _check_positive(args, *counts, "--n-constituents")
    if args.n_signal < 0:
        raise ValueError(f"--n-signal must be 0 or more, got {args.n_signal}.")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if args.jets:
        options = dict(n_constituents=args.n_constituents, random_state=args.seed)
        if args.generator == "pythia":
            X, y = datasets.generate_pythia_jets(
                args.n_per_class, tuple(args.classes), n_jobs=args.n_jobs, **options
            )
        else:
            X, y = datasets.make_jets(args.n_per_class, tuple(args.classes), **options)
        datasets.write_hls4ml(args.output, X, y)
        logger.info("wrote %d jets (%s) to %s", len(y), ", ".join(args.classes), args.output)
        return

    options = dict(
        m_resonance=args.m_resonance,
        m_x=args.m_x,
        m_y=args.m_y,
        n_constituents=args.n_constituents,
        random_state=args.seed,
    )
    if args.generator == "pythia":
        events = datasets.generate_pythia_events(
            args.n_background, args.n_signal, n_jobs=args.n_jobs, **options
        )
    else:
        events = datasets.make_dijet_events(args.n_background, args.n_signal, **options)
    events.to_hdf5(args.output)
    logger.info("wrote %r to %s", events, args.output)


def _output_folder(path, flag="--output"):
    """Create (or reuse) an output folder before any computation, or fail with its path."""
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{flag} {path} is an existing file, expected a folder.")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(f"{flag} {path} cannot be created: {error.strerror or error}.") from error
    if not os.access(path, os.W_OK):
        raise PermissionError(f"{flag} {path} is not writable.")
    return path


def _read_events(path):
    from .datasets import EventTable

    if not path.exists():
        raise FileNotFoundError(f"no such event file: {path}")
    return EventTable.read_hdf5(path)


def _region_bins(region, n_bins):
    import numpy as np

    low, high = region
    if not low < high:
        raise ValueError(f"--region LOW HIGH needs LOW < HIGH, got {low:g} {high:g}.")
    if n_bins < 1:
        raise ValueError(f"--n-bins must be at least 1, got {n_bins}.")
    return tuple(float(edge) for edge in np.linspace(low, high, n_bins + 1))


def _add_region_options(parser):
    parser.add_argument(
        "--region",
        type=float,
        nargs=2,
        default=(3000.0, 4600.0),
        metavar=("LOW", "HIGH"),
        help="m_jj evaluation region in GeV (default: 3000 4600)",
    )
    parser.add_argument(
        "--n-bins",
        type=int,
        default=16,
        help="equal m_jj bins of the region (default: %(default)s, 100 GeV each)",
    )
    parser.add_argument(
        "--n-clusters", type=int, default=50, help="k-means clusters k (default: %(default)s)"
    )
    parser.add_argument(
        "--n-ensemble",
        type=int,
        default=15,
        help="k-means initialisations whose MLS is averaged (default: %(default)s, as in "
        "the paper; each costs one k-means fit per pseudo-experiment)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=3.0,
        help="θ: a cluster is signal-rich above it in a standardised bin (default: %(default)s)",
    )


def _add_scan(subparsers):
    parser = subparsers.add_parser(
        "scan",
        help="Cluster Scanning of an EventTable file: images, k-means, spectra, local MLS",
        description=(
            "Run Cluster Scanning (arXiv:2402.17714) on the events of an EventTable HDF5 "
            "file and write the ScanResult, a summary and the figures into a folder. The "
            "MLS it reports is a local significance; turn it into a global one with "
            "'hepcluster calibrate EVENTS --observed OUTPUT/scan.npz'."
        ),
    )
    parser.add_argument("events", type=Path, help="EventTable HDF5 file (hepcluster generate)")
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("hepcluster-scan"),
        help="output folder (default: %(default)s)",
    )
    parser.add_argument(
        "--train-window",
        type=float,
        nargs=2,
        default=(3000.0, 3100.0),
        metavar=("LOW", "HIGH"),
        help="m_jj window of the k-means fit in GeV (default: 3000 3100)",
    )
    _add_region_options(parser)
    parser.add_argument(
        "--statistic",
        choices=["poisson", "poisson-midp", "gaussian"],
        default="poisson",
        help="local significance of a bin (default: %(default)s, Eq. 3.2)",
    )
    parser.add_argument(
        "--idealised",
        action="store_true",
        help="idealised Cluster Scanning (uses the truth labels)",
    )
    parser.add_argument("--n-jobs", type=int, default=None, help=_N_JOBS_HELP)
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the k-means ensemble (default: %(default)s)"
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the figure")
    parser.set_defaults(handler=_run_scan)


def _run_scan(args):

    from ._analysis import scan_events
    from .scanning import ClusterScanner
    from .utils._results import write_json

    low, high = args.train_window
    if not low < high:
        raise ValueError(f"--train-window LOW HIGH needs LOW < HIGH, got {low:g} {high:g}.")
    bins = _region_bins(args.region, args.n_bins)
    output = _output_folder(args.output)
    events = _read_events(args.events)
    logger.info("read %r", events)
    scanner = ClusterScanner(
        n_clusters=args.n_clusters,
        train_window=tuple(args.train_window),
        bins=bins,
        threshold=args.threshold,
        statistic=args.statistic,
        n_ensemble=args.n_ensemble,
        idealised=args.idealised,
        random_state=args.seed,
        n_jobs=args.n_jobs,
    )
    _, result, summary = scan_events(events, scanner=scanner, idealised=args.idealised)
    result.save(output / "scan.npz")
    write_json(summary, output / "scan.json")
    if not args.no_plots:
        from .plotting._style import hep_style, pyplot

        plt = pyplot()
        with hep_style():
            fig, axes = plt.subplots(1, 3, figsize=(24, 7.5))
            result.plot(axes=axes)
            fig.tight_layout()
            fig.savefig(output / "scan.png", dpi=90)
            plt.close(fig)
    sys.stdout.write(
        f"{result!r}\n"
        f"local MLS = {result.statistic:.2f}σ (mean of {result.n_members} members): a local "
        "significance, not a global one. Calibrate it with\n"
        f"  hepcluster calibrate {args.events} --observed {output / 'scan.npz'} "
        f"--n-clusters {args.n_clusters} --n-ensemble {args.n_ensemble} "
        f"--region {args.region[0]:g} {args.region[1]:g} --n-bins {args.n_bins}"
        f"{' --idealised' if args.idealised else ''}\n"
    )
    logger.info("results written to %s", output.resolve())


def _add_calibrate(subparsers):
    parser = subparsers.add_parser(
        "calibrate",
        help="calibrate Cluster Scanning or the dijet fit on bootstrap pseudo-experiments",
        description=(
            "Run background-only and signal-injected bootstrap pseudo-experiments of the "
            "events of an EventTable file and write the CalibrationResult, a table of "
            "significances and a figure. Killed runs resume from --checkpoint; a batch "
            "farm runs one --shard per job and combines them with 'hepcluster merge'. "
            "With --observed, the local MLS of a scan becomes a global significance."
        ),
    )
    parser.add_argument("events", type=Path, help="EventTable HDF5 file")
    parser.add_argument(
        "--method",
        choices=["cluster-scanning", "dijet-fit"],
        default="cluster-scanning",
        help="method to calibrate (default: %(default)s)",
    )
    parser.add_argument(
        "--idealised",
        action="store_true",
        help="idealised Cluster Scanning / parametric bootstrap of the fit",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("hepcluster-calibration"),
        help="output folder (default: %(default)s)",
    )
    parser.add_argument(
        "--n-background-only",
        type=int,
        default=100,
        help="background-only pseudo-experiments (default: %(default)s; 3,900 in the paper)",
    )
    parser.add_argument(
        "--injections",
        type=int,
        nargs="*",
        default=[],
        help="numbers of injected signal events (default: none, background only)",
    )
    parser.add_argument(
        "--n-per-injection",
        type=int,
        default=20,
        help="pseudo-experiments per injection level (default: %(default)s; 100 in the paper)",
    )
    _add_region_options(parser)
    parser.add_argument(
        "--bootstrap",
        choices=["poisson", "multinomial"],
        default="poisson",
        help="per-event bootstrap multiplicities (default: %(default)s)",
    )
    parser.add_argument(
        "--observed",
        default=None,
        metavar="SCAN_OR_VALUE",
        help="a scan.npz of 'hepcluster scan' (same settings) or an MLS value: report its "
        "calibrated global significance",
    )
    parser.add_argument(
        "--shard",
        default=None,
        metavar="I/N",
        help="run only shard I of N (0 <= I < N) of the pseudo-experiments; combine the "
        "shards' calibration.npz with 'hepcluster merge'",
    )
    parser.add_argument("--n-jobs", type=int, default=None, help=_N_JOBS_HELP)
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="JSON checkpoint to resume a killed run (default: none)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the whole seed list; every shard must use the same (default: %(default)s)",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the figure")
    parser.set_defaults(handler=_run_calibrate)


def _observed_statistic(observed, args):
    """The MLS to calibrate: a number, or the statistic of a compatible ScanResult file."""
    if observed is None:
        return None
    path = Path(observed)
    if not path.exists():
        try:
            return float(observed)
        except ValueError:
            raise FileNotFoundError(
                f"--observed {observed}: neither an existing scan file nor a number."
            ) from None
    from .scanning import ScanResult

    try:
        scan = ScanResult.load(path)
    except (OSError, KeyError, ValueError, TypeError) as error:
        raise ValueError(
            f"--observed {path} is not a ScanResult file (the scan.npz of 'hepcluster "
            f"scan'): {error}"
        ) from None
    if args.method != "cluster-scanning":
        raise ValueError(
            f"--observed {path} is a Cluster Scanning result; calibrate it with "
            "--method cluster-scanning."
        )
    expected = {
        "--n-clusters": (scan.metadata.get("n_clusters"), args.n_clusters),
        "--n-ensemble": (scan.n_members, args.n_ensemble),
        "--threshold": (scan.threshold, args.threshold),
        "--idealised": (bool(scan.metadata.get("idealised")), args.idealised),
        "--region/--n-bins": (
            tuple(float(edge) for edge in scan.bins),
            _region_bins(args.region, args.n_bins),
        ),
    }
    for flag, (scanned, calibrated) in expected.items():
        if scanned != calibrated:
            raise ValueError(
                f"--observed {path} was scanned with {flag} {scanned}, but the calibration "
                f"uses {calibrated}: a statistic is calibrated only by its own method."
            )
    return scan.statistic


def _run_calibrate(args):

    from ._analysis import calibration_estimators
    from .calibration import run_pseudo_experiments

    observed = _observed_statistic(args.observed, args)
    output = _output_folder(args.output)
    events = _read_events(args.events)
    methods = calibration_estimators(
        n_clusters=args.n_clusters,
        n_ensemble=args.n_ensemble,
        bins=_region_bins(args.region, args.n_bins),
        threshold=args.threshold,
        idealised=args.idealised,
    )
    estimator, bootstrap = methods[args.method.replace("-", "_")]
    if not (args.idealised and args.method == "dijet-fit"):
        bootstrap = args.bootstrap
    result = run_pseudo_experiments(
        estimator,
        events,
        n_background_only=args.n_background_only,
        signal_injections=args.injections,
        n_per_injection=args.n_per_injection,
        bootstrap=bootstrap,
        n_jobs=args.n_jobs,
        random_state=args.seed,
        checkpoint=args.checkpoint,
        shard=args.shard,
        name=args.method + (" (idealised)" if args.idealised else ""),
    )
    _write_calibration(result, output, observed=observed, plots=not args.no_plots)


def _write_calibration(result, output, *, observed=None, plots=True):
    from .utils._results import write_json

    result.save(output / "calibration.npz")
    report = {
        "name": result.name,
        "n_null": result.n_null,
        "n_failed": result.n_failed,
        "failures": result.failures,
        "complete": result.is_complete,
        "empirical_limit_sigma": result.max_significance,
        "summary": result.summary() if result.is_complete else None,
    }
    lines = [repr(result)]
    if observed is not None:
        if not result.is_complete:
            raise ValueError("--observed needs every shard: merge them first.")
        estimate = result.significance_estimate(observed)
        report["observed"] = {"local_mls": observed, "global_significance": estimate.to_dict()}
        lines.append(
            f"observed local MLS {observed:.3f} -> global significance Z = "
            f"{estimate.format()} [{estimate.kind.item()}; {result.n_null} background-only "
            "pseudo-experiments]"
        )
    write_json(report, output / "calibration.json")
    if plots and result.is_complete and result.signal_injections.size:
        from .plotting._style import hep_style, pyplot

        plt = pyplot()
        with hep_style():
            ax = result.plot()
            ax.figure.savefig(output / "calibration.png", dpi=90)
            plt.close(ax.figure)
    sys.stdout.write("\n".join(lines) + "\n")
    logger.info("results written to %s", output.resolve())


def _add_merge(subparsers):
    parser = subparsers.add_parser(
        "merge",
        help="combine the calibration.npz of the shards of one calibration",
        description=(
            "Merge CalibrationResult files written by 'hepcluster calibrate --shard I/N' "
            "(same events, settings and --seed) into the result a single run gives."
        ),
    )
    parser.add_argument("shards", type=Path, nargs="+", help="calibration.npz of each shard")
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("hepcluster-calibration"),
        help="output folder (default: %(default)s)",
    )
    parser.add_argument(
        "--observed",
        type=float,
        default=None,
        help="an observed local MLS to report the global significance of",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the figure")
    parser.set_defaults(handler=_run_merge)


def _run_merge(args):
    from .calibration import CalibrationResult

    output = _output_folder(args.output)
    results = []
    for path in args.shards:
        if not path.exists():
            raise FileNotFoundError(f"no such calibration file: {path}")
        try:
            results.append(CalibrationResult.load(path))
        except (OSError, KeyError, ValueError, TypeError) as error:
            raise ValueError(
                f"{path} is not a CalibrationResult file (the calibration.npz of "
                f"'hepcluster calibrate'): {error}"
            ) from None
    merged = CalibrationResult.merge(results)
    if not merged.is_complete:
        logger.warning(
            "shards %s of %d are still missing",
            sorted(
                set(range(merged.metadata["shards"]["count"]))
                - set(merged.metadata["shards"]["indices"])
            ),
            merged.metadata["shards"]["count"],
        )
    _write_calibration(merged, output, observed=args.observed, plots=not args.no_plots)


def _add_info(subparsers):
    parser = subparsers.add_parser(
        "info", help="versions of hepcluster and its dependencies, available extras"
    )
    parser.set_defaults(handler=_run_info)


def _run_info(args):
    import importlib.metadata

    lines = [f"hepcluster {__version__}"]
    for name in (
        "numpy",
        "scipy",
        "scikit-learn",
        "numba",
        "fastjet",
        "pandas",
        "h5py",
        "matplotlib",
        "mplhep",
        "pythia8mc",
        "tensorflow",
        "dask",
    ):
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "not installed"
        lines.append(f"  {name:<13} {version}")
    sys.stdout.write("\n".join(lines) + "\n")


def build_parser():
    """Build the argument parser of the ``hepcluster`` command.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="hepcluster",
        description="Unsupervised clustering searches for new physics at colliders.",
    )
    parser.add_argument("--version", action="version", version=f"hepcluster {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings only")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    subparsers = parser.add_subparsers(title="subcommands", dest="command", metavar="COMMAND")
    _add_demo(subparsers)
    _add_generate(subparsers)
    _add_scan(subparsers)
    _add_calibrate(subparsers)
    _add_merge(subparsers)
    from .ucluster._command import add_ucluster_command

    add_ucluster_command(subparsers)
    _add_info(subparsers)
    return parser


def main(argv=None):
    """Run the ``hepcluster`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    configure_logging(-1 if args.quiet else args.verbose)
    if args.no_progress:
        set_config(progress_bar=False)
    try:
        args.handler(args)
    except (ValueError, OSError, ImportError, RuntimeError) as exc:
        if args.verbose:
            traceback.print_exc()
        logger.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
