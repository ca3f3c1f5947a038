"""numba kernels of the sparse mini-batch k-means (:mod:`hepcluster.scanning._minibatch`).

Images are flattened ``n × n`` pixel grids (flat index ``a·n + b``, η' slow). The
smearing operator is ``G = g ⊗ g`` and the metric of the smeared space is
``K = GᵀG = k1d ⊗ k1d`` with ``k1d = gᵀg``, a symmetric band matrix: ``k1d[a, c]`` is
non-zero only for ``lo[a] <= c < hi[a]``.

Two kinds of kernels:

- passes over all rows (:func:`sparse_sq_norms`, :func:`sparse_assign`) run in
  parallel over blocks of rows; a row's result never depends on another row or on the
  number of threads;
- the kernels of one mini-batch step (:func:`sparse_assign_accumulate`,
  :func:`apply_update`) and of k-means++
  (:func:`sparse_seed_distances`) do well
  under a millisecond of work, too little to share between threads without the
  synchronisation costing more than it saves (and far more on a loaded machine), so
  they run on one thread. They release the GIL: fits run in parallel threads (e.g. the
  members of a Cluster Scanning ensemble) scale with the cores.

The plain-numpy twins of these kernels (and the dense twin of the whole fit) live in
``tests/test_kmeans.py``.
"""

import numpy as np
from numba import njit, prange

from ..images._image_kernels import best_score as _best_score

# Rows per parallel work item of the passes over all rows.
_BLOCK = 256


@njit(cache=True, nogil=True, parallel=True)
def sparse_assign(indptr, indices, values, rows, weights, bias, labels, best):
    """Label sparse rows by the largest score ``x · weights[:, k] + bias[k]``.

    With ``weights = K u`` (centroid-major) and ``bias = −½ uᵀK u`` the winner is the
    nearest smeared centre ``G u_k`` of the smeared image ``G x``, and
    ``‖G x‖² − 2·best`` is the squared distance to it. Ties go to the lowest label.
    Parallel over blocks of rows (for labelling all rows; mini-batches go through
    :func:`sparse_assign_accumulate`).

    Parameters
    ----------
    indptr, indices, values : ndarray
        CSR-like sparse images (see :class:`~hepcluster.images.SparseImages`).
    rows : ndarray of shape (m,), int64
        Rows to label.
    weights : ndarray of shape (n_pixels**2, n_clusters), float64
        Centroid-major metric weights ``K u``.
    bias : ndarray of shape (n_clusters,), float64
    labels : ndarray of shape (m,), int32
        Output.
    best : ndarray of shape (m,), float64
        Output: the winning score.
    """
    m = rows.shape[0]
    n_blocks = (m + _BLOCK - 1) // _BLOCK
    for blk in prange(n_blocks):
        scores = np.empty(bias.shape[0])
        for i in range(blk * _BLOCK, min(m, (blk + 1) * _BLOCK)):
            arg, top = _best_score(indptr, indices, values, rows[i], weights, bias, scores)
            labels[i] = arg
            best[i] = top


@njit(cache=True, nogil=True)
def sparse_assign_accumulate(
    indptr, indices, values, rows, weights, bias, labels, best, sums, counts
):
    """:func:`sparse_assign` on one thread that also sums the rows of each label.

    Each row is added to ``sums[label]`` while its pixels are in cache; rows are added
    in batch order. :func:`apply_update` then moves the centres.

    Parameters
    ----------
    indptr, indices, values, rows, weights, bias, labels, best
        As for :func:`sparse_assign`.
    sums : ndarray of shape (n_clusters, n_pixels**2), float64
        Output: sum of the (unsmeared) rows given each label.
    counts : ndarray of shape (n_clusters,), float64
        Output: number of rows given each label.
    """
    sums[:] = 0.0
    counts[:] = 0.0
    scores = np.empty(bias.shape[0])
    for i in range(rows.shape[0]):
        r = rows[i]
        arg, top = _best_score(indptr, indices, values, r, weights, bias, scores)
        labels[i] = arg
        best[i] = top
        counts[arg] += 1.0
        total = sums[arg]
        for t in range(indptr[r], indptr[r + 1]):
            total[indices[t]] += values[t]


@njit(cache=True, nogil=True)
def apply_update(centers, weight_sums, sums, counts):
    """Mini-batch update of the centres, in place.

    scikit-learn's ``_minibatch_update_dense`` with unit sample weights: a centre with
    accumulated weight ``W`` that received ``c`` rows summing to ``s`` becomes
    ``(W·u + s) / (W + c)`` — the per-centre learning rate ``c / (W + c)`` — and ``W``
    grows by ``c``; centres that received nothing stay.

    Parameters
    ----------
    centers : ndarray of shape (n_clusters, n_features), float64
        Updated in place.
    weight_sums : ndarray of shape (n_clusters,), float64
        Accumulated weights; updated in place.
    sums, counts : ndarray
        From :func:`sparse_assign_accumulate`.
    """
    n_clusters, n_features = centers.shape
    for k in range(n_clusters):
        if counts[k] > 0.0:
            previous = weight_sums[k]
            weight_sums[k] = previous + counts[k]
            alpha = 1.0 / weight_sums[k]
            center = centers[k]
            total = sums[k]
            for p in range(n_features):
                center[p] = (center[p] * previous + total[p]) * alpha


@njit(cache=True, nogil=True, parallel=True)
def sparse_sq_norms(indptr, indices, values, n_pixels, k1d, lo, hi, out):
    """``‖G x‖² = xᵀ K x`` of every sparse row, with ``K = k1d ⊗ k1d``.

    ``xᵀ K x = Σ_{(a', b')} x[a', b'] Σ_a k1d[a, a'] (X k1d)[a, b']``: one band pass
    builds the touched rows of ``X k1d``, a second contracts them; ``O(nnz · band)``.

    Parameters
    ----------
    indptr, indices, values : ndarray
        CSR-like sparse images.
    n_pixels : int
        Pixels per side.
    k1d : ndarray of shape (n_pixels, n_pixels), float64
        ``gᵀ g``.
    lo, hi : ndarray of shape (n_pixels,), int64
        Band of ``k1d``: row ``a`` is non-zero in ``[lo[a], hi[a])``.
    out : ndarray of shape (n_rows,), float64
        Output.
    """
    n_rows = indptr.shape[0] - 1
    n = n_pixels
    n_blocks = (n_rows + _BLOCK - 1) // _BLOCK
    max_nnz = 0
    for i in range(n_rows):
        max_nnz = max(max_nnz, indptr[i + 1] - indptr[i])
    for blk in prange(n_blocks):
        xk = np.zeros((n, n))
        row_of = np.empty(max_nnz, dtype=np.int64)
        col_of = np.empty(max_nnz, dtype=np.int64)
        for i in range(blk * _BLOCK, min(n_rows, (blk + 1) * _BLOCK)):
            first = indptr[i]
            m = indptr[i + 1] - first
            for s in range(m):
                a = indices[first + s] // n
                row_of[s] = a
                col_of[s] = indices[first + s] - a * n
            # the touched rows of X k1d
            for s in range(m):
                a = row_of[s]
                b = col_of[s]
                v = values[first + s]
                for b2 in range(lo[b], hi[b]):
                    xk[a, b2] += v * k1d[b, b2]
            total = 0.0
            for s in range(m):
                a2 = row_of[s]
                b2 = col_of[s]
                acc = 0.0
                for a in range(lo[a2], hi[a2]):
                    acc += k1d[a, a2] * xk[a, b2]
                total += values[first + s] * acc
            out[i] = total
            for s in range(m):
                a = row_of[s]
                b = col_of[s]
                for b2 in range(lo[b], hi[b]):
                    xk[a, b2] = 0.0


@njit(cache=True, nogil=True)
def sparse_seed_distances(
    indptr, indices, values, sq_norms, candidates, n_pixels, k1d, lo, hi, out
):
    """Squared distances ``‖G x_i − G x_c‖²`` of sparse rows to candidate seed rows.

    For each candidate ``c`` (itself one of the rows) the dense ``K x_c`` is built
    from its few pixels (stored pixel-major, all candidates of a pixel contiguous),
    then ``‖G x_i‖² + x_cᵀK x_c − 2 x_i · K x_c`` (clipped at 0).

    Parameters
    ----------
    indptr, indices, values : ndarray
        CSR-like sparse images.
    sq_norms : ndarray of shape (n_rows,), float64
        ``‖G x_i‖²`` of every row.
    candidates : ndarray of shape (n_candidates,), int64
        Candidate rows.
    n_pixels : int
        Pixels per side.
    k1d : ndarray of shape (n_pixels, n_pixels), float64
        ``gᵀ g``.
    lo, hi : ndarray of shape (n_pixels,), int64
        Band of ``k1d``.
    out : ndarray of shape (n_candidates, n_rows), float64
        Output.
    """
    n_rows = indptr.shape[0] - 1
    n = n_pixels
    n_cand = candidates.shape[0]
    kx = np.zeros((n * n, n_cand))
    c_sq = np.zeros(n_cand)
    for j in range(n_cand):
        c = candidates[j]
        for t in range(indptr[c], indptr[c + 1]):
            pix = indices[t]
            a0 = pix // n
            b0 = pix - a0 * n
            v = values[t]
            for a in range(lo[a0], hi[a0]):
                va = v * k1d[a, a0]
                base = a * n
                for b in range(lo[b0], hi[b0]):
                    kx[base + b, j] += va * k1d[b, b0]
        for t in range(indptr[c], indptr[c + 1]):
            c_sq[j] += values[t] * kx[indices[t], j]
    dots = np.empty(n_cand)
    for i in range(n_rows):
        dots[:] = 0.0
        for t in range(indptr[i], indptr[i + 1]):
            v = values[t]
            row = kx[indices[t]]
            for j in range(n_cand):
                dots[j] += v * row[j]
        for j in range(n_cand):
            distance = sq_norms[i] + c_sq[j] - 2.0 * dots[j]
            out[j, i] = distance if distance > 0.0 else 0.0
