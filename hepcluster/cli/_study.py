"""``hepcluster study``: the Cluster Scanning paper's comparison with the dijet fit (§3.2, fig. 5).

Cluster Scanning (realistic and idealized) and the 3-, 4- and 5-parameter dijet fits
(realistic, and idealized through the parametric bootstrap) are calibrated on the same
bootstrap pseudo-experiments of one event file: the same ``--seed`` gives every method the
same resampled background and the same injected signal events. Every method checkpoints,
so a killed study resumes; ``--shard I/N`` runs one N-th of every method's
pseudo-experiments, and a run without ``--shard`` merges complete sets of shards.
"""

import datetime
import logging
import time
from pathlib import Path

from ._figures import figure_style, save_figure
from ._options import (
    N_JOBS_HELP,
    add_overwrite_option,
    add_region_options,
    check_plotting,
    check_positive,
    check_region_events,
    events_digest,
    output_folder,
    read_events,
    region_bins,
)

__all__ = ["METHODS", "add_parser", "run", "run_study"]

logger = logging.getLogger(__name__)

METHODS = (
    "cluster_scanning",
    "dijet_fit_3",
    "dijet_fit_4",
    "dijet_fit_5",
    "cluster_scanning_idealized",
    "dijet_fit_3_idealized",
    "dijet_fit_4_idealized",
    "dijet_fit_5_idealized",
)
"""The methods of the study, realistic then idealized (arXiv:2402.17714, §3.2 and App. A)."""

REFERENCE = "dijet_fit_4"
"""The baseline of the events-for-3σ ratios (the paper's 4-parameter fit)."""

PAPER_INJECTIONS = (500, 750, 1000, 1500, 2000, 2500, 3000, 4000, 5000)
"""Nine injection levels across the paper's 500–5,000 signal events."""

N_BACKGROUND_ONLY = 3900
N_PER_INJECTION = 100


def _estimator(method, *, bins, n_clusters, n_ensemble, threshold):
    from ..fits import DijetFitBackground
    from ._analysis import calibration_estimators

    idealized = method.endswith("_idealized")
    if method.startswith("cluster_scanning"):
        estimator, bootstrap = calibration_estimators(
            idealized=idealized,
            bins=bins,
            n_clusters=n_clusters,
            n_ensemble=n_ensemble,
            threshold=threshold,
        )["cluster_scanning"]
        return estimator, bootstrap
    n_params = int(method.split("_")[2])
    fit = DijetFitBackground(n_params=n_params, bins=tuple(bins))
    return fit, "parametric" if idealized else "poisson"


def _label(method):
    name = method.replace("_idealized", "")
    if name == "cluster_scanning":
        text = "Cluster Scanning"
    else:
        text = f"{name.split('_')[2]}-parameter fit"
    return text + (" (idealized)" if method.endswith("_idealized") else "")


def computed_part(result):
    """The pseudo-experiments a partial (sharded) result holds, as a complete result.

    Background-only toys of the present shards form the null sample; every injection
    level keeps the same number of its computed toys (the smallest over levels), so that
    medians are not biased by the tasks of missing shards.
    """
    import numpy as np

    from ..calibration import CalibrationResult

    if result.is_complete:
        return result
    computed = result._computed_tasks()
    n_null = result.null_statistics.size
    null = result.null_statistics[computed[:n_null]]
    injected_mask = computed[n_null:].reshape(result.injected_statistics.shape)
    per_level = [
        row[mask] for row, mask in zip(result.injected_statistics, injected_mask, strict=True)
    ]
    keep = min((row.size for row in per_level), default=0)
    injected = np.array([row[:keep] for row in per_level]).reshape(len(per_level), keep)
    tasks = np.flatnonzero(computed)
    renumber = {int(task): index for index, task in enumerate(tasks)}
    failures = [
        {**failure, "task": renumber[failure["task"]]}
        for failure in result.failures
        if failure["task"] < n_null and failure["task"] in renumber
    ]
    metadata = {k: v for k, v in result.metadata.items() if k != "shards"}
    metadata["partial"] = {
        "shards": result.metadata["shards"],
        "n_null_of_full": int(n_null),
        "n_per_injection_of_full": int(result.injected_statistics.shape[1]),
    }
    return CalibrationResult(
        null_statistics=null,
        signal_injections=result.signal_injections,
        injected_statistics=injected,
        n_background=result.n_background,
        name=result.name,
        metadata=metadata,
        failures=failures,
    )


def _shard_files(folder, method):
    """Complete sets of shard results of ``method``: {count: {index: path}}."""
    sets = {}
    for path in folder.glob(f"{method}.*-of-*.npz"):
        index, count = path.name[len(method) + 1 : -len(".npz")].split("-of-")
        sets.setdefault(int(count), {})[int(index)] = path
    return sets


def _finished(method, output, shard):
    """A method's CalibrationResult when nothing is left to run: saved, or merged now."""
    from ..calibration import CalibrationResult

    complete = output / f"calibration_{method}.npz"
    if shard is not None:
        return None
    if complete.exists():
        return CalibrationResult.load(complete)
    for count, paths in sorted(_shard_files(output / "shards", method).items()):
        if len(paths) == count:
            merged = CalibrationResult.merge(
                CalibrationResult.load(paths[i]) for i in range(count)
            )
            merged.save(complete)
            logger.info("%s: merged %d shards", method, count)
            return merged
    return None


def _shards_so_far(method, output):
    """The shards of ``method`` finished so far, merged (a partial result until all are in)."""
    from ..calibration import CalibrationResult

    sets = _shard_files(output / "shards", method)
    if not sets:
        raise FileNotFoundError(
            f"--preview: no finished shard of {method} in {output / 'shards'} yet (a shard's "
            "result is written when all its pseudo-experiments are done)."
        )
    count, paths = max(sets.items(), key=lambda item: (len(item[1]), item[0]))
    merged = CalibrationResult.merge(CalibrationResult.load(paths[i]) for i in sorted(paths))
    logger.info("%s: %d of %d shards finished so far", method, len(paths), count)
    return merged


def _calibrate(methods, events, output, *, options, shard, n_jobs):
    """CalibrationResults of ``methods``: loaded, merged from shards, or run (resumable).

    The methods left to run share their pseudo-experiments, and realistic and idealized
    Cluster Scanning their k-means fits (``run_shared_pseudo_experiments``); every
    result and checkpoint is the one a calibration of the method alone would give.
    """
    from ..calibration import run_shared_pseudo_experiments
    from ..utils._validation import parse_shard

    results = {method: _finished(method, output, shard) for method in methods}
    todo = [method for method, result in results.items() if result is None]
    if not todo:
        return results
    estimators = {method: _estimator(method, **options["estimator"]) for method in todo}
    (bootstrap,) = {bootstrap for _, bootstrap in estimators.values()}
    index, count = parse_shard(shard)
    suffix = "" if shard is None else f".{index}-of-{count}"
    checkpoints = output / "checkpoints"
    checkpoints.mkdir(exist_ok=True)
    logger.info(
        "%s: calibrating%s",
        " + ".join(todo),
        "" if shard is None else f" shard {index}/{count}",
    )
    ran = run_shared_pseudo_experiments(
        {_label(method): estimator for method, (estimator, _) in estimators.items()},
        events,
        checkpoints={_label(method): checkpoints / f"{method}{suffix}.json" for method in todo},
        bootstrap=bootstrap,
        n_jobs=n_jobs,
        shard=shard,
        **options["calibration"],
    )
    for method in todo:
        result = ran[_label(method)]
        if shard is None:
            result.save(output / f"calibration_{method}.npz")
        else:
            (output / "shards").mkdir(exist_ok=True)
            result.save(output / "shards" / f"{method}.{index}-of-{count}.npz")
        results[method] = result
    return results


def _calibration_groups(methods):
    """Methods calibrated together: both Cluster Scanning variants share their fits."""
    scanning = [method for method in methods if method.startswith("cluster_scanning")]
    return ([scanning] if scanning else []) + [
        [method] for method in methods if method not in scanning
    ]


def run_study(
    events_path,
    output,
    *,
    methods=METHODS,
    n_background_only=N_BACKGROUND_ONLY,
    signal_injections=PAPER_INJECTIONS,
    n_per_injection=N_PER_INJECTION,
    bins=None,
    n_clusters=50,
    n_ensemble=15,
    threshold=None,
    shard=None,
    n_jobs=None,
    random_state=0,
    plots=True,
    overwrite=False,
    preview=False,
):
    """Run (or resume, or merge) the study and write its report into ``output``.

    Parameters
    ----------
    events_path : path-like
        EventTable file (for example ``hepcluster generate --generator pythia --preset
        lhco-rd``). Events outside the evaluation region are cut, and counted.
    output : path-like
        Folder of results, checkpoints, shards, tables and figures.
    methods : sequence of str, default=METHODS
        Which of :data:`METHODS` to calibrate; the report compares the realistic and
        the idealized ones separately, each with its 4-parameter fit when present.
    n_background_only, signal_injections, n_per_injection
        Pseudo-experiments: 3,900 background-only and 100 per level in the paper.
    bins : sequence of float, optional
        m_jj edges of the evaluation region (default: the scanner's, 3.0–4.6 TeV).
    n_clusters, n_ensemble, threshold
        Cluster Scanning settings (the paper's k = 50 and 15 members by default).
    shard : str, optional
        ``"I/N"``: run only that shard of every method.
    n_jobs : int, optional
        Parallel workers of each calibration.
    random_state : int, default=0
        Seed of the pseudo-experiments, shared by every method and shard.
    plots : bool, default=True
        Write the figures.
    overwrite : bool, default=False
        When ``output`` holds calibrations of other settings (events, budgets, region,
        Cluster Scanning settings or seed), remove them instead of refusing.
    preview : bool, default=False
        Run nothing: report on the shards finished so far (merged, a lower-statistics
        preview marked PARTIAL) in ``output/preview``, while the other shards run.

    Returns
    -------
    dict
        The report also written to ``output/study.json`` (``output/preview/study.json``
        for a preview).
    """
    import numpy as np

    from ..calibration import compare_methods
    from ..scanning import ClusterScanner
    from ..utils._results import write_json

    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown methods {unknown}; choose from {list(METHODS)}.")
    methods = [method for method in METHODS if method in methods]
    if preview and shard is not None:
        raise ValueError("a preview runs no shard: pass either --preview or --shard.")
    output = Path(output)
    stages = {}
    start = time.perf_counter()
    events = read_events(Path(events_path))
    stages["read events"] = time.perf_counter() - start
    if threshold is None:
        threshold = ClusterScanner().threshold
    bins = tuple(float(edge) for edge in (ClusterScanner().bins if bins is None else bins))
    settings = {
        "events_sha256": events_digest(Path(events_path)),
        "n_background_only": int(n_background_only),
        "signal_injections": [int(level) for level in signal_injections],
        "n_per_injection": int(n_per_injection),
        "bins": list(bins),
        "n_clusters": int(n_clusters),
        "n_ensemble": int(n_ensemble),
        "threshold": float(threshold),
        "seed": int(random_state),
    }
    clustered = any(method.startswith("cluster_scanning") for method in methods)
    check_region_events(
        events, bins, events_path, n_clusters=int(n_clusters) if clustered else None
    )
    _claim_output(output, settings, overwrite=overwrite and not preview)
    inside = (events.mjj >= bins[0]) & (events.mjj < bins[-1])
    counts = {
        "n_events_read": len(events),
        "n_events_outside_region": int((~inside).sum()),
        "n_background_in_region": int((inside & ~events.is_signal).sum()),
        "n_signal_pool_in_region": int((inside & events.is_signal).sum()),
    }
    events = events[inside]
    logger.info(
        "%d events read, %d outside the region [%g, %g) GeV cut; %d background events and a "
        "signal pool of %d in the region",
        counts["n_events_read"],
        counts["n_events_outside_region"],
        bins[0],
        bins[-1],
        counts["n_background_in_region"],
        counts["n_signal_pool_in_region"],
    )
    options = {
        "estimator": dict(
            bins=bins, n_clusters=n_clusters, n_ensemble=n_ensemble, threshold=threshold
        ),
        "calibration": dict(
            n_background_only=n_background_only,
            signal_injections=tuple(signal_injections),
            n_per_injection=n_per_injection,
            random_state=random_state,
        ),
    }
    results = {}
    for group in [] if preview else _calibration_groups(methods):
        began = time.perf_counter()
        results.update(
            _calibrate(group, events, output, options=options, shard=shard, n_jobs=n_jobs)
        )
        stages[f"calibration {' + '.join(group)} (this run)"] = time.perf_counter() - began
    if preview:
        results = {method: _shards_so_far(method, output) for method in methods}
        output = output / "preview"
        output.mkdir(exist_ok=True)
    results = {method: results[method] for method in methods}
    report = {
        "date": datetime.date.today().isoformat(),
        "events": str(events_path),
        "event_metadata": {
            key: events.metadata.get(key)
            for key in ("generator", "pythia_version", "n_background", "n_signal", "counts")
        },
        "region_GeV": [bins[0], bins[-1]],
        "n_bins": len(bins) - 1,
        "cluster_scanning": {
            "n_clusters": n_clusters,
            "n_ensemble": n_ensemble,
            "threshold": threshold,
            "train_window_GeV": [float(edge) for edge in ClusterScanner().train_window],
        },
        "counts": counts,
        "pseudo_experiments": {
            "n_background_only": n_background_only,
            "signal_injections": list(signal_injections),
            "n_per_injection": n_per_injection,
            "seed": random_state,
        },
        "shard": shard,
        "preview": preview,
        "seconds_per_stage": stages,
        # a shared run's seconds are those of every method it calibrated (counted once)
        "calibration_seconds_total": {
            method: float(result.metadata.get("seconds", np.nan))
            for method, result in results.items()
        },
        "calibrated_together": [group for group in _calibration_groups(methods) if len(group) > 1],
    }
    parts = {method: computed_part(result) for method, result in results.items()}
    complete = all(result.is_complete for result in results.values())
    report["complete"] = complete
    report["toys"] = {
        method: {"n_null": part.n_null, "n_per_injection": int(part.injected_statistics.shape[1])}
        for method, part in parts.items()
    }
    comparisons = {}
    for kind in ("realistic", "idealized"):
        chosen = {
            method: part
            for method, part in parts.items()
            if method.endswith("_idealized") == (kind == "idealized")
        }
        reference = REFERENCE + ("_idealized" if kind == "idealized" else "")
        if reference in chosen and len(chosen) > 1 and signal_injections:
            comparisons[kind] = compare_methods(chosen, reference=reference)
    markdown = [_heading(report)]
    for kind, comparison in comparisons.items():
        report[f"comparison_{kind}"] = comparison.summary()
        markdown += [f"## {kind.capitalize()}", "", comparison.to_markdown()]
    (output / "study.md").write_text("\n".join(markdown))
    if plots and comparisons:
        report["figures"] = _figures(comparisons, parts, output)
    report["seconds_per_stage"]["total (this run)"] = time.perf_counter() - start
    write_json(report, output / "study.json")
    logger.info("\n%s", "\n".join(markdown))
    return report


def _claim_output(output, settings, *, overwrite):
    """Results in ``output`` are reused only by a study with the same settings."""
    import json
    import shutil

    from ..utils._errors import IncompatibleInputError

    path = output / "settings.json"
    if path.exists():
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            saved = {}
        differing = sorted(name for name in settings if saved.get(name) != settings[name])
        if differing and not overwrite:
            raise IncompatibleInputError(
                f"--output {output} holds a study with other settings (differs in: "
                f"{', '.join(differing)}); choose another folder, or pass --overwrite to "
                "remove its calibrations."
            )
        if differing:
            for stale in output.glob("calibration_*.npz"):
                stale.unlink()
            for folder in ("shards", "checkpoints"):
                shutil.rmtree(output / folder, ignore_errors=True)
            logger.info("removed the calibrations of the earlier settings in %s", output)
    path.write_text(json.dumps(settings, indent=1))


def _heading(report):
    toys = ", ".join(
        f"{_label(method)} {count['n_null']} + {count['n_per_injection']}/level"
        for method, count in report["toys"].items()
    )
    state = (
        "complete"
        if report["complete"]
        else "PARTIAL: only the shards present so far (a lower-statistics preview)"
    )
    counts = report["counts"]
    return "\n".join(
        [
            "# Cluster Scanning against the dijet fit (arXiv:2402.17714, §3.2)",
            "",
            f"- Events: {report['events']} — {counts['n_background_in_region']} background "
            f"events and a signal pool of {counts['n_signal_pool_in_region']} in "
            f"{report['region_GeV'][0]:g}–{report['region_GeV'][1]:g} GeV "
            f"({counts['n_events_outside_region']} events outside, cut).",
            f"- Pseudo-experiments (background-only + per injection level): {toys}; {state}.",
            f"- Date: {report['date']}.",
            "",
        ]
    )


def _focus_improvement(ax, improvement):
    """Keep an improvement panel on its values, not on its widest interval.

    A ratio over a reference median near zero has a 68 % interval reaching tens, which
    flattens every other point. The panel's legend keeps the method and the reference
    lines (the kinds of markers are explained in the panel above), and the axis ends
    above the largest value drawn, bounds included; longer bars are cut at the frame.
    """
    import numpy as np

    legend = ax.get_legend()
    if legend is not None:
        kinds = ("computed", "extrapolated", "lower bound", "upper bound")
        kept = [
            (handle, text.get_text())
            for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=True)
            if not text.get_text().startswith(kinds)
        ]
        ax.legend(*zip(*kept, strict=True), fontsize="x-small", loc="upper right")
    value = np.asarray(improvement.value, dtype=np.float64)
    drawn = value[np.isfinite(value) & (np.asarray(improvement.kind) != "undetermined")]
    bottom, top = ax.get_ylim()
    cap = bottom + 2.0 * (max(float(drawn.max(initial=1.0)), 1.0) * 1.15 - bottom)
    if top > cap:
        ax.set_ylim(bottom, cap)


def _figures(comparisons, parts, output):
    """Figure 5 of the paper (Z against injected events, SI against S/B) and the nulls."""
    from ..plotting import (
        plot_null_distribution,
        plot_significance_curves,
        plot_significance_improvement,
    )

    paths = []
    with figure_style() as plt:
        fig, axes = plt.subplots(
            2,
            len(comparisons),
            figsize=(9 * len(comparisons), 12),
            squeeze=False,
            gridspec_kw={"height_ratios": [3, 2]},
        )
        for column, (kind, comparison) in enumerate(comparisons.items()):
            scanning = next(
                (name for name in comparison.results if name.startswith("cluster_scanning")),
                None,
            )
            shown = [name for name in (scanning, comparison.reference) if name is not None]
            plot_significance_curves(
                [comparison.results[name] for name in shown], ax=axes[0, column]
            )
            axes[0, column].set_title(f"{kind}: median global Z and quartiles")
            if scanning is not None:
                plot_significance_improvement(
                    comparison.results[scanning],
                    comparison.results[comparison.reference],
                    x="s_over_b",
                    ax=axes[1, column],
                )
                axes[1, column].set_title(f"{kind}: significance improvement")
                axes[1, column].set_ylabel("Z / Z_4-parameter fit")
                _focus_improvement(axes[1, column], comparison.improvement[scanning])
        paths.append(save_figure(fig, output / "figure5.png", dpi=80))
        shown = [
            method
            for method in ("cluster_scanning", "cluster_scanning_idealized", REFERENCE)
            if method in parts
        ]
        fig, axes = plt.subplots(1, len(shown), figsize=(8 * len(shown), 5.5), squeeze=False)
        for ax, method in zip(axes[0], shown, strict=True):
            plot_null_distribution(parts[method], ax=ax)
            ax.set_title(_label(method))
        paths.append(save_figure(fig, output / "null_distributions.png", dpi=80))
    return paths


def add_parser(subparsers):
    """Register ``hepcluster study``."""
    parser = subparsers.add_parser(
        "study",
        help="the paper's comparison of Cluster Scanning with the dijet fit on an event file",
        description=(
            "Calibrate Cluster Scanning (realistic and idealized) and the 3-, 4- and "
            "5-parameter dijet fits (realistic and idealized) on the same bootstrap "
            "pseudo-experiments of an event file and write figure 5 of arXiv:2402.17714, "
            "the null distributions, the per-level tables and the events for 3σ with their "
            "ratio to the 4-parameter fit. Resumable (checkpoints in OUTPUT/checkpoints); "
            "--shard I/N runs one N-th of every calibration, and a run without --shard "
            "merges complete sets of shards. Smaller budgets give a quick look."
        ),
    )
    parser.add_argument(
        "events", type=Path, help="event file: HDF5, ROOT (.root) or parquet (.parquet)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("hepcluster-study"),
        help="output folder (default: %(default)s)",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=list(METHODS),
        default=list(METHODS),
        metavar="METHOD",
        help="methods to calibrate, of: " + " ".join(METHODS) + " (default: all eight)",
    )
    parser.add_argument(
        "--n-background-only",
        type=int,
        default=N_BACKGROUND_ONLY,
        help="background-only pseudo-experiments per method (default: %(default)s, the paper's)",
    )
    parser.add_argument(
        "--injections",
        type=int,
        nargs="+",
        default=list(PAPER_INJECTIONS),
        help="injected signal events per level (default: "
        + " ".join(str(level) for level in PAPER_INJECTIONS)
        + ")",
    )
    parser.add_argument(
        "--n-per-injection",
        type=int,
        default=N_PER_INJECTION,
        help="pseudo-experiments per injection level (default: %(default)s, the paper's)",
    )
    add_region_options(parser)
    parser.add_argument(
        "--shard",
        default=None,
        metavar="I/N",
        help="run only shard I of N of every calibration (0 <= I < N)",
    )
    parser.add_argument("--n-jobs", type=int, default=None, help=N_JOBS_HELP)
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the pseudo-experiments (default: 0)"
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the figures")
    parser.add_argument(
        "--preview",
        action="store_true",
        help="run nothing: report on the shards finished so far (merged, marked PARTIAL) "
        "in OUTPUT/preview, while the others run",
    )
    add_overwrite_option(parser)
    parser.set_defaults(handler=run)


def _check_finished(output, *, overwrite):
    """A finished study is not rewritten silently (partial ones are resumed or merged)."""
    import json

    report = output / "study.json"
    if overwrite or not report.exists():
        return
    try:
        complete = bool(json.loads(report.read_text()).get("complete"))
    except (OSError, ValueError, AttributeError):
        complete = True  # unreadable: refuse rather than guess
    if complete:
        raise FileExistsError(
            f"--output {output} already holds a finished study ({report.name}): pass "
            "--overwrite to write its report again, or choose another folder."
        )


def run(args):
    """Handler of ``hepcluster study``."""
    check_positive(
        args,
        "--n-clusters",
        "--n-ensemble",
        "--n-bins",
        "--n-background-only",
        "--n-per-injection",
    )
    if any(level < 0 for level in args.injections):
        raise ValueError(f"--injections must be 0 or more, got {args.injections}.")
    output = output_folder(args.output)
    if not args.preview:
        _check_finished(output, overwrite=args.overwrite)
    check_plotting(args)
    run_study(
        args.events,
        output,
        methods=args.methods,
        n_background_only=args.n_background_only,
        signal_injections=tuple(args.injections),
        n_per_injection=args.n_per_injection,
        bins=region_bins(args.region, args.n_bins),
        n_clusters=args.n_clusters,
        n_ensemble=args.n_ensemble,
        threshold=args.threshold,
        shard=args.shard,
        n_jobs=args.n_jobs,
        random_state=args.seed,
        plots=not args.no_plots,
        overwrite=args.overwrite,
        preview=args.preview,
    )
