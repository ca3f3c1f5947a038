"""``hepcluster generate``: dijet events or boosted jets, synthetic or Pythia8, into HDF5."""

import logging
import math
from pathlib import Path

from ._options import (
    add_overwrite_option,
    check_positive,
    check_target_file,
    defaults,
    make_parent,
)

__all__ = ["add_parser", "run"]

logger = logging.getLogger(__name__)

_DATASETS = defaults("datasets._defaults")
"""Defaults of make_dijet_events and make_jets."""

# Sizes of a generated sample: the functions take them without defaults.
N_BACKGROUND = 100_000
N_SIGNAL = 1_000
N_PER_CLASS = 10_000


def add_parser(subparsers):
    """Register ``hepcluster generate``."""
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
    classes = list(_DATASETS.JET_CLASSES)
    parser.add_argument(
        "--classes",
        nargs="+",
        choices=classes,
        default=classes,
        help="jet classes with --jets (default: {})".format(" ".join(classes)),
    )
    parser.add_argument(
        "--n-per-class",
        type=int,
        default=N_PER_CLASS,
        help="jets per class with --jets (default: %(default)s)",
    )
    parser.add_argument(
        "--generator",
        choices=["synthetic", "pythia"],
        default="synthetic",
        help="fast synthetic generator (seconds) or Pythia8+FastJet (extra 'generate', "
        "about 300 events/s per core) (default: %(default)s)",
    )
    parser.add_argument(
        "--preset",
        choices=["lhco-rd"],
        default=None,
        help="with --generator pythia: 'lhco-rd' makes the LHC Olympics R&D-like sample "
        "(1,000,000 unweighted QCD + 100,000 W′ → XY events, anti-kT R = 1.0, leading jet "
        "pT > 1.2 TeV; explicit options override it)",
    )
    parser.add_argument(
        "--n-background",
        type=int,
        default=None,
        help=f"QCD dijet events (default: {N_BACKGROUND}, or the preset's)",
    )
    parser.add_argument(
        "--n-signal",
        type=int,
        default=None,
        help=f"W′ → X Y signal events (default: {N_SIGNAL}, or the preset's)",
    )
    parser.add_argument(
        "--shard",
        default=None,
        metavar="I/N",
        help="with --generator pythia: make only every N-th chunk of events, starting at "
        "chunk I, for a batch farm; the run that completes the set writes the file "
        "(the events are the same for any sharding)",
    )
    parser.add_argument(
        "--keep-chunks",
        action="store_true",
        help="with --generator pythia: keep OUTPUT.chunks/ (one file per chunk) after "
        "writing the event file",
    )
    for flag, value, what in (
        ("--m-resonance", _DATASETS.M_RESONANCE, "W′ mass"),
        ("--m-x", _DATASETS.M_X, "X mass"),
        ("--m-y", _DATASETS.M_Y, "Y mass"),
    ):
        parser.add_argument(
            flag,
            type=float,
            default=value,
            help=f"{what} in GeV (default: %(default)s)",
        )
    parser.add_argument(
        "--n-constituents",
        type=int,
        default=_DATASETS.N_CONSTITUENTS,
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
    add_overwrite_option(parser)
    parser.set_defaults(handler=run)


def run(args):
    """Handler of ``hepcluster generate``."""
    from .. import datasets

    if args.preset is not None and (args.jets or args.generator != "pythia"):
        raise ValueError("--preset lhco-rd needs --generator pythia and dijet events (no --jets).")
    if (args.shard is not None or args.keep_chunks) and (args.jets or args.generator != "pythia"):
        raise ValueError("--shard and --keep-chunks need --generator pythia and dijet events.")
    counts = ("--n-per-class",) if args.jets else ()
    check_positive(args, *counts, "--n-constituents")
    for flag in ("n_background", "n_signal"):
        value = getattr(args, flag)
        if value is not None and value < (1 if flag == "n_background" else 0):
            name = "--" + flag.replace("_", "-")
            raise ValueError(
                f"{name} must be {'a positive integer' if flag == 'n_background' else '0 or more'}"
                f", got {value}."
            )
    for name in ("m_resonance", "m_x", "m_y"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value > 0):
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} must be a positive mass in GeV, got {value:g}.")
    # before any event is generated: a folder or an earlier file is not written over
    check_target_file(args.output, "output", overwrite=args.overwrite)
    make_parent(args.output)
    from ..calibration._pseudo import check_writable

    check_writable(args.output, what="output")
    if args.jets:
        options = dict(n_constituents=args.n_constituents, random_state=args.seed)
        if args.generator == "pythia":
            X, y = datasets.generate_pythia_jets(
                args.n_per_class, classes=tuple(args.classes), n_jobs=args.n_jobs, **options
            )
        else:
            X, y = datasets.make_jets(args.n_per_class, classes=tuple(args.classes), **options)
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
        # streamed chunk by chunk: bounded memory, resumable, shardable
        status = datasets.write_pythia_events(
            args.output,
            args.n_background,
            args.n_signal,
            preset=args.preset,
            shard=args.shard,
            n_jobs=args.n_jobs,
            keep_chunks=args.keep_chunks,
            **options,
        )
        if status["complete"]:
            metadata = status["metadata"]
            logger.info(
                "wrote %d background and %d signal events to %s; cut and replaced: %d with "
                "fewer than two jets, %d with the leading jet below the pT cut",
                metadata["n_background"],
                metadata["n_signal"],
                args.output,
                metadata["n_cut_fewer_than_two_jets"],
                metadata["n_cut_leading_jet_pt"],
            )
        else:
            logger.info(
                "%d of %d chunks done in %s.chunks; rerun the same command (any --shard) "
                "to finish: the last run writes %s",
                status["n_chunks_done"],
                status["n_chunks"],
                args.output,
                args.output,
            )
        return
    n_background = N_BACKGROUND if args.n_background is None else args.n_background
    n_signal = N_SIGNAL if args.n_signal is None else args.n_signal
    events = datasets.make_dijet_events(n_background, n_signal, **options)
    events.to_hdf5(args.output)
    logger.info("wrote %r to %s", events, args.output)
