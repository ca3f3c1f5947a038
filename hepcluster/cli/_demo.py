"""``hepcluster demo``: the end-to-end analysis on events the package generates itself."""

import logging
import time
from pathlib import Path

from ._figures import figure_style, save_figure
from ._options import (
    N_JOBS_HELP,
    add_overwrite_option,
    check_plotting,
    check_positive,
    output_folder,
)

__all__ = ["add_parser", "run", "run_demo", "summarise_events"]

logger = logging.getLogger(__name__)

# The demo generates events around the Cluster Scanning evaluation region (3.0–4.6 TeV).
_DEMO_MJJ_RANGE = (2800.0, 5000.0)


def _peak(values, bins, range_):
    import numpy as np

    counts, edges = np.histogram(values, bins=bins, range=range_)
    centre = 0.5 * (edges[1:] + edges[:-1])
    return float(centre[np.argmax(counts)])


def summarise_events(events):
    """Event counts and physics summaries of an event table (a JSON-ready dict)."""
    import numpy as np

    signal, background = events[events.is_signal], events[~events.is_signal]
    summary = {"n_events": len(events), "n_signal": len(signal), "n_background": len(background)}
    for name, part in (("background", background), ("signal", signal)):
        if len(part) == 0:
            continue
        summary[name] = {
            "mjj_median_GeV": float(np.median(part.mjj)),
            "heavier_jet_mass_peak_GeV": _peak(part.jet_mass.max(axis=1), 40, (0, 800)),
            "lighter_jet_mass_peak_GeV": _peak(part.jet_mass.min(axis=1), 40, (0, 800)),
            "mean_tau21": float(np.nanmean(part.tau21)),
        }
    return summary


DEMO_SETTINGS = {
    "pythia": {
        "n_background": 40_000,
        "n_signal": 5_000,
        "n_injected": 1_200,
        "signal_injections": (400, 800, 1200, 1600, 2400, 3200, 4000),
    },
    "synthetic": {
        "n_background": 50_000,
        "n_signal": 10_000,
        "n_injected": 600,
        "signal_injections": (300, 600, 900, 1200, 2400, 4800, 7200, 9600),
    },
}
"""Sample sizes and injection levels of the demo for each generator (Pythia's need more
signal: its QCD jets look more like the signal's than the synthetic generator's do)."""

# Defaults of run_demo that ``hepcluster demo --help`` shows.
N_BACKGROUND_ONLY = 500
N_PER_INJECTION = 10
N_ENSEMBLE = 2
"""k-means initialisations per scan, scaled down from the paper's 15 (arXiv:2402.17714, §3)."""
RANDOM_STATE = 0


def run_demo(
    output,
    *,
    generator="pythia",
    n_background=None,
    n_signal=None,
    n_injected=None,
    signal_injections=None,
    n_background_only=N_BACKGROUND_ONLY,
    n_per_injection=N_PER_INJECTION,
    n_ensemble=N_ENSEMBLE,
    n_jobs=None,
    random_state=RANDOM_STATE,
    plots=True,
):
    """Run the end-to-end study and write results into ``output``.

    Events are generated; one data set (background plus ``n_injected`` signal events) is
    scanned with Cluster Scanning; then Cluster Scanning and the 4-parameter dijet fit
    are calibrated on the same bootstrap pseudo-experiments, background-only and with
    signal injected, and compared (arXiv:2402.17714, Figs. 5 and 10).

    Parameters
    ----------
    output : str or path-like
        Folder for the event table, results, the summary and the figures.
    generator : {"pythia", "synthetic"}, default="pythia"
        Pythia8 + FastJet events with the LHC Olympics R&D selection (unweighted QCD,
        anti-kT R = 1.0, leading jet pT > 1.2 TeV; extra ``[generate]``), or the fast
        synthetic generator, whose signal is easier to separate than Pythia's.
    n_background, n_signal : int, optional
        Generated background events and size of the signal pool (:data:`DEMO_SETTINGS`
        of the generator by default).
    n_injected : int, optional
        Signal events in the data set that is scanned.
    signal_injections : sequence of int, optional
        Injection levels of the calibration.
    n_background_only, n_per_injection : int
        Pseudo-experiments (3,900 and 100 in the paper; scaled down to minutes here).
    n_ensemble : int, default=2
        k-means initialisations averaged by Cluster Scanning (15 in the paper).
    n_jobs : int or None, default=None
        Parallel workers of the calibration and of the Pythia generation (``None``: all
        cores for the generation, one process for the calibration).
    random_state : int, default=0
        Seed of the whole run.
    plots : bool, default=True
        Write figures (needs matplotlib).

    Returns
    -------
    dict
        The summary also written to ``output/summary.json``.
    """
    import numpy as np

    from ..calibration import compare_methods, run_pseudo_experiments
    from ..scanning import ClusterScanner
    from ..utils._results import write_json
    from ._analysis import calibration_estimators, scan_events

    if generator not in DEMO_SETTINGS:
        raise ValueError(f"generator must be one of {sorted(DEMO_SETTINGS)}, got {generator!r}.")
    settings = DEMO_SETTINGS[generator]
    n_background = settings["n_background"] if n_background is None else n_background
    n_signal = settings["n_signal"] if n_signal is None else n_signal
    n_injected = settings["n_injected"] if n_injected is None else n_injected
    if signal_injections is None:
        signal_injections = settings["signal_injections"]
    largest = max([n_injected, *signal_injections])
    if largest > n_signal:
        raise ValueError(
            f"the demo injects up to {largest} signal events but the signal pool holds "
            f"{n_signal}: raise --n-signal or lower --n-injected/--injections."
        )
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    events = _generate(generator, output, n_background, n_signal, n_jobs, random_state)
    logger.info(
        "generated %r with the %s generator in %.1f s",
        events,
        generator,
        time.perf_counter() - start,
    )
    summary = {"events": {"generator": generator, **summarise_events(events)}}

    rng = np.random.default_rng(random_state)
    injected = rng.choice(np.flatnonzero(events.is_signal), size=n_injected, replace=False)
    data = events[np.sort(np.concatenate([np.flatnonzero(~events.is_signal), injected]))]
    logger.info("Cluster Scanning of a data set with %d signal events", n_injected)
    scanner = ClusterScanner(n_ensemble=n_ensemble, random_state=random_state)
    _, result, summary["scan"] = scan_events(data, scanner=scanner)
    result.save(output / "scan.npz")

    calibrations = {}
    for name, (estimator, bootstrap) in calibration_estimators(n_ensemble=n_ensemble).items():
        logger.info(
            "calibrating %s on %d + %d pseudo-experiments",
            name,
            n_background_only,
            len(signal_injections) * n_per_injection,
        )
        calibrations[name] = run_pseudo_experiments(
            estimator,
            events,
            n_background_only=n_background_only,
            signal_injections=signal_injections,
            n_per_injection=n_per_injection,
            bootstrap=bootstrap,
            n_jobs=n_jobs,
            random_state=random_state,
            name=name.replace("_", " "),
        )
        calibrations[name].save(output / f"calibration_{name}.npz")
    comparison = compare_methods(calibrations)
    summary["comparison"] = comparison.summary()
    observed = calibrations["cluster_scanning"].significance_estimate(result.statistic)
    summary["scan"]["global_significance"] = observed.to_json_dict()
    summary["seconds"] = time.perf_counter() - start
    if plots:
        summary["figures"] = _write_event_figures(events, output)
        summary["figures"] += _write_scan_figures(result, output)
        summary["figures"] += _write_calibration_figures(comparison, output)
    write_json(summary, output / "summary.json")
    (output / "comparison.md").write_text(comparison.to_markdown())
    logger.info(
        "scan: local MLS = %.2f; calibrated global significance Z = %s [%s]",
        summary["scan"]["statistic"],
        observed.format(),
        observed.kind.item(),
    )
    logger.info("comparison of Cluster Scanning with the dijet fit:\n%s", comparison.to_markdown())
    logger.info("results written to %s in %.0f s", output.resolve(), summary["seconds"])
    return summary


def _generate(generator, output, n_background, n_signal, n_jobs, random_state):
    """The demo's events, written to ``output/events.h5``."""
    from ..datasets import EventTable, make_dijet_events, write_pythia_events

    path = output / "events.h5"
    if generator == "synthetic":
        logger.info(
            "generating %d background and %d signal events (synthetic)", n_background, n_signal
        )
        events = make_dijet_events(
            n_background, n_signal, mjj_range=_DEMO_MJJ_RANGE, random_state=random_state
        )
        events.to_hdf5(path)
        return events
    logger.info(
        "generating %d QCD and %d W′ → XY events with Pythia8 + FastJet (LHC Olympics R&D "
        "selection)",
        n_background,
        n_signal,
    )
    write_pythia_events(
        path,
        n_background,
        n_signal,
        preset="lhco-rd",
        n_jobs=-1 if n_jobs is None else n_jobs,
        random_state=random_state,
    )
    return EventTable.read_hdf5(path)


def _write_event_figures(events, output):
    from ..plotting import plot_jet_observable, plot_mjj

    with figure_style() as plt:
        fig, axes = plt.subplots(1, 3, figsize=(18, 5.5))
        plot_mjj(events, ax=axes[0])
        plot_jet_observable(events, observable="jet_mass", range=(0, 800), ax=axes[1])
        plot_jet_observable(events, observable="tau21", range=(0, 1), ax=axes[2])
        return [save_figure(fig, output / "events.png", dpi=100)]


def _write_scan_figures(result, output):
    from ._scan import write_scan_figure

    return [write_scan_figure(result, output / "scan.png")]


def _write_calibration_figures(comparison, output):
    from ..plotting import plot_null_distribution

    with figure_style() as plt:
        fig, axes = plt.subplots(1, 3, figsize=(27, 8.5))
        comparison.plot(ax=axes[:2])
        plot_null_distribution(comparison.results["cluster_scanning"], ax=axes[2])
        return [save_figure(fig, output / "calibration.png", dpi=70)]


def add_parser(subparsers):
    """Register ``hepcluster demo``; its defaults are those of :func:`run_demo`."""
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
        "--generator",
        choices=sorted(DEMO_SETTINGS),
        default="pythia",
        help="Pythia8 + FastJet events with the LHC Olympics R&D selection (extra "
        "'generate') or the fast synthetic generator, whose signal is far easier to find "
        "(default: %(default)s)",
    )

    def per_generator(name):
        return ", ".join(
            f"{generator} {settings[name]}" for generator, settings in DEMO_SETTINGS.items()
        )

    parser.add_argument(
        "--n-background",
        type=int,
        default=None,
        help=f"QCD dijet events (default: {per_generator('n_background')})",
    )
    parser.add_argument(
        "--n-signal",
        type=int,
        default=None,
        help=f"signal pool the injections draw from (default: {per_generator('n_signal')})",
    )
    parser.add_argument(
        "--n-injected",
        type=int,
        default=None,
        help=f"signal events in the scanned data set (default: {per_generator('n_injected')})",
    )
    levels = "; ".join(
        f"{generator} " + " ".join(str(level) for level in settings["signal_injections"])
        for generator, settings in DEMO_SETTINGS.items()
    )
    parser.add_argument(
        "--injections",
        type=int,
        nargs="+",
        default=None,
        help=f"numbers of injected signal events of the calibration (default: {levels})",
    )
    parser.add_argument(
        "--n-background-only",
        type=int,
        default=N_BACKGROUND_ONLY,
        help="background-only pseudo-experiments (default: %(default)s; 3,900 in the paper)",
    )
    parser.add_argument(
        "--n-per-injection",
        type=int,
        default=N_PER_INJECTION,
        help="pseudo-experiments per injection level (default: %(default)s; 100 in the paper)",
    )
    parser.add_argument(
        "--n-ensemble",
        type=int,
        default=N_ENSEMBLE,
        help="k-means initialisations per scan (default: %(default)s, scaled down from the "
        "paper's 15 that scan and calibrate use, to keep the demo in minutes)",
    )
    parser.add_argument("--n-jobs", type=int, default=None, help=N_JOBS_HELP)
    parser.add_argument(
        "--seed",
        type=int,
        default=RANDOM_STATE,
        help="random seed (default: %(default)s)",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the figures")
    add_overwrite_option(parser)
    parser.set_defaults(handler=run)


def run(args):
    """Handler of ``hepcluster demo``."""
    import importlib.util

    if args.generator == "pythia" and importlib.util.find_spec("pythia8mc") is None:
        raise ImportError(
            'the demo\'s Pythia events need pythia8mc: pip install "hepcluster[generate]", '
            "or run it on synthetic events with --generator synthetic."
        )
    check_positive(
        args,
        "--n-background",
        "--n-signal",
        "--n-background-only",
        "--n-per-injection",
        "--n-ensemble",
    )
    for flag, values in (("--n-injected", [args.n_injected]), ("--injections", args.injections)):
        negative = [value for value in values or () if value is not None and value < 0]
        if negative:
            raise ValueError(
                f"{flag} must be a number of signal events, 0 or more, got {negative[0]}."
            )
    # a finished demo is not replaced silently (a killed one resumes its event generation)
    output_folder(args.output, results=("summary.json", "comparison.md"), overwrite=args.overwrite)
    check_plotting(args)
    run_demo(
        args.output,
        generator=args.generator,
        n_background=args.n_background,
        n_signal=args.n_signal,
        n_injected=args.n_injected,
        signal_injections=None if args.injections is None else tuple(args.injections),
        n_background_only=args.n_background_only,
        n_per_injection=args.n_per_injection,
        n_ensemble=args.n_ensemble,
        n_jobs=args.n_jobs,
        random_state=args.seed,
        plots=not args.no_plots,
    )
