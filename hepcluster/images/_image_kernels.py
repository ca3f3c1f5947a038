"""numba kernels behind :class:`~hepcluster.images.JetImageTransformer`.

Every kernel works jet by jet: a jet's result never depends on another jet, on the
order in which threads pick jets up, or on the number of threads. Parallel loops run
over fixed blocks of jets (:data:`_BLOCK`) so that scratch memory is allocated once per
block rather than once per jet.

Coordinate conventions: a jet is a row of the constituent matrix
``(pT_1, η_1, φ_1, pT_2, …)``; ``pT = 0`` marks padding. Pixel ``(i, j)`` of an
``n × n`` image covers ``η' ∈ [−e + i·w, −e + (i+1)·w)`` and ``φ'`` likewise with ``j``,
``w = 2e/n``; the flat index is ``i·n + j`` (η' is the slow axis).

The plain-numpy twins of these kernels live in ``tests/test_images.py``.
"""

import math
from contextlib import contextmanager

import numba
import numpy as np
from numba import njit, prange

# Jets per parallel work item: scratch buffers are allocated once per block.
_BLOCK = 256
# Images per block of the ensemble labelling: their pixels (~40 each) and one member's
# weights (k = 50: 640 kB) stay in a core's L2 cache while every member labels them.
_ENSEMBLE_BLOCK = 512

_TWO_PI = 2.0 * math.pi

# Coordinates closer to an axis than this fraction of the jet's largest coordinate are set
# to zero before flipping and pixelising. Collinear jets (two constituents, which the
# rotation puts exactly on the η' axis) then land in the same pixel whatever the rounding.
SNAP = 1e-12


@contextmanager
def numba_threads(n_jobs):
    """Run the enclosed numba kernels with ``n_jobs`` threads, then restore the setting.

    Parameters
    ----------
    n_jobs : int or None
        ``None`` keeps numba's current setting (by default all cores, or the
        ``NUMBA_NUM_THREADS`` environment variable); ``-1`` uses every thread numba
        was started with; a positive value is capped at that number; ``-2`` means all
        but one, and so on, as in joblib.

    Yields
    ------
    int
        The number of threads in use inside the block.
    """
    previous = numba.get_num_threads()
    if n_jobs is None:
        yield previous
        return
    available = numba.config.NUMBA_NUM_THREADS
    if n_jobs < 0:
        n_threads = max(1, available + 1 + n_jobs)
    else:
        n_threads = max(1, min(int(n_jobs), available))
    numba.set_num_threads(n_threads)
    try:
        yield n_threads
    finally:
        numba.set_num_threads(previous)


@njit(cache=True, inline="always")
def _wrap_phi(phi):
    """Wrap an angle into (−π, π]."""
    return phi - _TWO_PI * math.ceil((phi - math.pi) / _TWO_PI)


@njit(cache=True)
def _jet_frame(X, j, n_constituents, center, rotate, flip, w, eta, phi):
    """Fill ``w, eta, phi`` with the real constituents of jet ``j`` in the image frame.

    Implements the centring, rotation and flip of the jet image (steps 1–3 below) and
    returns the number ``m`` of real (``pT > 0``) constituents; ``w[:m]``, ``eta[:m]``,
    ``phi[:m]`` hold their pT and transformed coordinates, in the order of the input row.
    """
    m = 0
    lead = 0
    pt_max = 0.0
    for k in range(n_constituents):
        pt = X[j, 3 * k]
        if pt > 0.0:
            w[m] = pt
            eta[m] = X[j, 3 * k + 1]
            phi[m] = X[j, 3 * k + 2]
            if pt > pt_max:
                pt_max = pt
                lead = m
            m += 1
    if m == 0:
        return 0

    # 1. Centre: relative to the leading constituent (φ wrapped), then twice the
    #    pT-weighted centroid.
    if center:
        eta_lead = eta[lead]
        phi_lead = phi[lead]
        for i in range(m):
            eta[i] = eta[i] - eta_lead
            phi[i] = _wrap_phi(phi[i] - phi_lead)
        for _ in range(2):
            sw = 0.0
            se = 0.0
            sp = 0.0
            for i in range(m):
                sw += w[i]
                se += w[i] * eta[i]
                sp += w[i] * phi[i]
            ce = se / sw
            cp = sp / sw
            for i in range(m):
                eta[i] = eta[i] - ce
                phi[i] = _wrap_phi(phi[i] - cp)
    else:
        for i in range(m):
            phi[i] = _wrap_phi(phi[i])

    # 2. Rotate: principal axis of the pT-weighted second-moment tensor onto the η axis.
    if rotate:
        mee = 0.0
        mpp = 0.0
        mep = 0.0
        for i in range(m):
            mee += w[i] * eta[i] * eta[i]
            mpp += w[i] * phi[i] * phi[i]
            mep += w[i] * eta[i] * phi[i]
        theta = 0.5 * math.atan2(2.0 * mep, mee - mpp)
        c = math.cos(theta)
        s = math.sin(theta)
        for i in range(m):
            e = eta[i]
            p = phi[i]
            eta[i] = c * e + s * p
            phi[i] = -s * e + c * p

    # Snap round-off around the axes (see SNAP).
    size = 0.0
    for i in range(m):
        size = max(size, abs(eta[i]), abs(phi[i]))
    tol = SNAP * size
    for i in range(m):
        if abs(eta[i]) <= tol:
            eta[i] = 0.0
        if abs(phi[i]) <= tol:
            phi[i] = 0.0

    # 3. Flip: the pT-weighted quadrant sum is largest in (+, +); ties keep the
    #    first quadrant in the order (+,+), (+,−), (−,+), (−,−).
    if flip:
        q_pp = 0.0
        q_pm = 0.0
        q_mp = 0.0
        q_mm = 0.0
        for i in range(m):
            if eta[i] >= 0.0:
                if phi[i] >= 0.0:
                    q_pp += w[i]
                else:
                    q_pm += w[i]
            elif phi[i] >= 0.0:
                q_mp += w[i]
            else:
                q_mm += w[i]
        best = q_pp
        sign_eta = 1.0
        sign_phi = 1.0
        if q_pm > best:
            best = q_pm
            sign_eta = 1.0
            sign_phi = -1.0
        if q_mp > best:
            best = q_mp
            sign_eta = -1.0
            sign_phi = 1.0
        if q_mm > best:
            sign_eta = -1.0
            sign_phi = -1.0
        if sign_eta < 0.0:
            for i in range(m):
                eta[i] = -eta[i]
        if sign_phi < 0.0:
            for i in range(m):
                phi[i] = -phi[i]
    return m


@njit(cache=True, parallel=True)
def jet_coordinates(X, center, rotate, flip):
    """Return the image-frame coordinates of every constituent (steps 1–3 of §5).

    Parameters
    ----------
    X : ndarray of shape (n_jets, 3 * P), float64
        Constituent matrix.
    center, rotate, flip : bool
        Which steps to apply.

    Returns
    -------
    eta, phi : ndarray of shape (n_jets, P)
        Transformed coordinates; padded slots (``pT = 0``) are NaN.
    """
    n_jets = X.shape[0]
    n_constituents = X.shape[1] // 3
    eta_out = np.full((n_jets, n_constituents), np.nan)
    phi_out = np.full((n_jets, n_constituents), np.nan)
    n_blocks = (n_jets + _BLOCK - 1) // _BLOCK
    for b in prange(n_blocks):
        w = np.empty(n_constituents)
        eta = np.empty(n_constituents)
        phi = np.empty(n_constituents)
        for j in range(b * _BLOCK, min(n_jets, (b + 1) * _BLOCK)):
            _jet_frame(X, j, n_constituents, center, rotate, flip, w, eta, phi)
            i = 0
            for k in range(n_constituents):
                if X[j, 3 * k] > 0.0:
                    eta_out[j, k] = eta[i]
                    phi_out[j, k] = phi[i]
                    i += 1
    return eta_out, phi_out


@njit(cache=True)
def _sort_prefix(a, n):
    """Sort ``a[:n]`` in place (insertion sort for the usual few dozen entries)."""
    if n > 32:
        a[:n].sort()
        return
    for i in range(1, n):
        key = a[i]
        k = i - 1
        while k >= 0 and a[k] > key:
            a[k + 1] = a[k]
            k -= 1
        a[k + 1] = key


@njit(cache=True, parallel=True)
def pixelise(
    X,
    n_pixels,
    extent,
    center,
    rotate,
    flip,
    gamma,
    normalize,
    starts,
    out_indices,
    out_values,
    counts,
    n_outside,
):
    """Sparse, unsmeared jet images (steps 1–5 of §5 except the smearing).

    Parameters
    ----------
    X : ndarray of shape (n_jets, 3 * P), float64
        Constituent matrix.
    n_pixels : int
        Pixels per side.
    extent : float
        Half-width of the image in η' and φ'.
    center, rotate, flip : bool
        Steps 1–3.
    gamma : float
        Pixel scaling exponent (1 switches it off).
    normalize : bool
        Normalise to unit sum before and after the γ scaling.
    starts : ndarray of shape (n_jets,), int64
        Where jet ``j`` writes in the flat outputs; it has room for one entry per real
        constituent.
    out_indices : ndarray of shape (n_slots,), int32
        Output: flat pixel indices of jet ``j``, ascending, at
        ``[starts[j]:starts[j] + counts[j]]``.
    out_values : ndarray of shape (n_slots,), float64
        Output: the pixel values matching ``out_indices``.
    counts : ndarray of shape (n_jets,), int64
        Output: number of non-zero pixels per jet.
    n_outside : ndarray of shape (n_jets,), int64
        Output: number of real constituents outside the extent (dropped).
    """
    n_jets = X.shape[0]
    n_constituents = X.shape[1] // 3
    scale = n_pixels / (2.0 * extent)
    half = 0.5 * n_pixels
    n_blocks = (n_jets + _BLOCK - 1) // _BLOCK
    use_sqrt = gamma == 0.5
    for b in prange(n_blocks):
        w = np.empty(n_constituents)
        eta = np.empty(n_constituents)
        phi = np.empty(n_constituents)
        image = np.zeros(n_pixels * n_pixels)
        touched = np.empty(n_constituents, dtype=np.int64)
        for j in range(b * _BLOCK, min(n_jets, (b + 1) * _BLOCK)):
            m = _jet_frame(X, j, n_constituents, center, rotate, flip, w, eta, phi)
            n_touched = 0
            dropped = 0
            # 4. Pixelise, summing pT; constituents outside the extent are counted.
            for i in range(m):
                fe = math.floor(eta[i] * scale + half)
                fp = math.floor(phi[i] * scale + half)
                if fe >= 0.0 and fe < n_pixels and fp >= 0.0 and fp < n_pixels:
                    pix = int(fe) * n_pixels + int(fp)
                    if image[pix] == 0.0:
                        touched[n_touched] = pix
                        n_touched += 1
                    image[pix] += w[i]
                else:
                    dropped += 1
            _sort_prefix(touched, n_touched)
            first = starts[j]
            values = out_values[first : first + n_touched]
            for t in range(n_touched):
                pix = touched[t]
                out_indices[first + t] = pix
                values[t] = image[pix]
                image[pix] = 0.0
            counts[j] = n_touched
            n_outside[j] = dropped
            if n_touched == 0:
                continue
            # 5. Unit sum, then I -> I**gamma, then unit sum again.
            if normalize:
                values /= values.sum()
            if gamma != 1.0:
                for t in range(n_touched):
                    if use_sqrt:
                        values[t] = math.sqrt(values[t])
                    else:
                        values[t] = values[t] ** gamma
                if normalize:
                    values /= values.sum()


@njit(cache=True)
def compact(starts, counts, indices, values):
    """Move the rows written at ``starts`` together, in place; return the row pointers."""
    n_jets = counts.shape[0]
    indptr = np.zeros(n_jets + 1, dtype=np.int64)
    for j in range(n_jets):
        first = indptr[j]
        source = starts[j]
        for t in range(counts[j]):
            indices[first + t] = indices[source + t]
            values[first + t] = values[source + t]
        indptr[j + 1] = first + counts[j]
    return indptr


@njit(cache=True, parallel=True)
def smear_to_dense(indptr, indices, values, n_pixels, g_t, lo, hi, renormalize, out):
    """Dense smeared images ``G x`` from sparse unsmeared images ``x``.

    ``G = g ⊗ g`` is separable; ``g_t[c, a] = g[a, c]`` is non-zero only for
    ``lo[c] <= a < hi[c]``, so each non-zero pixel costs a small band, not n² work.

    Parameters
    ----------
    indptr, indices, values : ndarray
        CSR-like sparse images (see :class:`~hepcluster.images.SparseImages`).
    n_pixels : int
        Pixels per side.
    g_t : ndarray of shape (n_pixels, n_pixels), float64
        Transposed one-dimensional smearing matrix.
    lo, hi : ndarray of shape (n_pixels,), int64
        Band of non-zero rows of each column of ``g``.
    renormalize : bool
        Divide each smeared image by its sum (when the sum is positive).
    out : ndarray of shape (n_jets, n_pixels**2), float32 or float64
        Output.
    """
    n_jets = indptr.shape[0] - 1
    n_pix2 = n_pixels * n_pixels
    n_blocks = (n_jets + _BLOCK - 1) // _BLOCK
    for b in prange(n_blocks):
        image = np.empty(n_pix2)
        for j in range(b * _BLOCK, min(n_jets, (b + 1) * _BLOCK)):
            image[:] = 0.0
            for t in range(indptr[j], indptr[j + 1]):
                pix = indices[t]
                c = pix // n_pixels
                d = pix - c * n_pixels
                v = values[t]
                for a in range(lo[c], hi[c]):
                    va = v * g_t[c, a]
                    base = a * n_pixels
                    for bb in range(lo[d], hi[d]):
                        image[base + bb] += va * g_t[d, bb]
            total = 1.0
            if renormalize:
                total = 0.0
                for p in range(n_pix2):
                    total += image[p]
                if total <= 0.0:
                    total = 1.0
            for p in range(n_pix2):
                out[j, p] = image[p] / total


@njit(cache=True, nogil=True, inline="always")
def best_score(indptr, indices, values, r, weights, bias, scores):
    """Largest ``x_r · weights[:, k] + bias[k]`` over k and its k (lowest on ties).

    ``weights`` is centroid-major, (n_pixels², n_clusters): each non-zero pixel adds one
    contiguous row; ``scores`` is scratch of length n_clusters.
    """
    n_clusters = bias.shape[0]
    scores[:] = bias
    t = indptr[r]
    end = indptr[r + 1]
    # Four pixels per pass: one load and store of the scores per four weight rows.
    while t + 4 <= end:
        v0 = values[t]
        v1 = values[t + 1]
        v2 = values[t + 2]
        v3 = values[t + 3]
        r0 = weights[indices[t]]
        r1 = weights[indices[t + 1]]
        r2 = weights[indices[t + 2]]
        r3 = weights[indices[t + 3]]
        for k in range(n_clusters):
            scores[k] += (v0 * r0[k] + v1 * r1[k]) + (v2 * r2[k] + v3 * r3[k])
        t += 4
    while t < end:
        v = values[t]
        row = weights[indices[t]]
        for k in range(n_clusters):
            scores[k] += v * row[k]
        t += 1
    arg = 0
    top = scores[0]
    for k in range(1, n_clusters):
        if scores[k] > top:
            top = scores[k]
            arg = k
    return arg, top


@njit(cache=True, parallel=True)
def nearest_centroid_scores(indptr, indices, values, rows, weights, bias, labels, best):
    """Label sparse images by the largest score ``x · weights[:, k] + bias[k]``.

    With ``weights = Gᵀ c`` and ``bias = −½‖c‖²`` this is the nearest smeared centroid
    ``c`` of the smeared image ``G x``. ``weights`` is centroid-major: row ``p`` holds
    the ``k`` weights of pixel ``p`` contiguously. Ties go to the lowest label, as in
    scikit-learn.

    Parameters
    ----------
    indptr, indices, values : ndarray
        CSR-like sparse images.
    rows : ndarray of shape (m,), int64
        The images to label, read in place (no copy of a subset).
    weights : ndarray of shape (n_pixels**2, n_clusters), float64
    bias : ndarray of shape (n_clusters,), float64
    labels : ndarray of shape (m,), int32
        Output, one label per entry of ``rows``.
    best : ndarray of shape (m,) or (0,), float64
        Output: the winning score (not written when empty).
    """
    n_jets = rows.shape[0]
    n_clusters = bias.shape[0]
    store_best = best.shape[0] == n_jets
    n_blocks = (n_jets + _BLOCK - 1) // _BLOCK
    for b in prange(n_blocks):
        scores = np.empty(n_clusters)
        for j in range(b * _BLOCK, min(n_jets, (b + 1) * _BLOCK)):
            arg, top = best_score(indptr, indices, values, rows[j], weights, bias, scores)
            labels[j] = arg
            if store_best:
                best[j] = top


@njit(cache=True, parallel=True)
def nearest_centroid_ensemble_scores(indptr, indices, values, rows, weights, bias, labels):
    """:func:`nearest_centroid_scores` for every member of an ensemble in one pass.

    A block of images is labelled by every member in turn while its pixels are in cache,
    so each image is read from memory once rather than once per member; the labels are
    those of one call per member, bit for bit.

    Parameters
    ----------
    indptr, indices, values, rows : ndarray
        As for :func:`nearest_centroid_scores`.
    weights : ndarray of shape (n_members, n_pixels**2, n_clusters), float64
        Centroid-major weights of every member.
    bias : ndarray of shape (n_members, n_clusters), float64
    labels : ndarray of shape (n_members, m), int32
        Output.
    """
    n_members = weights.shape[0]
    n_jets = rows.shape[0]
    n_blocks = (n_jets + _ENSEMBLE_BLOCK - 1) // _ENSEMBLE_BLOCK
    for b in prange(n_blocks):
        scores = np.empty(bias.shape[1])
        first = b * _ENSEMBLE_BLOCK
        last = min(n_jets, first + _ENSEMBLE_BLOCK)
        for member in range(n_members):
            member_weights = weights[member]
            member_bias = bias[member]
            out = labels[member]
            for j in range(first, last):
                arg, _ = best_score(
                    indptr, indices, values, rows[j], member_weights, member_bias, scores
                )
                out[j] = arg


@njit(cache=True, nogil=True)
def gather_rows(indptr, indices, values, rows, out_indptr, out_indices, out_values):
    """Copy the entries of the CSR rows ``rows``, in that order, into the output arrays.

    ``out_indptr`` holds the output's row pointers (the cumulative row lengths); one
    sequential copy per row instead of numpy's fancy indexing with a per-entry index
    array (which costs an int64 temporary of every entry twice over).
    """
    for i in range(rows.shape[0]):
        source = indptr[rows[i]]
        start = out_indptr[i]
        for t in range(out_indptr[i + 1] - start):
            out_indices[start + t] = indices[source + t]
            out_values[start + t] = values[source + t]


@njit(cache=True, parallel=True)
def sparse_quadratic_form(indptr, indices, values, n_pixels, k1d, half_band, out):
    """``xᵀ K x`` per sparse image with the separable ``K = k1d ⊗ k1d`` (= ‖G x‖²).

    Uses the symmetry of ``K`` and its band: indices are sorted, so the inner loop stops
    once the row distance exceeds ``half_band``.

    Parameters
    ----------
    indptr, indices, values : ndarray
        CSR-like sparse images, indices ascending within a row.
    n_pixels : int
        Pixels per side.
    k1d : ndarray of shape (n_pixels, n_pixels), float64
        ``gᵀ g``.
    half_band : int
        ``k1d[a, b] = 0`` whenever ``|a − b| > half_band``.
    out : ndarray of shape (n_jets,), float64
        Output.
    """
    n_jets = indptr.shape[0] - 1
    for j in prange(n_jets):
        diagonal = 0.0
        off_diagonal = 0.0
        for s in range(indptr[j], indptr[j + 1]):
            ps = indices[s]
            rs = ps // n_pixels
            cs = ps - rs * n_pixels
            vs = values[s]
            diagonal += vs * vs * k1d[rs, rs] * k1d[cs, cs]
            for t in range(s + 1, indptr[j + 1]):
                pt = indices[t]
                rt = pt // n_pixels
                if rt - rs > half_band:
                    break
                ct = pt - rt * n_pixels
                if abs(ct - cs) <= half_band:
                    off_diagonal += vs * values[t] * k1d[rs, rt] * k1d[cs, ct]
        out[j] = diagonal + 2.0 * off_diagonal
