"""``hepcluster calibrate`` and ``hepcluster merge``: bootstrap calibration and its shards."""

import logging
import math
import sys
from pathlib import Path

from ._figures import figure_style, save_figure
from ._options import (
    N_JOBS_HELP,
    add_overwrite_option,
    check_checkpoint_kind,
    check_plotting,
    check_positive,
    check_region_events,
    defaults,
    events_digest,
    output_folder,
    read_events,
)
from ._scan import add_scan_options, check_scan_options, scan_settings

__all__ = ["add_calibrate_parser", "add_merge_parser", "run_calibrate", "run_merge"]

logger = logging.getLogger(__name__)

_PSEUDO = defaults("calibration._defaults")
"""Defaults of run_pseudo_experiments."""

RESULTS = ("calibration.npz", "calibration.json", "calibration.png")
"""The files calibrate and merge write into their output folder."""


def add_calibrate_parser(subparsers):
    """Register ``hepcluster calibrate``."""
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
    parser.add_argument(
        "events", type=Path, help="event file: HDF5, ROOT (.root) or parquet (.parquet)"
    )
    parser.add_argument(
        "--method",
        choices=["cluster-scanning", "dijet-fit"],
        default="cluster-scanning",
        help="method to calibrate (default: %(default)s)",
    )
    parser.add_argument(
        "--idealized",
        "--idealised",
        dest="idealized",
        action="store_true",
        help="idealized Cluster Scanning / parametric bootstrap of the fit (--idealised is "
        "the old spelling)",
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
        default=_PSEUDO.N_BACKGROUND_ONLY,
        help="background-only pseudo-experiments (default: %(default)s; 3,900 in the paper)",
    )
    parser.add_argument(
        "--injections",
        type=int,
        nargs="*",
        default=list(_PSEUDO.SIGNAL_INJECTIONS),
        help="numbers of injected signal events (default: none, background only)",
    )
    parser.add_argument(
        "--n-per-injection",
        type=int,
        default=_PSEUDO.N_PER_INJECTION,
        help="pseudo-experiments per injection level (default: %(default)s; 100 in the paper)",
    )
    add_scan_options(parser)
    parser.add_argument(
        "--bootstrap",
        choices=["poisson", "multinomial"],
        default=None,
        help="per-event bootstrap multiplicities (default: "
        f"{_PSEUDO.BOOTSTRAP}; --idealized --method dijet-fit draws the "
        "parametric bootstrap of the fit and takes no --bootstrap)",
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
    parser.add_argument("--n-jobs", type=int, default=None, help=N_JOBS_HELP)
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
    add_overwrite_option(parser)
    parser.set_defaults(handler=run_calibrate)


def observed_number(text, flag="--observed"):
    """An observed statistic given as a number: finite, or an error naming the flag."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{flag} {text}: not a number.") from None
    if not math.isfinite(value):
        raise ValueError(
            f"{flag} {text}: an observed statistic must be a finite number (a local MLS in σ)."
        )
    if value < 0:
        raise ValueError(
            f"{flag} {text}: an MLS is at least 0 (the largest local significance over the "
            "bins, 0 where no bin has an excess)."
        )
    return value


def _show(value):
    if isinstance(value, list):
        return " ".join(f"{item:g}" if isinstance(item, float) else str(item) for item in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _observed_statistic(observed, args):
    """The MLS to calibrate: a number, or the statistic of a compatible ScanResult file."""
    if observed is None:
        return None
    if not observed.strip():
        raise ValueError("--observed needs a scan file (scan.npz) or a number, got ''.")
    path = Path(observed)
    if not path.exists():
        if any(character in observed for character in "/\\") or observed.endswith(".npz"):
            raise FileNotFoundError(f"--observed {observed}: no such scan file.")
        try:
            return observed_number(observed)
        except ValueError as error:
            if "not a number" not in str(error):
                raise
            raise FileNotFoundError(
                f"--observed {observed}: neither an existing scan file nor a number."
            ) from None
    from ..scanning import ScanResult
    from ..utils._errors import IncompatibleInputError, InvalidFileError

    try:
        scan = ScanResult.load(path)
    except InvalidFileError as error:
        raise InvalidFileError(
            f"--observed {str(error).rstrip('.')}; expected the scan.npz of 'hepcluster scan'."
        ) from None
    if args.method != "cluster-scanning":
        raise IncompatibleInputError(
            f"--observed {path} is a Cluster Scanning result; calibrate it with "
            "--method cluster-scanning."
        )
    calibrated = scan_settings(args)
    scanned = scan.metadata.get("scan_settings")
    digest = scan.metadata.get("events_sha256")
    if not isinstance(scanned, dict) or not isinstance(digest, str):
        raise IncompatibleInputError(
            f"--observed {path} was written by an earlier version of hepcluster: it records "
            "no scan settings or event-file hash, so its calibration cannot be checked; "
            "rerun 'hepcluster scan' with this version."
        )
    for flag, value in calibrated.items():
        if flag not in scanned:
            raise IncompatibleInputError(
                f"--observed {path} does not record its {flag}: rerun 'hepcluster scan' "
                "with this version."
            )
        if scanned[flag] != value:
            raise IncompatibleInputError(
                f"--observed {path} was scanned with {flag} {_show(scanned[flag])}, but the "
                f"calibration uses {flag} {_show(value)}: a statistic is calibrated only by "
                "its own method."
            )
    if digest != events_digest(args.events):
        raise IncompatibleInputError(
            f"--observed {path} is a scan of another event file "
            f"({scan.metadata.get('events_file', 'unnamed')}, content hash {digest[:12]}…) "
            f"than {args.events} (content hash {events_digest(args.events)[:12]}…): a scan "
            "is calibrated on its own events."
        )
    if scan.untestable_bins.all():
        raise IncompatibleInputError(
            f"--observed {path}: {untestable_message(float(scan.threshold))}"
        )
    if not math.isfinite(scan.statistic):
        raise InvalidFileError(f"--observed {path} holds a non-finite statistic.")
    return float(scan.statistic)


def run_calibrate(args):
    """Handler of ``hepcluster calibrate``."""
    from ..calibration import run_pseudo_experiments
    from ..calibration._pseudo import check_writable
    from ._analysis import calibration_estimators

    bins = check_scan_options(args)
    check_positive(args, "--n-background-only", "--n-per-injection")
    if args.idealized and args.method == "dijet-fit" and args.bootstrap is not None:
        raise ValueError(
            f"--bootstrap {args.bootstrap} has no effect with --idealized --method dijet-fit, "
            "whose pseudo-experiments are Poisson counts of the fitted background "
            "(the parametric bootstrap): leave --bootstrap out."
        )
    negative = [level for level in args.injections if level < 0]
    if negative:
        raise ValueError(
            f"--injections must be numbers of signal events, 0 or more, got {negative[0]}."
        )
    if not args.events.is_file():
        read_events(args.events)  # the message for a missing file or a folder
    observed = _observed_statistic(args.observed, args)
    if observed is not None and args.shard is not None and args.shard.split("/")[-1] != "1":
        raise ValueError(
            "--observed needs every shard: run the shards without it, merge them with "
            "'hepcluster merge --observed' (a partial result quotes no significance)."
        )
    output = output_folder(args.output, results=RESULTS, overwrite=args.overwrite)
    if args.checkpoint is not None:
        check_checkpoint_kind(args.checkpoint)
        check_writable(args.checkpoint, what="--checkpoint")
    check_plotting(args)
    events = read_events(args.events)
    pool = int(events.is_signal.sum())
    if args.injections and max(args.injections) > pool:
        raise ValueError(
            f"--injections {max(args.injections)} needs that many signal events, but "
            f"{args.events} holds {pool}: the injected events are drawn from its signal "
            "events without replacement."
        )
    clustered = args.method == "cluster-scanning" and not args.idealized
    check_region_events(
        events, bins, args.events, n_clusters=args.n_clusters if clustered else None
    )
    methods = calibration_estimators(
        n_clusters=args.n_clusters,
        n_ensemble=args.n_ensemble,
        bins=bins,
        threshold=args.threshold,
        statistic=args.statistic,
        train_window=tuple(args.train_window),
        idealized=args.idealized,
    )
    estimator, bootstrap = methods[args.method.replace("-", "_")]
    if args.method == "cluster-scanning" and observed is None:
        _check_testable(events, estimator, args)
    if not (args.idealized and args.method == "dijet-fit"):
        bootstrap = args.bootstrap or _PSEUDO.BOOTSTRAP
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
        name=args.method + (" (idealized)" if args.idealized else ""),
    )
    result.metadata["events_sha256"] = events_digest(args.events)
    write_calibration(result, output, observed=observed, plots=not args.no_plots)


def untestable_message(threshold):
    """Why a scan whose every bin is untestable is refused, and what to change."""
    return (
        f"every bin of every member is untestable (no background estimate) with "
        f"--threshold {threshold:g}: every cluster is selected as signal-rich, so nothing is "
        "left to estimate the background from; use a larger --threshold (the paper's is 3)."
    )


def _check_testable(events, pipeline, args):
    """One scan (one member) of the data before the toys: refuse settings that test nothing."""
    from sklearn.base import clone

    from ._analysis import scan_events

    scanner = clone(pipeline[-1]).set_params(n_ensemble=1, random_state=args.seed)
    _, result, _ = scan_events(events, scanner=scanner, idealized=args.idealized)
    if result.untestable_bins.all():
        raise ValueError(untestable_message(args.threshold))


def _source(result, estimate):
    """Where a significance comes from, in words: the null toys, the tail model, a bound."""
    kind = estimate.kind.item()
    if kind == "computed":
        return "computed from the null pseudo-experiments that reach it"
    if kind == "extrapolated":
        return "extrapolated with the generalized-Pareto tail model of the null sample"
    if kind == "lower bound":
        if result.bound_sources(estimate).item() == "empirical limit":
            return "lower bound: the empirical limit, no null pseudo-experiment reaches it"
        return (
            "lower bound: the end point of the tail model fitted to the null sample (beyond "
            "it the model's p-value is 0)"
        )
    return kind


def write_calibration(result, output, *, observed=None, plots=True):
    """Write ``calibration.npz``, ``calibration.json`` and the figure; print the summary."""
    from ..utils._results import write_json

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
    lines = [str(result)]
    if not result.is_complete:
        shards = result.metadata["shards"]
        lines.append(
            f"partial result: shard(s) {', '.join(map(str, shards['indices']))} of "
            f"{shards['count']}; no median or significance is quoted until every shard is "
            "merged with 'hepcluster merge'."
        )
    if observed is not None:
        if not result.is_complete:
            raise ValueError("--observed needs every shard: merge them first.")
        estimate = result.significance_estimate(observed)
        report["observed"] = {
            "local_mls": observed,
            "global_significance": estimate.to_json_dict(),
        }
        lines.append(
            f"observed local MLS {observed:.3f} -> global significance Z = "
            f"{estimate.format()} [{_source(result, estimate)}; {result.n_null} "
            "background-only pseudo-experiments]"
        )
    write_json(report, output / "calibration.json")
    if plots and result.is_complete and result.signal_injections.size:
        with figure_style():
            ax = result.plot()
            save_figure(ax.figure, output / "calibration.png")
    sys.stdout.write("\n".join(lines) + "\n")
    logger.info("results written to %s", output.resolve())


def add_merge_parser(subparsers):
    """Register ``hepcluster merge``."""
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
        default=Path("hepcluster-merge"),
        help="output folder (default: %(default)s, not calibrate's, so that a merge never "
        "replaces a calibration)",
    )
    parser.add_argument(
        "--observed",
        default=None,
        help="an observed local MLS (a finite number) to report the global significance of",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the figure")
    add_overwrite_option(parser)
    parser.set_defaults(handler=run_merge)


_CONFIG_FLAGS = {
    "random_state": "--seed",
    "seeds": "the seed list",
    "n_background_only": "--n-background-only",
    "signal_injections": "--injections",
    "n_per_injection": "--n-per-injection",
    "bootstrap": "--bootstrap",
    "estimator": "the method or its settings",
    "data": "the events",
    "n_events": "the number of events",
}
"""Fields of a calibration's configuration, as the options that set them."""


def _check_shards(paths, results):
    """Shards of one calibration, each shard once; the messages name the files."""
    from ..utils._errors import IncompatibleInputError

    first = results[0].metadata
    for path, result in zip(paths[1:], results[1:], strict=True):
        key = result.metadata.get("config_key")
        if key is None or key != first.get("config_key"):
            mine, theirs = first.get("config", {}), result.metadata.get("config", {})
            differing = sorted(
                _CONFIG_FLAGS.get(name, name)
                for name in set(mine) | set(theirs)
                if mine.get(name) != theirs.get(name)
            )
            raise IncompatibleInputError(
                f"{path} and {paths[0]} are shards of different calibrations (they differ "
                f"in {', '.join(dict.fromkeys(differing)) or 'their configuration'}): merge "
                "only the shards of one calibrate command."
            )
    seen = {}
    for path, result in zip(paths, results, strict=True):
        shards = result.metadata.get("shards", {})
        count = int(shards.get("count", 1))
        for index in shards.get("indices", [0]):
            if (index, count) in seen:
                raise IncompatibleInputError(
                    f"{path} and {seen[index, count]} both hold shard {index} of {count}: "
                    "pass each shard once."
                )
            seen[index, count] = path
    counts = {count for _, count in seen}
    if len(counts) > 1:
        counts = " and ".join(map(str, sorted(counts)))
        raise IncompatibleInputError(
            f"the shards were split into different counts ({counts} shards): merge only "
            "the shards of one calibrate command."
        )


def run_merge(args):
    """Handler of ``hepcluster merge``."""
    from ..calibration import CalibrationResult
    from ..utils._errors import IncompatibleInputError, InvalidFileError

    observed = None if args.observed is None else observed_number(args.observed)
    results = []
    for path in args.shards:
        if not path.exists():
            raise FileNotFoundError(f"no such calibration file: {path}")
        try:
            results.append(CalibrationResult.load(path))
        except InvalidFileError as error:
            raise InvalidFileError(
                f"{str(error).rstrip('.')}; expected the calibration.npz of 'hepcluster "
                "calibrate'."
            ) from None
    if any(path.resolve().parent == args.output.resolve() for path in args.shards):
        raise ValueError(
            f"--output {args.output} holds a shard being merged: choose another folder."
        )
    _check_shards(args.shards, results)
    digests = {r.metadata.get("events_sha256") for r in results} - {None}
    if len(digests) > 1:
        raise IncompatibleInputError(
            "the shards calibrate different event files (their content hashes differ): "
            "merge only shards of one calibration."
        )
    merged = CalibrationResult.merge(results)
    if observed is not None and not merged.is_complete:
        raise ValueError(
            "--observed needs every shard: merge them all (a partial result quotes no "
            "significance)."
        )
    output = output_folder(args.output, results=RESULTS, overwrite=args.overwrite)
    check_plotting(args)
    if digests:
        merged.metadata["events_sha256"] = digests.pop()
    if not merged.is_complete:
        logger.warning(
            "shards %s of %d are still missing",
            sorted(
                set(range(merged.metadata["shards"]["count"]))
                - set(merged.metadata["shards"]["indices"])
            ),
            merged.metadata["shards"]["count"],
        )
    write_calibration(merged, output, observed=observed, plots=not args.no_plots)
