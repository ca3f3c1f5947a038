"""``hepcluster demo``: the end-to-end analysis on events the package generates itself."""

import json
import logging
import time
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

# The demo generates events around the Cluster Scanning evaluation region (3.0–4.6 TeV).
_DEMO_MJJ_RANGE = (2800.0, 5000.0)


def _peak(values, bins, range_):
    counts, edges = np.histogram(values, bins=bins, range=range_)
    centre = 0.5 * (edges[1:] + edges[:-1])
    return float(centre[np.argmax(counts)])


def summarise_events(events):
    """Event counts and physics summaries of an event table (a JSON-ready dict)."""
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


def run_demo(
    output, *, n_background=50_000, n_signal=2_000, n_ensemble=3, random_state=0, plots=True
):
    """Run the end-to-end demo and write results into ``output``.

    Parameters
    ----------
    output : str or path-like
        Folder for the event table, the summary and the figures (created if needed).
    n_background, n_signal : int
        Numbers of generated events.
    n_ensemble : int, default=3
        k-means initialisations averaged by Cluster Scanning (15 in the paper).
    random_state : int
        Seed of the whole run.
    plots : bool, default=True
        Write figures (needs matplotlib).

    Returns
    -------
    dict
        The summary also written to ``output/summary.json``.
    """
    from sklearn.base import clone

    from ._analysis import scan_events
    from .datasets import make_dijet_events
    from .scanning import ClusterScanner

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    logger.info("generating %d background and %d signal events", n_background, n_signal)
    events = make_dijet_events(
        n_background, n_signal, mjj_range=_DEMO_MJJ_RANGE, random_state=random_state
    )
    logger.info("generated %r in %.1f s", events, time.perf_counter() - start)
    events.to_hdf5(output / "events.h5")
    summary = {"events": summarise_events(events)}

    scanner = ClusterScanner(n_ensemble=n_ensemble, random_state=random_state)
    logger.info("Cluster Scanning with signal injected")
    _, result, summary["scan_with_signal"] = scan_events(events, scanner=scanner)
    result.save(output / "scan_with_signal.npz")
    logger.info("Cluster Scanning on the background alone")
    _, background_result, summary["scan_background_only"] = scan_events(
        events[~events.is_signal], scanner=clone(scanner)
    )
    background_result.save(output / "scan_background_only.npz")
    if plots:
        summary["figures"] = _write_event_figures(events, output)
        summary["figures"] += _write_scan_figures(result, background_result, output)
    with open(output / "summary.json", "w") as file:
        json.dump(summary, file, indent=2)
    for name in ("scan_with_signal", "scan_background_only"):
        logger.info(
            "%s: MLS = %.2f (members %s), selected clusters %s",
            name,
            summary[name]["statistic"],
            np.round(summary[name]["mls_members"], 2),
            summary[name]["n_selected"],
        )
    logger.info("results written to %s", output.resolve())
    return summary


def _write_event_figures(events, output):
    from .plotting import plot_jet_observable, plot_mjj
    from .plotting._style import hep_style, pyplot

    plt = pyplot()
    written = []
    with hep_style():
        fig, axes = plt.subplots(1, 3, figsize=(18, 5.5))
        plot_mjj(events, ax=axes[0])
        plot_jet_observable(events, "jet_mass", range=(0, 800), ax=axes[1])
        plot_jet_observable(events, "tau21", range=(0, 1), ax=axes[2])
        fig.tight_layout()
        fig.savefig(output / "events.png", dpi=100)
        plt.close(fig)
        written.append("events.png")
    return written


def _write_scan_figures(result, background_result, output):
    from .plotting._style import hep_style, pyplot

    plt = pyplot()
    written = []
    with hep_style():
        for name, scan in (
            ("scan_with_signal", result),
            ("scan_background_only", background_result),
        ):
            fig, axes = plt.subplots(1, 3, figsize=(20, 6))
            scan.plot(axes=axes)
            fig.tight_layout()
            fig.savefig(output / f"{name}.png", dpi=90)
            plt.close(fig)
            written.append(f"{name}.png")
    return written
