r"""Sparse jet images, the separable smearing operator and sparse nearest-centroid labelling.

A jet with P constituents has at most P non-zero pixels before smearing, against
``n_pixels² = 1600`` after it. Smearing is a fixed linear operator ``G = g ⊗ g``
(a one-dimensional Gaussian ``g`` along η' and along φ'), so for unsmeared images ``x``, ``u``

.. math:: \lVert G x - G u \rVert^2 = (x - u)^\mathsf{T} K (x - u), \qquad K = G^\mathsf{T} G,

and the nearest smeared centroid of a smeared image ``G x`` is found from the sparse
``x`` alone: ``argmax_k  x · (Gᵀ c_k) − ½‖c_k‖²``. That is what
:func:`nearest_centroid` does, with the ``k`` weights of each pixel stored contiguously
(centroid-major), without ever forming the 1600-wide smeared rows
(Cluster Scanning, arXiv:2402.17714, §3).
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse

from . import _image_kernels

#: Gaussian kernels are cut at this many standard deviations, as in
#: :func:`scipy.ndimage.gaussian_filter` (whose ``truncate`` default is 4).
SMEARING_TRUNCATE = 4.0


def _reflect(index, n):
    """Map indices onto ``[0, n)`` with the half-sample ("reflect") boundary."""
    r = np.mod(index, 2 * n)
    return np.where(r >= n, 2 * n - 1 - r, r)


def gaussian_smearing_matrix(n_pixels, sigma, *, truncate=SMEARING_TRUNCATE):
    """One-dimensional Gaussian smearing matrix with a reflecting boundary.

    ``g[a, c]`` is the fraction of pixel ``c`` that smearing moves to pixel ``a``. The
    discrete kernel ``exp(−d²/2σ²)``, ``|d| ≤ int(truncate·σ + 0.5)``, is normalised to
    unit sum and what falls beyond an edge is reflected back (``d c b a | a b c d``), so
    every column sums to one: smearing preserves the image sum. ``g`` is symmetric and
    equals the matrix of ``scipy.ndimage.gaussian_filter1d(..., mode="reflect")``.

    Parameters
    ----------
    n_pixels : int
        Pixels per side.
    sigma : float
        Standard deviation in pixels; ``0`` gives the identity.
    truncate : float, default=4.0
        Kernel half-width in standard deviations.

    Returns
    -------
    g : ndarray of shape (n_pixels, n_pixels)
        The smearing matrix.

    Examples
    --------
    >>> from hepcluster.images import gaussian_smearing_matrix
    >>> g = gaussian_smearing_matrix(5, 1.0)
    >>> bool(np.allclose(g.sum(axis=0), 1.0)), bool(np.allclose(g, g.T))
    (True, True)
    """
    n_pixels = int(n_pixels)
    radius = int(truncate * float(sigma) + 0.5)
    if sigma <= 0 or radius == 0:
        return np.eye(n_pixels)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / float(sigma)) ** 2)
    kernel /= kernel.sum()
    g = np.zeros((n_pixels, n_pixels))
    columns = np.arange(n_pixels)
    for offset, weight in zip(offsets, kernel, strict=True):
        np.add.at(g, (_reflect(columns + offset, n_pixels), columns), weight)
    return g


def smearing_operator(n_pixels, sigma):
    """The smearing operator ``G = g ⊗ g`` on flattened ``n_pixels × n_pixels`` images.

    Parameters
    ----------
    n_pixels : int
        Pixels per side.
    sigma : float
        Gaussian standard deviation in pixels.

    Returns
    -------
    G : scipy.sparse.csr_matrix of shape (n_pixels**2, n_pixels**2)
        ``G @ x`` smears a flattened image ``x`` (flat index ``i·n_pixels + j``, η' slow).

    See Also
    --------
    smearing_kernel : ``K = GᵀG``, the metric of the smeared space.

    Examples
    --------
    >>> from hepcluster.images import smearing_operator
    >>> smearing_operator(40, 1.0).shape
    (1600, 1600)
    """
    g = scipy.sparse.csr_matrix(gaussian_smearing_matrix(n_pixels, sigma))
    return scipy.sparse.kron(g, g, format="csr")


def smearing_kernel(n_pixels, sigma):
    """The metric ``K = GᵀG``: ``‖Gx − Gu‖² = (x − u)ᵀ K (x − u)``.

    Parameters
    ----------
    n_pixels : int
        Pixels per side.
    sigma : float
        Gaussian standard deviation in pixels.

    Returns
    -------
    K : scipy.sparse.csr_matrix of shape (n_pixels**2, n_pixels**2)
        ``(gᵀg) ⊗ (gᵀg)``.

    Examples
    --------
    >>> from hepcluster.images import smearing_kernel, smearing_operator
    >>> G, K = smearing_operator(6, 1.0), smearing_kernel(6, 1.0)
    >>> bool(np.allclose((G.T @ G).toarray(), K.toarray()))
    True
    """
    g = gaussian_smearing_matrix(n_pixels, sigma)
    k1d = scipy.sparse.csr_matrix(g.T @ g)
    return scipy.sparse.kron(k1d, k1d, format="csr")


def _smear_rows(rows, g):
    """Apply ``G = g ⊗ g`` to dense flattened images, shape (m, n²) → (m, n²)."""
    n = g.shape[0]
    stack = np.asarray(rows, dtype=np.float64).reshape(-1, n, n)
    return np.matmul(np.matmul(g, stack), g.T).reshape(-1, n * n)


def _band(g):
    """First and one-past-last non-zero row of every column of ``g``."""
    nonzero = g != 0.0
    lo = np.argmax(nonzero, axis=0)
    hi = g.shape[0] - np.argmax(nonzero[::-1], axis=0)
    return lo.astype(np.int64), hi.astype(np.int64)


@dataclass(frozen=True, repr=False, eq=False)
class SparseImages:
    """Unsmeared, γ-scaled, normalised jet images in a CSR-like layout.

    Row ``j`` holds pixel indices ``indices[indptr[j]:indptr[j + 1]]`` (ascending, flat
    index ``i·n_pixels + j``, η' slow) and their values. The dense output of
    :meth:`~hepcluster.JetImageTransformer.transform` is ``G x`` for each row ``x``, renormalised
    to
    unit sum when ``normalize`` (a no-op up to rounding, since ``G`` preserves the sum).
    Produced by ``JetImageTransformer(sparse_output=True).transform`` (or
    :meth:`~hepcluster.JetImageTransformer.transform_sparse`); consumed by
    :func:`nearest_centroid`.

    Parameters
    ----------
    indptr : ndarray of shape (n_jets + 1,), int64
        Row pointers.
    indices : ndarray of shape (nnz,), int32
        Flat pixel indices.
    values : ndarray of shape (nnz,), float64
        Pixel values (before smearing).
    n_pixels : int
        Pixels per side.
    extent : float
        Half-width of the image in η' and φ'.
    smear_sigma : float
        Gaussian smearing in pixels that the dense images apply.
    normalize : bool
        Whether the dense images are renormalised after smearing.
    n_outside : ndarray of shape (n_jets,), int64
        Constituents of each jet that fell outside the extent and were dropped.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.images import JetImageTransformer
    >>> X = np.array([[100.0, 0.1, 0.2, 50.0, -0.1, 0.1, 0.0, 0.0, 0.0]])
    >>> images = JetImageTransformer(n_pixels=10).fit(X).transform_sparse(X)
    >>> images
    SparseImages(n_jets=1, n_pixels=10, nnz=2, smear_sigma=1.0)
    >>> float(images.values.sum())
    1.0
    """

    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    n_pixels: int
    extent: float
    smear_sigma: float
    normalize: bool
    n_outside: np.ndarray

    @property
    def n_jets(self):
        """Number of jets (rows)."""
        return self.indptr.shape[0] - 1

    @property
    def shape(self):
        """``(n_jets, n_pixels**2)``, the shape of the dense images."""
        return (self.n_jets, self.n_pixels * self.n_pixels)

    @property
    def nnz(self):
        """Number of stored (non-zero) pixels."""
        return int(self.indptr[-1])

    def __len__(self):
        return self.n_jets

    def __repr__(self):
        return (
            f"SparseImages(n_jets={self.n_jets}, n_pixels={self.n_pixels}, "
            f"nnz={self.nnz}, smear_sigma={self.smear_sigma!r})"
        )

    def __getitem__(self, rows):
        """Select jets with a slice, an integer array or a boolean mask.

        Returns
        -------
        SparseImages
            The selected jets, in the order given (repeats allowed).
        """
        rows = np.atleast_1d(np.arange(self.n_jets)[rows])
        indptr = np.zeros(rows.shape[0] + 1, dtype=np.int64)
        np.cumsum(self.indptr[rows + 1] - self.indptr[rows], out=indptr[1:])
        indices = np.empty(indptr[-1], dtype=self.indices.dtype)
        values = np.empty(indptr[-1], dtype=self.values.dtype)
        _image_kernels.gather_rows(
            self.indptr, self.indices, self.values, rows, indptr, indices, values
        )
        return SparseImages(
            indptr=indptr,
            indices=indices,
            values=values,
            n_pixels=self.n_pixels,
            extent=self.extent,
            smear_sigma=self.smear_sigma,
            normalize=self.normalize,
            n_outside=self.n_outside[rows],
        )

    def tocsr(self):
        """Return the unsmeared images as a :class:`scipy.sparse.csr_matrix`."""
        return scipy.sparse.csr_matrix(
            (self.values, self.indices, self.indptr), shape=self.shape, copy=False
        )

    def smearing_matrix(self):
        """The one-dimensional smearing matrix ``g`` of these images."""
        return gaussian_smearing_matrix(self.n_pixels, self.smear_sigma)

    def to_dense(self, *, smear=True, dtype=np.float64, n_jobs=None):
        """Dense images, smeared (the output of ``transform``) or not.

        Parameters
        ----------
        smear : bool, default=True
            Apply the smearing (and the final renormalisation when ``normalize``).
        dtype : {numpy.float64, numpy.float32}, default=numpy.float64
            Output dtype (arithmetic is float64 either way).
        n_jobs : int or None, default=None
            numba threads (see :class:`~hepcluster.JetImageTransformer`).

        Returns
        -------
        ndarray of shape (n_jets, n_pixels**2)
        """
        out = np.empty(self.shape, dtype=dtype)
        if not smear:
            out[:] = 0.0
            rows = np.repeat(np.arange(self.n_jets), np.diff(self.indptr))
            out[rows, self.indices] = self.values
            return out
        g = self.smearing_matrix()
        lo, hi = _band(g)
        with _image_kernels.numba_threads(n_jobs):
            _image_kernels.smear_to_dense(
                self.indptr,
                self.indices,
                self.values,
                self.n_pixels,
                np.ascontiguousarray(g.T),
                lo,
                hi,
                bool(self.normalize),
                out,
            )
        return out

    def mean(self, *, smear=True):
        """Average image (dense, flattened), smeared or not.

        Parameters
        ----------
        smear : bool, default=True
            Smear the average (``G`` is linear, so this is the average of the smeared
            images up to their final renormalisation).

        Returns
        -------
        ndarray of shape (n_pixels**2,)
        """
        total = np.bincount(self.indices, weights=self.values, minlength=self.shape[1])
        mean = total / max(self.n_jets, 1)
        if smear:
            mean = _smear_rows(mean[None, :], self.smearing_matrix())[0]
        return mean


def ensemble_nearest_centroid(images, centroids, *, rows=None, n_jobs=None):
    """Nearest smeared centroid of every image under every member of an ensemble.

    The labels of ``nearest_centroid(images, centroids[m], rows=rows)`` for every member
    ``m``, from one pass over the images: a block of images is labelled by each member in
    turn while its pixels are in cache (the pseudo-experiments of a Cluster Scanning
    calibration label about 7·10⁵ jets with 15 members each).

    Parameters
    ----------
    images : SparseImages
    centroids : array-like of shape (n_members, n_clusters, n_pixels**2)
        Smeared cluster centres of every member.
    rows : array-like of int, default=None
        Label only these images, read in place; ``None`` labels every image.
    n_jobs : int or None, default=None
        numba threads; labels do not depend on it.

    Returns
    -------
    ndarray of shape (n_members, n_jets) or (n_members, len(rows)), int32

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.images import JetImageTransformer, nearest_centroid
    >>> from hepcluster.images import ensemble_nearest_centroid
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([rng.uniform(1, 100, 60), rng.normal(0, 0.2, 60),
    ...                      rng.normal(0, 0.2, 60)]).reshape(20, 9)
    >>> jit = JetImageTransformer(n_pixels=16).fit(X)
    >>> dense, sparse = jit.transform(X), jit.transform_sparse(X)
    >>> members = np.stack([dense[:3], dense[3:6]])
    >>> labels = ensemble_nearest_centroid(sparse, members)
    >>> labels.shape
    (2, 20)
    >>> bool(np.array_equal(labels[1], nearest_centroid(sparse, members[1])))
    True
    """
    centroids = _check_centroids(images, centroids, ensemble=True)
    rows = _check_rows(rows, images.n_jets)
    n_members, n_clusters, n_pix2 = centroids.shape
    g = images.smearing_matrix()
    weights = np.empty((n_members, n_pix2, n_clusters))
    half_norms = np.empty((n_members, n_clusters))
    for member, member_centroids in enumerate(centroids):
        weights[member], half_norms[member] = _score_weights(member_centroids, g)
    labels = np.empty((n_members, rows.shape[0]), dtype=np.int32)
    with _image_kernels.numba_threads(n_jobs):
        _image_kernels.nearest_centroid_ensemble_scores(
            images.indptr, images.indices, images.values, rows, weights, -half_norms, labels
        )
    return labels


def _score_weights(smeared_centroids, g):
    """Centroid-major ``Gᵀ c`` (n_pixels², n_clusters) and ``½‖c‖²`` of smeared centroids.

    The label of a sparse image ``x`` is ``argmax_k x·(Gᵀ c_k) − ½‖c_k‖²``.
    """
    weights = _smear_rows(smeared_centroids, g.T)  # Gᵀ c = (gᵀ ⊗ gᵀ) c
    half_norms = 0.5 * np.einsum("ij,ij->i", smeared_centroids, smeared_centroids)
    return np.ascontiguousarray(weights.T), half_norms


def _check_centroids(images, centroids, *, ensemble):
    """Finite float64 centroids of (n_members,) n_clusters × n_pixels² for ``images``."""
    if not isinstance(images, SparseImages):
        raise TypeError(
            "images must be a SparseImages object (JetImageTransformer(sparse_output=True)), "
            f"got {type(images).__name__}."
        )
    centroids = np.asarray(centroids, dtype=np.float64)
    n_pix2 = images.n_pixels * images.n_pixels
    shape = "(n_members, n_clusters, " if ensemble else "(n_clusters, "
    if (
        centroids.ndim != (3 if ensemble else 2)
        or centroids.shape[-1] != n_pix2
        or min(centroids.shape[:-1]) < 1
    ):
        raise ValueError(
            f"centroids must have shape {shape}{n_pix2}) to match images of "
            f"{images.n_pixels}x{images.n_pixels} pixels, got {centroids.shape}."
        )
    if not np.all(np.isfinite(centroids)):
        raise ValueError("centroids contain NaN or infinity.")
    return centroids


def _check_rows(rows, n_jets):
    """``rows`` as int64 indices into ``n_jets`` images (every image when None)."""
    if rows is None:
        return np.arange(n_jets, dtype=np.int64)
    rows = np.asarray(rows)
    if rows.ndim != 1 or (rows.size and rows.dtype.kind not in "iu"):
        raise ValueError(f"rows must be a 1-D array of image indices, got {rows!r}.")
    rows = rows.astype(np.int64, copy=False)
    if rows.size and (rows.min() < 0 or rows.max() >= n_jets):
        raise ValueError(f"rows must lie in [0, {n_jets}), the images' indices.")
    return rows


def nearest_centroid(
    images, centroids, *, smeared=True, return_distances=False, rows=None, n_jobs=None
):
    """Nearest centroid of every smeared image, computed from the sparse images.

    Gives the labels that ``KMeans.predict`` / ``MiniBatchKMeans.predict`` would give on
    the dense smeared images of :meth:`~hepcluster.JetImageTransformer.transform`, with
    ``O(nnz·k)``
    work per jet instead of ``O(n_pixels²·k)`` and without building the dense rows.

    Parameters
    ----------
    images : SparseImages
        Output of ``JetImageTransformer(sparse_output=True).transform``.
    centroids : array-like of shape (n_clusters, n_pixels**2)
        Cluster centres, flattened like the images.
    smeared : bool, default=True
        ``True``: the centroids live in the smeared space, e.g. ``cluster_centers_`` of a
        k-means fitted on the dense ``transform`` output. ``False``: they are unsmeared
        centroids ``u`` (e.g. means of sparse rows) and the smeared centroids ``G u`` are
        formed internally.
    return_distances : bool, default=False
        Also return the squared Euclidean distance of each smeared image to its centroid
        (``xᵀKx − 2 x·Gᵀc + ‖c‖²``, clipped at 0); costs ``O(nnz²)`` more per jet.
    rows : array-like of int, default=None
        Label only these images (in this order), read in place:
        ``nearest_centroid(images, c, rows=r)`` equals ``nearest_centroid(images[r], c)``
        without the copy of the subset, e.g. the jets of a bootstrap pseudo-experiment
        with non-zero weight. ``None`` labels every image.
    n_jobs : int or None, default=None
        numba threads (see :class:`~hepcluster.JetImageTransformer`); labels do not depend on it.

    Returns
    -------
    labels : ndarray of shape (n_jets,) or (len(rows),), int32
        Index of the nearest centroid; ties go to the lowest index.
    distances : ndarray of shape (n_jets,) or (len(rows),), float64
        Only with ``return_distances=True``.

    Notes
    -----
    With ``c_k`` the smeared centroids, ``‖Gx − c_k‖² = ‖Gx‖² − 2 x·(Gᵀc_k) + ‖c_k‖²``;
    the first term is the same for every ``k``, so the label is
    ``argmax_k x·w_k + b_k`` with ``w_k = Gᵀc_k`` and ``b_k = −½‖c_k‖²``.
    The weights are stored centroid-major, ``(n_pixels², n_clusters)``, so each
    non-zero pixel adds one contiguous row of ``n_clusters`` numbers. When the
    dense images are renormalised after smearing, that factor is ``1`` up to rounding
    (``G`` preserves the sum), so the labels agree with the dense ones.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.images import JetImageTransformer, nearest_centroid
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([rng.uniform(1, 100, 60), rng.normal(0, 0.2, 60),
    ...                      rng.normal(0, 0.2, 60)]).reshape(20, 9)
    >>> jit = JetImageTransformer(n_pixels=16).fit(X)
    >>> dense, sparse = jit.transform(X), jit.transform_sparse(X)
    >>> centroids = dense[:3]
    >>> dist = ((dense[:, None, :] - centroids[None]) ** 2).sum(axis=-1)
    >>> bool(np.array_equal(nearest_centroid(sparse, centroids), dist.argmin(axis=1)))
    True
    """
    centroids = _check_centroids(images, centroids, ensemble=False)
    subset = rows is not None
    rows = _check_rows(rows, images.n_jets)
    if subset and return_distances:
        images = images[rows]
        rows = np.arange(images.n_jets, dtype=np.int64)
    g = images.smearing_matrix()
    smeared_centroids = centroids if smeared else _smear_rows(centroids, g)
    weights, half_norms = _score_weights(smeared_centroids, g)
    labels = np.empty(rows.shape[0], dtype=np.int32)
    best = np.empty(rows.shape[0] if return_distances else 0, dtype=np.float64)
    with _image_kernels.numba_threads(n_jobs):
        _image_kernels.nearest_centroid_scores(
            images.indptr, images.indices, images.values, rows, weights, -half_norms, labels, best
        )
        if not return_distances:
            return labels
        norms = np.empty(images.n_jets, dtype=np.float64)
        k1d = g.T @ g
        rows, cols = np.nonzero(k1d)
        _image_kernels.sparse_quadratic_form(
            images.indptr,
            images.indices,
            images.values,
            images.n_pixels,
            k1d,
            int(np.abs(rows - cols).max()),
            norms,
        )
    return labels, np.maximum(norms - 2.0 * best, 0.0)
