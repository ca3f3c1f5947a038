"""Greedy k-means++ seeding (D. Arthur, S. Vassilvitskii, SODA 2007), as scikit-learn runs it."""

import numpy as np


def kmeans_plusplus(data, n_clusters, random_state, n_local_trials):
    """Greedy k-means++ on ``data`` with unit weights; returns the seed rows.

    The first seed is a uniformly drawn row; each further seed is the best (lowest
    potential) of ``n_local_trials`` candidates drawn with probability proportional to
    the squared distance to the closest seed so far (scikit-learn's
    ``_kmeans_plusplus``).

    Parameters
    ----------
    data : SparseRows or an object with its interface
        The rows: ``n_rows`` and ``seed_distances(candidates)``, the squared distances
        of the candidate rows to every row.
    n_clusters : int
    random_state : numpy.random.RandomState
    n_local_trials : int

    Returns
    -------
    ndarray of shape (n_clusters,), int64
        Row index of every seed.
    """
    n_rows = data.n_rows
    seeds = np.empty(n_clusters, dtype=np.int64)
    seeds[0] = random_state.randint(n_rows)
    closest = data.seed_distances(seeds[:1])[0]
    potential = closest.sum()
    for c in range(1, n_clusters):
        thresholds = random_state.uniform(size=n_local_trials) * potential
        candidates = np.searchsorted(np.cumsum(closest), thresholds)
        np.clip(candidates, None, n_rows - 1, out=candidates)
        distances = data.seed_distances(candidates)
        np.minimum(closest, distances, out=distances)
        potentials = distances.sum(axis=1)
        best = int(np.argmin(potentials))
        potential = potentials[best]
        closest = distances[best]
        seeds[c] = candidates[best]
    return seeds
