"""WindowScan (training windows scanned, maximum as statistic) and n_clusters="auto"."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from hepcluster import JetImageTransformer
from hepcluster.calibration import run_pseudo_experiments
from hepcluster.datasets import make_dijet_events
from hepcluster.scanning import ClusterScanner, WindowScan, WindowScanResult, window_bins
from hepcluster.scanning._auto_k import elbow_index
from hepcluster.stats import bin_index

BINS = (3000.0, 3100.0, 3200.0, 3300.0, 3400.0, 3500.0)


@pytest.fixture(scope="module")
def jets():
    rng = np.random.default_rng(3)
    n = 5000
    mjj = rng.uniform(2950.0, 3500.0, size=n)
    X = rng.normal(size=(n, 4))
    X[:, 0] += (mjj > 3300.0) * (rng.random(n) < 0.1) * 4.0  # a localised feature
    weight = rng.poisson(1.0, size=n).astype(np.float64)
    return X, mjj, weight


def _scanner(**params):
    return ClusterScanner(n_clusters=6, bins=BINS, n_ensemble=2, max_iter=30, **params)


def test_single_window_equals_a_hand_fitted_scanner(jets):
    X, mjj, weight = jets
    search = WindowScan(_scanner(), windows=[(3100.0, 3200.0)], random_state=4)
    result = search.fit(X, mjj, sample_weight=weight).scan(X, mjj, weight)
    hand = clone(_scanner()).set_params(
        train_window=(3100.0, 3200.0),
        excluded_bins=[1],
        random_state=int(search.window_seeds_[0]),
    )
    expected = hand.fit(X, mjj, sample_weight=weight).scan(X, mjj, weight)
    assert result.statistic == expected.statistic
    np.testing.assert_array_equal(result.best_result.cluster_spectra, expected.cluster_spectra)
    np.testing.assert_array_equal(search.scanners_[0].cluster_centers_, hand.cluster_centers_)
    assert search.test_statistic(X, mjj, weight) == expected.statistic


def test_statistic_is_the_maximum_over_windows(jets):
    X, mjj, weight = jets
    search = WindowScan(_scanner(), random_state=0).fit(X, mjj, sample_weight=weight)
    per_window = [s.test_statistic(X, mjj, weight) for s in search.scanners_]
    result = search.scan(X, mjj, weight)
    assert search.windows_.shape == (len(BINS) - 1, 2)
    np.testing.assert_array_equal(result.statistics, per_window)
    assert result.statistic == max(per_window)
    assert result.best_window == int(np.argmax(per_window))
    assert search.best_window_ == result.best_window
    low, high = result.best_train_window
    assert (low, high) == tuple(search.windows_[result.best_window])
    assert isinstance(result, WindowScanResult)
    assert "best_window" in repr(result)


@pytest.mark.parametrize("guard", [0.0, 100.0])
def test_guard_band_removes_the_jets_of_the_window(jets, guard):
    X, mjj, weight = jets
    search = WindowScan(_scanner(), windows=[(3200.0, 3300.0)], guard=guard, random_state=1)
    result = search.fit(X, mjj, sample_weight=weight).scan(X, mjj, weight)
    scan = result.best_result
    # brute force: label every jet, histogram only the jets away from the window
    low, high = 3200.0 - guard, 3300.0 + guard
    edges = np.asarray(BINS)
    kept = (mjj >= edges[0]) & (mjj < edges[-1])
    kept &= ~((mjj >= max(low, edges[0])) & (mjj < min(high, edges[-1])))
    labels = search.scanners_[0].predict_ensemble(X)
    for member in range(2):
        expected = np.zeros((6, len(BINS) - 1))
        np.add.at(expected, (labels[member, kept], bin_index(mjj[kept], edges)), weight[kept])
        np.testing.assert_allclose(scan.cluster_spectra[member], expected, rtol=1e-12)
    excluded = window_bins(edges, (3200.0, 3300.0), guard)
    assert excluded.tolist() == ([2] if guard == 0 else [1, 2, 3])
    assert np.all(scan.cluster_spectra[:, :, excluded] == 0)
    assert np.all(scan.local_significance[:, excluded] == 0)
    in_band = (mjj >= low) & (mjj < high) & (mjj >= edges[0]) & (mjj < edges[-1])
    assert scan.metadata["n_excluded"] == int(in_band.sum())
    assert scan.metadata["excluded_bins"] == excluded.tolist()


def test_excluded_bins_equal_a_scan_without_those_jets(jets):
    X, mjj, weight = jets
    scanner = _scanner(random_state=2).fit(X, mjj, sample_weight=weight)
    cut = clone(scanner).set_params(excluded_bins=[3]).fit(X, mjj, sample_weight=weight)
    outside = ~((mjj >= 3300.0) & (mjj < 3400.0))
    removed = scanner.scan(X, mjj, weight * outside)  # zero weight = removal for the scan
    kept = [0, 1, 2, 4]
    scan = cut.scan(X, mjj, weight)
    # same centres (same seeds and training window), so the kept bins agree exactly
    np.testing.assert_array_equal(
        scan.cluster_spectra[..., kept], removed.cluster_spectra[..., kept]
    )


def test_default_scanner_is_unchanged_by_the_new_options(jets):
    X, mjj, weight = jets
    plain = _scanner(random_state=5).fit(X, mjj, sample_weight=weight).scan(X, mjj, weight)
    explicit = (
        _scanner(random_state=5, excluded_bins=None)
        .fit(X, mjj, sample_weight=weight)
        .scan(X, mjj, weight)
    )
    assert plain.statistic == explicit.statistic
    assert "excluded_bins" not in plain.metadata


def test_windows_with_too_few_jets_are_skipped_and_reported(jets):
    X, mjj, weight = jets
    search = WindowScan(
        _scanner(), windows=[(3000.0, 3100.0), (3400.0, 3400.5)], random_state=0
    ).fit(X, mjj, sample_weight=weight)
    assert search.skipped_windows_.tolist() == [1]
    assert search.scanners_[1] is None
    result = search.scan_result_
    assert np.isnan(result.statistics[1])
    assert result.best_window == 0


def test_window_scan_clones_and_exposes_the_scanner_parameters():
    search = WindowScan(_scanner(), guard=50.0, n_jobs=2)
    params = search.get_params(deep=True)
    assert params["scanner__n_clusters"] == 6
    again = clone(search).set_params(scanner__n_clusters=4)
    assert again.scanner.n_clusters == 4
    assert search.scanner.n_clusters == 6


def test_window_scan_results_do_not_depend_on_n_jobs(jets):
    X, mjj, weight = jets
    one = WindowScan(_scanner(), random_state=0, n_jobs=1).fit(X, mjj, sample_weight=weight)
    two = WindowScan(_scanner(), random_state=0, n_jobs=2).fit(X, mjj, sample_weight=weight)
    np.testing.assert_array_equal(one.scan_result_.statistics, two.scan_result_.statistics)


def test_window_scan_result_round_trips(jets, tmp_path):
    X, mjj, _ = jets
    result = WindowScan(_scanner(), random_state=0).fit(X, mjj).scan_result_
    again = WindowScanResult.load(result.save(tmp_path / "scan.npz"))
    np.testing.assert_array_equal(again.statistics, result.statistics)
    assert again.best_window == result.best_window
    np.testing.assert_array_equal(
        again.best_result.cluster_spectra, result.best_result.cluster_spectra
    )


def test_window_scan_runs_in_a_pipeline_through_the_calibration():
    events = make_dijet_events(1500, 150, mjj_range=(2900.0, 3700.0), random_state=0)
    scanner = ClusterScanner(
        n_clusters=4, bins=(3000, 3200, 3400, 3600), n_ensemble=1, max_iter=10
    )
    pipeline = make_pipeline(
        JetImageTransformer(n_pixels=12, sparse_output=True),
        # windows from the top: the first one (checked alone below) is not the best
        WindowScan(scanner, windows=[(3400, 3600), (3200, 3400), (3000, 3200)]),
    )
    kwargs = dict(n_background_only=3, signal_injections=[60], n_per_injection=2)
    result = run_pseudo_experiments(pipeline, events, random_state=0, **kwargs)
    assert result.null_statistics.shape == (3,)
    assert np.all(np.isfinite(result.null_statistics))
    assert np.all(np.isfinite(result.injected_statistics))
    again = run_pseudo_experiments(pipeline, events, random_state=0, **kwargs)
    np.testing.assert_array_equal(again.null_statistics, result.null_statistics)
    # The same pseudo-experiments with only the first window (same bootstrap, same seed
    # of that window): the maximum over windows is never below it — the trials factor
    # is in every pseudo-experiment of the calibration.
    pipeline.set_params(windowscan__windows=[(3400.0, 3600.0)], windowscan__compute_scan=False)
    first = run_pseudo_experiments(pipeline, events, random_state=0, **kwargs)
    assert np.all(result.null_statistics >= first.null_statistics)
    assert np.all(result.injected_statistics >= first.injected_statistics)
    assert np.any(result.null_statistics > first.null_statistics)


def test_elbow_index_is_the_farthest_point_below_the_chord():
    rng = np.random.default_rng(0)
    k = np.array([5, 10, 20, 40, 80])
    for _ in range(20):
        inertia = np.sort(rng.uniform(1.0, 10.0, size=k.size))[::-1]
        x, y = np.log(k), inertia
        # distance of (x, y) below the chord, in the unit square, brute force
        xs = (x - x[0]) / (x[-1] - x[0])
        ys = (y - y.min()) / (y.max() - y.min())
        chord = ys[0] + (ys[-1] - ys[0]) * xs
        assert elbow_index(k, inertia) == int(np.argmax(chord - ys))
    assert elbow_index([10, 20], [2.0, 1.0]) == 0


def test_auto_k_is_chosen_inside_fit_from_the_inertia_curve(jets):
    X, mjj, weight = jets
    scanner = _scanner(random_state=0).set_params(
        n_clusters="auto", n_clusters_candidates=(2, 4, 8, 16)
    )
    scanner.fit(X, mjj, sample_weight=weight)
    assert scanner.n_clusters_ in (2, 4, 8, 16)
    ks, inertia = scanner.auto_inertia_.T
    assert scanner.n_clusters_ == int(ks[elbow_index(ks, inertia)])
    assert np.all(np.diff(inertia) < 0)
    assert scanner.cluster_centers_.shape[0] == scanner.n_clusters_
    result = scanner.scan(X, mjj, weight)
    assert result.cluster_spectra.shape[1] == scanner.n_clusters_
    # redone in every fit: another bootstrap gives its own curve
    other = clone(scanner).fit(
        X, mjj, sample_weight=np.random.default_rng(1).poisson(1.0, mjj.size)
    )
    assert not np.array_equal(other.auto_inertia_, scanner.auto_inertia_)


def test_auto_k_in_the_window_scan_is_chosen_per_window(jets):
    X, mjj, _ = jets
    scanner = _scanner().set_params(n_clusters="auto", n_clusters_candidates=(2, 4, 8))
    search = WindowScan(scanner, random_state=0).fit(X, mjj)
    assert search.n_clusters_.shape == (len(BINS) - 1,)
    assert set(search.n_clusters_.tolist()) <= {2, 4, 8}
    np.testing.assert_array_equal(search.scan_result_.n_clusters, search.n_clusters_)


def test_auto_k_rejects_bad_candidates(jets):
    X, mjj, _ = jets
    with pytest.raises(ValueError, match="n_clusters_candidates"):
        _scanner().set_params(n_clusters="auto", n_clusters_candidates=(0, 4)).fit(X, mjj)
