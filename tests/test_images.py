"""JetImageTransformer, its numba kernels and the sparse labelling, against plain numpy."""

import logging

import numpy as np
import pytest
import scipy.ndimage
from _width_checks import IMAGE_WIDTH_CHECKS, SIGNED_PT_CHECKS
from sklearn.base import clone
from sklearn.cluster import MiniBatchKMeans
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import estimator_checks
from sklearn.utils.validation import validate_data

from hepcluster.images import (
    JetImageTransformer,
    SparseImages,
    _transformer,
    ensemble_nearest_centroid,
    gaussian_smearing_matrix,
    nearest_centroid,
    smearing_kernel,
    smearing_operator,
)
from hepcluster.images._image_kernels import jet_coordinates
from hepcluster.images._transformer import _check_constituents

# --------------------------------------------------------------------------------------
# Test data: jets with one to three prongs, variable multiplicity, zero padded.
# --------------------------------------------------------------------------------------


def wrap(phi):
    return phi - 2 * np.pi * np.ceil((phi - np.pi) / (2 * np.pi))


def random_jets(rng, n_jets, n_slots=24, *, spread=0.3, min_constituents=1):
    X = np.zeros((n_jets, n_slots, 3))
    for j in range(n_jets):
        n = rng.integers(min_constituents, n_slots + 1)
        n_prongs = rng.integers(1, 4)
        prong_eta = rng.uniform(-2, 2) + rng.normal(0, spread, n_prongs)
        prong_phi = rng.uniform(-np.pi, np.pi) + rng.normal(0, spread, n_prongs)
        which = rng.integers(0, n_prongs, n)
        pt = rng.exponential(20.0, n) * rng.uniform(0.3, 3.0, n_prongs)[which] + 0.5
        eta = prong_eta[which] + rng.normal(0, 0.05, n)
        phi = wrap(prong_phi[which] + rng.normal(0, 0.05, n))
        order = np.argsort(-pt)
        X[j, :n] = np.column_stack([pt, eta, phi])[order]
    return X.reshape(n_jets, -1)


@pytest.fixture(scope="module")
def jets():
    return random_jets(np.random.default_rng(1), 300)


@pytest.fixture(scope="module")
def many_jets():
    return random_jets(np.random.default_rng(7), 10_000, n_slots=30, spread=0.2)


# --------------------------------------------------------------------------------------
# Plain numpy reference of DESIGN.md §5, one jet at a time.
# --------------------------------------------------------------------------------------


def ref_frame(row, center=True, rotate=True, flip=True):
    pt, eta, phi = row.reshape(-1, 3).T
    real = pt > 0
    pt, eta, phi = pt[real], eta[real], phi[real]
    if center and pt.size:
        lead = np.argmax(pt)
        eta = eta - eta[lead]
        phi = wrap(phi - phi[lead])
        for _ in range(2):
            eta = eta - np.sum(pt * eta) / np.sum(pt)
            phi = wrap(phi - np.sum(pt * phi) / np.sum(pt))
    else:
        phi = wrap(phi)
    if rotate and pt.size:
        coords = np.stack([eta, phi])
        evals, evecs = np.linalg.eigh((coords * pt) @ coords.T)
        if not np.isclose(evals[0], evals[1], rtol=1e-12, atol=1e-300):
            v = evecs[:, 1]
            if v[0] < 0 or (v[0] == 0 and v[1] < 0):
                v = -v
            eta, phi = np.array([[v[0], v[1]], [-v[1], v[0]]]) @ coords
    if pt.size:  # round-off next to an axis is set to zero (SNAP in the kernels)
        tol = 1e-12 * max(np.abs(eta).max(), np.abs(phi).max())
        eta = np.where(np.abs(eta) <= tol, 0.0, eta)
        phi = np.where(np.abs(phi) <= tol, 0.0, phi)
    if flip and pt.size:
        quadrants = [(1, 1), (1, -1), (-1, 1), (-1, -1)]
        sums = [
            pt[((eta >= 0) == (se > 0)) & ((phi >= 0) == (sp > 0))].sum() for se, sp in quadrants
        ]
        se, sp = quadrants[int(np.argmax(sums))]
        eta, phi = se * eta, sp * phi
    return pt, eta, phi


def ref_smear(image, sigma):
    if sigma == 0:
        return image
    radius = int(4.0 * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    n = image.shape[0]
    padded = np.pad(image, radius, mode="symmetric")
    rows = sum(k * padded[i : i + n, :] for i, k in enumerate(kernel))
    return sum(k * rows[:, i : i + n] for i, k in enumerate(kernel))


def ref_images(
    X,
    n_pixels=40,
    extent=0.8,
    center=True,
    rotate=True,
    flip=True,
    gamma=0.5,
    smear_sigma=1.0,
    normalize=True,
):
    images = np.zeros((X.shape[0], n_pixels, n_pixels))
    n_outside = np.zeros(X.shape[0], dtype=int)
    for j, row in enumerate(X):
        pt, eta, phi = ref_frame(row, center, rotate, flip)
        inside = (eta >= -extent) & (eta < extent) & (phi >= -extent) & (phi < extent)
        n_outside[j] = np.count_nonzero(~inside)
        image, _, _ = np.histogram2d(
            eta[inside],
            phi[inside],
            bins=n_pixels,
            range=[[-extent, extent], [-extent, extent]],
            weights=pt[inside],
        )
        if image.sum() == 0:
            continue
        if normalize:
            image /= image.sum()
        image = image**gamma
        if normalize:
            image /= image.sum()
        image = ref_smear(image, smear_sigma)
        if normalize:
            image /= image.sum()
        images[j] = image
    return images.reshape(X.shape[0], -1), n_outside


def frame_of(X, **steps):
    eta, phi = jet_coordinates(np.ascontiguousarray(X, dtype=float), **steps)
    return eta, phi


# --------------------------------------------------------------------------------------
# Steps 1–3 on coordinates.
# --------------------------------------------------------------------------------------


def test_phi_is_wrapped_into_minus_pi_pi_without_centring():
    phi = np.array([np.pi, -np.pi, 3 * np.pi / 2, -3 * np.pi / 2, 7.0, 0.25])
    X = np.column_stack([np.ones_like(phi), np.zeros_like(phi), phi]).reshape(1, -1)
    _, out = frame_of(X, center=False, rotate=False, flip=False)
    np.testing.assert_allclose(out[0], wrap(phi), rtol=0, atol=1e-15)
    assert np.all((out > -np.pi) & (out <= np.pi))
    assert out[0, 0] == np.pi
    assert out[0, 1] == np.pi


def test_centring_matches_numpy_reference_and_zeroes_the_centroid(jets):
    eta, phi = frame_of(jets, center=True, rotate=False, flip=False)
    for j in range(0, jets.shape[0], 7):
        pt, ref_eta, ref_phi = ref_frame(jets[j], True, False, False)
        real = jets[j, 0::3] > 0
        np.testing.assert_allclose(eta[j, real], ref_eta, atol=1e-12)
        np.testing.assert_allclose(phi[j, real], ref_phi, atol=1e-12)
        assert abs(np.sum(pt * eta[j, real]) / pt.sum()) < 1e-12
        assert abs(np.sum(pt * phi[j, real]) / pt.sum()) < 1e-12
    assert np.all(np.isnan(eta[jets[:, 0::3] == 0]))


def test_centring_handles_phi_wraparound_at_pi():
    rng = np.random.default_rng(3)
    n = 15
    pt = np.sort(rng.uniform(1, 50, n))[::-1]
    d_eta, d_phi = rng.normal(0, 0.15, n), rng.normal(0, 0.15, n)
    at_zero = np.column_stack([pt, 0.3 + d_eta, d_phi]).reshape(1, -1)
    at_pi = np.column_stack([pt, 0.3 + d_eta, wrap(np.pi + d_phi)]).reshape(1, -1)
    assert np.any(at_pi[0, 2::3] > 0)  # straddles ±π
    assert np.any(at_pi[0, 2::3] < 0)
    for steps in [dict(rotate=False, flip=False), dict(rotate=True, flip=True)]:
        e0, p0 = frame_of(at_zero, center=True, **steps)
        e1, p1 = frame_of(at_pi, center=True, **steps)
        np.testing.assert_allclose(e1, e0, atol=1e-12)
        np.testing.assert_allclose(p1, p0, atol=1e-12)
    transformer = JetImageTransformer().fit(at_zero)
    np.testing.assert_allclose(transformer.transform(at_pi), transformer.transform(at_zero))
    np.testing.assert_allclose(transformer.transform(at_pi), ref_images(at_pi)[0], atol=1e-12)


def test_rotation_matches_numpy_reference(jets):
    for flip in (False, True):
        eta, phi = frame_of(jets, center=True, rotate=True, flip=flip)
        for j in range(0, jets.shape[0], 5):
            _, ref_eta, ref_phi = ref_frame(jets[j], True, True, flip)
            real = jets[j, 0::3] > 0
            np.testing.assert_allclose(eta[j, real], ref_eta, atol=1e-10)
            np.testing.assert_allclose(phi[j, real], ref_phi, atol=1e-10)


@pytest.mark.parametrize("angle", [0.3, 1.0, -0.7, np.pi / 2 - 0.1, 2.5])
def test_rotation_by_a_known_angle_is_undone(angle):
    # Two prongs on the η axis plus a little asymmetric radiation: principal axis = η.
    eta = np.array([-0.30, 0.25, 0.05, -0.10, 0.32])
    phi = np.array([0.00, 0.00, 0.04, -0.03, 0.02])
    pt = np.array([100.0, 60.0, 10.0, 5.0, 3.0])
    base = np.column_stack([pt, eta, phi]).reshape(1, -1)
    c, s = np.cos(angle), np.sin(angle)
    turned = np.column_stack([pt, c * eta - s * phi, s * eta + c * phi]).reshape(1, -1)
    e_base, p_base = frame_of(base, center=True, rotate=True, flip=True)
    e_turn, p_turn = frame_of(turned, center=True, rotate=True, flip=True)
    np.testing.assert_allclose(e_turn, e_base, atol=1e-12)
    np.testing.assert_allclose(p_turn, p_base, atol=1e-12)
    # The principal axis lies on η: no η–φ correlation, the η spread is the larger.
    e_turn, p_turn = frame_of(turned, center=True, rotate=True, flip=False)
    assert abs(np.sum(pt * e_turn[0] * p_turn[0])) < 1e-10
    assert np.sum(pt * e_turn[0] ** 2) > np.sum(pt * p_turn[0] ** 2)
    # Without flipping, the rotation is fixed up to a half turn.
    e_base, p_base = frame_of(base, center=True, rotate=True, flip=False)
    sign = np.sign(e_turn[0, 0] * e_base[0, 0])
    np.testing.assert_allclose(sign * e_turn, e_base, atol=1e-12)
    np.testing.assert_allclose(sign * p_turn, p_base, atol=1e-12)


def test_flip_puts_the_largest_quadrant_in_plus_plus(jets):
    eta, phi = frame_of(jets, center=True, rotate=True, flip=True)
    pt = jets[:, 0::3]
    real = pt > 0
    for j in range(jets.shape[0]):
        e, p, w = eta[j, real[j]], phi[j, real[j]], pt[j, real[j]]
        q_pp = w[(e >= 0) & (p >= 0)].sum()
        assert q_pp >= max(
            w[(e >= 0) & (p < 0)].sum(), w[(e < 0) & (p >= 0)].sum(), w[(e < 0) & (p < 0)].sum()
        )


@pytest.mark.parametrize(("flip_eta", "flip_phi"), [(True, False), (False, True), (True, True)])
def test_mirrored_jets_give_the_same_flipped_image(jets, flip_eta, flip_phi):
    mirrored = jets.copy()
    if flip_eta:
        mirrored[:, 1::3] *= -1
    if flip_phi:
        mirrored[:, 2::3] *= -1
    transformer = JetImageTransformer(rotate=False, n_pixels=25).fit(jets)
    np.testing.assert_allclose(transformer.transform(mirrored), transformer.transform(jets))


# --------------------------------------------------------------------------------------
# Steps 4–5 and the whole chain.
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        dict(n_pixels=25, extent=1.0),
        dict(n_pixels=33, gamma=0.3, smear_sigma=1.7),
        dict(center=False, rotate=False, flip=False, smear_sigma=0.0),
        dict(rotate=False, gamma=1.0),
        dict(flip=False, normalize=False, smear_sigma=0.6),
        dict(n_pixels=8, extent=0.4, smear_sigma=5.0),
    ],
)
def test_transform_matches_numpy_reference(jets, params):
    X = jets.copy()
    if params.get("center") is False:
        # Uncentred images need coordinates near the origin (as if relative to the axis).
        X[:, 1::3] *= 0.2
        X[:, 2::3] *= 0.2
    transformer = JetImageTransformer(**params).fit(X)
    expected, n_outside = ref_images(X, **params)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(transformer.transform(X), expected, rtol=1e-10, atol=1e-12 * scale)
    np.testing.assert_array_equal(transformer.transform_sparse(X).n_outside, n_outside)


def test_constituents_outside_the_extent_are_dropped_and_counted(caplog):
    # Uncentred coordinates: the inside/outside decision is on the given positions.
    eta = np.array([0.0, 0.79, -0.8, 0.8, 1.5, -0.81, 0.1])
    phi = np.array([0.0, 0.10, 0.0, 0.0, 0.0, 0.00, 3.0])
    pt = np.array([50.0, 40.0, 30.0, 20.0, 10.0, 5.0, 1.0])
    X = np.column_stack([pt, eta, phi]).reshape(1, -1)
    transformer = JetImageTransformer(
        center=False, rotate=False, flip=False, gamma=1.0, smear_sigma=0.0
    ).fit(X)
    with caplog.at_level(logging.INFO, logger="hepcluster.images"):
        sparse = transformer.transform_sparse(X)
    # Inside [−0.8, 0.8): η = 0, 0.79, −0.8; outside: 0.8, 1.5, −0.81 and φ = 3.
    assert sparse.n_outside.tolist() == [4]
    assert "4 of 7 constituents" in caplog.text
    np.testing.assert_allclose(sparse.values.sum(), 1.0)
    inside_pt = np.array([50.0, 40.0, 30.0])
    np.testing.assert_allclose(np.sort(sparse.values), np.sort(inside_pt / inside_pt.sum()))
    assert ref_images(X, center=False, rotate=False, flip=False)[1].tolist() == [4]


def test_gamma_one_and_sigma_zero_leave_the_normalised_pt_histogram(jets):
    transformer = JetImageTransformer(gamma=1.0, smear_sigma=0.0).fit(jets)
    images = transformer.transform(jets)
    for j in range(0, jets.shape[0], 11):
        pt, eta, phi = ref_frame(jets[j])
        hist, _, _ = np.histogram2d(eta, phi, bins=40, range=[[-0.8, 0.8]] * 2, weights=pt)
        np.testing.assert_allclose(images[j], hist.ravel() / hist.sum(), atol=1e-14)
    unsmeared = transformer.transform_sparse(jets).to_dense(smear=False)
    np.testing.assert_allclose(images, unsmeared, atol=1e-15)


def test_gamma_scaling_is_applied_to_the_normalised_image(jets):
    plain = JetImageTransformer(gamma=1.0, smear_sigma=0.0).fit(jets).transform(jets)
    scaled = JetImageTransformer(gamma=0.5, smear_sigma=0.0).fit(jets).transform(jets)
    expected = np.sqrt(plain)
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(scaled, expected, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_images_sum_to_one(jets, dtype):
    images = JetImageTransformer().fit_transform(jets.astype(dtype))
    assert images.dtype == dtype
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(images.sum(axis=1), 1.0, rtol=tol)
    assert images.min() >= 0


# --------------------------------------------------------------------------------------
# Smearing operator and the metric identity.
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n_pixels", "sigma"), [(40, 1.0), (9, 2.5), (5, 3.0), (12, 0.0)])
def test_smearing_matrix_is_scipy_gaussian_filter_with_reflect_and_keeps_the_sum(n_pixels, sigma):
    g = gaussian_smearing_matrix(n_pixels, sigma)
    basis = np.eye(n_pixels)
    expected = (
        scipy.ndimage.gaussian_filter1d(basis, sigma, axis=0, mode="reflect") if sigma else basis
    )
    np.testing.assert_allclose(g, expected, atol=1e-15)
    np.testing.assert_allclose(g.sum(axis=0), 1.0, rtol=1e-14)
    image = np.random.default_rng(0).random((n_pixels, n_pixels))
    G = smearing_operator(n_pixels, sigma)
    np.testing.assert_allclose(G @ image.ravel(), ref_smear(image, sigma).ravel(), atol=1e-14)
    np.testing.assert_allclose((G @ image.ravel()).sum(), image.sum(), rtol=1e-13)


def test_metric_identity_of_the_smearing_kernel():
    rng = np.random.default_rng(5)
    G, K = smearing_operator(12, 1.3), smearing_kernel(12, 1.3)
    x, u = rng.random(144), rng.random(144)
    lhs = np.sum((G @ x - G @ u) ** 2)
    np.testing.assert_allclose(lhs, (x - u) @ (K @ (x - u)), rtol=1e-12)
    np.testing.assert_allclose(K.toarray(), (G.T @ G).toarray(), atol=1e-15)


# --------------------------------------------------------------------------------------
# Sparse images and labelling.
# --------------------------------------------------------------------------------------


def test_sparse_labels_equal_minibatchkmeans_predict_on_dense_images(many_jets):
    transformer = JetImageTransformer().fit(many_jets)
    dense = transformer.transform(many_jets)
    sparse = transformer.transform_sparse(many_jets)
    assert sparse.n_jets == 10_000
    assert sparse.nnz < 30 * 10_000
    kmeans = MiniBatchKMeans(n_clusters=50, n_init=1, max_iter=5, random_state=0)
    kmeans.fit(dense[:3000])
    expected = kmeans.predict(dense)
    labels = nearest_centroid(sparse, kmeans.cluster_centers_)
    assert labels.dtype == expected.dtype
    np.testing.assert_array_equal(labels, expected)
    assert np.unique(labels).size > 25


def test_nearest_centroid_with_unsmeared_centroids_and_distances(jets):
    transformer = JetImageTransformer(n_pixels=30, smear_sigma=1.5).fit(jets)
    dense = transformer.transform(jets)
    sparse = transformer.transform_sparse(jets)
    groups = np.arange(jets.shape[0]) % 7
    unsmeared = np.stack([sparse[groups == k].mean(smear=False) for k in range(7)])
    smeared = unsmeared @ smearing_operator(30, 1.5).T.toarray()
    distances = ((dense[:, None, :] - smeared[None]) ** 2).sum(axis=-1)
    labels, best = nearest_centroid(sparse, unsmeared, smeared=False, return_distances=True)
    np.testing.assert_array_equal(labels, distances.argmin(axis=1))
    np.testing.assert_allclose(best, distances.min(axis=1), rtol=1e-9, atol=1e-15)
    np.testing.assert_array_equal(nearest_centroid(sparse, smeared), labels)


def test_nearest_centroid_of_rows_equals_the_copied_subset(jets):
    jit = JetImageTransformer(n_pixels=10).fit(jets)
    sparse, dense = jit.transform_sparse(jets), jit.transform(jets)
    rows = np.random.default_rng(3).choice(sparse.n_jets, 40)  # repeats, any order
    centroids = dense[:5]
    np.testing.assert_array_equal(
        nearest_centroid(sparse, centroids, rows=rows), nearest_centroid(sparse[rows], centroids)
    )
    labels, distances = nearest_centroid(sparse, centroids, rows=rows, return_distances=True)
    brute = ((dense[rows, None, :] - centroids[None]) ** 2).sum(axis=-1)
    np.testing.assert_array_equal(labels, brute.argmin(axis=1))
    np.testing.assert_allclose(distances, brute.min(axis=1), rtol=1e-9, atol=1e-15)
    assert nearest_centroid(sparse, centroids, rows=np.array([], dtype=int)).shape == (0,)
    with pytest.raises(ValueError, match="rows must lie"):
        nearest_centroid(sparse, centroids, rows=[sparse.n_jets])
    with pytest.raises(ValueError, match="1-D array"):
        nearest_centroid(sparse, centroids, rows=[0.5])


def test_ensemble_labels_equal_the_brute_force_labels_of_every_member(jets):
    jit = JetImageTransformer(n_pixels=12).fit(jets)
    sparse, dense = jit.transform_sparse(jets), jit.transform(jets)
    rng = np.random.default_rng(5)
    # more images than one block of the kernel, members of different centres
    rows = rng.choice(sparse.n_jets, 1500)
    members = np.stack([dense[rng.choice(sparse.n_jets, 6, replace=False)] for _ in range(4)])
    labels = ensemble_nearest_centroid(sparse, members, rows=rows, n_jobs=2)
    assert labels.shape == (4, rows.size)
    assert labels.dtype == np.int32
    for member, centroids in enumerate(members):
        brute = ((dense[rows, None, :] - centroids[None]) ** 2).sum(axis=-1)
        np.testing.assert_array_equal(labels[member], brute.argmin(axis=1))
        np.testing.assert_array_equal(
            labels[member], nearest_centroid(sparse, centroids, rows=rows)
        )
    np.testing.assert_array_equal(
        ensemble_nearest_centroid(sparse, members, n_jobs=1),
        ensemble_nearest_centroid(sparse, members, rows=np.arange(sparse.n_jets), n_jobs=2),
    )
    with pytest.raises(ValueError, match=r"shape \(n_members, n_clusters, 144\)"):
        ensemble_nearest_centroid(sparse, members[0])
    with pytest.raises(ValueError, match="NaN"):
        ensemble_nearest_centroid(sparse, np.full((2, 3, 144), np.nan))
    with pytest.raises(ValueError, match="rows must lie"):
        ensemble_nearest_centroid(sparse, members, rows=[-1])


def test_nearest_centroid_rejects_bad_input(jets):
    sparse = JetImageTransformer(n_pixels=10).fit(jets).transform_sparse(jets[:5])
    with pytest.raises(TypeError, match="SparseImages"):
        nearest_centroid(np.zeros((5, 100)), np.zeros((2, 100)))
    with pytest.raises(ValueError, match=r"shape \(n_clusters, 100\)"):
        nearest_centroid(sparse, np.zeros((2, 99)))
    with pytest.raises(ValueError, match="NaN"):
        nearest_centroid(sparse, np.full((2, 100), np.nan))


def test_selected_sparse_images_are_scipys_row_selection_exactly(jets):
    sparse = JetImageTransformer(n_pixels=20).fit(jets).transform_sparse(jets)
    n = len(sparse)
    reference = sparse.tocsr()
    mask = np.arange(n) % 4 == 1
    for rows in (
        np.array([5, 2, 2, n - 1, 0]),
        np.array([-1, -3]),
        mask,
        slice(3, 40, 7),
        np.array([], dtype=np.int64),
    ):
        selected = sparse[rows]
        expected = reference[np.arange(n)[rows]]
        np.testing.assert_array_equal(selected.indptr, expected.indptr)
        np.testing.assert_array_equal(selected.indices, expected.indices)
        np.testing.assert_array_equal(selected.values, expected.data)
        assert selected.indices.dtype == sparse.indices.dtype
        np.testing.assert_array_equal(selected.n_outside, sparse.n_outside[rows])


def test_sparse_images_select_convert_and_densify(jets):
    transformer = JetImageTransformer(n_pixels=20).fit(jets)
    sparse = transformer.transform_sparse(jets)
    dense = transformer.transform(jets)
    assert isinstance(sparse, SparseImages)
    assert len(sparse) == jets.shape[0]
    assert sparse.shape == (jets.shape[0], 400)
    assert np.all(np.diff(sparse.indptr) <= np.count_nonzero(jets[:, 0::3], axis=1))
    for start, stop in zip(sparse.indptr[:-1], sparse.indptr[1:], strict=True):
        assert np.all(np.diff(sparse.indices[start:stop]) > 0)  # sorted, unique
    rows = np.array([5, 2, 2, 77])
    np.testing.assert_allclose(sparse[rows].to_dense(), dense[rows], atol=1e-15)
    mask = np.arange(jets.shape[0]) % 3 == 0
    np.testing.assert_allclose(sparse[mask].to_dense(), dense[mask], atol=1e-15)
    np.testing.assert_allclose(
        sparse[10:20].tocsr().toarray(), sparse[10:20].to_dense(smear=False)
    )
    np.testing.assert_allclose(sparse.mean(), dense.mean(axis=0), atol=1e-15)
    smeared = (sparse.tocsr() @ smearing_operator(20, 1.0).T).toarray()
    np.testing.assert_allclose(smeared, dense, atol=1e-15)


# --------------------------------------------------------------------------------------
# Input handling.
# --------------------------------------------------------------------------------------


def test_padding_anywhere_and_three_dimensional_input_give_the_same_images(jets):
    transformer = JetImageTransformer().fit(jets)
    expected = transformer.transform(jets)
    wider = np.hstack([np.zeros((jets.shape[0], 6)), jets, np.zeros((jets.shape[0], 9))])
    wide_transformer = JetImageTransformer().fit(wider)
    np.testing.assert_allclose(wide_transformer.transform(wider), expected, atol=1e-15)
    three_d = jets.reshape(jets.shape[0], -1, 3)
    np.testing.assert_array_equal(transformer.transform(three_d), expected)


def test_empty_jets_raise_with_their_row_unless_asked_for_zero_images():
    X = np.array([[120.0, 1.2, -2.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match=r"1 empty jet\(s\).*first at row 1.*empty_jets='zero'"):
        JetImageTransformer().fit(X)
    transformer = JetImageTransformer().fit(X[:1])
    for method in (transformer.transform, transformer.transform_sparse):
        with pytest.raises(ValueError, match="first at row 1"):
            method(X)


def test_single_constituent_and_empty_jets():
    X = np.array([[120.0, 1.2, -2.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    transformer = JetImageTransformer(empty_jets="zero").fit(X)
    sparse = transformer.transform_sparse(X)
    # One constituent sits at the origin: pixel (20, 20), the one above both zeros.
    assert sparse.indices.tolist() == [20 * 40 + 20]
    assert sparse.values.tolist() == [1.0]
    images = transformer.transform(X)
    delta = np.zeros((40, 40))
    delta[20, 20] = 1.0
    np.testing.assert_allclose(images[0], ref_smear(delta, 1.0).ravel(), atol=1e-15)
    np.testing.assert_array_equal(images[1], 0.0)
    np.testing.assert_allclose(images[0], ref_images(X)[0][0], atol=1e-15)


def test_results_do_not_depend_on_threads_or_chunking(jets, monkeypatch):
    reference = JetImageTransformer(n_jobs=1).fit(jets)
    expected = reference.transform(jets)
    np.testing.assert_array_equal(
        clone(reference).set_params(n_jobs=-1).fit_transform(jets), expected
    )
    monkeypatch.setattr(_transformer, "_CHUNK_SLOTS", 24 * 7)
    np.testing.assert_array_equal(reference.transform(jets), expected)
    sparse = reference.transform_sparse(jets)
    centroids = expected[:9]
    np.testing.assert_array_equal(
        nearest_centroid(sparse, centroids, n_jobs=1),
        nearest_centroid(sparse, centroids, n_jobs=2),
    )


@pytest.mark.parametrize(
    ("X", "error", "match"),
    [
        (np.array([[1.0, 0.0, np.nan]]), ValueError, "NaN"),
        (np.array([[1.0, 0.0, np.inf]]), ValueError, "infinity"),
        (np.array([[10.0, 0.1, 0.2, -1.0, 0.0, 0.0]]), ValueError, "Negative .* pT"),
        (np.ones((2, 4)), ValueError, r"4 feature\(s\).*3·P columns"),
        (np.ones((2, 4, 2)), ValueError, r"shape \(n_jets, P, 3\)"),
    ],
)
def test_invalid_input_raises_clear_errors(X, error, match):
    with pytest.raises(error, match=match):
        JetImageTransformer().fit(X)
    fitted = JetImageTransformer().fit(np.ones((2, X.shape[1] // 3 * 3 or 3)))
    if X.ndim == 2 and X.shape[1] % 3 == 0:
        with pytest.raises(error, match=match):
            fitted.transform(X)


def test_transform_checks_the_width_seen_in_fit(jets):
    transformer = JetImageTransformer().fit(jets)
    with pytest.raises(ValueError, match="features"):
        transformer.transform(jets[:, :-3])


# --------------------------------------------------------------------------------------
# scikit-learn integration.
# --------------------------------------------------------------------------------------


def test_feature_names_set_output_and_pipeline(jets):
    pd = pytest.importorskip("pandas")
    transformer = JetImageTransformer(n_pixels=4).fit(jets)
    names = transformer.get_feature_names_out()
    assert names.shape == (16,)
    assert names[0] == "pixel_0_0"
    assert names[7] == "pixel_1_3"
    frame = JetImageTransformer(n_pixels=4).set_output(transform="pandas").fit_transform(jets)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(names)
    pipe = make_pipeline(
        FunctionTransformer(feature_names_out="one-to-one"), JetImageTransformer(n_pixels=4)
    )
    np.testing.assert_allclose(pipe.fit_transform(jets), transformer.transform(jets))
    assert list(pipe.get_feature_names_out()) == list(names)


class _AnyInputJetImageTransformer(JetImageTransformer):
    """Test-only: pads any width to 3·P and takes |pT|, so that generic checks can run."""

    def _validate(self, X, *, reset):
        X = validate_data(self, X, reset=reset, dtype=[np.float64, np.float32])
        X = np.hstack([X, np.zeros((X.shape[0], -X.shape[1] % 3), X.dtype)])
        X[:, 0::3] = np.abs(X[:, 0::3])
        _check_constituents(X, X.shape[1])
        return X


@pytest.mark.parametrize("check_name", sorted({*IMAGE_WIDTH_CHECKS, *SIGNED_PT_CHECKS}))
def test_generic_common_checks_on_valid_constituent_matrices(check_name):
    # tests/test_common.py marks these as expected failures because they feed widths
    # that are not multiples of 3 or negative pT; everything else they check must hold.
    check = getattr(estimator_checks, check_name)
    check("JetImageTransformer", _AnyInputJetImageTransformer(n_pixels=6))


def test_input_tags_do_not_claim_signed_coordinates_are_positive():
    tags = JetImageTransformer().__sklearn_tags__()
    assert not tags.input_tags.positive_only


def test_negative_pt_raises_the_negative_values_error():
    X = np.array([[100.0, -0.3, 0.2, -5.0, 0.1, -0.1]])
    with pytest.raises(ValueError, match="Negative values in data passed to JetImage"):
        JetImageTransformer(n_pixels=4).fit(X)
    # negative η and φ are ordinary coordinates
    JetImageTransformer(n_pixels=4).fit(np.abs(X) * [1, -1, -1, 1, -1, -1])


# --------------------------------------------------------------------------------------
# sparse_output: SparseImages through transform, fit_transform and Pipeline.
# --------------------------------------------------------------------------------------


def _assert_same_sparse(left, right):
    assert isinstance(left, SparseImages)
    assert isinstance(right, SparseImages)
    for name in ("indptr", "indices", "values", "n_outside"):
        np.testing.assert_array_equal(getattr(left, name), getattr(right, name))
    for name in ("n_pixels", "extent", "smear_sigma", "normalize"):
        assert getattr(left, name) == getattr(right, name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_output_is_what_transform_sparse_gives(jets, dtype):
    X = jets.astype(dtype)
    params = dict(n_pixels=12, extent=0.5, gamma=0.7, smear_sigma=0.8)
    dense = JetImageTransformer(**params).fit(X)
    sparse = JetImageTransformer(**params, sparse_output=True).fit(X)
    _assert_same_sparse(sparse.transform(X), dense.transform_sparse(X))
    _assert_same_sparse(sparse.fit_transform(X), dense.transform_sparse(X))
    _assert_same_sparse(sparse.transform_sparse(X), dense.transform_sparse(X))
    np.testing.assert_allclose(
        sparse.transform(X).to_dense(smear=True), dense.transform(X), rtol=1e-5, atol=1e-7
    )
    # the default is unchanged: dense rows
    assert isinstance(dense.transform(X), np.ndarray)


def test_sparse_output_refuses_dataframe_containers(jets):
    pytest.importorskip("pandas")
    sklearn = pytest.importorskip("sklearn")
    with pytest.raises(ValueError, match=r"sparse_output=True.*pandas DataFrame"):
        JetImageTransformer(sparse_output=True).set_output(transform="pandas")
    # "default" stays allowed
    transformer = JetImageTransformer(n_pixels=4, sparse_output=True).set_output(
        transform="default"
    )
    assert isinstance(transformer.fit_transform(jets), SparseImages)
    # switched to sparse after asking for pandas: the call says why, before any work
    late = JetImageTransformer(n_pixels=4).set_output(transform="pandas").fit(jets)
    late.set_params(sparse_output=True)
    with pytest.raises(ValueError, match=r"set_output\(transform='default'\)"):
        late.transform(jets)
    with pytest.raises(ValueError, match="pandas DataFrame"):
        late.fit_transform(jets)
    # the global configuration counts too
    with sklearn.config_context(transform_output="pandas"):
        with pytest.raises(ValueError, match="pandas DataFrame"):
            JetImageTransformer(n_pixels=4, sparse_output=True).fit_transform(jets)
        frame = JetImageTransformer(n_pixels=4).fit_transform(jets)
    assert frame.shape == (jets.shape[0], 16)


def test_image_building_reports_progress_per_chunk(jets, monkeypatch, capsys):
    calls = []
    real_progress = _transformer.progress

    def recording_progress(**kwargs):
        bar = real_progress(**kwargs)
        updates = []
        calls.append((kwargs, updates))
        update = bar.update
        bar.update = lambda n=1: (updates.append(n), update(n))
        return bar

    monkeypatch.setattr(_transformer, "progress", recording_progress)
    transformer = JetImageTransformer(n_pixels=8, sparse_output=True).fit(jets)
    transformer.transform(jets)  # one chunk: no bar
    ((kwargs, updates),) = calls
    assert kwargs["enabled"] is False
    monkeypatch.setattr(_transformer, "_CHUNK_SLOTS", 24 * 7)  # 7 jets a chunk
    calls.clear()
    chunked = transformer.transform(jets)
    ((kwargs, updates),) = calls
    assert kwargs["unit"] == "jet"
    assert kwargs["total"] == jets.shape[0]
    assert kwargs["enabled"] is None  # follows hepcluster's progress_bar setting
    assert updates == [7] * (jets.shape[0] // 7) + [jets.shape[0] % 7]
    # pytest's captured stderr is not a terminal: the bar stays quiet (log records that
    # an earlier test's logging set-up lets through are not a bar)
    err = capsys.readouterr().err
    assert "%|" not in err, err
    assert "jet/s" not in err, err
    _assert_same_sparse(chunked, JetImageTransformer(n_pixels=8).fit(jets).transform_sparse(jets))


def test_sparse_images_flow_through_a_pipeline_into_the_scanner():
    from sklearn.pipeline import Pipeline

    from hepcluster import ClusterScanner
    from hepcluster.datasets import make_dijet_events

    events = make_dijet_events(3000, 300, mjj_range=(2950.0, 3500.0), random_state=3)
    X, mjj, _ = events.jets()
    bins = (3000.0, 3100.0, 3200.0, 3300.0, 3400.0, 3500.0)
    options = dict(n_clusters=6, bins=bins, n_ensemble=2, max_iter=10, random_state=0)
    pipe = Pipeline(
        [
            ("images", JetImageTransformer(n_pixels=16, sparse_output=True)),
            ("scan", ClusterScanner(**options)),
        ]
    ).fit(X, mjj)
    images = pipe[:-1].transform(X)
    assert isinstance(images, SparseImages)
    by_hand_images = JetImageTransformer(n_pixels=16).fit(X).transform_sparse(X)
    by_hand = ClusterScanner(**options).fit(by_hand_images, mjj)
    expected = by_hand.scan(by_hand_images, mjj).statistic
    assert pipe[-1].scan(images, mjj).statistic == expected
    assert pipe[-1].test_statistic(images, mjj) == expected
    np.testing.assert_array_equal(pipe.predict(X), by_hand.predict(by_hand_images))
