"""Mini-batch k-means on sparse jet images: exactness, quality, weights, determinism.

The sparse path (our kernel) is checked against :class:`DenseRows`, the dense twin of its
arithmetic driven by the same loop; dense input of ``minibatch_kmeans`` is
scikit-learn's ``MiniBatchKMeans``.
"""

import numpy as np
import pytest
from sklearn.cluster import MiniBatchKMeans
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight

from hepcluster.datasets import make_dijet_events
from hepcluster.images import JetImageTransformer, nearest_centroid, smearing_kernel
from hepcluster.scanning import _kmeans_kernels
from hepcluster.scanning._kmeans import BATCH_SIZE, minibatch_kmeans, smeared_squared_norms
from hepcluster.scanning._minibatch import run_minibatch
from hepcluster.scanning._smeared_rows import smearing_metric

N_CLUSTERS = 50

# --------------------------------------------------------------------------------------
# The reference: the dense twin of the sparse arithmetic, in plain numpy
# --------------------------------------------------------------------------------------


def dense_accumulate(X, labels, sums, counts):
    """Sum the rows of each label in row order (the order of the sparse kernel)."""
    sums[:] = 0.0
    np.add.at(sums, labels, X)
    counts[:] = np.bincount(labels, minlength=counts.shape[0])


class DenseRows:
    """Dense float64 rows for the mini-batch loop; centres live in the same space."""

    unsmeared = False

    def __init__(self, X, sq_norms=None):
        self.X = X
        self.n_rows, self.n_features = X.shape
        self.sq_norms = np.einsum("ij,ij->i", X, X) if sq_norms is None else sq_norms

    def subsample(self, rows):
        return DenseRows(self.X[rows], self.sq_norms[rows])

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
        dense_accumulate(batch, labels, sums, counts)
        return labels, best

    def squared_shift(self, old_state, new_state):
        return float(np.sum((new_state[0] - old_state[0]) ** 2))

    def smeared(self, centers):
        return centers

    def mean_variance(self, weight):
        mean = weight @ self.X / weight.sum()
        second = weight @ self.sq_norms / weight.sum()
        return (second - mean @ mean) / self.n_features


def reference_kmeans(
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
    random_state=None,
):
    """The sparse fit's algorithm on dense rows: what it must reproduce on smeared images."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
    return run_minibatch(
        DenseRows(X),
        weight,
        n_clusters,
        batch_size=batch_size,
        max_iter=max_iter,
        max_no_improvement=max_no_improvement,
        tol=tol,
        reassignment_ratio=reassignment_ratio,
        init_size=init_size,
        n_local_trials=n_local_trials,
        compute_labels=compute_labels,
        random_state=check_random_state(random_state),
    )


# --------------------------------------------------------------------------------------
# Test data: jet images of synthetic dijet events (QCD and a two-prong signal).
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def events():
    # 5500 events, 11 000 jets (≥ 10⁴ for the exactness test).
    return make_dijet_events(5000, 500, random_state=3)


@pytest.fixture(scope="module")
def images(events):
    X, _, _ = events.jets()
    return JetImageTransformer().fit(X).transform_sparse(X)


@pytest.fixture(scope="module")
def dense(images):
    return images.to_dense(smear=True, dtype=np.float64)


@pytest.fixture(scope="module")
def bootstrap_weights(events):
    # Poisson(1) multiplicities per event, applied to both jets (DESIGN.md §6, §7).
    rng = np.random.default_rng(11)
    return np.repeat(rng.poisson(1.0, len(events)), 2).astype(np.float64)


def brute_force_inertia(dense, centers, weight=None):
    """Weighted Σ min_k ‖x − c_k‖², directly in the dense space."""
    distances = ((dense[:, None, :] - centers[None, :, :]) ** 2).sum(axis=-1)
    closest = distances.min(axis=1)
    return float(closest.sum() if weight is None else weight @ closest)


def dense_inertia(dense, centers, weight=None):
    """The same, through ‖x‖² − 2x·c + ‖c‖² (memory-friendly for many rows)."""
    distances = (
        (dense**2).sum(axis=1)[:, None] - 2.0 * dense @ centers.T + (centers**2).sum(axis=1)
    )
    closest = np.maximum(distances.min(axis=1), 0.0)
    return float(closest.sum() if weight is None else weight @ closest)


# --------------------------------------------------------------------------------------
# Kernels against plain numpy
# --------------------------------------------------------------------------------------


def test_sparse_sq_norms_match_the_dense_smeared_images(images, dense):
    np.testing.assert_allclose(smeared_squared_norms(images), (dense**2).sum(axis=1), rtol=1e-12)


def test_sparse_seed_distances_match_brute_force(images, dense):
    sub = np.arange(500)
    small = images[sub]
    _, k1d, lo, hi = smearing_metric(images)
    candidates = np.array([3, 17, 17, 499], dtype=np.int64)
    out = np.empty((4, 500))
    _kmeans_kernels.sparse_seed_distances(
        small.indptr,
        small.indices,
        small.values,
        smeared_squared_norms(small),
        candidates,
        images.n_pixels,
        k1d,
        lo,
        hi,
        out,
    )
    expected = ((dense[sub][None, :, :] - dense[candidates][:, None, :]) ** 2).sum(axis=-1)
    np.testing.assert_allclose(out, expected, atol=1e-15)
    assert np.all(out[np.arange(4), candidates] == 0.0)


def test_sparse_assign_matches_argmin_of_dense_distances(images, dense):
    rng = np.random.default_rng(0)
    u = images[rng.choice(images.n_jets, 20, replace=False)].to_dense(smear=False)
    u = 0.5 * u + 0.5 * u[::-1]  # not data points
    K = smearing_kernel(images.n_pixels, images.smear_sigma).toarray()
    weights = np.ascontiguousarray(K @ u.T)
    bias = -0.5 * np.einsum("kp,pk->k", u, weights)
    rows = rng.integers(0, images.n_jets, 700)
    labels = np.empty(700, dtype=np.int32)
    best = np.empty(700)
    _kmeans_kernels.sparse_assign(
        images.indptr, images.indices, images.values, rows, weights, bias, labels, best
    )
    g = images.smearing_matrix()
    centers = np.kron(g, g) @ u.T
    distances = ((dense[rows][:, :, None] - centers[None, :, :]) ** 2).sum(axis=1)
    np.testing.assert_array_equal(labels, distances.argmin(axis=1))
    sq = (dense[rows] ** 2).sum(axis=1)
    np.testing.assert_allclose(sq - 2.0 * best, distances.min(axis=1), atol=1e-14)


def test_accumulate_and_update_follow_the_learning_rate_rule(images, dense):
    rng = np.random.default_rng(1)
    k, n_features = 6, images.n_pixels**2
    u = images[rng.choice(images.n_jets, k, replace=False)].to_dense(smear=False)
    u[k - 1] += 1.0  # far from everything: receives no row
    K = smearing_kernel(images.n_pixels, images.smear_sigma).toarray()
    weights = np.ascontiguousarray(K @ u.T)
    bias = -0.5 * np.einsum("kp,pk->k", u, weights)
    rows = rng.integers(0, images.n_jets, 300)
    batch = images[rows].to_dense(smear=False)
    labels = np.empty(300, dtype=np.int32)
    best = np.empty(300)
    sums = np.full((k, n_features), np.nan)
    counts = np.full(k, np.nan)
    _kmeans_kernels.sparse_assign_accumulate(
        images.indptr,
        images.indices,
        images.values,
        rows,
        weights,
        bias,
        labels,
        best,
        sums,
        counts,
    )
    g = images.smearing_matrix()
    centers = u @ np.kron(g, g).T
    distances = ((dense[rows][:, :, None] - centers.T[None, :, :]) ** 2).sum(axis=1)
    np.testing.assert_array_equal(labels, distances.argmin(axis=1))
    np.testing.assert_array_equal(counts, np.bincount(labels, minlength=k))
    expected_sums = np.stack([batch[labels == c].sum(axis=0) for c in range(k)])
    np.testing.assert_allclose(sums, expected_sums, rtol=1e-13, atol=1e-15)
    dense_sums, dense_counts = np.empty_like(sums), np.empty_like(counts)
    dense_accumulate(batch, labels, dense_sums, dense_counts)
    np.testing.assert_array_equal(dense_sums, sums)  # same order of additions
    np.testing.assert_array_equal(dense_counts, counts)

    weight_sums = np.array([0.0, 3.0, 10.0, 1.0, 7.0, 5.0])
    expected = u.copy()
    expected_weights = weight_sums.copy()
    for c in range(k):
        mine = labels == c
        if mine.any():  # (W u + Σ x) / (W + c): learning rate c / (W + c)
            total = weight_sums[c] + mine.sum()
            expected[c] = (u[c] * weight_sums[c] + batch[mine].sum(axis=0)) / total
            expected_weights[c] = total
    updated = u.copy()
    _kmeans_kernels.apply_update(updated, weight_sums, sums, counts)
    np.testing.assert_allclose(updated, expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(weight_sums, expected_weights)
    assert counts[k - 1] == 0
    np.testing.assert_array_equal(updated[k - 1], u[k - 1])


# --------------------------------------------------------------------------------------
# The sparse fit is the dense fit on the smeared images
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "bootstrap"])
def test_sparse_fit_equals_dense_fit_on_smeared_images(images, dense, bootstrap_weights, weighted):
    weight = bootstrap_weights if weighted else None
    sparse = minibatch_kmeans(images, N_CLUSTERS, sample_weight=weight, random_state=7)
    reference = reference_kmeans(dense, N_CLUSTERS, sample_weight=weight, random_state=7)
    assert images.n_jets >= 10_000
    assert sparse.n_steps == reference.n_steps > 5
    np.testing.assert_array_equal(sparse.labels, reference.labels)
    np.testing.assert_allclose(sparse.centers, reference.centers, rtol=0, atol=1e-13)
    np.testing.assert_allclose(sparse.counts, reference.counts, rtol=1e-15)
    np.testing.assert_allclose(sparse.inertia, reference.inertia, rtol=1e-10)
    assert reference.unsmeared_centers is None
    g = images.smearing_matrix()
    np.testing.assert_allclose(
        sparse.centers, sparse.unsmeared_centers @ np.kron(g, g).T, rtol=0, atol=1e-15
    )


def test_tolerance_stops_both_paths_at_the_same_step(images, dense):
    rows = slice(0, 4000)
    kwargs = {"tol": 0.02, "batch_size": 512, "max_no_improvement": None, "random_state": 2}
    sparse = minibatch_kmeans(images[rows], 20, **kwargs)
    reference = reference_kmeans(dense[rows], 20, **kwargs)
    assert sparse.n_steps == reference.n_steps
    assert sparse.n_steps < (100 * 4000) // 512
    np.testing.assert_array_equal(sparse.labels, reference.labels)


def test_result_reports_the_inertia_and_labels_of_its_centres(images, dense, bootstrap_weights):
    result = minibatch_kmeans(images, 12, sample_weight=bootstrap_weights, random_state=0)
    subset = slice(0, 3000)
    distances = ((dense[subset, None, :] - result.centers[None]) ** 2).sum(axis=-1)
    np.testing.assert_array_equal(result.labels[subset], distances.argmin(axis=1))
    expected = dense_inertia(dense, result.centers, bootstrap_weights)
    np.testing.assert_allclose(result.inertia, expected, rtol=1e-10)
    np.testing.assert_allclose(
        brute_force_inertia(dense[subset], result.centers, bootstrap_weights[subset]),
        bootstrap_weights[subset] @ distances.min(axis=1),
        rtol=1e-12,
    )
    # the centres label further sparse images through nearest_centroid
    np.testing.assert_array_equal(nearest_centroid(images, result.centers), result.labels)
    np.testing.assert_array_equal(
        nearest_centroid(images, result.unsmeared_centers, smeared=False), result.labels
    )


def test_without_labels_the_inertia_is_the_smoothed_batch_estimate(images):
    exact = minibatch_kmeans(images, N_CLUSTERS, random_state=4)
    quick = minibatch_kmeans(images, N_CLUSTERS, compute_labels=False, random_state=4)
    assert quick.labels is None
    np.testing.assert_array_equal(quick.centers, exact.centers)
    assert quick.inertia == pytest.approx(exact.inertia, rel=0.15)


def test_precomputed_squared_norms_give_the_same_fit(images):
    norms = smeared_squared_norms(images)
    a = minibatch_kmeans(images, N_CLUSTERS, random_state=5)
    b = minibatch_kmeans(images, N_CLUSTERS, x_squared_norms=norms, random_state=5)
    np.testing.assert_array_equal(a.centers, b.centers)
    with pytest.raises(ValueError, match="x_squared_norms has shape"):
        minibatch_kmeans(images, N_CLUSTERS, x_squared_norms=norms[:-1])


# --------------------------------------------------------------------------------------
# Quality: as good as scikit-learn's MiniBatchKMeans on the dense smeared images
# --------------------------------------------------------------------------------------


def test_inertia_is_comparable_to_sklearn_minibatch_kmeans(images, dense):
    ours, theirs = [], []
    for seed in range(3):
        result = minibatch_kmeans(images, N_CLUSTERS, batch_size=2048, random_state=seed)
        ours.append(dense_inertia(dense, result.centers))
        km = MiniBatchKMeans(N_CLUSTERS, batch_size=2048, n_init=1, random_state=seed)
        theirs.append(km.fit(dense).inertia_)
    assert np.mean(ours) == pytest.approx(np.mean(theirs), rel=0.03)
    # and far better than a clustering that ignores the data
    assert np.mean(ours) < 0.8 * dense_inertia(dense, dense.mean(axis=0, keepdims=True))


# --------------------------------------------------------------------------------------
# Dense input is scikit-learn's MiniBatchKMeans
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dense_input_is_sklearn_minibatch_kmeans(dense, bootstrap_weights, dtype):
    X = dense[:3000].astype(dtype)
    weight = bootstrap_weights[:3000]
    ours = minibatch_kmeans(
        X, 12, sample_weight=weight, batch_size=256, max_iter=20, random_state=3
    )
    km = MiniBatchKMeans(12, batch_size=256, max_iter=20, n_init=1, random_state=3)
    km.fit(X, sample_weight=weight)
    np.testing.assert_array_equal(ours.centers, km.cluster_centers_)
    assert ours.centers.dtype == dtype
    np.testing.assert_array_equal(ours.labels, km.labels_)
    assert ours.inertia == km.inertia_
    assert (ours.n_steps, ours.n_iter) == (km.n_steps_, km.n_iter_)
    assert ours.unsmeared_centers is None
    assert ours.counts.shape == (12,)
    assert np.all(ours.counts >= 0)
    quick = minibatch_kmeans(X, 12, sample_weight=weight, batch_size=256, compute_labels=False)
    assert quick.labels is None
    assert np.isfinite(quick.inertia)


def test_dense_input_and_the_sparse_only_option(dense):
    with pytest.raises(ValueError, match="n_local_trials applies to SparseImages"):
        minibatch_kmeans(dense[:100], 3, n_local_trials=4)


def test_sparse_and_sklearn_dense_fits_agree_statistically(images, dense):
    sparse = minibatch_kmeans(images, 20, random_state=1)
    reference = minibatch_kmeans(dense, 20, random_state=1)
    assert dense_inertia(dense, sparse.centers) == pytest.approx(
        dense_inertia(dense, reference.centers), rel=0.05
    )


# --------------------------------------------------------------------------------------
# Sample weights
# --------------------------------------------------------------------------------------


def test_zero_weight_rows_are_the_same_as_dropping_them(images, bootstrap_weights):
    keep = bootstrap_weights > 0
    assert 0.2 < (~keep).mean() < 0.5
    full = minibatch_kmeans(images, N_CLUSTERS, sample_weight=bootstrap_weights, random_state=9)
    dropped = minibatch_kmeans(
        images[keep], N_CLUSTERS, sample_weight=bootstrap_weights[keep], random_state=9
    )
    np.testing.assert_array_equal(full.centers, dropped.centers)
    np.testing.assert_array_equal(full.labels[keep], dropped.labels)
    assert full.inertia == pytest.approx(dropped.inertia, rel=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_zero_weight_rows_are_never_seeds(seed):
    # Three blobs of weighted rows and far-away zero-weight outliers: a seed or an
    # update from an outlier would leave a centre far from every blob.
    rng = np.random.default_rng(seed)
    blobs = np.concatenate([rng.normal(c, 0.1, (40, 2)) for c in (0.0, 5.0, 10.0)])
    outliers = rng.normal(1000.0, 1.0, (200, 2))
    X = np.concatenate([outliers[:100], blobs, outliers[100:]])
    weight = np.r_[np.zeros(100), rng.integers(1, 4, 120), np.zeros(100)].astype(float)
    result = minibatch_kmeans(X, 6, sample_weight=weight, batch_size=32, random_state=seed)
    assert np.all(np.abs(result.centers) < 11.0)
    assert result.inertia == pytest.approx(
        brute_force_inertia(X, result.centers, weight), rel=1e-10
    )


def test_integer_weights_act_like_repeated_rows(images, dense, bootstrap_weights):
    # Statistically, not exactly: mini-batch sampling and the number of steps differ.
    repeated = np.repeat(np.arange(images.n_jets), bootstrap_weights.astype(int))
    weighted, copies = [], []
    for seed in range(3):
        a = minibatch_kmeans(
            images, N_CLUSTERS, sample_weight=bootstrap_weights, random_state=seed
        )
        b = minibatch_kmeans(images[repeated], N_CLUSTERS, random_state=seed)
        weighted.append(dense_inertia(dense, a.centers, bootstrap_weights))
        copies.append(dense_inertia(dense, b.centers, bootstrap_weights))
        np.testing.assert_allclose(b.inertia, copies[-1], rtol=1e-9)
    assert np.mean(weighted) == pytest.approx(np.mean(copies), rel=0.03)


# --------------------------------------------------------------------------------------
# Determinism
# --------------------------------------------------------------------------------------


def test_same_random_state_gives_the_same_fit(images):
    a = minibatch_kmeans(images, N_CLUSTERS, random_state=np.random.RandomState(3))
    b = minibatch_kmeans(images, N_CLUSTERS, random_state=3)
    np.testing.assert_array_equal(a.centers, b.centers)
    np.testing.assert_array_equal(a.labels, b.labels)
    c = minibatch_kmeans(images, N_CLUSTERS, random_state=4)
    assert not np.array_equal(a.centers, c.centers)


def test_results_do_not_depend_on_the_number_of_threads(images, bootstrap_weights):
    one = minibatch_kmeans(
        images, N_CLUSTERS, sample_weight=bootstrap_weights, random_state=6, n_jobs=1
    )
    two = minibatch_kmeans(
        images, N_CLUSTERS, sample_weight=bootstrap_weights, random_state=6, n_jobs=2
    )
    np.testing.assert_array_equal(one.centers, two.centers)
    np.testing.assert_array_equal(one.labels, two.labels)
    assert one.inertia == two.inertia
    np.testing.assert_array_equal(
        smeared_squared_norms(images, n_jobs=1), smeared_squared_norms(images, n_jobs=2)
    )


# --------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------


def test_more_clusters_than_weighted_rows_is_an_error(images):
    weight = np.zeros(images.n_jets)
    weight[:10] = 1.0
    with pytest.raises(ValueError, match=r"n_samples=10 .* n_clusters=11"):
        minibatch_kmeans(images, 11, sample_weight=weight)
    with pytest.raises(ValueError, match=r"n_samples=0 .* n_clusters=1"):
        minibatch_kmeans(images, 1, sample_weight=np.zeros(images.n_jets))
    with pytest.raises(ValueError, match=r"n_samples=5 .* n_clusters=6"):
        minibatch_kmeans(np.ones((5, 3)), 6)


def test_nan_and_negative_input_are_errors(images):
    X = np.random.default_rng(0).random((30, 4))
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        minibatch_kmeans(X, 2)
    small = images[np.arange(30)]
    values = small.values.copy()
    values[5] = np.inf
    broken = type(small)(**{**small.__dict__, "values": values})
    with pytest.raises(ValueError, match="NaN or infinity"):
        minibatch_kmeans(broken, 2)
    weight = np.ones(30)
    weight[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        minibatch_kmeans(small, 2, sample_weight=weight)
    weight[0] = -1.0
    with pytest.raises(ValueError, match="Negative"):
        minibatch_kmeans(small, 2, sample_weight=weight)
    with pytest.raises(ValueError, match="n_clusters"):
        minibatch_kmeans(small, 0)
    with pytest.raises(ValueError, match="batch_size"):
        minibatch_kmeans(small, 2, batch_size=0)
