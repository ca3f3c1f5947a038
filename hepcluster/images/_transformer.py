"""JetImageTransformer: constituent matrix → jet images (Cluster Scanning preprocessing)."""

import logging
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils import progress
from ..utils._sklearn_compat import (
    Interval,
    StrOptions,
    check_feature_names_in,
    fit_context,
    get_output_config,
)
from . import _image_kernels
from ._sparse import SparseImages

logger = logging.getLogger(__name__)

# Defaults of the Cluster Scanning paper (I. Oleksiyuk et al., arXiv:2402.17714, §3):
# 40 × 40 pixels over [−0.8, 0.8]², I → I^0.5, Gaussian smearing of one pixel.
N_PIXELS = 40
EXTENT = 0.8
GAMMA = 0.5
SMEAR_SIGMA = 1.0

# Input that is not C-contiguous float64 is converted through one buffer of about this
# many constituent slots (24 bytes each, ≈ 25 MB).
_CHUNK_SLOTS = 1 << 20


def _as_constituent_matrix(X):
    """Reshape a 3-D ``(n_jets, P, 3)`` array to the 2-D constituent matrix."""
    if getattr(X, "ndim", None) == 3 and not hasattr(X, "columns"):
        X = np.asarray(X)
        if X.shape[2] != 3:
            raise ValueError(
                "A 3-D constituent array must have shape (n_jets, P, 3) with "
                f"(pT, η, φ) in the last axis, got shape {X.shape}."
            )
        X = X.reshape(X.shape[0], -1)
    return X


def _check_constituents(X, n_features):
    """Raise clear errors for inputs that are not a constituent matrix."""
    if n_features % 3 != 0:
        raise ValueError(
            f"X has {n_features} feature(s), but JetImageTransformer expects a "
            "constituent matrix with 3·P columns (pT_1, η_1, φ_1, pT_2, …)."
        )
    if X.shape[0] and np.any(X[:, 0::3] < 0):
        jets, slots = np.nonzero(X[:, 0::3] < 0)
        raise ValueError(
            "Negative values in data passed to JetImageTransformer: negative transverse "
            f"momentum (pT) in {jets.size} constituent slot(s), first "
            f"in jet {jets[0]}, constituent {slots[0]} (column {3 * slots[0]}); "
            "pT must be ≥ 0 (0 marks padding)."
        )


def build_sparse_images(
    X,
    *,
    n_pixels=N_PIXELS,
    extent=EXTENT,
    center=True,
    rotate=True,
    flip=True,
    gamma=GAMMA,
    smear_sigma=SMEAR_SIGMA,
    normalize=True,
    n_jobs=None,
):
    """Sparse unsmeared images of a validated constituent matrix (no checks here).

    Each jet gets one output slot per real constituent (an upper bound on its non-zero
    pixels); the kernel fills them in parallel and :func:`compact` closes the gaps in
    place, so the only large allocations are the outputs themselves. Rows are converted
    to float64 chunk by chunk through one reused buffer. When the jets take more than
    one chunk, a progress bar (unit "jet", :func:`hepcluster.utils.progress`) follows
    the chunks; it stays quiet where standard error is not a terminal.
    """
    X = np.asarray(X)
    n_jets, width = X.shape
    n_constituents = width // 3
    n_real = np.count_nonzero(X[:, 0::3], axis=1)
    starts = np.zeros(n_jets + 1, dtype=np.int64)
    np.cumsum(n_real, out=starts[1:])
    indices = np.empty(starts[-1], dtype=np.int32)
    values = np.empty(starts[-1], dtype=np.float64)
    counts = np.empty(n_jets, dtype=np.int64)
    n_outside = np.empty(n_jets, dtype=np.int64)
    direct = X.dtype == np.float64 and X.flags.c_contiguous
    chunk = max(1, min(n_jets, _CHUNK_SLOTS // max(n_constituents, 1)))
    buffer = None if direct else np.empty((chunk, width), dtype=np.float64)
    several = n_jets > chunk
    with (
        _image_kernels.numba_threads(n_jobs),
        progress(
            total=n_jets, desc="jet images", unit="jet", enabled=None if several else False
        ) as bar,
    ):
        for first in range(0, n_jets, chunk):
            last = min(n_jets, first + chunk)
            if direct:
                block = X[first:last]
            else:
                block = buffer[: last - first]
                block[...] = X[first:last]
            _image_kernels.pixelise(
                block,
                int(n_pixels),
                float(extent),
                bool(center),
                bool(rotate),
                bool(flip),
                float(gamma),
                bool(normalize),
                starts[first:last],
                indices,
                values,
                counts[first:last],
                n_outside[first:last],
            )
            bar.update(last - first)
    indptr = _image_kernels.compact(starts[:-1], counts, indices, values)
    return SparseImages(
        indptr=indptr,
        indices=indices[: indptr[-1]],
        values=values[: indptr[-1]],
        n_pixels=int(n_pixels),
        extent=float(extent),
        smear_sigma=float(smear_sigma),
        normalize=bool(normalize),
        n_outside=n_outside,
    )


def _sparse_dataframe_message(container):
    return (
        f"JetImageTransformer(sparse_output=True) returns SparseImages, which cannot be "
        f"wrapped in a {container} DataFrame: use set_output(transform='default') or "
        "sparse_output=False for DataFrame output."
    )


class JetImageTransformer(TransformerMixin, BaseEstimator):
    """Jet images from constituents: centre, rotate, flip, pixelise, γ-scale, smear.

    The preprocessing of Cluster Scanning (I. Oleksiyuk et al., arXiv:2402.17714, §3),
    every step switchable:

    1. ``center``: translate so that the pT-weighted centroid (η̄, φ̄) is at the origin
       — coordinates are first taken relative to the leading constituent with φ wrapped
       into (−π, π], then the centroid step is applied twice;
    2. ``rotate``: turn the principal axis of the pT-weighted second-moment tensor onto
       the η' axis (the horizontal axis of :func:`~hepcluster.plotting.plot_jet_images`);
    3. ``flip``: reflect η' and/or φ' so that the pT-weighted quadrant sum is largest
       in (+, +);
    4. pixelise ``[−extent, extent)²`` into ``n_pixels × n_pixels`` bins summing pT;
       constituents outside are dropped (counted in ``SparseImages.n_outside`` and
       logged);
    5. normalise to unit sum, scale ``I → I**gamma``, normalise again, smear with a
       Gaussian of ``smear_sigma`` pixels (reflecting boundary, which keeps the sum),
       and normalise again (``normalize`` switches all three normalisations).

    ``fit`` learns nothing but the input width. The output row is the flattened image
    ``image[i_η, j_φ]`` (η' slow); feature names are ``"pixel_{i}_{j}"``.

    Parameters
    ----------
    n_pixels : int, default=40
        Pixels per side, at most 1024; the output has ``n_pixels**2`` columns.
    extent : float, default=0.8
        The image covers ``[−extent, extent)`` in η' and φ' (radians for φ).
    center : bool, default=True
        Step 1. Without it the input coordinates are used as given (φ wrapped), e.g.
        constituents already expressed relative to the jet axis.
    rotate : bool, default=True
        Step 2 (moments are taken about the origin of the step-1 coordinates).
    flip : bool, default=True
        Step 3.
    gamma : float, default=0.5
        Pixel scaling exponent; ``1`` switches it off.
    smear_sigma : float, default=1.0
        Gaussian smearing in pixels; ``0`` switches it off.
    normalize : bool, default=True
        Normalise images to unit sum (before and after the γ scaling and after
        smearing). Jets without any constituent inside the extent give all-zero images
        (counted in an INFO message of the ``hepcluster.images`` logger).
    n_jobs : int or None, default=None
        Number of numba threads for the kernels, set for the duration of each call and
        restored afterwards: ``None`` keeps numba's current setting (all cores unless
        ``NUMBA_NUM_THREADS`` or :func:`numba.set_num_threads` says otherwise), ``-1``
        all threads, ``-2`` all but one. Results do not depend on it. Inside a
        process-parallel loop (e.g. calibration with joblib) use ``1``. Calls from
        several Python threads at once are safe with numba's ``omp`` or ``tbb``
        threading layers (not with ``workqueue``).
    sparse_output : bool, default=False
        Return :class:`~hepcluster.images.SparseImages` (the unsmeared images ``x``, what
        :meth:`transform_sparse` gives) from :meth:`transform` and :meth:`fit_transform`
        instead of dense rows. :class:`~hepcluster.ClusterScanner` works on them without
        forming the ``n_pixels**2``-wide smeared rows, so
        ``Pipeline([("images", JetImageTransformer(sparse_output=True)), ("scan",
        ClusterScanner())])`` takes this fast path with a fraction of the memory. Sparse
        output cannot be wrapped in a DataFrame: ``set_output(transform="pandas")`` (or
        ``"polars"``, also through :func:`sklearn.set_config`) raises with it.
    empty_jets : {"raise", "zero"}, default="raise"
        What to do with an empty jet (no constituent with pT > 0, e.g. the missing
        second jet of a one-jet event, or a damaged row): ``"raise"`` a ``ValueError``
        naming the first such row, or give it an all-zero image (``"zero"``, counted in
        a warning of the ``hepcluster.images`` logger) so that padded inputs keep
        their rows.

    Attributes
    ----------
    n_features_in_ : int
        Width ``3·P`` of the constituent matrix seen in ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names of ``X`` when it is a DataFrame with string column names.

    See Also
    --------
    hepcluster.images.nearest_centroid : k-means labels straight from sparse images.
    hepcluster.plotting.plot_jet_images : single and average jet images.

    Notes
    -----
    A jet has at most P non-zero pixels before smearing, so :meth:`transform_sparse`
    returns those (``x``) and the smearing is the fixed linear operator ``G = g ⊗ g``;
    ``transform`` returns ``G x`` (renormalised, a no-op up to rounding because ``G``
    keeps the sum). Distances between smeared images follow from
    ``‖Gx − Gu‖² = (x − u)ᵀGᵀG(x − u)``, which :func:`~hepcluster.images.nearest_centroid` uses to
    label
    millions of jets without forming the dense rows.

    The kernels are compiled with numba (``cache=True``) and run in parallel over jets;
    input is processed in chunks so that scratch memory stays bounded.

    References
    ----------
    .. [1] I. Oleksiyuk, J. A. Raine, M. Krämer, S. Voloshynovskiy, T. Golling,
       "Cluster Scanning: a novel approach to resonance searches",
       JHEP 06 (2024) 088, arXiv:2402.17714.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.images import JetImageTransformer
    >>> X = np.array([[300.0, 0.50, 3.10, 200.0, 0.60, -3.10, 100.0, 0.40, 3.00],
    ...               [500.0, -1.00, 0.00, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    >>> images = JetImageTransformer(n_pixels=20).fit_transform(X)
    >>> images.shape
    (2, 400)
    >>> np.round(images.sum(axis=1), 12)
    array([1., 1.])
    >>> JetImageTransformer(n_pixels=2).fit(X).get_feature_names_out()
    array(['pixel_0_0', 'pixel_0_1', 'pixel_1_0', 'pixel_1_1'], dtype=object)
    >>> JetImageTransformer(n_pixels=20, sparse_output=True).fit_transform(X)
    SparseImages(n_jets=2, n_pixels=20, nnz=4, smear_sigma=1.0)
    """

    _parameter_constraints: dict = {  # noqa: RUF012 (scikit-learn's convention)
        # at most 1024² = 1,048,576 columns (8 MiB per dense jet image)
        "n_pixels": [Interval(Integral, 1, 1024, closed="both")],
        "extent": [Interval(Real, 0, None, closed="neither")],
        "center": ["boolean"],
        "rotate": ["boolean"],
        "flip": ["boolean"],
        "gamma": [Interval(Real, 0, None, closed="neither")],
        "smear_sigma": [Interval(Real, 0, None, closed="left")],
        "normalize": ["boolean"],
        "n_jobs": [
            Interval(Integral, None, -1, closed="right"),
            Interval(Integral, 1, None, closed="left"),
            None,
        ],
        "sparse_output": ["boolean"],
        "empty_jets": [StrOptions({"raise", "zero"})],
    }

    def __init__(
        self,
        n_pixels=N_PIXELS,
        *,
        extent=EXTENT,
        center=True,
        rotate=True,
        flip=True,
        gamma=GAMMA,
        smear_sigma=SMEAR_SIGMA,
        normalize=True,
        n_jobs=None,
        sparse_output=False,
        empty_jets="raise",
    ):
        self.n_pixels = n_pixels
        self.extent = extent
        self.center = center
        self.rotate = rotate
        self.flip = flip
        self.gamma = gamma
        self.smear_sigma = smear_sigma
        self.normalize = normalize
        self.n_jobs = n_jobs
        self.sparse_output = sparse_output
        self.empty_jets = empty_jets

    def _validate(self, X, *, reset):
        X = _as_constituent_matrix(X)
        X = validate_data(self, X, reset=reset, dtype=[np.float64, np.float32])
        _check_constituents(X, X.shape[1])
        if self.empty_jets == "raise":
            empty = np.flatnonzero(~np.any(X[:, 0::3] > 0, axis=1))
            if empty.size:
                raise ValueError(
                    f"X holds {empty.size} empty jet(s) (no constituent with pT > 0; first "
                    f"at row {empty[0]}), which have no jet image: drop those rows, or pass "
                    "empty_jets='zero' to give them all-zero images."
                )
        return X

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the constituent matrix and remember its width (nothing is learnt).

        Parameters
        ----------
        X : array-like of shape (n_jets, 3·P) or (n_jets, P, 3)
            Constituent matrix ``(pT_1, η_1, φ_1, pT_2, …)`` in GeV and radians;
            ``pT = 0`` marks padding.
        y : None
            Ignored.

        Returns
        -------
        self : JetImageTransformer
            The fitted transformer.
        """
        self._validate(X, reset=True)
        return self

    def _sparse(self, X):
        images = build_sparse_images(
            X,
            n_pixels=self.n_pixels,
            extent=self.extent,
            center=self.center,
            rotate=self.rotate,
            flip=self.flip,
            gamma=self.gamma,
            smear_sigma=self.smear_sigma,
            normalize=self.normalize,
            n_jobs=self.n_jobs,
        )
        empty = np.flatnonzero(~np.any(X[:, 0::3] > 0, axis=1))
        if empty.size:
            logger.warning(
                "JetImageTransformer: %d of %d jet(s) have no constituent with pT > 0 "
                "(first at row %d); their images are all zero.",
                empty.size,
                X.shape[0],
                empty[0],
            )
        n_out = int(images.n_outside.sum())
        if n_out:
            n_real = int(np.count_nonzero(X[:, 0::3]))
            logger.info(
                "%d of %d constituents (%.2f%%) lay outside the image extent "
                "[-%g, %g) and were dropped; %d jet(s) have empty images.",
                n_out,
                n_real,
                100.0 * n_out / max(n_real, 1),
                self.extent,
                self.extent,
                int(np.count_nonzero(np.diff(images.indptr) == 0)),
            )
        return images

    def transform_sparse(self, X):
        """Sparse unsmeared images ``x`` (γ-scaled and normalised, steps 1–5 but smearing).

        The dense :meth:`transform` output is ``G x``. This is what Cluster Scanning
        labels and fits on (see :func:`~hepcluster.images.nearest_centroid`).

        Parameters
        ----------
        X : array-like of shape (n_jets, 3·P) or (n_jets, P, 3)
            Constituent matrix.

        Returns
        -------
        SparseImages
            CSR-like images with ``n_pixels``, ``smear_sigma`` and per-jet
            ``n_outside`` counts.
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        return self._sparse(X)

    def transform(self, X):
        """Jet images: dense rows, or sparse ones with ``sparse_output=True``.

        Sparse images are :class:`~hepcluster.images.SparseImages`.

        Parameters
        ----------
        X : array-like of shape (n_jets, 3·P) or (n_jets, P, 3)
            Constituent matrix ``(pT_1, η_1, φ_1, pT_2, …)``; ``pT = 0`` marks padding.

        Returns
        -------
        ndarray of shape (n_jets, n_pixels**2) or SparseImages
            Dense: flattened smeared images ``image[i_η, j_φ]`` (η' slow), float32 when
            ``X`` is float32, float64 otherwise; unit sum when ``normalize``. With
            ``sparse_output=True``: the unsmeared images of :meth:`transform_sparse`.
        """
        check_is_fitted(self)
        if self.sparse_output:
            self._check_sparse_output_config()
        X = self._validate(X, reset=False)
        images = self._sparse(X)
        if self.sparse_output:
            return images
        return images.to_dense(smear=True, dtype=X.dtype, n_jobs=self.n_jobs)

    def set_output(self, *, transform=None):
        """Set the output container of :meth:`transform` and :meth:`fit_transform`.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"} or None, default=None
            As :meth:`sklearn.base.TransformerMixin.set_output`. With
            ``sparse_output=True`` only ``"default"`` (or ``None``) is accepted.

        Returns
        -------
        self : JetImageTransformer

        Raises
        ------
        ValueError
            When a DataFrame container is asked for sparse output.
        """
        if self.sparse_output and transform not in (None, "default"):
            raise ValueError(_sparse_dataframe_message(transform))
        return super().set_output(transform=transform)

    def _check_sparse_output_config(self):
        # The container may also come from set_config(transform_output=...) or from a
        # set_output call before set_params(sparse_output=True).
        container = get_output_config("transform", self)["dense"]
        if container != "default":
            raise ValueError(_sparse_dataframe_message(container))

    def get_feature_names_out(self, input_features=None):
        """Pixel names ``pixel_{i}_{j}`` (``i`` along η', ``j`` along φ').

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Checked against the input feature names seen in ``fit``; not used otherwise.

        Returns
        -------
        ndarray of str objects, shape (n_pixels**2,)
            Output feature names.
        """
        check_is_fitted(self, "n_features_in_")
        check_feature_names_in(self, input_features)
        n = self.n_pixels
        return np.asarray([f"pixel_{i}_{j}" for i in range(n) for j in range(n)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
