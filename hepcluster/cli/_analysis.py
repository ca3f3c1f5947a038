"""The Cluster Scanning chain on an event table, shared by demo, scan and calibrate."""

import logging
import time
from math import inf

from ..images import JetImageTransformer
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
        Statistic, selected clusters and, where the region holds signal jets, S/B of the
        region and S/B and SFI of the signal-rich clusters of each member
        (:meth:`~hepcluster.scanning.ScanResult.signal_fraction_improvement`: 0 for a
        member that selects no cluster).
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
    truth = is_signal if idealized or is_signal.any() else None
    result = scanner.scan(images, mjj, sample_weight=weight, is_signal=truth)
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
        signal = result.cluster_signal[0].sum()
        background = result.cluster_background[0].sum()
        summary["s_over_b_region"] = float(signal / background) if background > 0 else inf
        summary["s_over_b_selected"] = result.signal_to_background().tolist()
        if signal > 0:
            summary["sfi_selected"] = result.signal_fraction_improvement().tolist()
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
