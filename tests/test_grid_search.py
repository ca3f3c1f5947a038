"""GridSearchCV of Cluster Scanning: tuned for sensitivity, truth routed, events grouped.

``score`` of a ClusterScanner is minus the k-means inertia (scikit-learn's meaning), not
a sensitivity measure; the test statistic (MLS) rewards loose selections on background
alone. What makes sense is :class:`~hepcluster.metrics.SignalFractionScorer` on simulated
injections, with the truth labels routed to it and the jets of an event in one fold.
"""

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import Pipeline

from hepcluster import ClusterScanner, JetImageTransformer
from hepcluster.datasets import make_dijet_events
from hepcluster.metrics import SignalFractionScorer, signal_fraction_improvement

BINS = (3000.0, 3100.0, 3200.0, 3300.0, 3400.0, 3500.0, 3600.0, 3700.0, 3800.0)
GRID = {"scan__threshold": [1.0, 3.0], "scan__n_clusters": [5, 10]}


def _pipeline():
    return Pipeline(
        [
            ("images", JetImageTransformer(n_pixels=16, sparse_output=True)),
            (
                "scan",
                ClusterScanner(
                    bins=BINS, n_ensemble=2, max_iter=10, batch_size=512, random_state=0
                ),
            ),
        ]
    )


@pytest.fixture(scope="module")
def injected():
    events = make_dijet_events(
        5000, 700, n_constituents=20, mjj_range=(2950.0, 3900.0), random_state=0
    )
    X, mjj, event_id = events.jets()
    return X, mjj, event_id, events.jet_is_signal


class _RecordingScorer(SignalFractionScorer):
    """Records what every call receives."""

    def __init__(self, calls):
        super().__init__()
        self.calls = calls

    def __call__(self, estimator, X, y, sample_weight=None, is_signal=None):
        self.calls.append((np.asarray(y).copy(), np.asarray(is_signal).copy()))
        return super().__call__(estimator, X, y, sample_weight, is_signal)


def test_grid_search_tunes_the_sfi_with_routed_truth_and_grouped_folds(injected):
    X, mjj, event_id, truth = injected
    calls = []
    cv = GroupKFold(n_splits=2)
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = _RecordingScorer(calls).set_score_request(is_signal=True)
        search = GridSearchCV(_pipeline(), GRID, cv=cv, scoring=scorer, refit=False)
        search.fit(X, mjj, groups=event_id, is_signal=truth)
    splits = list(cv.split(X, mjj, groups=event_id))
    # both jets of every event sit in one fold
    for train, test in splits:
        assert not set(event_id[train]) & set(event_id[test])
        assert np.all(np.bincount(event_id[test]) % 2 == 0)
    # the routed truth reaches the scorer, restricted to the held-out jets of each fold
    assert len(calls) == len(splits) * 4
    for index, (y, is_signal) in enumerate(calls):
        _, test = splits[index % len(splits)]
        np.testing.assert_array_equal(y, mjj[test])
        np.testing.assert_array_equal(is_signal, truth[test])
    # the same numbers as a cross-validation loop written by hand
    expected = []
    for params in search.cv_results_["params"]:
        folds = []
        for train, test in splits:
            fitted = clone(_pipeline()).set_params(**params).fit(X[train], mjj[train])
            folds.append(SignalFractionScorer()(fitted, X[test], mjj[test], is_signal=truth[test]))
        expected.append(np.mean(folds))
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], expected, rtol=1e-12)
    assert search.best_score_ == pytest.approx(max(expected), rel=1e-12)
    assert search.best_params_ == search.cv_results_["params"][int(np.argmax(expected))]
    assert search.best_score_ > 1.0  # the best selection enriches the signal


def test_the_scorer_is_the_sfi_of_the_selected_clusters(injected):
    X, mjj, _, truth = injected
    pipe = _pipeline().set_params(scan__n_clusters=8, scan__threshold=1.0).fit(X, mjj)
    images = pipe[:-1].transform(X)
    scanner = pipe[-1]
    result = scanner.scan(images, mjj)
    labels = scanner.predict_ensemble(images)
    inside = (mjj >= BINS[0]) & (mjj < BINS[-1])
    by_hand = []
    for member in range(scanner.n_ensemble):
        chosen = np.isin(labels[member], np.flatnonzero(result.selected[member])) & inside
        s_sel, b_sel = np.sum(chosen & truth), np.sum(chosen & ~truth)
        s_all, b_all = np.sum(inside & truth), np.sum(inside & ~truth)
        by_hand.append((s_sel / b_sel) / (s_all / b_all) if chosen.any() else 0.0)
    assert result.selected.any()
    score = SignalFractionScorer()(pipe, X, mjj, is_signal=truth)
    assert score == pytest.approx(np.mean(by_hand), rel=1e-12)
    # the scanner itself (on images) gives the same number as the Pipeline (on constituents)
    assert SignalFractionScorer()(scanner, images, mjj, is_signal=truth) == score
    # weights count as in signal_fraction_improvement
    weight = np.random.default_rng(0).uniform(0.5, 2.0, mjj.size)
    weighted = SignalFractionScorer()(pipe, X, mjj, sample_weight=weight, is_signal=truth)
    result_w = scanner.scan(images, mjj, weight)
    members = [
        signal_fraction_improvement(
            truth[inside],
            np.isin(labels[m], np.flatnonzero(result_w.selected[m]))[inside],
            sample_weight=weight[inside],
        )
        if result_w.selected[m].any()
        else 0.0
        for m in range(scanner.n_ensemble)
    ]
    assert weighted == pytest.approx(np.mean(members), rel=1e-12)


def test_no_selected_cluster_scores_zero_and_missing_truth_is_explained(injected):
    X, mjj, _, truth = injected
    pipe = _pipeline().set_params(scan__n_clusters=5, scan__threshold=1e9).fit(X, mjj)
    assert not pipe[-1].scan(pipe[:-1].transform(X), mjj).selected.any()
    assert SignalFractionScorer()(pipe, X, mjj, is_signal=truth) == 0.0
    result = pipe[-1].scan(pipe[:-1].transform(X), mjj, is_signal=truth)
    np.testing.assert_array_equal(result.signal_fraction_improvement(), 0.0)
    np.testing.assert_array_equal(result.signal_to_background(), 0.0)
    with pytest.raises(ValueError, match=r"set_score_request\(is_signal=True\)"):
        SignalFractionScorer()(pipe, X, mjj)
    with pytest.raises(ValueError, match="no signal"):
        SignalFractionScorer()(pipe, X, mjj, is_signal=np.zeros_like(truth))
    with pytest.raises(RuntimeError, match="enable_metadata_routing"):
        SignalFractionScorer().set_score_request(is_signal=True)
    with pytest.raises(TypeError, match="ClusterScanner"):
        SignalFractionScorer()(JetImageTransformer().fit(X), X, mjj, is_signal=truth)


def test_metadata_routing_requests_of_the_scorer():
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = SignalFractionScorer()
        assert scorer.get_metadata_routing().score.requests == {
            "is_signal": None,
            "sample_weight": None,
        }
        scorer.set_score_request(is_signal=True, sample_weight="weights")
        assert scorer.get_metadata_routing().score.requests == {
            "is_signal": True,
            "sample_weight": "weights",
        }
        scorer.set_score_request(is_signal=False)  # sample_weight unchanged
        assert scorer.get_metadata_routing().score.requests["sample_weight"] == "weights"
    assert "is_signal=False" in repr(scorer)


def test_on_background_only_events_score_is_no_sensitivity_measure():
    events = make_dijet_events(
        6000, 0, n_constituents=20, mjj_range=(2950.0, 3900.0), random_state=0
    )
    X, mjj, event_id = events.jets()
    grid = {"scan__threshold": [1.0, 3.0, 5.0], "scan__n_clusters": [5, 20]}
    cv = GroupKFold(n_splits=2)

    # The trap the old API set: the MLS as the score picks the loosest θ on background
    # alone, the largest false excess.
    def mls(estimator, X, y):
        return estimator[-1].test_statistic(estimator[:-1].transform(X), y)

    trap = GridSearchCV(_pipeline(), grid, cv=cv, scoring=mls, refit=False)
    trap.fit(X, mjj, groups=event_id)
    assert trap.best_params_["scan__threshold"] == min(grid["scan__threshold"])

    # score is now minus the k-means inertia: θ does not enter it at all, so it ranks the
    # thresholds as ties (the first listed wins), never by false excesses.
    plain = GridSearchCV(_pipeline(), grid, cv=cv, refit=False).fit(X, mjj, groups=event_id)
    scores = plain.cv_results_["mean_test_score"]
    params = plain.cv_results_["params"]
    for k in grid["scan__n_clusters"]:
        same_k = [
            score for score, p in zip(scores, params, strict=True) if p["scan__n_clusters"] == k
        ]
        assert len(set(same_k)) == 1
    assert np.all(scores <= 0.0)
    # and the sensitivity scorer refuses background-only folds instead of ranking them
    pipe = _pipeline().fit(X, mjj)
    with pytest.raises(ValueError, match="no signal"):
        SignalFractionScorer()(pipe, X, mjj, is_signal=events.jet_is_signal)
