r"""Mini-batch k-means on dense rows or, without forming them, on sparse jet images.

Cluster Scanning fits k-means to smeared jet images ``G x`` (DESIGN.md §5, §6). The
smearing ``G = g ⊗ g`` is linear, k-means++ seeds are data points and every
mini-batch update is a weighted mean, so every smeared centre is ``G u`` for an
*unsmeared* centre ``u``. :func:`minibatch_kmeans` keeps ``u``; it assigns a sparse
image ``x`` (≈ 30 non-zero pixels of 1600) by

.. math:: \operatorname{argmax}_k \; x \cdot (K u_k) - \tfrac12 u_k^\mathsf{T} K u_k,
   \qquad K = G^\mathsf{T} G,

and updates ``u`` from the sparse rows: the arithmetic of mini-batch k-means on the
dense smeared images, with ~40× fewer operations per step and no dense rows. The same
function runs on dense rows (a plain 2-D array) with the same random stream, so the
two agree up to rounding; ``tests/test_kmeans.py`` checks it.
"""

import logging
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import _check_sample_weight

from ..images import SparseImages
from ..images._image_kernels import numba_threads
from . import _kmeans_kernels

logger = logging.getLogger(__name__)

#: Mini-batch size of Cluster Scanning (arXiv:2402.17714, §3; DESIGN.md §6).
BATCH_SIZE = 2048


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
        themselves for dense input.
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


# ------------------------------------------------------------------------------------
# The two data back ends: identical interfaces, identical use of the random stream.
# ------------------------------------------------------------------------------------


def _smearing_metric(images):
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
    >>> from hepcluster.scanning._kmeans import smeared_squared_norms
    >>> X = np.array([[100.0, 0.1, 0.2, 50.0, -0.1, 0.1, 0.0, 0.0, 0.0]])
    >>> images = JetImageTransformer(n_pixels=10).fit(X).transform_sparse(X)
    >>> dense = images.to_dense(smear=True)
    >>> bool(np.allclose(smeared_squared_norms(images), (dense**2).sum(axis=1)))
    True
    """
    if not isinstance(images, SparseImages):
        raise TypeError(f"images must be SparseImages, got {type(images).__name__}.")
    _, k1d, lo, hi = _smearing_metric(images)
    out = np.empty(images.n_jets)
    with numba_threads(n_jobs):
        _kmeans_kernels.sparse_sq_norms(
            images.indptr, images.indices, images.values, images.n_pixels, k1d, lo, hi, out
        )
    return out


class _DenseRows:
    """Dense float64 rows; centres live in the same space."""

    def __init__(self, X, sq_norms=None):
        self.X = X
        self.n_rows, self.n_features = X.shape
        self.sq_norms = np.einsum("ij,ij->i", X, X) if sq_norms is None else sq_norms

    def subsample(self, rows):
        return _DenseRows(self.X[rows], self.sq_norms[rows])

    def seed_distances(self, candidates):
        X = self.X
        dots = X[candidates] @ X.T
        distances = self.sq_norms[None, :] + self.sq_norms[candidates, None] - 2.0 * dots
        np.maximum(distances, 0.0, out=distances)
        return distances

    def rows_dense(self, rows):
        return np.array(self.X[rows], dtype=np.float64, order="C")

    def prepare(self, centers):
        return centers, 0.5 * np.einsum("ij,ij->i", centers, centers)

    def assign(self, rows, state, *, X=None):
        centers, half_norms = state
        scores = (self.X[rows] if X is None else X) @ centers.T
        scores -= half_norms
        labels = np.argmax(scores, axis=1).astype(np.int32)
        best = scores[np.arange(rows.shape[0]), labels]
        return labels, best

    def step(self, rows, state, sums, counts):
        batch = self.X[rows]
        labels, best = self.assign(rows, state, X=batch)
        _kmeans_kernels.dense_accumulate(batch, labels, sums, counts)
        return labels, best

    def squared_shift(self, old_state, new_state):
        return float(np.sum((new_state[0] - old_state[0]) ** 2))

    def smeared(self, centers):
        return centers

    def mean_variance(self, weight):
        mean = weight @ self.X / weight.sum()
        second = weight @ self.sq_norms / weight.sum()
        return (second - mean @ mean) / self.n_features


class _SparseRows:
    """Sparse unsmeared rows ``x``; distances are those of the smeared ``G x``."""

    def __init__(self, images, sq_norms=None, metric=None):
        self.images = images
        self.n_rows = images.n_jets
        self.n_pixels = images.n_pixels
        self.n_features = images.n_pixels**2
        self.metric = _smearing_metric(images) if metric is None else metric
        if sq_norms is None:
            sq_norms = smeared_squared_norms(images)
        self.sq_norms = sq_norms

    def subsample(self, rows):
        return _SparseRows(self.images[rows], self.sq_norms[rows], self.metric)

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


# ------------------------------------------------------------------------------------
# The algorithm (scikit-learn's MiniBatchKMeans.fit, sklearn/cluster/_kmeans.py)
# ------------------------------------------------------------------------------------


def _kmeans_plusplus(data, n_clusters, random_state, n_local_trials):
    """Greedy k-means++ on ``data`` with unit weights; returns the seed rows."""
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


def _validate_input(X):
    if isinstance(X, SparseImages):
        if not (np.all(np.isfinite(X.values))):
            raise ValueError("Input X contains NaN or infinity (in its pixel values).")
        return X, X.n_jets
    X = check_array(X, dtype=np.float64, order="C", ensure_min_samples=1, input_name="X")
    return X, X.shape[0]


@validate_params(
    {
        "X": ["array-like", SparseImages],
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "sample_weight": ["array-like", None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "max_no_improvement": [Interval(Integral, 0, None, closed="left"), None],
        "tol": [Interval(Real, 0, None, closed="left")],
        "reassignment_ratio": [Interval(Real, 0, 1, closed="left")],
        "init_size": [Interval(Integral, 1, None, closed="left"), None],
        "n_local_trials": [Interval(Integral, 1, None, closed="left"), None],
        "compute_labels": ["boolean"],
        "x_squared_norms": ["array-like", None],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    },
    prefer_skip_nested_validation=True,
)
def minibatch_kmeans(
    X,
    n_clusters,
    *,
    sample_weight=None,
    batch_size=BATCH_SIZE,
    max_iter=100,
    max_no_improvement=10,
    tol=0.0,
    reassignment_ratio=0.01,
    init_size=None,
    n_local_trials=None,
    compute_labels=True,
    x_squared_norms=None,
    random_state=None,
    n_jobs=None,
):
    r"""Mini-batch k-means with k-means++ seeding, on dense rows or sparse jet images.

    scikit-learn's :class:`~sklearn.cluster.MiniBatchKMeans` (``n_init=1``,
    ``init="k-means++"``) step for step — greedy k-means++ on a subsample, random
    mini-batches, per-centre learning rates from accumulated weights, reassignment of
    starved centres, early stopping on the smoothed batch inertia — that also runs on
    :class:`~hepcluster.images.SparseImages` without forming the dense smeared rows.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or SparseImages
        Dense rows (float64 arithmetic), or the sparse unsmeared images of
        :meth:`JetImageTransformer.transform_sparse`, clustered as the smeared images
        ``X.to_dense(smear=True)`` would be.
    n_clusters : int
        Number of clusters; at most the number of rows with positive weight.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights, e.g. bootstrap multiplicities. Rows with zero weight
        are never drawn: not as seeds, not into mini-batches; they are labelled at the
        end like the others.
    batch_size : int, default=2048
        Rows per mini-batch (capped at the number of rows with positive weight).
    max_iter : int, default=100
        Maximum number of passes over the data: at most
        ``max_iter · n_samples // batch_size`` steps.
    max_no_improvement : int or None, default=10
        Stop after this many steps without improvement of the smoothed batch inertia;
        ``None`` switches early stopping off.
    tol : float, default=0.0
        Stop when the summed squared shift of the (smeared) centres in one step falls
        below ``tol`` times the mean per-feature variance of the (smeared) rows; 0
        switches it off.
    reassignment_ratio : float, default=0.01
        Centres whose accumulated weight falls below this fraction of the largest are
        moved onto random rows of the current mini-batch.
    init_size : int or None, default=None
        Size of the subsample k-means++ runs on; ``3 · batch_size`` by default (and at
        least ``3 · n_clusters``), capped at ``n_samples``.
    n_local_trials : int or None, default=None
        Candidates per k-means++ seed, ``2 + ln(n_clusters)`` by default.
    compute_labels : bool, default=True
        Label every row and compute the exact weighted inertia at the end (one pass over
        the data); otherwise ``labels`` is None and ``inertia`` the smoothed estimate.
    x_squared_norms : array-like of shape (n_samples,), default=None
        Precomputed squared norms of the (smeared) rows, ``‖G x‖²`` for sparse input
        (:func:`smeared_squared_norms`); computed when not given. Share them between
        fits on the same rows.
    random_state : int, RandomState instance or None, default=None
        Seeds the subsample, the seeds, the mini-batches and the reassignments. Dense
        and sparse input with the same ``random_state`` consume the stream identically.
    n_jobs : int or None, default=None
        numba threads (see :class:`~hepcluster.JetImageTransformer`) for the passes
        over all rows (``‖G x‖²`` when not given, the final labels); results do not
        depend on it. The mini-batch steps run on one thread — each is well under a
        millisecond of work — and release the GIL, so independent fits (ensemble
        members) run in parallel threads.

    Returns
    -------
    MiniBatchKMeansResult
        ``centers`` (smeared for sparse input), ``unsmeared_centers``, ``labels``,
        ``inertia``, ``n_steps``, ``n_iter``, ``counts``.

    Raises
    ------
    ValueError
        When ``X`` or ``sample_weight`` contain NaN or infinity, weights are negative,
        or fewer rows than ``n_clusters`` have positive weight.

    See Also
    --------
    sklearn.cluster.MiniBatchKMeans : The dense algorithm this follows.
    hepcluster.images.nearest_centroid : Labels further sparse images with ``centers``.

    Notes
    -----
    **Sparse arithmetic** (DESIGN.md §5). Smearing is linear and sum-preserving, the
    k-means++ seeds are rows and each update is a weighted mean, so the smeared centres
    are ``c_k = G u_k`` throughout. With the metric ``K = GᵀG = k ⊗ k``, ``k = gᵀg``:

    - assignment: ``argmax_k x·w_k + b_k`` with the centroid-major weights
      ``w_k = K u_k = k U_k k`` (``U_k`` the ``n × n`` image, two band products) and
      ``b_k = −½ u_k·w_k = −½‖G u_k‖²``, recomputed after every update; the squared
      distance is ``‖G x‖² − 2(x·w_k + b_k)``, with ``‖G x‖² = xᵀK x`` once per row;
    - update (scikit-learn's ``_minibatch_update_dense``): a centre with accumulated
      weight ``W_k`` that receives ``c_k`` rows becomes ``(W_k u_k + Σ x)/(W_k + c_k)``;
    - k-means++ distances ``‖G x‖² + ‖G x_c‖² − 2 x·K x_c`` from the few pixels of each
      candidate ``x_c``.

    Per step that is ``O(batch · nnz · k)`` (nnz ≈ 30) instead of
    ``O(batch · n_pixels² · k)``.

    **Weights.** As in scikit-learn, mini-batches are drawn with replacement with
    probabilities proportional to the weights and enter the update with unit weight.
    The k-means++ subsample is drawn the same way (scikit-learn draws it uniformly and
    weights the seeding), so an integer weight ``m`` acts like ``m`` copies of the row:
    with the same ``random_state`` the draws even pick the same rows as on the copies.
    What differs from fitting the copies is ``n_samples``, here the number of rows with
    positive weight rather than the total weight: it sets the maximum number of steps
    and the smoothing ``α = 2·batch_size/(n_samples + 1)`` of the early-stopping
    inertia, so the two may stop at different steps. Rows with zero weight play no
    part at all: the fit equals the fit without them. ``tol`` uses the weighted
    variance.

    **Differences from scikit-learn** (whose internals may change): one initialisation
    (``n_init=1``, no validation subsample), the first seed is drawn uniformly from the
    (weighted) subsample, the rows of a mini-batch are in row order (its draws are
    sorted) and arithmetic is float64. Results are statistically equivalent (the
    tests compare inertias), not bit for bit equal.

    References
    ----------
    .. [1] D. Sculley, "Web-scale k-means clustering", WWW 2010.
    .. [2] D. Arthur, S. Vassilvitskii, "k-means++: the advantages of careful seeding",
       SODA 2007.
    .. [3] I. Oleksiyuk, J. A. Raine, M. Krämer, S. Voloshynovskiy, T. Golling,
       "Cluster Scanning: a novel approach to resonance searches", JHEP 06 (2024) 088,
       arXiv:2402.17714 (k-means with k = 50, batch 2048 on smeared jet images).

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.scanning._kmeans import minibatch_kmeans
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(0, 0.1, (200, 2)), rng.normal(3, 0.1, (200, 2))])
    >>> result = minibatch_kmeans(X, 2, batch_size=64, random_state=0)
    >>> np.round(np.sort(result.centers[:, 0]), 1)
    array([0., 3.])
    >>> np.bincount(result.labels).tolist()
    [200, 200]
    """
    X, n_rows = _validate_input(X)
    weight = _check_sample_weight(
        sample_weight,
        np.empty((n_rows, 0)),
        dtype=np.float64,
        ensure_non_negative=True,
        allow_all_zero_weights=True,
    )
    positive = np.flatnonzero(weight > 0)
    n_samples = positive.shape[0]
    if n_samples < n_clusters:
        raise ValueError(
            f"n_samples={n_samples} rows with positive sample_weight should be >= "
            f"n_clusters={n_clusters}."
        )
    random_state = check_random_state(random_state)
    batch = min(batch_size, n_samples)
    if init_size is None:
        init_size = 3 * batch
        if init_size < n_clusters:
            init_size = 3 * n_clusters
    elif init_size < n_clusters:
        init_size = 3 * n_clusters
    init_size = min(init_size, n_samples)
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))

    # Weighted draws with replacement, as RandomState.choice(p=...) does them.
    cdf = np.cumsum(weight[positive])
    cdf /= cdf[-1]

    def draw(size):
        # Sorted draws: a faster search and memory access in row order; the order of
        # the rows in a mini-batch does not matter to the algorithm.
        picks = cdf.searchsorted(np.sort(random_state.random_sample(size)), side="right")
        np.minimum(picks, n_samples - 1, out=picks)
        return positive[picks]

    if x_squared_norms is not None:
        x_squared_norms = check_array(
            x_squared_norms, dtype=np.float64, ensure_2d=False, input_name="x_squared_norms"
        )
        if x_squared_norms.shape != (n_rows,):
            raise ValueError(
                f"x_squared_norms has shape {x_squared_norms.shape}, expected ({n_rows},)."
            )

    sparse = isinstance(X, SparseImages)
    with numba_threads(n_jobs):
        data = _SparseRows(X, x_squared_norms) if sparse else _DenseRows(X, x_squared_norms)
        tolerance = tol * data.mean_variance(weight) if tol > 0 else 0.0

        subsample = draw(init_size)
        seeds = _kmeans_plusplus(
            data.subsample(subsample), n_clusters, random_state, n_local_trials
        )
        centers = data.rows_dense(subsample[seeds])
        weight_sums = np.zeros(n_clusters)
        sums = np.empty_like(centers)
        counts = np.empty(n_clusters)
        state = data.prepare(centers.copy() if tolerance > 0 else centers)

        n_steps = (max_iter * n_samples) // batch
        alpha = min(batch * 2.0 / (n_samples + 1), 1.0)
        ewa_inertia = None
        ewa_inertia_min = None
        no_improvement = 0
        since_reassign = 0
        step = 0
        for step in range(n_steps):
            # scikit-learn decides on reassignment before the step.
            since_reassign += batch
            reassign = False
            if (weight_sums == 0).any() or since_reassign >= 10 * n_clusters:
                since_reassign = 0
                reassign = True

            rows = draw(batch)
            _, best = data.step(rows, state, sums, counts)
            distances = data.sq_norms[rows] - 2.0 * best
            np.maximum(distances, 0.0, out=distances)
            batch_inertia = distances.sum()

            _kmeans_kernels.apply_update(centers, weight_sums, sums, counts)
            if reassign and reassignment_ratio > 0:
                _reassign(data, rows, centers, weight_sums, reassignment_ratio, random_state)
            new_state = data.prepare(centers.copy() if tolerance > 0 else centers)
            shift = data.squared_shift(state, new_state) if tolerance > 0 else 0.0
            state = new_state

            # Early stopping (scikit-learn's _mini_batch_convergence).
            batch_inertia /= batch
            if step == 0:
                continue
            if ewa_inertia is None:
                ewa_inertia = batch_inertia
            else:
                ewa_inertia = ewa_inertia * (1.0 - alpha) + batch_inertia * alpha
            if tolerance > 0 and shift <= tolerance:
                logger.debug("converged (small centre shift) at step %d", step + 1)
                break
            if ewa_inertia_min is None or ewa_inertia < ewa_inertia_min:
                no_improvement = 0
                ewa_inertia_min = ewa_inertia
            else:
                no_improvement += 1
            if max_no_improvement is not None and no_improvement >= max_no_improvement:
                logger.debug("converged (no inertia improvement) at step %d", step + 1)
                break
        n_done = step + 1

        all_labels = None
        if compute_labels:
            all_labels, best = data.assign(np.arange(n_rows, dtype=np.int64), state)
            distances = data.sq_norms - 2.0 * best
            np.maximum(distances, 0.0, out=distances)
            inertia = float(weight @ distances)
        else:
            per_row = ewa_inertia if ewa_inertia is not None else batch_inertia
            inertia = float(per_row * weight.sum())
        smeared_centers = data.smeared(centers)

    return MiniBatchKMeansResult(
        centers=smeared_centers,
        unsmeared_centers=centers if sparse else None,
        labels=all_labels,
        inertia=inertia,
        n_steps=n_done,
        n_iter=int(np.ceil(n_done * batch / n_samples)),
        counts=weight_sums,
    )


def _reassign(data, rows, centers, weight_sums, ratio, random_state):
    """Move starved centres onto random rows of the mini-batch (scikit-learn's rule)."""
    to_reassign = weight_sums < ratio * weight_sums.max()
    # at most half a batch of new centres
    if to_reassign.sum() > 0.5 * rows.shape[0]:
        keep = np.argsort(weight_sums)[int(0.5 * rows.shape[0]) :]
        to_reassign[keep] = False
    n_reassign = int(to_reassign.sum())
    if n_reassign == 0 or to_reassign.all():
        return
    picks = random_state.choice(rows.shape[0], replace=False, size=n_reassign)
    centers[to_reassign] = data.rows_dense(rows[picks])
    logger.debug("reassigning %d cluster centres", n_reassign)
    # Not reset too small, to avoid instant reassignment (this also lowers their
    # learning rate, as in scikit-learn).
    weight_sums[to_reassign] = np.min(weight_sums[~to_reassign])
