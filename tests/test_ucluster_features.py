"""UCluster without TensorFlow: inputs, auxiliary targets, schedules, metrics, lazy import."""

import itertools
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from hepcluster.datasets import make_dijet_events, make_jets
from hepcluster.jets import jet_kinematics, softdrop_mass, tau21
from hepcluster.metrics import (
    cluster_accuracy,
    excess_significance,
    signal_significance,
    significance_improvement,
)
from hepcluster.ucluster._embedding import as_constituent_matrix
from hepcluster.ucluster._features import (
    EVENT_MASS_BINS,
    JET_MASS_BINS,
    event_inputs,
    event_mass_targets,
    event_matrix,
    feature_scaling,
    jet_inputs,
    jet_mass_targets,
    mass_bin_targets,
)
from hepcluster.ucluster._schedules import alpha_schedule, learning_rate_schedule


@pytest.fixture(scope="module")
def jets():
    X, y, mass = make_jets(20, n_constituents=12, return_jet_mass=True, random_state=1)
    # Four padding slots at the end of every jet, and a hole in the middle of one.
    X = np.hstack([X, np.zeros((len(X), 12))])
    X[0, 6:9] = 0.0
    mass[0] = jet_kinematics(X[:1]).mass[0]
    return X, y, mass


@pytest.fixture(scope="module")
def events():
    return make_dijet_events(15, 5, n_constituents=10, random_state=2)


def _wrap(phi):
    return np.mod(phi + np.pi, 2 * np.pi) - np.pi


def _reference_jet_features(row):
    """Per-particle features of one jet, particle by particle (independent of the code)."""
    particles = row.reshape(-1, 3)
    px = py = pz = energy = 0.0
    for pt, eta, phi in particles:
        if pt > 0:
            px += pt * np.cos(phi)
            py += pt * np.sin(phi)
            pz += pt * np.sinh(eta)
            energy += pt * np.cosh(eta)
    jet_pt = np.hypot(px, py)
    jet_eta = np.arcsinh(pz / jet_pt)
    jet_phi = np.arctan2(py, px)
    out = np.zeros((len(particles), 7))
    for i, (pt, eta, phi) in enumerate(particles):
        if pt <= 0:
            continue
        d_eta, d_phi = eta - jet_eta, _wrap(phi - jet_phi)
        e = pt * np.cosh(eta)
        out[i] = [
            d_eta,
            d_phi,
            np.log(pt),
            np.log(e),
            np.log(pt / jet_pt),
            np.log(e / energy),
            np.hypot(d_eta, d_phi),
        ]
    return out


def test_jet_inputs_match_a_particle_by_particle_computation(jets):
    X, _, _ = jets
    inputs = jet_inputs(X)
    for row, features in zip(X[:10], inputs.features[:10], strict=True):
        np.testing.assert_allclose(features, _reference_jet_features(row), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(inputs.mask, (X[:, 0::3] > 0).astype(np.float32))
    np.testing.assert_array_equal(inputs.coordinates, inputs.features[:, :, :2])
    assert inputs.globals is None


def test_jet_inputs_are_zero_for_padding_and_follow_a_permutation(jets):
    X, _, _ = jets
    particles = X.reshape(len(X), -1, 3)
    order = np.random.default_rng(0).permutation(particles.shape[1])
    permuted = particles[:, order].reshape(len(X), -1)
    reference, shuffled = jet_inputs(X), jet_inputs(permuted)
    np.testing.assert_allclose(shuffled.features, reference.features[:, order], atol=1e-6)
    padding = reference.mask == 0
    assert padding.any()
    assert not reference.features[padding].any()


def test_event_inputs_hold_both_jets_and_the_global_features(events):
    X = event_matrix(events)
    inputs = event_inputs(X)
    n_events, n_slots = len(events), events.n_constituents
    assert inputs.features.shape == (n_events, 2 * n_slots, 8)
    for jet in (0, 1):
        part = slice(jet * n_slots, (jet + 1) * n_slots)
        real = inputs.mask[:, part] > 0
        np.testing.assert_array_equal(inputs.features[:, part, 7][real], float(jet))
        expected = jet_inputs(events.constituents[:, jet].reshape(n_events, -1)).features
        np.testing.assert_allclose(inputs.features[:, part, :7], expected, atol=1e-5)
    mass = np.stack([jet_kinematics(events.constituents[:, jet]).mass for jet in (0, 1)], axis=1)
    taus = np.stack([tau21(events.constituents[:, jet]) for jet in (0, 1)], axis=1)
    np.testing.assert_allclose(inputs.globals[:, :2], np.log(np.maximum(mass, 1.0)), rtol=1e-5)
    np.testing.assert_allclose(inputs.globals[:, 2:], taus, rtol=1e-5, atol=1e-6)
    # The two jets are back to back: no particle of one jet is near the other jet's axis.
    lead = inputs.coordinates[:, :n_slots][inputs.mask[:, :n_slots] > 0]
    sub = inputs.coordinates[:, n_slots:][inputs.mask[:, n_slots:] > 0]
    assert np.abs(lead[:, 1]).max() < 1.5 < np.abs(sub[:, 1]).min()


def test_mass_bin_targets_follow_the_bin_edges():
    low, high, n_bins = JET_MASS_BINS
    edges = np.linspace(low, high, n_bins + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    np.testing.assert_array_equal(mass_bin_targets(centres), np.arange(n_bins))
    assert mass_bin_targets([low - 5.0, high + 5.0, np.nan]).tolist() == [0, n_bins - 1, 0]
    assert mass_bin_targets([500.0], EVENT_MASS_BINS).tolist() == [9]


def test_jet_and_event_mass_targets_come_from_the_constituents(jets, events):
    X, _, mass = jets
    np.testing.assert_array_equal(jet_mass_targets(X), mass_bin_targets(mass))
    targets = event_mass_targets(event_matrix(events))
    n_slots = events.n_constituents
    for jet in (0, 1):
        part = targets[:, jet * n_slots : (jet + 1) * n_slots]
        real = events.constituents[:, jet, :, 0] > 0
        expected = mass_bin_targets(events.jet_mass[:, jet], EVENT_MASS_BINS)
        np.testing.assert_array_equal(part, np.where(real, expected[:, None], -1))


def test_softdrop_mass_targets_come_from_the_groomed_jets(jets, events):
    X, _, _ = jets
    groomed = softdrop_mass(X)
    np.testing.assert_array_equal(jet_mass_targets(X, mass="softdrop"), mass_bin_targets(groomed))
    assert np.any(jet_mass_targets(X, mass="softdrop") != jet_mass_targets(X))
    targets = event_mass_targets(event_matrix(events), mass="softdrop")
    n_slots = events.n_constituents
    for jet in (0, 1):
        real = events.constituents[:, jet, :, 0] > 0
        expected = mass_bin_targets(softdrop_mass(events.constituents[:, jet]), EVENT_MASS_BINS)
        part = targets[:, jet * n_slots : (jet + 1) * n_slots]
        np.testing.assert_array_equal(part, np.where(real, expected[:, None], -1))


def test_soft_wide_angle_radiation_moves_the_ungroomed_target_only():
    two_prongs = np.array([[400.0, 0.0, 0.0, 300.0, 0.2, 0.0]])
    with_soft = np.hstack([two_prongs, [[5.0, 0.0, 0.7]]])
    assert jet_mass_targets(with_soft)[0] > jet_mass_targets(two_prongs)[0]
    np.testing.assert_array_equal(
        jet_mass_targets(with_soft, mass="softdrop"), jet_mass_targets(two_prongs)
    )


def test_mass_targets_reject_an_unknown_mass(jets):
    with pytest.raises(ValueError, match="mass must be one of"):
        jet_mass_targets(jets[0], mass="trimmed")


def test_embedding_rejects_an_unknown_mass_before_training(jets):
    from sklearn.utils._param_validation import InvalidParameterError

    from hepcluster.ucluster import UClusterEmbedding

    with pytest.raises(InvalidParameterError, match="mass"):
        UClusterEmbedding(mass="trimmed").fit(jets[0])


def test_feature_scaling_uses_real_particles_only(jets):
    inputs = jet_inputs(jets[0])
    (mean, scale), global_scaling = feature_scaling(inputs)
    real = inputs.features[inputs.mask > 0]
    np.testing.assert_allclose(mean, real.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scale, real.std(axis=0), rtol=1e-4)
    assert global_scaling is None


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.ones((4, 10)), "multiple of 3 columns"),
        (np.full((4, 9), np.nan), "NaN"),
        (np.zeros((4, 9)), "without any constituent"),
        (-np.ones((4, 9)), "Negative values in data"),
        (np.ones(9), "2-D"),
    ],
    ids=["width", "nan", "all-padding", "negative-pt", "1-d"],
)
def test_bad_constituent_matrices_raise_clear_errors(X, message):
    with pytest.raises(ValueError, match=message):
        jet_inputs(X)


def test_event_inputs_need_two_jets_per_row():
    with pytest.raises(ValueError, match="multiple of 6 columns"):
        event_inputs(np.ones((3, 9)))


def test_as_constituent_matrix_accepts_the_convenience_layouts(events):
    assert as_constituent_matrix(np.ones((4, 5, 3))).shape == (4, 15)
    assert as_constituent_matrix(events, task="events").shape == (len(events), 60)
    with pytest.raises(ValueError, match="task='events'"):
        as_constituent_matrix(events, task="jets")
    with pytest.raises(ValueError, match="n_jets, P, 3"):
        as_constituent_matrix(np.ones((4, 2, 5, 3)), task="jets")


# -- schedules ---------------------------------------------------------------------------


def test_alpha_grows_linearly_from_its_start():
    values = [alpha_schedule(epoch) for epoch in range(6)]
    np.testing.assert_allclose(values, 1.0 + 2.0 * np.arange(6))
    assert alpha_schedule(10, alpha=0.5, alpha_step=1.0, alpha_max=4.0) == 4.0
    with pytest.raises(ValueError, match="epoch"):
        alpha_schedule(-1)


def test_learning_rate_halves_every_three_epochs_down_to_its_floor():
    rates = [learning_rate_schedule(epoch) for epoch in range(30)]
    expected = [max(1e-3 * 0.5 ** (epoch // 3), 1e-5) for epoch in range(30)]
    np.testing.assert_allclose(rates, expected, rtol=1e-12)
    assert rates[-1] == 1e-5
    assert learning_rate_schedule(7, 1e-2, decay_every=2, decay_factor=0.1) == pytest.approx(1e-5)
    assert learning_rate_schedule(0, 1e-6) == 1e-6  # the floor never lifts the rate


# -- metrics -----------------------------------------------------------------------------


def _brute_force_accuracy(y, labels):
    classes, clusters = np.unique(y), np.unique(labels)
    best = 0
    for assignment in itertools.permutations(classes, len(clusters)):
        mapping = dict(zip(clusters, assignment, strict=True))
        best = max(best, sum(mapping[k] == c for k, c in zip(labels, y, strict=True)))
    return best / len(y)


@pytest.mark.parametrize("seed", range(5))
def test_hungarian_cluster_accuracy_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    y = rng.choice(["W", "Z", "top", "QCD"], size=60)
    labels = rng.integers(0, 4, size=60)
    assert cluster_accuracy(y, labels) == pytest.approx(_brute_force_accuracy(y, labels))


@pytest.mark.parametrize(("observed", "expected"), [(130.0, 100.0), (17.0, 5.0), (3.0, 0.5)])
def test_excess_significance_matches_the_poisson_tail(observed, expected):
    p = stats.poisson.sf(observed - 1, expected)
    assert excess_significance(observed, expected) == pytest.approx(stats.norm.isf(p), rel=1e-6)
    assert excess_significance(expected / 2, expected) == 0.0


def test_signal_significance_and_its_improvement():
    is_signal = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], dtype=bool)
    selected = np.zeros(16, dtype=bool)
    selected[[0, 1, 2, 4]] = True
    assert signal_significance(is_signal) == pytest.approx(4 / np.sqrt(12))
    assert signal_significance(is_signal, selected) == pytest.approx(3.0)
    assert significance_improvement(is_signal, selected) == pytest.approx(3 * np.sqrt(12) / 4)
    with pytest.raises(ValueError, match="no signal"):
        significance_improvement(np.zeros(4, bool), np.ones(4, bool))


# -- packaging ---------------------------------------------------------------------------


def test_importing_hepcluster_ucluster_does_not_import_tensorflow():
    code = (
        "import sys, hepcluster, hepcluster.ucluster\n"
        "from hepcluster.utils import all_estimators\n"
        "names = [name for name, _ in all_estimators()]\n"
        "assert 'DeepKMeans' in names and 'UClusterEmbedding' in names, names\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_fitting_without_keras_names_the_extra(monkeypatch, jets):
    from hepcluster.ucluster import UClusterEmbedding

    monkeypatch.setitem(sys.modules, "keras", None)  # as if the extra were not installed
    with pytest.raises(ImportError, match=r"hepcluster\[ucluster\]"):
        UClusterEmbedding(pretrain_epochs=0).fit(jets[0])


def test_fitting_deep_kmeans_without_tensorflow_names_the_extra(monkeypatch, jets):
    from hepcluster import DeepKMeans

    monkeypatch.setitem(sys.modules, "keras", None)
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    with pytest.raises(ImportError, match=r'pip install "hepcluster\[ucluster\]"'):
        DeepKMeans(epochs=0).fit(jets[0])
