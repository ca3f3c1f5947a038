"""NearestClusterSearch (hepcluster.anomaly) and its calibration through EmbeddingInputs."""

import numpy as np
import pytest
from scipy import stats
from sklearn.base import BaseEstimator

from hepcluster.anomaly import NearestClusterSearch, anomaly_search
from hepcluster.calibration import EmbeddingInputs, run_pseudo_experiments
from hepcluster.datasets import make_dijet_events
from hepcluster.fits import DijetFitBackground

BINS = np.arange(2800.0, 4601.0, 200.0)
SR = (3200.0, 3800.0)
CENTERS = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 2.0]])


class _EventTask:
    task = "events"


class _FixedEmbedding(BaseEstimator):
    """A fitted clusterer stand-in: a fixed 2-D embedding of the events, no network."""

    def __init__(self, events=None, centers=None):
        self.events = events
        self.centers = centers

    def fit(self, events):
        rng = np.random.default_rng(1)
        self.table = {int(e): rng.normal(size=2) for e in self.events.event_id}
        self.cluster_centers_ = np.asarray(self.centers, dtype=np.float64)
        self.embedding_ = _EventTask()
        return self

    def embed(self, events):
        return np.stack([self.table[int(e)] for e in events.event_id])

    def predict(self, events):
        points = self.embed(events)
        return np.argmin(((points[:, None] - self.cluster_centers_) ** 2).sum(-1), axis=1)


@pytest.fixture(scope="module")
def events():
    return make_dijet_events(
        2000, 40, n_constituents=4, mjj_range=(2800.0, 4600.0), random_state=3
    )


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    embedding = rng.normal(size=(3000, 2))
    mjj = 2800.0 + rng.exponential(500.0, size=3000)
    return embedding, mjj


def _hand_statistic(embedding, mjj, centers, weight=None):
    """max_k Z_k by loops: nearest centroid, nearest cluster, sideband scaling, Poisson tail."""
    weight = np.ones(mjj.size) if weight is None else weight
    k = len(centers)
    labels = np.array(
        [min(range(k), key=lambda c: np.sum((x - centers[c]) ** 2)) for x in embedding]
    )
    nearest = [
        min((j for j in range(k) if j != i), key=lambda j: np.linalg.norm(centers[i] - centers[j]))
        for i in range(k)
    ]
    spectra = [
        np.histogram(mjj[labels == i], BINS, weights=weight[labels == i])[0] for i in range(k)
    ]
    inside = (BINS[:-1] >= SR[0]) & (BINS[1:] <= SR[1])
    z = []
    for i in range(k):
        shape = spectra[nearest[i]]  # the template background: the nearest cluster's histogram
        expected = shape[inside].sum() * spectra[i][~inside].sum() / shape[~inside].sum()
        observed = spectra[i][inside].sum()
        # P(X ≥ N | B) for integer N (unit weights)
        z.append(max(stats.norm.isf(stats.poisson.sf(observed - 1, expected)), 0.0))
    return max(z)


def test_statistic_equals_hand_computation_with_template_background(toy):
    embedding, mjj = toy
    search = NearestClusterSearch(CENTERS, bins=BINS, signal_region=SR).fit(embedding, mjj)
    np.testing.assert_allclose(
        search.test_statistic(embedding, mjj), _hand_statistic(embedding, mjj, CENTERS), rtol=1e-9
    )
    assert search.nearest_cluster_.tolist() == [1, 0, 0]


def test_statistic_of_an_injected_excess_exceeds_the_background_only_one(toy):
    embedding, mjj = toy
    search = NearestClusterSearch(CENTERS, bins=BINS, signal_region=SR)
    bump = np.column_stack([np.full(150, 1.0), np.zeros(150)]), np.full(150, 3500.0)
    with_signal = np.vstack([embedding, bump[0]]), np.concatenate([mjj, bump[1]])
    z_signal = search.fit(*with_signal).excess_significance_
    assert np.argmax(z_signal) == 1
    assert z_signal[1] > 3.0 > search.fit(embedding, mjj).test_statistic(embedding, mjj)


def test_statistic_equals_largest_excess_of_anomaly_search(events):
    model = _FixedEmbedding(events, CENTERS).fit(events)
    background = DijetFitBackground(n_params=4)
    result = anomaly_search(
        events, model=model, bins=BINS, signal_region=SR, background=background
    )
    search = NearestClusterSearch(CENTERS, bins=BINS, signal_region=SR, background=background)
    search.fit(model.embed(events), events.mjj)
    np.testing.assert_allclose(search.excess_significance_, result.excess_significance, rtol=1e-12)
    np.testing.assert_allclose(
        search.test_statistic(model.embed(events), events.mjj),
        result.excess_significance.max(),
        rtol=1e-12,
    )
    np.testing.assert_array_equal(search.labels_, model.predict(events))


def test_null_statistics_and_p_value_match_a_direct_bootstrap_loop(events):
    model = _FixedEmbedding(events, CENTERS).fit(events)
    search = NearestClusterSearch(CENTERS, bins=BINS, signal_region=SR)
    calibration = run_pseudo_experiments(
        search, events, inputs=EmbeddingInputs(model), n_background_only=25, random_state=0
    )
    # the same toys by hand: seeds drawn up front, Poisson(1) multiplicities of the QCD events
    seeds = np.random.RandomState(0).randint(np.iinfo(np.int32).max, size=25)
    embedding = model.embed(events)
    background = ~events.is_signal
    direct = []
    for seed in seeds:
        weight = np.zeros(len(events))
        weight[background] = np.random.default_rng(seed).poisson(1.0, background.sum())
        direct.append(_hand_statistic(embedding, events.mjj, CENTERS, weight))
    np.testing.assert_allclose(calibration.null_statistics, direct, rtol=1e-9)
    observed = np.median(direct)
    p, is_bound = calibration.p_value(observed)
    # p = N_{>t} / N_tot (arXiv:2402.17714, Eq. 3.4)
    np.testing.assert_allclose(p, np.mean(np.asarray(direct) > observed), rtol=1e-12)
    assert not is_bound


def test_unreached_statistic_is_reported_as_a_lower_bound(events):
    model = _FixedEmbedding(events, CENTERS).fit(events)
    calibration = run_pseudo_experiments(
        NearestClusterSearch(CENTERS, bins=BINS, signal_region=SR),
        events,
        inputs=EmbeddingInputs(model),
        n_background_only=20,
        random_state=1,
    )
    estimate = calibration.significance_estimate(calibration.null_statistics.max() + 1.0)
    assert estimate.kind.tolist() == "lower bound"
    np.testing.assert_allclose(estimate.value, stats.norm.isf(1 / 20))


def test_int_cluster_centers_learn_kmeans_centroids(toy):
    embedding, mjj = toy
    search = NearestClusterSearch(3, bins=BINS, signal_region=SR, random_state=0).fit(
        embedding, mjj
    )
    assert search.cluster_centers_.shape == (3, 2)
    np.testing.assert_array_equal(search.predict(embedding), search.labels_)


@pytest.mark.parametrize(
    ("params", "X", "match"),
    [
        ({"cluster_centers": CENTERS}, np.zeros((10, 1)), "EmbeddingInputs"),
        ({"cluster_centers": [[0.0, 0.0]]}, np.zeros((10, 2)), "at least two centroids"),
        ({"cluster_centers": CENTERS, "signal_region": (3250.0, 3800.0)}, None, "bin edge"),
        ({"cluster_centers": 2, "bins": [3000.0, 2900.0, 3100.0]}, None, "increasing"),
    ],
)
def test_bad_input_raises_a_clear_error(toy, params, X, match):
    embedding, mjj = toy
    X = embedding if X is None else X
    with pytest.raises(ValueError, match=match):
        NearestClusterSearch(**{"bins": BINS, **params}).fit(X, mjj[: len(X)])


def test_negative_mjj_is_refused(toy):
    embedding, mjj = toy
    with pytest.raises(ValueError, match="m_jj"):
        NearestClusterSearch(CENTERS, bins=BINS).fit(embedding, -mjj)


def test_background_without_expected_counts_is_refused(toy):
    embedding, mjj = toy
    with pytest.raises(ValueError, match="background"):
        NearestClusterSearch(CENTERS, bins=BINS, background=object()).fit(embedding, mjj)


def test_failed_background_fit_fails_the_pseudo_experiment(toy):
    embedding, mjj = toy
    # two far centroids hold no event and are each other's nearest: an empty spectrum
    # cannot be fitted
    centers = np.vstack([CENTERS, [[50.0, 50.0]], [[52.0, 50.0]]])
    with pytest.raises(ValueError, match="background fit failed"):
        NearestClusterSearch(
            centers, bins=BINS, signal_region=SR, background=DijetFitBackground(n_params=4)
        ).fit(embedding, mjj)


def test_default_event_rows_are_refused_with_a_hint(events):
    with pytest.raises(RuntimeError, match="EmbeddingInputs"):
        run_pseudo_experiments(
            NearestClusterSearch(CENTERS, bins=BINS), events, n_background_only=2, random_state=0
        )


@pytest.mark.parametrize(
    ("model", "error", "match"),
    [
        (object(), TypeError, "embed"),
        (type("Bad", (), {"embed": lambda self, events: np.zeros((3, 2))})(), ValueError, "row"),
    ],
)
def test_embedding_inputs_refuse_a_model_without_one_row_per_event(events, model, error, match):
    with pytest.raises(error, match=match):
        EmbeddingInputs(model).from_events(events)
