"""UCluster's data pipeline without TensorFlow: packed particles, batches, streams."""

import threading

import h5py
import numpy as np
import pytest

from hepcluster.datasets import make_dijet_events, make_jets, read_hls4ml, write_hls4ml
from hepcluster.ucluster import JetStream
from hepcluster.ucluster._data import InMemoryDataset, StreamedDataset, iter_batches, prefetch
from hepcluster.ucluster._features import (
    FeatureMoments,
    event_inputs,
    event_matrix,
    feature_scaling,
    jet_inputs,
    jet_mass_targets,
)
from hepcluster.ucluster._packing import PackedSamples, batch_layout, pack_particles

RNG = np.random.default_rng(7)


@pytest.fixture(scope="module")
def jets():
    X, y = make_jets(10, n_constituents=15, random_state=3)
    return X, y


def test_batch_layout_matches_a_brute_force_grid():
    counts = [3, 1, 4]
    layout = batch_layout(counts, min_slots=5)
    slots = np.full((3, 5), 8)
    row = 0
    for sample, n in enumerate(counts):
        for i in range(n):
            slots[sample, i] = row
            row += 1
    np.testing.assert_array_equal(layout["slots"], slots)
    np.testing.assert_array_equal(layout["segment"], [0, 0, 0, 1, 2, 2, 2, 2])
    # index points every particle at its own slot
    np.testing.assert_array_equal(layout["slots"].ravel()[layout["index"]], np.arange(8))


def test_packing_keeps_the_real_particles_and_drops_all_padding(jets):
    X, _ = jets
    inputs = jet_inputs(X)
    packed = PackedSamples.from_inputs(inputs, jet_mass_targets(X))
    np.testing.assert_array_equal(packed.features, inputs.features[inputs.mask > 0])
    # More padding slots change nothing that the network reads
    wider = PackedSamples.from_inputs(jet_inputs(np.hstack([X, np.zeros((len(X), 150))])))
    np.testing.assert_array_equal(wider.features, packed.features)
    np.testing.assert_array_equal(wider.counts, packed.counts)
    samples = RNG.permutation(len(X))[:7]
    batch, wide_batch = packed.batch(samples, 10), wider.batch(samples, 10)
    for name in ("features", "coordinates", "slots", "index", "segment"):
        np.testing.assert_array_equal(batch[name], wide_batch[name])
    np.testing.assert_array_equal(batch["target"], jet_mass_targets(X)[samples])


def test_a_batch_holds_the_particles_of_its_samples_in_order(jets):
    X, _ = jets
    inputs = jet_inputs(X)
    packed = PackedSamples.from_inputs(inputs)
    samples = np.array([5, 0, 17, 5])
    batch = packed.batch(samples, min_slots=4)
    expected = np.concatenate([inputs.features[s][inputs.mask[s] > 0] for s in samples])
    np.testing.assert_array_equal(batch["features"], expected)
    assert batch["slots"].shape == (4, max(inputs.mask[samples].sum(axis=1).max(), 4))
    reference = pack_particles(inputs.features[samples], inputs.mask[samples], min_slots=4)
    for name in ("features", "slots", "index", "segment"):
        np.testing.assert_array_equal(batch[name], reference[name])


def test_take_concatenate_and_unpack_round_trip():
    events = make_dijet_events(6, 2, n_constituents=5, random_state=0)
    X = event_matrix(events)
    inputs = event_inputs(X)
    targets = np.arange(X.shape[0] * 10).reshape(X.shape[0], 10)
    packed = PackedSamples.from_inputs(inputs, targets)
    assert packed.per_particle_targets
    joined = PackedSamples.concatenate([packed.take([0, 1, 2]), packed.take(np.arange(3, 8))])
    np.testing.assert_array_equal(joined.features, packed.features)
    np.testing.assert_array_equal(joined.targets, targets[inputs.mask > 0])
    samples = np.array([4, 1])
    values = packed.batch(samples)["features"]
    np.testing.assert_array_equal(packed.unpack(values, samples), inputs.features[samples])


def test_feature_moments_over_chunks_equal_the_moments_of_all_data():
    events = make_dijet_events(12, 4, n_constituents=6, random_state=1)
    inputs = event_inputs(event_matrix(events))
    packed = PackedSamples.from_inputs(inputs)
    moments = FeatureMoments()
    for part in (np.arange(5), np.arange(5, 11), np.arange(11, 16)):
        moments.add(packed.take(part))
    (mean, scale), (global_mean, global_scale) = moments.scaling()
    (expected_mean, expected_scale), (expected_gmean, expected_gscale) = feature_scaling(inputs)
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(scale, expected_scale, rtol=1e-5)
    np.testing.assert_allclose(global_mean, expected_gmean, rtol=1e-6)
    np.testing.assert_allclose(global_scale, expected_gscale, rtol=1e-5)


def _stream_dataset(X, chunk_size, shuffle_buffer):
    chunks = [X[i : i + chunk_size] for i in range(0, len(X), chunk_size)]
    stream = JetStream(chunks, shuffle_buffer=shuffle_buffer)
    return StreamedDataset(stream, lambda c: PackedSamples.from_inputs(jet_inputs(c)), len(X))


@pytest.mark.parametrize("shuffle", [False, True])
def test_batches_of_a_stream_hold_every_sample_once(jets, shuffle):
    X, _ = jets
    dataset = _stream_dataset(X, chunk_size=7, shuffle_buffer=2)
    rng = np.random.default_rng(0) if shuffle else None
    batches = list(iter_batches(dataset, 8, rng=rng))
    assert [len(b["slots"]) for b in batches[:-1]] == [8] * (len(batches) - 1)
    seen = np.concatenate([b["features"] for b in batches])
    expected = PackedSamples.from_inputs(jet_inputs(X)).features
    assert len(seen) == len(expected)
    if shuffle:  # the same particles in another order
        np.testing.assert_allclose(np.sort(seen, axis=0), np.sort(expected, axis=0))
    else:  # inference reads the stream in its order
        np.testing.assert_array_equal(seen, expected)


def test_in_memory_batches_follow_the_permutation_of_the_generator(jets):
    X, _ = jets
    packed = PackedSamples.from_inputs(jet_inputs(X), jet_mass_targets(X))
    batches = list(iter_batches(InMemoryDataset(packed), 8, rng=np.random.default_rng(3)))
    order = np.random.default_rng(3).permutation(len(X))
    np.testing.assert_array_equal(
        np.concatenate([b["target"] for b in batches]), packed.targets[order]
    )


def test_prefetch_keeps_the_order_and_raises_the_producers_errors():
    assert list(prefetch(iter(range(50)), size=3)) == list(range(50))

    def failing():
        yield 1
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        list(prefetch(failing()))
    before = threading.active_count()
    iterator = prefetch(iter(range(1000)), size=2)
    next(iterator)
    iterator.close()  # an abandoned pass stops its thread
    assert threading.active_count() <= before + 1


def test_jet_stream_refuses_a_one_shot_generator_and_reads_callables_again(jets):
    X, _ = jets
    with pytest.raises(TypeError, match="read only once"):
        JetStream(chunk for chunk in (X[:10], X[10:]))
    with pytest.raises(TypeError, match="from_hls4ml"):
        JetStream("jets.h5")
    stream = JetStream(lambda: (chunk for chunk in (X[:10], X[10:])))
    for _ in range(2):
        np.testing.assert_array_equal(np.concatenate(list(stream)), X)


@pytest.fixture(scope="module")
def hls4ml_file(tmp_path_factory):
    X, y = make_jets(30, n_constituents=20, random_state=5)
    X = np.vstack([X, make_jets(10, n_constituents=20, classes=("QCD",), random_state=6)[0]])
    y = np.concatenate([y, np.full(10, "g", dtype=object)])
    order = np.random.default_rng(0).permutation(len(y))
    path = tmp_path_factory.mktemp("hls4ml") / "jets.h5"
    write_hls4ml(path, X[order], y[order])
    return path


def test_hls4ml_stream_reads_the_same_jets_as_read_hls4ml(hls4ml_file):
    stream = JetStream.from_hls4ml(
        hls4ml_file, classes=("W", "Z", "top"), n_constituents=12, chunk_size=25
    )
    X, y = read_hls4ml(hls4ml_file, classes=("W", "Z", "top"), n_constituents=12)
    assert stream.n_chunks == 4
    np.testing.assert_array_equal(np.concatenate(list(stream)), X)
    np.testing.assert_array_equal(stream.labels(), y)
    shuffled = list(stream._ordered(np.random.default_rng(1)))
    np.testing.assert_allclose(np.sort(np.concatenate(shuffled), axis=0), np.sort(X, axis=0))


def test_hls4ml_stream_without_the_needed_features_fails_when_made(hls4ml_file, tmp_path):
    broken = tmp_path / "broken.h5"
    with h5py.File(hls4ml_file, "r") as source, h5py.File(broken, "w") as target:
        for name in ("jetConstituentList", "jets", "jetFeatureNames"):
            target.create_dataset(name, data=source[name][()])
        names = [n.replace(b"j1_eta", b"j1_y") for n in source["particleFeatureNames"][()]]
        target.create_dataset("particleFeatureNames", data=np.array(names))
    with pytest.raises(ValueError, match="j1_eta"):
        JetStream.from_hls4ml(broken)
    with pytest.raises(FileNotFoundError):
        JetStream.from_hls4ml(tmp_path / "missing.h5")
    with pytest.raises(ValueError, match="classes"):
        JetStream.from_hls4ml(hls4ml_file, classes=("Higgs",))
