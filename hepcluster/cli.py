"""The ``hepcluster`` command line: demo, data generation and package information."""

import argparse
import logging
import sys
from pathlib import Path

from . import __version__, set_config
from ._logging import configure_logging

logger = logging.getLogger(__name__)


def _add_demo(subparsers):
    parser = subparsers.add_parser(
        "demo",
        help="end-to-end analysis on events the package generates itself",
        description=(
            "Generate dijet events with a resonance signal, run the analysis chain on them "
            "and write a summary table and figures into an output folder."
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
        "--n-signal", type=int, default=2_000, help="signal events (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--no-plots", action="store_true", help="skip the figures")
    parser.set_defaults(handler=_run_demo)


def _run_demo(args):
    from ._demo import run_demo

    run_demo(
        args.output,
        n_background=args.n_background,
        n_signal=args.n_signal,
        random_state=args.seed,
        plots=not args.no_plots,
    )


def _add_generate(subparsers):
    parser = subparsers.add_parser(
        "generate",
        help="generate dijet events (synthetic or Pythia8) into an EventTable HDF5 file",
        description="Generate dijet events and write them as an EventTable HDF5 file.",
    )
    parser.add_argument("output", type=Path, help="EventTable HDF5 file to write")
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
    args.output.parent.mkdir(parents=True, exist_ok=True)
    events.to_hdf5(args.output)
    logger.info("wrote %r to %s", events, args.output)


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
