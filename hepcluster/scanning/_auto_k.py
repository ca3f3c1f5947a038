"""Choosing the number of k-means clusters from the inertia curve (the elbow)."""

import numpy as np

#: Candidate numbers of clusters for ``ClusterScanner(n_clusters="auto")``: around the
#: paper's k = 50 (arXiv:2402.17714, §3), from a few to many jets per cluster.
N_CLUSTERS_CANDIDATES = (10, 20, 30, 50, 80)


def elbow_index(n_clusters, inertia):
    """Index of the elbow of an inertia curve: farthest below the chord in (log k, inertia).

    Both axes are scaled to [0, 1] (log k from the smallest to the largest candidate,
    the inertia from its smallest to its largest value); the elbow is the candidate
    farthest below the straight line joining the two ends of the curve ("kneedle",
    V. Satopää et al., ICDCS Workshops 2011). Ties go to the smaller k; with fewer than
    three candidates, or a flat curve, the smallest k is returned.

    Parameters
    ----------
    n_clusters : array-like of shape (n_candidates,)
        Candidate k, strictly increasing.
    inertia : array-like of shape (n_candidates,)
        k-means inertia of each candidate.

    Returns
    -------
    int
        Index into ``n_clusters``.

    Examples
    --------
    >>> from hepcluster.scanning._auto_k import elbow_index
    >>> elbow_index([10, 20, 30, 50, 80], [26.4, 22.5, 20.4, 18.4, 16.6])
    2
    """
    k = np.log(np.asarray(n_clusters, dtype=np.float64))
    inertia = np.asarray(inertia, dtype=np.float64)
    if k.size < 3 or np.ptp(inertia) <= 0:
        return 0
    x = (k - k[0]) / (k[-1] - k[0])
    y = (inertia - inertia.min()) / np.ptp(inertia)
    # the chord runs from (0, y[0]) to (1, y[-1]); distance below it, up to a constant
    below = (y[0] + (y[-1] - y[0]) * x) - y
    return int(np.argmax(below))
