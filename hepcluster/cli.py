"""The ``hepcluster`` command line: demo, generation, Cluster Scanning, information."""

import argparse
import logging
import sys
from pathlib import Path

from . import __version__, set_config
from ._logging import configure_logging
from .ucluster._command import add_ucluster_command

logger = logging.getLogger(__name__)


def _add_demo(subparsers):
    parser = subparsers.add_parser(
        "demo",
        help="end-to-end study on events the package generates itself",
        description=(
            "Generate dijet events with a resonance signal, scan them with Cluster Scanning, "
            "calibrate Cluster Scanning and the dijet fit on the same bootstrap "
            "pseudo-experiments and write a comparison table and figures into a folder."
        ),
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("hepcluster-demo"),
        help="output folder (default: %(default)s)",
    )
    parser.add_argument(
        "--n-background", type=int, default=50_000, help="QCD dijet events (default: %(default)s)"
    )
    parser.add_argument(
        "--n-signal", type=int, default=3_000, help="signal pool (default: %(default)s)"
    )
    parser.add_argument(
        "--n-injected",
        type=int,
        default=600,
        help="signal events in the scanned data set (default: %(default)s)",
    )
    parser.add_argument(
        "--injections",
        type=int,
        nargs="+",
        default=[300, 600, 1200, 2400],
        help="injection levels of the calibration",
    )
    parser.add_argument(
        "--n-background-only",
        type=int,
        default=200,
        help="background-only pseudo-experiments (default: %(default)s)",
    )
    parser.add_argument(
        "--n-per-injection",
        type=int,
        default=10,
        help="pseudo-experiments per injection level (default: %(default)s)",
    )
    parser.add_argument(
        "--n-ensemble",
        type=int,
        default=2,
        help="k-means initialisations per scan (default: %(default)s)",
    )
    parser.add_argument("--n-jobs", type=int, default=None, help="parallel workers")
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
    parser.add_argument("--n-per-class", type=int, default=10_000, help="jets per class")
    parser.add_argument(
        "--generator",
        choices=["synthetic", "pythia"],
        default="synthetic",
        help="fast synthetic generator or Pythia8+FastJet (default: %(default)s)",
    )
    parser.add_argument("--n-background", type=int, default=100_000)
    parser.add_argument("--n-signal", type=int, default=1_000)
    parser.add_argument("--m-resonance", type=float, default=3500.0, help="GeV")
    parser.add_argument("--m-x", type=float, default=500.0, help="GeV")
    parser.add_argument("--m-y", type=float, default=100.0, help="GeV")
    parser.add_argument("--n-constituents", type=int, default=100)
    parser.add_argument("--n-jobs", type=int, default=None, help="processes (Pythia only)")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(handler=_run_generate)


def _run_generate(args):
    from . import datasets

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


def _add_scan(subparsers):
    parser = subparsers.add_parser(
        "scan",
        help="Cluster Scanning of an EventTable file: images, k-means, spectra, MLS",
        description=(
            "Run Cluster Scanning (arXiv:2402.17714) on the events of an EventTable HDF5 "
            "file and write the ScanResult, a summary and the figures into a folder."
        ),
    )
    parser.add_argument("events", type=Path, help="EventTable HDF5 file (hepcluster generate)")
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("hepcluster-scan"),
        help="output folder (default: %(default)s)",
    )
    parser.add_argument("--n-clusters", type=int, default=50)
    parser.add_argument("--n-ensemble", type=int, default=15)
    parser.add_argument(
        "--train-window",
        type=float,
        nargs=2,
        default=(3000.0, 3100.0),
        metavar=("LOW", "HIGH"),
        help="GeV (default: 3000 3100)",
    )
    parser.add_argument(
        "--region",
        type=float,
        nargs=2,
        default=(3000.0, 4600.0),
        metavar=("LOW", "HIGH"),
        help="evaluation region in GeV",
    )
    parser.add_argument("--n-bins", type=int, default=16, help="bins of the region")
    parser.add_argument("--threshold", type=float, default=3.0)
    parser.add_argument(
        "--statistic", choices=["poisson", "poisson-midp", "gaussian"], default="poisson"
    )
    parser.add_argument(
        "--idealised",
        action="store_true",
        help="idealised Cluster Scanning (uses the truth labels)",
    )
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-plots", action="store_true")
    parser.set_defaults(handler=_run_scan)


def _run_scan(args):
    import json

    import numpy as np

    from ._analysis import scan_events
    from .datasets import EventTable
    from .scanning import ClusterScanner

    if not args.events.exists():
        raise FileNotFoundError(f"no such event file: {args.events}")
    events = EventTable.read_hdf5(args.events)
    logger.info("read %r", events)
    scanner = ClusterScanner(
        n_clusters=args.n_clusters,
        train_window=tuple(args.train_window),
        bins=tuple(np.linspace(*args.region, args.n_bins + 1)),
        threshold=args.threshold,
        statistic=args.statistic,
        n_ensemble=args.n_ensemble,
        idealised=args.idealised,
        random_state=args.seed,
        n_jobs=args.n_jobs,
    )
    _, result, summary = scan_events(events, scanner=scanner, idealised=args.idealised)
    args.output.mkdir(parents=True, exist_ok=True)
    result.save(args.output / "scan.npz")
    with open(args.output / "scan.json", "w") as file:
        json.dump(summary, file, indent=2)
    if not args.no_plots:
        from .plotting._style import hep_style, pyplot

        plt = pyplot()
        with hep_style():
            fig, axes = plt.subplots(1, 3, figsize=(20, 6))
            result.plot(axes=axes)
            fig.tight_layout()
            fig.savefig(args.output / "scan.png", dpi=90)
            plt.close(fig)
    sys.stdout.write(f"{result!r}\n")
    logger.info("results written to %s", args.output.resolve())


def _add_calibrate(subparsers):
    parser = subparsers.add_parser(
        "calibrate",
        help="calibrate Cluster Scanning or the dijet fit on bootstrap pseudo-experiments",
        description=(
            "Run background-only and signal-injected bootstrap pseudo-experiments of the "
            "events of an EventTable file and write the CalibrationResult, a table of "
            "significances and a figure. Killed runs resume from --checkpoint."
        ),
    )
    parser.add_argument("events", type=Path, help="EventTable HDF5 file")
    parser.add_argument(
        "--method", choices=["cluster-scanning", "dijet-fit"], default="cluster-scanning"
    )
    parser.add_argument(
        "--idealised",
        action="store_true",
        help="idealised Cluster Scanning / parametric bootstrap of the fit",
    )
    parser.add_argument("--output", type=Path, default=Path("hepcluster-calibration"))
    parser.add_argument("--n-background-only", type=int, default=100)
    parser.add_argument(
        "--injections", type=int, nargs="*", default=[], help="numbers of injected signal events"
    )
    parser.add_argument("--n-per-injection", type=int, default=20)
    parser.add_argument("--n-clusters", type=int, default=50)
    parser.add_argument("--n-ensemble", type=int, default=15)
    parser.add_argument("--bootstrap", choices=["poisson", "multinomial"], default="poisson")
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument(
        "--checkpoint", type=Path, default=None, help="JSON checkpoint to resume a killed run"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-plots", action="store_true")
    parser.set_defaults(handler=_run_calibrate)


def _run_calibrate(args):
    import json

    from ._analysis import calibration_estimators
    from .calibration import run_pseudo_experiments
    from .datasets import EventTable

    if not args.events.exists():
        raise FileNotFoundError(f"no such event file: {args.events}")
    events = EventTable.read_hdf5(args.events)
    methods = calibration_estimators(
        n_clusters=args.n_clusters, n_ensemble=args.n_ensemble, idealised=args.idealised
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
        name=args.method + (" (idealised)" if args.idealised else ""),
    )
    args.output.mkdir(parents=True, exist_ok=True)
    result.save(args.output / "calibration.npz")
    with open(args.output / "calibration.json", "w") as file:
        json.dump(
            {"summary": result.summary(), "max_significance": result.max_significance},
            file,
            indent=2,
        )
    if not args.no_plots and result.signal_injections.size:
        from .plotting._style import hep_style, pyplot

        plt = pyplot()
        with hep_style():
            ax = result.plot()
            ax.figure.savefig(args.output / "calibration.png", dpi=90)
            plt.close(ax.figure)
    sys.stdout.write(f"{result!r}\n")


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
    except (ValueError, FileNotFoundError, ImportError) as exc:
        logger.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
