"""Event-level anomaly search: clusters of dijet events and a background from the nearest one.

The event task of UCluster (V. Mikuni, F. Canelli, *Unsupervised clustering for collider
physics*, Phys. Rev. D 103, 092007, arXiv:2010.07106, §4): dijet events are clustered
(e.g. by :class:`~hepcluster.ucluster.DeepKMeans` with an event-task embedding), signal
events gather in few clusters, and the background of every cluster is the m_jj spectrum
of the cluster nearest to it, fitted by the caller's model (e.g. the dijet function of
:class:`~hepcluster.fits.DijetFitBackground`) and scaled to the cluster's sidebands.

- :func:`anomaly_search` — predict the clusters of the events with a fitted clusterer
  and look for a resonance in every cluster; returns an :class:`AnomalySearchResult`.
- :func:`nearest_cluster_background` — the background estimate alone, from cluster
  labels, centroids and m_jj.
- :class:`NearestClusterSearch` — the largest local excess over the clusters of a fixed
  clustering as a test statistic, which
  :func:`hepcluster.calibration.run_pseudo_experiments` (with
  :class:`~hepcluster.calibration.EmbeddingInputs`) turns into a global significance.

This package reads only the clusterer's predictions and centroids: it never imports the
network (no TensorFlow), and works with any clusterer that has ``predict`` and
``cluster_centers_`` and whose fitted ``embedding_`` reads events. The names are loaded
on first access (PEP 562), so that importing the package (or its defaults) is cheap.
"""

from .._lazy import lazy_exports

# Module that defines each public name, imported on first access.
_LAZY = {
    "AnomalySearchResult": "._result",
    "NearestClusterSearch": "._statistic",
    "anomaly_search": "._search",
    "nearest_cluster_background": "._background",
}

__all__ = [
    "AnomalySearchResult",
    "NearestClusterSearch",
    "anomaly_search",
    "nearest_cluster_background",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
