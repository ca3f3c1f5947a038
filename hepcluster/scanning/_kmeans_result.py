"""What a mini-batch k-means fit returns (see ``hepcluster.scanning._kmeans``)."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, repr=False, eq=False)
class MiniBatchKMeansResult:
    """What :func:`minibatch_kmeans` returns.

    Attributes
    ----------
    centers : ndarray of shape (n_clusters, n_features)
        Cluster centres in the space the distances are measured in: the smeared images
        ``G u`` for :class:`~hepcluster.images.SparseImages` input (comparable with
        ``MiniBatchKMeans.cluster_centers_`` on the dense ``transform`` output, and
        ready for ``nearest_centroid(images, centers, smeared=True)``), the centres
        themselves (``MiniBatchKMeans.cluster_centers_``) for dense input.
    unsmeared_centers : ndarray of shape (n_clusters, n_features) or None
        The unsmeared centres ``u`` (sparse input only).
    labels : ndarray of shape (n_samples,) or None
        Nearest centre of every row (``compute_labels=True`` only).
    inertia : float
        Weighted sum of squared distances of the (smeared) rows to their nearest centre;
        with ``compute_labels=False`` the smoothed mini-batch estimate, as in
        scikit-learn.
    n_steps : int
        Mini-batch steps run.
    n_iter : int
        Passes over the data, ``ceil(n_steps · batch_size / n_samples)``.
    counts : ndarray of shape (n_clusters,)
        Weight accumulated by each centre (scikit-learn's per-centre learning rate is
        ``batch count / counts``).
    """

    centers: np.ndarray
    unsmeared_centers: np.ndarray | None
    labels: np.ndarray | None
    inertia: float
    n_steps: int
    n_iter: int
    counts: np.ndarray

    def __repr__(self):
        kind = "sparse" if self.unsmeared_centers is not None else "dense"
        return (
            f"MiniBatchKMeansResult(n_clusters={self.centers.shape[0]}, "
            f"n_features={self.centers.shape[1]}, inertia={self.inertia:.6g}, "
            f"n_steps={self.n_steps}, input={kind})"
        )
