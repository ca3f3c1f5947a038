"""The Cluster Scanning chain on an event table, shared by demo, scan and calibrate."""

import logging
import time

import numpy as np

from ..images import JetImageTransformer
from ..metrics import signal_fraction_improvement, signal_to_background
from ..scanning import ClusterScanner

logger = logging.getLogger(__name__)


def scan_events(events, *, transformer=None, scanner=None, idealized=False):
    """Jet images, k-means in the training window and the scan of an event table.

    Parameters
    ----------
    events : EventTable
    transformer : JetImageTransformer, optional
        Defaults to the paper's 40 × 40 images, as sparse images (``sparse_output=True``,
        the scanner's fast path).
    scanner : ClusterScanner, optional
        Defaults to the paper's settings.
    idealized : bool, default=False
        Pass the truth labels to an idealized scanner.

    Returns
    -------
    scanner : ClusterScanner
        The fitted scanner.
    result : ScanResult
    summary : dict
        Statistic, selected clusters and, where truth labels exist, S/B and SFI of the
        signal-rich clusters of each member.
    """
    transformer = JetImageTransformer(sparse_output=True) if transformer is None else transformer
    scanner = ClusterScanner() if scanner is None else scanner
    X, mjj, _ = events.jets()
    weight = events.jet_weight
    start = time.perf_counter()
    images = transformer.fit_transform(X)
    logger.info("built %d jet images in %.1f s", len(mjj), time.perf_counter() - start)
    start = time.perf_counter()
    scanner.fit(images, mjj, sample_weight=weight)
    is_signal = events.jet_is_signal
    result = scanner.scan(
        images, mjj, sample_weight=weight, is_signal=is_signal if idealized else None
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


def calibration_estimators(*, idealized=False, **scanner_params):
    """The two methods of the Cluster Scanning paper, ready for run_pseudo_experiments.

    Parameters
    ----------
    idealized : bool, default=False
        Idealized Cluster Scanning and the idealized (parametric-bootstrap) fit.
    **scanner_params
        :class:`~hepcluster.scanning.ClusterScanner` parameters (``n_clusters``,
        ``n_ensemble``, ``bins``, ``threshold``, ``statistic``, …); the others keep the
        scanner's defaults (the paper's). The dijet fit uses the scanner's bins and local
        significance (``statistic``).

    Returns
    -------
    dict
        ``{"cluster_scanning": (Pipeline, bootstrap), "dijet_fit": (DijetFitBackground,
        bootstrap)}``.
    """
    from sklearn.pipeline import Pipeline

    from ..fits import DijetFitBackground

    scanner = ClusterScanner(idealized=idealized, **scanner_params)
    return {
        "cluster_scanning": (
            Pipeline([("images", JetImageTransformer(sparse_output=True)), ("scan", scanner)]),
            "poisson",
        ),
        "dijet_fit": (
            DijetFitBackground(bins=tuple(scanner.bins), statistic=scanner.statistic),
            "parametric" if idealized else "poisson",
        ),
    }
