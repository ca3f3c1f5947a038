"""The Cluster Scanning chain on an event table, shared by ``hepcluster demo`` and ``scan``."""

import logging
import time

import numpy as np

from .images import JetImageTransformer
from .metrics import signal_fraction_improvement, signal_to_background
from .scanning import ClusterScanner

logger = logging.getLogger(__name__)


def scan_events(events, *, transformer=None, scanner=None, idealised=False):
    """Jet images, k-means in the training window and the scan of an event table.

    Parameters
    ----------
    events : EventTable
    transformer : JetImageTransformer, optional
        Defaults to the paper's 40 × 40 images.
    scanner : ClusterScanner, optional
        Defaults to the paper's settings.
    idealised : bool, default=False
        Pass the truth labels to an idealised scanner.

    Returns
    -------
    scanner : ClusterScanner
        The fitted scanner.
    result : ScanResult
    summary : dict
        Statistic, selected clusters and, where truth labels exist, S/B and SFI of the
        signal-rich clusters of each member.
    """
    transformer = JetImageTransformer() if transformer is None else transformer
    scanner = ClusterScanner() if scanner is None else scanner
    X, mjj, _ = events.jets()
    weight = events.jet_weight
    start = time.perf_counter()
    images = transformer.fit(X).transform_sparse(X)
    logger.info("built %d jet images in %.1f s", images.n_jets, time.perf_counter() - start)
    start = time.perf_counter()
    scanner.fit(images, mjj, sample_weight=weight)
    is_signal = events.jet_is_signal
    result = scanner.scan(
        images, mjj, sample_weight=weight, is_signal=is_signal if idealised else None
    )
    logger.info("scan: %r (%.1f s)", result, time.perf_counter() - start)
    summary = {
        "statistic": result.statistic,
        "statistic_name": result.statistic_name,
        "mls_members": result.mls_members.tolist(),
        "n_selected": result.n_selected.tolist(),
        "n_jets_in_region": result.n_jets,
        "n_jets_outside_region": result.n_outside,
    }
    if is_signal.any():
        labels = scanner.predict_ensemble(images)
        inside = (mjj >= result.bins[0]) & (mjj < result.bins[-1])
        sb, sfi = [], []
        for member in range(result.n_members):
            chosen = np.isin(labels[member], np.flatnonzero(result.selected[member])) & inside
            sb.append(signal_to_background(is_signal[inside], chosen[inside], weight[inside]))
            sfi.append(
                signal_fraction_improvement(is_signal[inside], chosen[inside], weight[inside])
                if chosen.any()
                else 0.0
            )
        summary["s_over_b_region"] = signal_to_background(is_signal[inside], None, weight[inside])
        summary["s_over_b_selected"] = sb
        summary["sfi_selected"] = sfi
    return scanner, result, summary


def calibration_estimators(
    *, n_clusters=50, n_ensemble=15, bins=None, threshold=3.0, idealised=False
):
    """The two methods of the Cluster Scanning paper, ready for run_pseudo_experiments.

    Parameters
    ----------
    n_clusters, n_ensemble : int
        Cluster Scanning settings (50 and 15 in the paper).
    bins : tuple of float, optional
        Bin edges of the evaluation region (the paper's 16 bins of 100 GeV by default).
    threshold : float, default=3.0
        θ of the signal-rich selection.
    idealised : bool, default=False
        Idealised Cluster Scanning and the idealised (parametric) fit.

    Returns
    -------
    dict
        ``{"cluster_scanning": (Pipeline, bootstrap), "dijet_fit": (DijetFitBackground,
        bootstrap)}``.
    """
    from sklearn.pipeline import Pipeline

    from .fits import DijetFitBackground
    from .scanning._scanner import BINS

    bins = BINS if bins is None else tuple(bins)
    scanner = ClusterScanner(
        n_clusters=n_clusters,
        bins=bins,
        threshold=threshold,
        n_ensemble=n_ensemble,
        idealised=idealised,
    )
    return {
        "cluster_scanning": (
            Pipeline([("images", JetImageTransformer()), ("scan", scanner)]),
            "poisson",
        ),
        "dijet_fit": (DijetFitBackground(bins=bins), "parametric" if idealised else "poisson"),
    }
