"""UCluster's Keras parts: GAPLayer, ABCNet, the losses, against independent computations.

The layers read packed particles; the reference computations here work on the padded
layout, sample by sample, in numpy.
"""

import numpy as np
import pytest

pytest.importorskip("keras", reason='needs TensorFlow: pip install "hepcluster[ucluster]"')

from hepcluster.ucluster._network.backend import import_keras
from hepcluster.ucluster._network.layers import (
    BN_EPSILON,
    GAPLayer,
    MaskedBatchNormalization,
    ScaleNormalization,
    knn_indices,
)
from hepcluster.ucluster._network.losses import (
    ClusteringLayer,
    FocalLoss,
    clustering_loss,
    focal_loss,
    sinkhorn_assignment,
)
from hepcluster.ucluster._network.models import build_abcnet
from hepcluster.ucluster._packing import pack_particles

keras = import_keras()

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
    return features, mask


def _gap_inputs(features, mask, min_slots=4):
    batch = pack_particles(features, mask, min_slots=min_slots)
    x = batch["features"]
    return [x, x[:, :2], batch["slots"], batch["index"]], batch


def _numpy_gap(layer, features, mask):
    """GAPLayer in inference mode, sample by sample on the padded layout (numpy)."""
    W = _numpy(layer.self_dense.kernel)
    W_edge = _numpy(layer.edge_dense.kernel)
    norm = layer.edge_norm
    gamma, beta = _numpy(norm.gamma), _numpy(norm.beta)
    mean, variance = _numpy(norm.moving_mean), _numpy(norm.moving_variance)
    a, a_bias = _numpy(layer.self_attention.kernel)[:, 0], _numpy(layer.self_attention.bias)
    b = _numpy(layer.edge_attention.kernel)[:, 0]
    attention, edge_features = [], []
    for x, m in zip(features, mask, strict=True):
        x = x[m > 0].astype(np.float64)
        k = min(layer.n_neighbors, len(x))
        d = ((x[:, None, :2] - x[None, :, :2]) ** 2).sum(-1)
        neighbours = np.argsort(d, axis=1, kind="stable")[:, :k]
        h = x @ W
        edges = (x[:, None, :] - x[neighbours]) @ W_edge
        edges = np.maximum((edges - mean) / np.sqrt(variance + BN_EPSILON) * gamma + beta, 0)
        logits = (h @ a + a_bias)[:, None] + edges @ b
        logits = np.where(logits > 0, logits, layer.negative_slope * logits)
        c = _softmax(logits, axis=1)
        attention.append(np.maximum(np.einsum("ij,ijf->if", c, h[neighbours]), 0))
        edge_features.append(edges.max(axis=1))
    return np.concatenate(attention), np.concatenate(edge_features)


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


def test_gap_layer_matches_a_numpy_computation_on_the_padded_layout():
    # Sample 2 has three real particles, fewer than k = 4 neighbours.
    features, mask = _point_clouds()
    layer = GAPLayer(8, n_neighbors=4)
    inputs, _ = _gap_inputs(features, mask)
    layer(inputs)
    # moving statistics away from their initial values, so that the check covers them
    layer.edge_norm.moving_mean.assign(RNG.normal(size=8).astype("float32"))
    layer.edge_norm.moving_variance.assign(RNG.uniform(0.5, 2, size=8).astype("float32"))
    attention, edges = (_numpy(t) for t in layer(inputs, training=False))
    expected_attention, expected_edges = _numpy_gap(layer, features, mask)
    np.testing.assert_allclose(attention, expected_attention, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(edges, expected_edges, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("training", [False, True])
def test_gap_layer_is_permutation_equivariant(training):
    features, mask = _point_clouds(n_real=(12, 12, 12, 12))
    layer = GAPLayer(8, n_neighbors=4)
    reference = [_numpy(t) for t in layer(_gap_inputs(features, mask)[0], training=training)]
    order = RNG.permutation(features.shape[1])
    permuted = [
        _numpy(t)
        for t in layer(_gap_inputs(features[:, order], mask[:, order])[0], training=training)
    ]
    # packed rows are sample after sample: permute within each sample of 12 particles
    rows = (np.arange(4)[:, None] * 12 + order[None, :]).ravel()
    for expected, got in zip(reference, permuted, strict=True):
        np.testing.assert_allclose(got, expected[rows], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("training", [False, True])
def test_padding_and_the_slot_grid_change_nothing(training):
    features, mask = _point_clouds()
    layer = GAPLayer(8, n_neighbors=4)
    short = [_numpy(t) for t in layer(_gap_inputs(features, mask)[0], training=training)]
    pad = ((0, 0), (0, 20), (0, 0))
    padded_inputs, batch = _gap_inputs(np.pad(features, pad), np.pad(mask, pad[:2]), 25)
    assert batch["slots"].shape == (4, 25)  # a wider grid, the same particles
    longer = [_numpy(t) for t in layer(padded_inputs, training=training)]
    for expected, got in zip(short, longer, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_padding_is_never_a_neighbour():
    features, mask = _point_clouds()
    inputs, batch = _gap_inputs(features, mask, min_slots=3)
    neighbours = _numpy(knn_indices(inputs[1], batch["slots"], batch["index"], 3))
    n_rows = len(inputs[0])
    sample = batch["segment"]
    for row in range(n_rows):
        real = np.flatnonzero(sample == sample[row])
        chosen = neighbours[row][neighbours[row] < n_rows]
        assert np.all(sample[chosen] == sample[row])  # never another sample's particle
        d = ((inputs[1][real] - inputs[1][row]) ** 2).sum(-1)
        # the min(3, n) nearest particles of the sample, brute force (no ties)
        assert set(chosen) == set(real[np.argsort(d)[: min(3, len(real))]])
        assert len(chosen) == min(3, len(real))


def test_masked_batch_normalization_uses_the_weighted_moments():
    values = RNG.normal(2.0, 3.0, size=(50, 6, 4)).astype("float32")
    weights = (RNG.random((50, 6)) > 0.4).astype("float32")
    layer = MaskedBatchNormalization(momentum=0.0)
    out = _numpy(layer([values, weights], training=True))
    chosen = values[weights > 0]
    expected = (values - chosen.mean(0)) / np.sqrt(chosen.var(0) + BN_EPSILON)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(_numpy(layer.moving_mean), chosen.mean(0), rtol=1e-5)


def test_gap_layer_round_trips_through_its_config():
    features, mask = _point_clouds()
    inputs, _ = _gap_inputs(features, mask, min_slots=3)
    layer = GAPLayer(6, n_neighbors=3, negative_slope=0.1, name="gap")
    expected = _numpy(layer(inputs)[0])
    clone = GAPLayer.from_config(layer.get_config())
    clone(inputs)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(_numpy(clone(inputs)[0]), expected, rtol=1e-6)
    assert clone.get_config()["n_neighbors"] == 3


def test_losses_and_the_clustering_layer_are_keras_serialisable():
    loss = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(FocalLoss(gamma=3.0))
    )
    assert isinstance(loss, FocalLoss)
    assert loss.gamma == 3.0
    layer = ClusteringLayer.from_config(
        ClusteringLayer(4, alpha=2.5, epsilon=0.2, n_iterations=7, name="c").get_config()
    )
    assert (layer.n_clusters, layer.initial_alpha, layer.proportions) == (4, 2.5, None)
    assert (layer.epsilon, layer.n_iterations) == (0.2, 7)


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


def _abcnet_inputs(features, mask, globals=None):
    batch = pack_particles(features, mask, min_slots=10)
    batch["coordinates"] = batch["features"][:, :2]
    if globals is not None:
        batch["globals"] = globals
    return batch


def test_abcnet_for_jets_has_the_paper_size_and_a_permutation_invariant_embedding():
    model = build_abcnet(7, 20)
    assert 5e4 < model.count_params() < 3e5  # ~0.1–0.2M parameters (arXiv:2010.07106)
    features, mask = _point_clouds(3, 20, 7, n_real=(20, 11, 4))
    outputs = model(_abcnet_inputs(features, mask), training=False)
    assert tuple(outputs["embedding"].shape) == (3, 3)
    assert tuple(outputs["aux"].shape) == (3, 20)
    np.testing.assert_allclose(_numpy(outputs["aux"]).sum(-1), 1.0, rtol=1e-5)
    order = RNG.permutation(20)
    np.testing.assert_allclose(
        _numpy(model(_abcnet_inputs(features[:, order], mask[:, order]))["embedding"]),
        _numpy(outputs["embedding"]),
        rtol=1e-4,
        atol=1e-5,
    )


def test_abcnet_embedding_of_a_jet_does_not_depend_on_the_rest_of_the_batch():
    model = build_abcnet(7, 20, width=0.25)
    features, mask = _point_clouds(3, 20, 7, n_real=(20, 11, 4))
    together = _numpy(model(_abcnet_inputs(features, mask), training=False)["embedding"])
    alone = _numpy(model(_abcnet_inputs(features[1:2], mask[1:2]), training=False)["embedding"])
    np.testing.assert_allclose(alone[0], together[1], rtol=1e-4, atol=1e-5)


def test_abcnet_for_events_has_per_particle_outputs_and_global_inputs():
    model = build_abcnet(8, 20, task="events", embedding_dim=2, n_global=4, width=0.25)
    features, mask = _point_clouds(2, 16, 8, n_real=(16, 9))
    globals = RNG.normal(size=(2, 4)).astype("float32")
    outputs = model(_abcnet_inputs(features, mask, globals), training=False)
    assert tuple(outputs["embedding"].shape) == (2, 2)
    assert tuple(outputs["aux"].shape) == (25, 20)  # one row per real particle


@pytest.mark.filterwarnings(
    # Keras' own .keras writer converts TensorFlow tensors with np.array(copy=False) (numpy 2).
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)
def test_abcnet_saves_and_loads_as_a_keras_file(tmp_path):
    model = build_abcnet(7, 5, width=0.25, feature_scaling=([0.0] * 7, [2.0] * 7))
    features, mask = _point_clouds(2, 10, 7, n_real=(10, 6))
    inputs = _abcnet_inputs(features, mask)
    expected = _numpy(model(inputs, training=False)["embedding"])
    model.save(tmp_path / "abcnet.keras")
    loaded = keras.models.load_model(tmp_path / "abcnet.keras")
    np.testing.assert_allclose(
        _numpy(loaded(inputs, training=False)["embedding"]), expected, rtol=1e-6
    )
