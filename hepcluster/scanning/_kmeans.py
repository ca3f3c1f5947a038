r"""Mini-batch k-means for Cluster Scanning: scikit-learn on dense rows, ours on sparse images.

Cluster Scanning (arXiv:2402.17714, §3) fits k-means to smeared jet images ``G x``. The
smearing ``G = g ⊗ g`` is linear, k-means++ seeds are data points and every mini-batch
update is a weighted mean, so every smeared centre is ``G u`` for an *unsmeared* centre
``u``. On :class:`~hepcluster.images.SparseImages`, :func:`minibatch_kmeans` keeps ``u``
and assigns a sparse image ``x`` (≈ 30 non-zero pixels of 1600) by

.. math:: \operatorname{argmax}_k \; x \cdot (K u_k) - \tfrac12 u_k^\mathsf{T} K u_k,
   \qquad K = G^\mathsf{T} G,

updating ``u`` from the sparse rows: the arithmetic of mini-batch k-means on the dense
smeared images, with ~40× fewer operations per step and no dense rows. Dense rows go to
:class:`sklearn.cluster.MiniBatchKMeans`.

The jobs live in small modules: the result (:mod:`._kmeans_result`), the sparse
distances (:mod:`._smeared_rows`), k-means++ (:mod:`._seeding`), the mini-batch loop
(:mod:`._minibatch`) and the numba kernels (:mod:`._kmeans_kernels`).
"""

from numbers import Integral, Real

import numpy as np
from sklearn.cluster import MiniBatchKMeans
from sklearn.utils import check_array, check_random_state

from ..images import SparseImages
from ..images._image_kernels import numba_threads
from ..utils._sklearn_compat import (
    Interval,
    check_sample_weight,
    minibatch_counts,
    minibatch_ewa_inertia,
    validate_params,
)
from ._defaults import BATCH_SIZE
from ._kmeans_result import MiniBatchKMeansResult
from ._minibatch import run_minibatch
from ._smeared_rows import SparseRows, smeared_squared_norms

__all__ = ["BATCH_SIZE", "MiniBatchKMeansResult", "minibatch_kmeans", "smeared_squared_norms"]


def _validate_input(X):
    if isinstance(X, SparseImages):
        if not (np.all(np.isfinite(X.values))):
            raise ValueError("Input X contains NaN or infinity (in its pixel values).")
        return X, X.n_jets
    X = check_array(
        X, dtype=[np.float64, np.float32], order="C", ensure_min_samples=1, input_name="X"
    )
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

    Dense rows go to scikit-learn's :class:`~sklearn.cluster.MiniBatchKMeans`
    (``n_init=1``, ``init="k-means++"``). :class:`~hepcluster.images.SparseImages` go
    to the same algorithm step for step — greedy k-means++ on a subsample, random
    mini-batches, per-centre learning rates from accumulated weights, reassignment of
    starved centres, early stopping on the smoothed batch inertia — run on the sparse
    unsmeared images without forming the dense smeared rows, which scikit-learn cannot
    do (:mod:`hepcluster.scanning._minibatch`).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or SparseImages
        Dense rows (float32 or float64, fitted by scikit-learn), or the sparse
        unsmeared images of ``JetImageTransformer(sparse_output=True).transform``,
        clustered as the smeared images ``X.to_dense(smear=True)`` would be (float64).
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
        Candidates per k-means++ seed, ``2 + ln(n_clusters)`` by default. Sparse input
        only (``MiniBatchKMeans`` has no such parameter).
    compute_labels : bool, default=True
        Label every row and compute the exact weighted inertia at the end (one pass over
        the data); otherwise ``labels`` is None and ``inertia`` the smoothed estimate.
    x_squared_norms : array-like of shape (n_samples,), default=None
        Precomputed squared norms of the (smeared) rows, ``‖G x‖²`` for sparse input
        (:func:`smeared_squared_norms`); computed when not given. Share them between
        fits on the same rows. Dense input: checked, then left to scikit-learn.
    random_state : int, RandomState instance or None, default=None
        Seeds the subsample, the seeds, the mini-batches and the reassignments (for
        dense input: ``MiniBatchKMeans(random_state=...)``).
    n_jobs : int or None, default=None
        Sparse input: numba threads (see :class:`~hepcluster.JetImageTransformer`) for
        the passes over all rows (``‖G x‖²`` when not given, the final labels); results do not
        depend on it. The mini-batch steps run on one thread — each is well under a
        millisecond of work — and release the GIL, so independent fits (ensemble
        members) run in parallel threads. Dense input: scikit-learn's own threading.

    Returns
    -------
    MiniBatchKMeansResult
        ``centers`` (smeared for sparse input), ``unsmeared_centers``, ``labels``,
        ``inertia``, ``n_steps``, ``n_iter``, ``counts``.

    Raises
    ------
    ValueError
        When ``X`` or ``sample_weight`` contain NaN or infinity, weights are negative,
        fewer rows than ``n_clusters`` have positive weight, or ``n_local_trials`` is
        given with dense input.

    See Also
    --------
    sklearn.cluster.MiniBatchKMeans : What dense input runs, and what sparse input follows.
    hepcluster.images.nearest_centroid : Labels further sparse images with ``centers``.

    Notes
    -----
    **Sparse arithmetic.** Smearing is linear and sum-preserving, the
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

    **Differences of the sparse path from scikit-learn** (whose internals may change):
    one initialisation (``n_init=1``, no validation subsample), the first seed is drawn
    uniformly from the (weighted) subsample, the rows of a mini-batch are in row order
    (its draws are sorted) and arithmetic is float64. Results are statistically
    equivalent to ``MiniBatchKMeans`` on the dense smeared images (the tests compare
    inertias), not bit for bit equal; ``tests/test_kmeans.py`` checks the sparse path
    exactly against a dense twin of the same arithmetic.

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
    weight = check_sample_weight(
        sample_weight,
        np.empty((n_rows, 0)),
        dtype=np.float64,
        ensure_non_negative=True,
        allow_all_zero_weights=True,
    )
    n_samples = int(np.count_nonzero(weight > 0))
    if n_samples < n_clusters:
        raise ValueError(
            f"n_samples={n_samples} rows with positive sample_weight should be >= "
            f"n_clusters={n_clusters}."
        )
    if x_squared_norms is not None:
        x_squared_norms = check_array(
            x_squared_norms, dtype=np.float64, ensure_2d=False, input_name="x_squared_norms"
        )
        if x_squared_norms.shape != (n_rows,):
            raise ValueError(
                f"x_squared_norms has shape {x_squared_norms.shape}, expected ({n_rows},)."
            )
    options = {
        "batch_size": batch_size,
        "max_iter": max_iter,
        "max_no_improvement": max_no_improvement,
        "tol": tol,
        "reassignment_ratio": reassignment_ratio,
        "init_size": init_size,
        "compute_labels": compute_labels,
    }
    if not isinstance(X, SparseImages):
        if n_local_trials is not None:
            raise ValueError(
                "n_local_trials applies to SparseImages input only; dense rows are fitted "
                "by sklearn.cluster.MiniBatchKMeans, which has no such parameter."
            )
        return _sklearn_minibatch_kmeans(X, n_clusters, weight, random_state, **options)
    random_state = check_random_state(random_state)
    with numba_threads(n_jobs):
        data = SparseRows(X, x_squared_norms)
        return run_minibatch(
            data,
            weight,
            n_clusters,
            n_local_trials=n_local_trials,
            random_state=random_state,
            **options,
        )


def _sklearn_minibatch_kmeans(X, n_clusters, weight, random_state, **options):
    """Dense rows: :class:`sklearn.cluster.MiniBatchKMeans` with one initialisation."""
    km = MiniBatchKMeans(
        n_clusters, init="k-means++", n_init=1, random_state=random_state, **options
    ).fit(X, sample_weight=weight)
    labels = km.labels_ if options["compute_labels"] else None
    if options["compute_labels"]:
        inertia = float(km.inertia_)
    else:
        # the smoothed per-row batch inertia, as the sparse path reports it
        inertia = float(minibatch_ewa_inertia(km) * weight.sum())
    counts = minibatch_counts(km)
    if counts is None:
        counts = np.bincount(km.predict(X), weights=weight, minlength=n_clusters)
    return MiniBatchKMeansResult(
        centers=km.cluster_centers_,
        unsmeared_centers=None,
        labels=labels,
        inertia=inertia,
        n_steps=int(km.n_steps_),
        n_iter=int(km.n_iter_),
        counts=np.asarray(counts, dtype=np.float64),
    )
