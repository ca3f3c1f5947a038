"""Event-level anomaly search: clusters of dijet events and their m_jj.

The event task of UCluster (arXiv:2010.07106, §4): ABCNet reads the particles of both
leading jets with four global event features, is pre-trained on a per-particle
segmentation (the mass of the particle's jet) and clustered jointly into k clusters
(:class:`~hepcluster.ucluster.DeepKMeans` with ``UClusterEmbedding(task="events")``). Signal events
gather in few clusters. For every cluster the background under a resonance is estimated
from the cluster nearest to it (distance between centroids): the nearest cluster's m_jj
spectrum is fitted by the background model the caller passes (the dijet function of
:class:`~hepcluster.fits.DijetFitBackground` in the paper) and scaled to the sidebands of
the cluster, i.e. to its counts outside the signal region
(:func:`nearest_cluster_background`). Clusters whose local significance in the signal
region exceeds a threshold are signal-rich (:class:`AnomalySearchResult`).
"""

import logging

import numpy as np

from ..stats import histogram
from ._background import nearest_cluster_background
from ._defaults import THRESHOLD
from ._result import AnomalySearchResult

logger = logging.getLogger(__name__)

__all__ = ["anomaly_search"]


def anomaly_search(
    events,
    *,
    model,
    bins,
    signal_region=None,
    background,
    threshold=THRESHOLD,
    max_sideband_chi2=None,
    statistic="poisson",
):
    """Cluster dijet events with UCluster and look for a resonance in every cluster.

    Parameters
    ----------
    events : EventTable
        Events (their ``weight`` enters the spectra; ``is_signal``, if present, only the
        truth metrics).
    model : DeepKMeans
        A clusterer with an event-task embedding (``UClusterEmbedding(task="events")``),
        or any clusterer with ``predict``, ``cluster_centers_`` and a fitted
        ``embedding_`` whose ``task`` is ``"events"``; fitted on ``events`` here if it
        is not fitted yet.
    bins : array-like of float
        m_jj bin edges in GeV of the spectra and fits (the last edge excluded).
    signal_region : (float, float) or None, default=None
        See :func:`nearest_cluster_background`.
    background : estimator
        Unfitted background model of a cluster's m_jj spectrum, e.g.
        ``DijetFitBackground()`` of :mod:`hepcluster.fits` (the 4-parameter dijet
        function in x = m_jj / √s, as in the paper); see
        :func:`nearest_cluster_background`.
    threshold : float, default=3.0
        A cluster is signal-rich when the excess in its signal region has a significance
        of at least ``threshold``.
    max_sideband_chi2 : float or None, default=None
        Also require the background estimate to describe the cluster's sidebands with
        χ²/ndf at most this value; ``None`` does not check.
    statistic : {"poisson", "poisson-midp", "gaussian"}, default="poisson"

    Returns
    -------
    AnomalySearchResult

    See Also
    --------
    nearest_cluster_background : The background estimate alone.
    hepcluster.metrics.signal_fraction_improvement : S/B gain of a selection.

    References
    ----------
    V. Mikuni, F. Canelli, arXiv:2010.07106, §4.

    Examples
    --------
    >>> from hepcluster.datasets import make_dijet_events
    >>> from hepcluster.fits import DijetFitBackground
    >>> from hepcluster.anomaly import anomaly_search
    >>> from hepcluster.ucluster import DeepKMeans, UClusterEmbedding
    >>> events = make_dijet_events(5000, 300, n_constituents=20, random_state=0)
    >>> model = DeepKMeans(UClusterEmbedding(task="events", width=0.25, pretrain_epochs=2),
    ...                    n_clusters=2, epochs=4, random_state=0)
    >>> result = anomaly_search(events, model=model, bins=range(2500, 5001, 100),
    ...                         background=DijetFitBackground())  # doctest: +SKIP
    >>> result.signal_to_background  # doctest: +SKIP
    array([...])
    """
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(model)
    except NotFittedError:
        logger.info("fitting %r on %d events", model, len(events))
        model.fit(events)
    embedding = getattr(model, "embedding_", None)
    if embedding is None or getattr(embedding, "task", None) != "events":
        raise ValueError("anomaly_search needs a DeepKMeans whose embedding has task='events'.")
    labels = model.predict(events)
    mjj = np.asarray(events.mjj, dtype=np.float64)
    weight = np.asarray(getattr(events, "weight", np.ones_like(mjj)), dtype=np.float64)
    analysis = nearest_cluster_background(
        labels,
        cluster_centers=model.cluster_centers_,
        mjj=mjj,
        bins=bins,
        background=background,
        signal_region=signal_region,
        sample_weight=weight,
        statistic=statistic,
    )
    bins = np.asarray(bins, dtype=np.float64)
    n_clusters = model.cluster_centers_.shape[0]
    is_signal = getattr(events, "is_signal", None)
    if is_signal is not None:
        is_signal = np.asarray(is_signal, dtype=bool)
        signal_spectra = np.stack(
            [
                histogram(mjj[chosen], bins, weights=weight[chosen])
                for chosen in ((labels == k) & is_signal for k in range(n_clusters))
            ]
        )
        s_total = weight[is_signal].sum()
        b_total = weight[~is_signal].sum()
        inclusive = float(s_total / b_total) if b_total > 0 else float("inf")
        s_cluster = np.array([weight[(labels == k) & is_signal].sum() for k in range(n_clusters)])
        b_cluster = np.array([weight[(labels == k) & ~is_signal].sum() for k in range(n_clusters)])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(
                b_cluster > 0, s_cluster / np.where(b_cluster > 0, b_cluster, 1.0), np.inf
            )
    else:
        signal_spectra = np.zeros_like(analysis["spectra"])
        inclusive = float("nan")
        ratio = np.full(n_clusters, np.nan)
    selected = analysis["excess_significance"] >= threshold
    if max_sideband_chi2 is not None:
        selected &= analysis["sideband_chi2_ndf"] <= max_sideband_chi2
    result = AnomalySearchResult(
        bins=bins,
        cluster_spectra=analysis["spectra"],
        signal_spectra=signal_spectra,
        background_estimates=analysis["background"],
        local_significance=analysis["local_significance"],
        nearest_cluster=analysis["nearest_cluster"],
        excess_significance=analysis["excess_significance"],
        signal_region_index=analysis["signal_region_index"],
        selected=selected,
        fit_params=analysis["fit_params"],
        sideband_chi2_ndf=analysis["sideband_chi2_ndf"],
        cluster_centers=np.asarray(model.cluster_centers_, dtype=np.float64),
        signal_to_background=ratio,
        inclusive_signal_to_background=inclusive,
        threshold=float(threshold),
        statistic_name=statistic,
        n_events=int(mjj.size),
        n_outside=analysis["n_outside"],
        metadata={"background": repr(background)},
    )
    logger.info("%r", result)
    return result
