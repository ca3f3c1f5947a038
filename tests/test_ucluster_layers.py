"""UCluster's Keras parts: GAPLayer, ABCNet, the losses, against independent computations."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up notices
keras = pytest.importorskip("keras")

from hepcluster.ucluster import (  # noqa: E402 (after the optional import)
    ClusteringLayer,
    FocalLoss,
    GAPLayer,
    build_abcnet,
    clustering_loss,
    focal_loss,
)
from hepcluster.ucluster._layers import ScaleNormalization, knn_indices  # noqa: E402
from hepcluster.ucluster._losses import sinkhorn_assignment  # noqa: E402

RNG = np.random.default_rng(42)


def _numpy(tensor):
    return (
        np.asarray(keras.ops.convert_to_numpy(tensor))
        if not hasattr(tensor, "numpy")
        else tensor.numpy()
    )


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _point_clouds(n_samples=4, n_points=12, n_features=5, n_real=(12, 9, 3, 7)):
    features = RNG.normal(size=(n_samples, n_points, n_features)).astype("float32")
    mask = np.zeros((n_samples, n_points), dtype="float32")
    for i, n in enumerate(n_real):
        mask[i, :n] = 1.0
    features *= mask[..., None]
    coordinates = np.ascontiguousarray(features[..., :2])
    return features, coordinates, mask


# -- losses ------------------------------------------------------------------------------


@pytest.mark.parametrize("gamma", [0.0, 2.0, 3.5])
def test_focal_loss_matches_numpy(gamma):
    probabilities = _softmax(RNG.normal(size=(50, 20))).astype("float32")
    labels = RNG.integers(0, 20, size=50)
    p_true = probabilities[np.arange(50), labels]
    expected = -((1 - p_true) ** gamma) * np.log(p_true)
    np.testing.assert_allclose(
        _numpy(focal_loss(labels, probabilities, gamma)), expected, rtol=1e-5
    )
    mean = _numpy(FocalLoss(gamma)(labels, probabilities))
    np.testing.assert_allclose(mean, expected.mean(), rtol=1e-5)


def test_focal_loss_with_gamma_zero_is_the_cross_entropy():
    probabilities = _softmax(RNG.normal(size=(30, 7))).astype("float32")
    labels = RNG.integers(0, 7, size=30)
    cross_entropy = keras.losses.SparseCategoricalCrossentropy()(labels, probabilities)
    np.testing.assert_allclose(
        _numpy(FocalLoss(gamma=0.0)(labels, probabilities)), _numpy(cross_entropy), rtol=1e-5
    )


def test_per_particle_focal_loss_averages_over_real_particles():
    probabilities = _softmax(RNG.normal(size=(3, 6, 4))).astype("float32")
    labels = RNG.integers(0, 4, size=(3, 6))
    labels[0, 4:] = -1
    labels[2, 1:] = -1
    expected = []
    for sample in range(3):
        real = labels[sample] >= 0
        p = probabilities[sample, real, labels[sample, real]]
        expected.append(np.mean(-((1 - p) ** 2) * np.log(p)))
    np.testing.assert_allclose(_numpy(focal_loss(labels, probabilities)), expected, rtol=1e-5)


@pytest.mark.parametrize("alpha", [0.1, 1.0, 25.0])
def test_clustering_loss_matches_numpy(alpha):
    embedding = RNG.normal(size=(40, 3)).astype("float32")
    centroids = RNG.normal(size=(4, 3)).astype("float32")
    distances = ((embedding[:, None, :] - centroids[None]) ** 2).sum(-1)
    expected = (distances * _softmax(-alpha * distances)).sum(-1)
    np.testing.assert_allclose(_numpy(clustering_loss(distances, alpha)), expected, rtol=1e-5)

    layer = ClusteringLayer(4, alpha=alpha)
    layer.build((None, 3))
    layer.centroids.assign(centroids)
    outputs = layer(embedding)
    np.testing.assert_allclose(_numpy(outputs["distances"]), distances, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        _numpy(outputs["assignment"]), _softmax(-alpha * distances), rtol=1e-4, atol=1e-7
    )
    np.testing.assert_allclose(_numpy(outputs["loss"]), expected, rtol=1e-5)


def test_clustering_layer_alpha_is_a_non_trainable_weight_and_centroids_train():
    layer = ClusteringLayer(3, alpha=1.0)
    layer.build((None, 2))
    assert [w.name for w in layer.trainable_weights] == ["centroids"]
    layer.alpha.assign(7.0)
    assert float(_numpy(layer.alpha)) == 7.0


def test_sinkhorn_assignment_has_the_prescribed_cluster_proportions():
    distances = RNG.uniform(0, 4, size=(300, 3)).astype("float32")
    proportions = [0.5, 0.3, 0.2]
    plan = _numpy(sinkhorn_assignment(distances, 1.0, proportions, n_iterations=200))
    np.testing.assert_allclose(plan.sum(axis=1), 1.0, rtol=1e-4)
    np.testing.assert_allclose(plan.mean(axis=0), proportions, rtol=1e-3)


# -- layers ------------------------------------------------------------------------------


@pytest.mark.parametrize("training", [False, True])
def test_gap_layer_is_permutation_equivariant(training):
    features, coordinates, mask = _point_clouds()
    layer = GAPLayer(8, n_neighbors=4)
    reference = [_numpy(t) for t in layer([features, coordinates, mask], training=training)]
    order = RNG.permutation(features.shape[1])
    permuted = [
        _numpy(t)
        for t in layer(
            [features[:, order], coordinates[:, order], mask[:, order]], training=training
        )
    ]
    for expected, got in zip(reference, permuted, strict=True):
        np.testing.assert_allclose(got, expected[:, order], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("training", [False, True])
def test_gap_layer_ignores_padding(training):
    # Sample 2 has three real particles, fewer than k = 4 neighbours.
    features, coordinates, mask = _point_clouds()
    layer = GAPLayer(8, n_neighbors=4)
    short = [_numpy(t) for t in layer([features, coordinates, mask], training=training)]
    pad = ((0, 0), (0, 20), (0, 0))
    longer = [
        _numpy(t)
        for t in layer(
            [np.pad(features, pad), np.pad(coordinates, pad), np.pad(mask, pad[:2])],
            training=training,
        )
    ]
    for expected, got in zip(short, longer, strict=True):
        np.testing.assert_allclose(got[:, :12], expected, rtol=1e-4, atol=1e-5)
        assert not got[:, 12:].any()
        assert not expected[mask == 0].any()


def test_padding_is_never_a_neighbour():
    _, coordinates, mask = _point_clouds()
    indices = _numpy(knn_indices(coordinates, mask, 3))
    for sample in range(len(mask)):
        chosen = indices[sample][mask[sample] > 0]
        assert np.all(mask[sample][chosen] > 0)
        # the k nearest real particles, brute force, as sets (ties have probability 0)
        real = np.flatnonzero(mask[sample])
        for i in real:
            d = ((coordinates[sample, real] - coordinates[sample, i]) ** 2).sum(-1)
            expected = set(real[np.argsort(d)[:3]])
            assert set(indices[sample, i]) == expected


def test_gap_layer_round_trips_through_its_config():
    features, coordinates, mask = _point_clouds()
    layer = GAPLayer(6, n_neighbors=3, negative_slope=0.1, name="gap")
    expected = _numpy(layer([features, coordinates, mask])[0])
    clone = GAPLayer.from_config(layer.get_config())
    clone([features, coordinates, mask])
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        _numpy(clone([features, coordinates, mask])[0]), expected, rtol=1e-6
    )
    assert clone.get_config()["n_neighbors"] == 3


def test_losses_and_the_clustering_layer_are_keras_serialisable():
    loss = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(FocalLoss(gamma=3.0))
    )
    assert isinstance(loss, FocalLoss)
    assert loss.gamma == 3.0
    layer = ClusteringLayer.from_config(ClusteringLayer(4, alpha=2.5, name="c").get_config())
    assert (layer.n_clusters, layer.initial_alpha, layer.proportions) == (4, 2.5, None)


def test_scale_normalization_keeps_the_ratio_of_dimensions():
    values = np.stack([RNG.normal(0, 3.0, 500), RNG.normal(5, 0.3, 500)], axis=1).astype("float32")
    layer = ScaleNormalization(momentum=0.0)
    out = _numpy(layer(values, training=True))
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-5)
    assert np.mean(out**2) == pytest.approx(1.0, rel=1e-2)
    assert out[:, 0].std() / out[:, 1].std() == pytest.approx(
        values[:, 0].std() / values[:, 1].std(), rel=1e-4
    )


# -- ABCNet ------------------------------------------------------------------------------


def test_abcnet_for_jets_has_the_paper_size_and_a_permutation_invariant_embedding():
    model = build_abcnet(20, 7, 20)
    assert 5e4 < model.count_params() < 3e5  # ~0.1–0.2M parameters (arXiv:2010.07106)
    features, coordinates, mask = _point_clouds(3, 20, 7, n_real=(20, 11, 4))
    inputs = {"features": features, "coordinates": coordinates, "mask": mask}
    outputs = model(inputs, training=False)
    assert tuple(outputs["embedding"].shape) == (3, 3)
    assert tuple(outputs["aux"].shape) == (3, 20)
    np.testing.assert_allclose(_numpy(outputs["aux"]).sum(-1), 1.0, rtol=1e-5)
    order = RNG.permutation(20)
    permuted = {name: value[:, order] for name, value in inputs.items()}
    np.testing.assert_allclose(
        _numpy(model(permuted, training=False)["embedding"]),
        _numpy(outputs["embedding"]),
        rtol=1e-4,
        atol=1e-5,
    )


def test_abcnet_for_events_has_per_particle_outputs_and_global_inputs():
    model = build_abcnet(16, 8, 20, task="events", embedding_dim=2, n_global=4, width=0.25)
    features, coordinates, mask = _point_clouds(2, 16, 8, n_real=(16, 9))
    outputs = model(
        {
            "features": features,
            "coordinates": coordinates,
            "mask": mask,
            "globals": RNG.normal(size=(2, 4)).astype("float32"),
        },
        training=False,
    )
    assert tuple(outputs["embedding"].shape) == (2, 2)
    assert tuple(outputs["aux"].shape) == (2, 16, 20)


@pytest.mark.filterwarnings(
    # Keras' own .keras writer converts TensorFlow tensors with np.array(copy=False) (numpy 2).
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)
def test_abcnet_saves_and_loads_as_a_keras_file(tmp_path):
    model = build_abcnet(10, 7, 5, width=0.25, feature_scaling=([0.0] * 7, [2.0] * 7))
    features, coordinates, mask = _point_clouds(2, 10, 7, n_real=(10, 6))
    inputs = {"features": features, "coordinates": coordinates, "mask": mask}
    expected = _numpy(model(inputs, training=False)["embedding"])
    model.save(tmp_path / "abcnet.keras")
    loaded = keras.models.load_model(tmp_path / "abcnet.keras")
    np.testing.assert_allclose(
        _numpy(loaded(inputs, training=False)["embedding"]), expected, rtol=1e-6
    )
