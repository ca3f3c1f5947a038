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


def run_demo(output, *, n_background=50_000, n_signal=2_000, random_state=0, plots=True):
    """Run the end-to-end demo and write results into ``output``.

    Parameters
    ----------
    output : str or path-like
        Folder for the event table, the summary and the figures (created if needed).
    n_background, n_signal : int
        Numbers of generated events.
    random_state : int
        Seed of the whole run.
    plots : bool, default=True
        Write figures (needs matplotlib).

    Returns
    -------
    dict
        The summary also written to ``output/summary.json``.
    """
    from .datasets import make_dijet_events

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
    if plots:
        summary["figures"] = _write_event_figures(events, output)
    with open(output / "summary.json", "w") as file:
        json.dump(summary, file, indent=2)
    logger.info("summary: %s", json.dumps(summary["events"]))
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
