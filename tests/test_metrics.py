import itertools

import numpy as np
import pytest

from hepcluster.metrics import cluster_accuracy, signal_fraction_improvement, signal_to_background


def _accuracy_brute_force(y_true, labels):
    classes, clusters = np.unique(y_true), np.unique(labels)
    best = 0
    for perm in itertools.permutations(range(max(len(classes), len(clusters)))):
        mapping = {c: perm[i] for i, c in enumerate(clusters)}
        correct = sum(
            mapping[label] < len(classes) and classes[mapping[label]] == truth
            for label, truth in zip(labels, y_true, strict=True)
        )
        best = max(best, correct)
    return best / len(y_true)


@pytest.mark.parametrize("seed", range(5))
def test_cluster_accuracy_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    y_true = rng.choice(["W", "Z", "top"], size=60)
    labels = rng.integers(0, 3 + seed % 2, size=60)
    assert cluster_accuracy(y_true, labels) == pytest.approx(_accuracy_brute_force(y_true, labels))


def test_cluster_accuracy_is_invariant_under_relabelling():
    y_true = np.array([0, 0, 1, 1, 2, 2, 2])
    labels = np.array([5, 5, 7, 1, 1, 1, 1])
    assert cluster_accuracy(y_true, labels) == cluster_accuracy(y_true, (labels + 3) % 11)
    assert cluster_accuracy(y_true, y_true) == 1.0


def test_sfi_and_s_over_b_by_hand():
    is_signal = np.array([1, 1, 0, 0, 0, 0, 0, 0], bool)
    selected = np.array([1, 0, 1, 0, 0, 0, 0, 0], bool)
    assert signal_to_background(is_signal) == pytest.approx(2 / 6)
    assert signal_to_background(is_signal, selected) == 1.0
    assert signal_fraction_improvement(is_signal, selected) == pytest.approx(3.0)
    weights = np.array([2, 1, 1, 1, 1, 1, 1, 1.0])
    assert signal_fraction_improvement(
        is_signal, selected, sample_weight=weights
    ) == pytest.approx(2.0 / (3 / 6))


def test_bad_metric_inputs_raise():
    with pytest.raises(ValueError, match="same length"):
        cluster_accuracy([1, 2], [1])
    with pytest.raises(ValueError, match="no signal"):
        signal_fraction_improvement([False, False], [True, False])
