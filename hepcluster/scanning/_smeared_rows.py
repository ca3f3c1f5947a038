r"""Distances between smeared jet images, computed from the sparse unsmeared ones.

The smearing ``G = g ⊗ g`` of :class:`~hepcluster.images.SparseImages` is linear, so the
squared distance of two smeared images is ``(x − u)ᵀ K (x − u)`` with the metric
``K = GᵀG = k ⊗ k``, ``k = gᵀg`` a symmetric band matrix (Cluster Scanning,
arXiv:2402.17714, §3: k-means on smeared jet images). :class:`SparseRows` is the data
back end of the mini-batch loop (:mod:`hepcluster.scanning._minibatch`) on such images:
k-means++ distances, assignment to the centres and the centre updates, all from the
≈ 30 non-zero pixels of each image instead of its ``n_pixels²`` smeared ones. Its
interface (``n_rows``, ``sq_norms``, ``subsample``, ``seed_distances``, ``rows_dense``,
``prepare``, ``assign``, ``step``, ``squared_shift``, ``smeared``, ``mean_variance``) is
what the loop needs; ``tests/test_kmeans.py`` holds its plain dense twin, the reference
the sparse arithmetic is checked against.
"""

import numpy as np

from ..images import SparseImages
from ..images._image_kernels import numba_threads
from . import _kmeans_kernels


def smearing_metric(images):
    """``g``, the metric ``k = gᵀg`` of one axis and the band ``[lo, hi)`` of its rows."""
    g = images.smearing_matrix()
    k1d = np.ascontiguousarray(g.T @ g)
    nonzero = k1d != 0.0
    lo = np.argmax(nonzero, axis=1).astype(np.int64)
    hi = (k1d.shape[1] - np.argmax(nonzero[:, ::-1], axis=1)).astype(np.int64)
    return g, k1d, lo, hi


def smeared_squared_norms(images, *, n_jobs=None):
    """Squared norms ``‖G x‖² = xᵀ K x`` of the smeared images, from the sparse ones.

    Fits on the same images can share them through the ``x_squared_norms`` argument
    of :func:`minibatch_kmeans` (e.g. the members of an ensemble, or the
    pseudo-experiments of a calibration, which change weights, not images).

    Parameters
    ----------
    images : SparseImages
        Sparse unsmeared images.
    n_jobs : int or None, default=None
        numba threads; the result does not depend on it.

    Returns
    -------
    ndarray of shape (n_jets,)
        ``‖G x‖²`` of every image (before the final renormalisation, a no-op up to
        rounding).

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.images import JetImageTransformer
    >>> from hepcluster.scanning._smeared_rows import smeared_squared_norms
    >>> X = np.array([[100.0, 0.1, 0.2, 50.0, -0.1, 0.1, 0.0, 0.0, 0.0]])
    >>> images = JetImageTransformer(n_pixels=10).fit(X).transform_sparse(X)
    >>> dense = images.to_dense(smear=True)
    >>> bool(np.allclose(smeared_squared_norms(images), (dense**2).sum(axis=1)))
    True
    """
    if not isinstance(images, SparseImages):
        raise TypeError(f"images must be SparseImages, got {type(images).__name__}.")
    _, k1d, lo, hi = smearing_metric(images)
    out = np.empty(images.n_jets)
    with numba_threads(n_jobs):
        _kmeans_kernels.sparse_sq_norms(
            images.indptr, images.indices, images.values, images.n_pixels, k1d, lo, hi, out
        )
    return out


class SparseRows:
    """Sparse unsmeared rows ``x``; distances are those of the smeared ``G x``.

    The loop keeps the unsmeared centres ``u``; ``smeared(u)`` gives ``G u``.
    """

    unsmeared = True

    def __init__(self, images, sq_norms=None, metric=None):
        self.images = images
        self.n_rows = images.n_jets
        self.n_pixels = images.n_pixels
        self.n_features = images.n_pixels**2
        self.metric = smearing_metric(images) if metric is None else metric
        if sq_norms is None:
            sq_norms = smeared_squared_norms(images)
        self.sq_norms = sq_norms

    def subsample(self, rows):
        return SparseRows(self.images[rows], self.sq_norms[rows], self.metric)

    def seed_distances(self, candidates):
        _, k1d, lo, hi = self.metric
        out = np.empty((candidates.shape[0], self.n_rows))
        _kmeans_kernels.sparse_seed_distances(
            self.images.indptr,
            self.images.indices,
            self.images.values,
            self.sq_norms,
            np.asarray(candidates, dtype=np.int64),
            self.n_pixels,
            k1d,
            lo,
            hi,
            out,
        )
        return out

    def rows_dense(self, rows):
        return self.images[rows].to_dense(smear=False, dtype=np.float64)

    def prepare(self, centers):
        # K u = k U k for the n × n image U (k = gᵀg symmetric): two small matrix
        # products per centre, then the centroid-major layout (n², n_clusters).
        k1d = self.metric[1]
        n = self.n_pixels
        metric = np.matmul(np.matmul(k1d, centers.reshape(-1, n, n)), k1d)
        metric = metric.reshape(centers.shape)
        half_norms = 0.5 * np.einsum("kp,kp->k", centers, metric)
        return centers, np.ascontiguousarray(metric.T), half_norms

    def assign(self, rows, state):
        _, weights, half_norms = state
        labels = np.empty(rows.shape[0], dtype=np.int32)
        best = np.empty(rows.shape[0])
        images = self.images
        _kmeans_kernels.sparse_assign(
            images.indptr, images.indices, images.values, rows, weights, -half_norms, labels, best
        )
        return labels, best

    def step(self, rows, state, sums, counts):
        _, weights, half_norms = state
        labels = np.empty(rows.shape[0], dtype=np.int32)
        best = np.empty(rows.shape[0])
        images = self.images
        _kmeans_kernels.sparse_assign_accumulate(
            images.indptr,
            images.indices,
            images.values,
            rows,
            weights,
            -half_norms,
            labels,
            best,
            sums,
            counts,
        )
        return labels, best

    def squared_shift(self, old_state, new_state):
        # Σ_k ‖G(u_k' − u_k)‖² = Σ_k (u_k' − u_k) · (K u_k' − K u_k)
        return float(
            np.einsum("kp,pk->", new_state[0] - old_state[0], new_state[1] - old_state[1])
        )

    def smeared(self, centers):
        g = self.metric[0]
        stack = centers.reshape(-1, self.n_pixels, self.n_pixels)
        return np.matmul(np.matmul(g, stack), g.T).reshape(centers.shape)

    def mean_variance(self, weight):
        images = self.images
        row_of = np.repeat(np.arange(self.n_rows), np.diff(images.indptr))
        mean = np.bincount(
            images.indices, weights=images.values * weight[row_of], minlength=self.n_features
        )
        mean = self.smeared(mean[None, :] / weight.sum())[0]
        second = weight @ self.sq_norms / weight.sum()
        return (second - mean @ mean) / self.n_features
