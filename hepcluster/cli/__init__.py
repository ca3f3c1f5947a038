"""The ``hepcluster`` command line: demo, generation, Cluster Scanning, UCluster, information.

Building the parser imports nothing heavy (no numpy, scikit-learn, numba or TensorFlow):
each subcommand module imports what its work needs when it runs, and the defaults shown
in ``--help`` come from the constants modules of the layers (``scanning/_defaults.py``,
``stats/_defaults.py``, …: plain literals that the estimators' signatures use too).
"""

import argparse
import logging
import re
import sys
import traceback

from .._config import set_config
from .._logging import configure_logging
from .._version import __version__
from . import _calibrate, _demo, _generate, _info, _options, _scan, _study, _ucluster

__all__ = ["build_parser", "main"]

logger = logging.getLogger(__name__)

USER_ERRORS = (ValueError, OSError, ImportError, RuntimeError)
"""Errors that end the command with a one-line message and exit status 2.

With them, the package's own :class:`~hepcluster.utils._errors.HepclusterError` (damaged or
wrong-kind files, mismatched inputs), and the built-in types that validation raises here
and in scikit-learn (bad values, missing or unwritable files, a missing extra); an
allocation larger than the memory (:class:`MemoryError`) ends the same way. Anything
else is a bug: it gets a one-line message too, asking for a report, and exit status 1.
"""

# Order of the subcommands in ``hepcluster --help``.
_SUBCOMMANDS = (
    _demo.add_parser,
    _generate.add_parser,
    _scan.add_parser,
    _calibrate.add_calibrate_parser,
    _calibrate.add_merge_parser,
    _study.add_parser,
    _ucluster.add_parser,
    _info.add_parser,
)


def build_parser():
    """Build the argument parser of the ``hepcluster`` command.

    Returns
    -------
    argparse.ArgumentParser

    Examples
    --------
    >>> args = build_parser().parse_args(["scan", "events.h5", "--n-clusters", "20"])
    >>> args.command, args.n_clusters
    ('scan', 20)
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
    for add_parser in _SUBCOMMANDS:
        add_parser(subparsers)
    return parser


_PARAMETER = re.compile(r"^The '(\w+)' parameter of (\w+) must be")


def _name_the_flag(message, argv):
    """A scikit-learn parameter message names the flag the user typed, when there is one.

    "The 'n_clusters' parameter of DeepKMeans must be …" becomes "--n-clusters: the
    'n_clusters' parameter of DeepKMeans must be …" when ``--n-clusters`` is on the
    command line; other messages are returned as they are.
    """
    match = _PARAMETER.match(message)
    if match is None:
        return message
    flag = "--" + match.group(1).replace("_", "-")
    if not any(token == flag or token.startswith(flag + "=") for token in map(str, argv)):
        return message
    return f"{flag}: the{message[3:]}"


def main(argv=None):
    """Run the ``hepcluster`` command line.

    Errors the user can fix (bad values, damaged, missing or unwritable files, a missing
    extra: ``USER_ERRORS``) end with a one-line message and exit status 2; an
    unexpected error (a bug) with a one-line message and exit status 1; ``-v`` adds the
    traceback. A failing command removes the output folder it created.

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
    # here, not at the top: building the parser imports nothing heavy (hepcluster.utils
    # imports scikit-learn)
    from ..utils._errors import HepclusterError

    _options.CREATED.clear()
    try:
        _options.check_n_jobs(args)
        _options.check_seed(args)
        args.handler(args)
    except (HepclusterError, *USER_ERRORS) as exc:
        if args.verbose:
            traceback.print_exc()
        logger.error("%s", _name_the_flag(str(exc), sys.argv[1:] if argv is None else argv))
        _options.remove_created()
        return 2
    except MemoryError as exc:
        if args.verbose:
            traceback.print_exc()
        logger.error(
            "not enough memory: %s; choose smaller sizes (events, constituents, pixels).",
            str(exc).rstrip(".") or "an allocation failed",
        )
        _options.remove_created()
        return 2
    except KeyboardInterrupt:
        logger.error("interrupted")
        _options.remove_created()
        return 130
    except Exception as exc:
        if args.verbose:
            traceback.print_exc()
        logger.error(
            "unexpected %s: %s (a bug in hepcluster: please report it with the output of -v)",
            type(exc).__name__,
            exc,
        )
        _options.remove_created()
        return 1
    _options.CREATED.clear()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
