import json
import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.cluster import MiniBatchKMeans
from sklearn.exceptions import EfficiencyWarning
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from hepcluster.datasets import make_dijet_events
from hepcluster.images import JetImageTransformer
from hepcluster.scanning import (
    ClusterScanner,
    ScanResult,
    local_significance,
    max_local_significance,
    robust_mean_std,
    trimmed_sd_correction,
)
from hepcluster.scanning._spectra import analyse_spectra, cluster_spectra
from hepcluster.stats import CLUSTER_SCANNING_BINS
from hepcluster.utils._errors import InvalidFileError

BINS = tuple(np.linspace(3000.0, 4600.0, 17))


# -- robust estimators -------------------------------------------------------------------


def _robust_brute_force(column, fraction):
    n_drop = int(np.floor(fraction * len(column) + 0.5))
    median = np.median(column)
    order = sorted(range(len(column)), key=lambda i: (abs(column[i] - median), i))
    kept = [column[i] for i in order[: len(column) - n_drop]]
    return np.mean(kept), np.std(kept, ddof=1) * trimmed_sd_correction(fraction)


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.2, 0.35])
def test_robust_mean_std_matches_brute_force(fraction):
    rng = np.random.default_rng(0)
    values = rng.standard_cauchy(size=(50, 16))
    mean, std = robust_mean_std(values, outlier_fraction=fraction, axis=0)
    for b in range(16):
        expected = _robust_brute_force(values[:, b], fraction)
        np.testing.assert_allclose([mean[b], std[b]], expected, rtol=1e-12)


def test_trimmed_sd_correction_matches_monte_carlo():
    rng = np.random.default_rng(1)
    sample = rng.standard_normal(2_000_000)
    kept = np.sort(np.abs(sample))[: int(0.8 * sample.size)]
    monte_carlo = 1.0 / np.sqrt(np.mean(kept**2))
    assert trimmed_sd_correction(0.2) == pytest.approx(1.5115, abs=1e-4)
    assert trimmed_sd_correction(0.2) == pytest.approx(monte_carlo, rel=2e-3)


def test_robust_std_is_unbiased_for_normal_clusters():
    rng = np.random.default_rng(2)
    mean, std = robust_mean_std(
        rng.normal(5.0, 2.0, size=(50, 4000)), outlier_fraction=0.2, axis=0
    )
    assert np.mean(mean) == pytest.approx(5.0, abs=0.02)
    assert np.mean(std) == pytest.approx(2.0, rel=0.03)


def test_signal_rich_outliers_barely_move_the_robust_scale():
    rng = np.random.default_rng(2)
    values = rng.normal(5.0, 2.0, size=(50, 4000))
    values[:3] += 40.0  # three signal-rich clusters
    mean, std = robust_mean_std(values, outlier_fraction=0.2, axis=0)
    assert np.mean(mean) == pytest.approx(5.0, abs=0.1)
    assert np.mean(std) == pytest.approx(2.0, rel=0.15)  # the plain SD would be ≈ 9.5
    assert np.mean(values.std(axis=0)) > 9.0


def test_robust_mean_std_needs_two_values_left():
    with pytest.raises(ValueError, match="at least 2"):
        robust_mean_std(np.ones(2), outlier_fraction=0.5)


# -- local significances -----------------------------------------------------------------


def test_poisson_significance_matches_scipy_for_integer_counts():
    rng = np.random.default_rng(3)
    expected = rng.uniform(1.0, 500.0, 2000)
    observed = rng.poisson(expected * 1.3).astype(float)
    z = local_significance(observed, expected)
    excess = observed > expected
    reference = stats.norm.isf(stats.poisson.sf(observed[excess] - 1, expected[excess]))
    np.testing.assert_allclose(z[excess], np.maximum(reference, 0), rtol=1e-9, atol=1e-9)
    assert np.all(z[~excess] == 0.0)


def test_poisson_midp_lies_between_the_neighbouring_integer_tails():
    observed, expected = np.array([12.0, 40.0]), np.array([5.0, 25.0])
    mid = local_significance(observed, expected, statistic="poisson-midp")
    upper = local_significance(observed, expected)
    lower = local_significance(observed + 1, expected)
    assert np.all(upper < mid)
    assert np.all(mid < lower)
    p_mid = stats.poisson.sf(observed, expected) + 0.5 * stats.poisson.pmf(observed, expected)
    np.testing.assert_allclose(mid, stats.norm.isf(p_mid), rtol=1e-9)


def test_gaussian_significance_is_equation_3_3():
    observed = np.array([110.0, 100.0, 90.0, 250.0])
    expected = np.array([100.0, 100.0, 100.0, 100.0])
    np.testing.assert_allclose(
        local_significance(observed, expected, statistic="gaussian"), [1.0, 0.0, 0.0, 15.0]
    )


def test_poisson_significance_is_continuous_in_non_integer_counts():
    observed = np.linspace(130.0, 131.0, 11)
    z = local_significance(observed, np.full(11, 100.0))
    assert np.all(np.diff(z) > 0)


def test_poisson_significance_stays_finite_far_in_the_tail():
    expected = np.array([100.0, 1000.0, 3000.0])
    observed = np.array([700.0, 3000.0, 8000.0])
    z = local_significance(observed, expected)
    assert np.all(np.isfinite(z))
    assert np.all(z > 30.0)
    # the log-space series agrees with scipy where both are representable
    p = stats.poisson.sf(259.0, 100.0)
    assert local_significance([260.0], [100.0])[0] == pytest.approx(stats.norm.isf(p), rel=1e-9)


def test_max_local_significance_is_batched_over_spectra():
    rng = np.random.default_rng(4)
    observed = rng.poisson(200.0, size=(7, 5, 16)).astype(float)
    expected = np.full((7, 5, 16), 200.0)
    mls = max_local_significance(observed, expected)
    assert mls.shape == (7, 5)
    for i in range(7):
        for j in range(5):
            assert mls[i, j] == local_significance(observed[i, j], expected[i, j]).max()


def test_bad_counts_raise():
    with pytest.raises(ValueError, match="finite"):
        local_significance([np.nan], [1.0])
    with pytest.raises(ValueError, match="non-negative"):
        local_significance([-1.0], [1.0])
    with pytest.raises(ValueError, match="statistic"):
        local_significance([1.0], [1.0], statistic="likelihood")


def test_test_statistic_is_zero_when_no_cluster_is_selected():
    spectra = np.full((1, 10, 5), 100.0)
    spectra[0, 0, 2] = 180.0  # an excess, but below any sensible threshold on its own
    analysis = analyse_spectra(spectra, outlier_fraction=0.2, threshold=1e9, statistic="poisson")
    assert not analysis["selected"].any()
    assert analysis["mls"][0] == 0.0


def test_background_estimate_is_scaled_poor_spectrum():
    rng = np.random.default_rng(5)
    spectra = rng.poisson(1000.0, size=(1, 30, 8)).astype(float)
    spectra[0, 4, 3] += 2000.0
    analysis = analyse_spectra(spectra, outlier_fraction=0.2, threshold=3.0, statistic="gaussian")
    selected = analysis["selected"][0]
    assert selected[4]
    rich = spectra[0, selected].sum(axis=0)
    poor = spectra[0, ~selected].sum(axis=0)
    np.testing.assert_allclose(analysis["background_estimate"][0], poor * rich.sum() / poor.sum())
    z = (rich - analysis["background_estimate"][0]) / np.sqrt(analysis["background_estimate"][0])
    assert analysis["mls"][0] == pytest.approx(max(z.max(), 0.0))


def test_bins_without_background_estimate_are_excluded_and_counted():
    rng = np.random.default_rng(6)
    spectra = rng.poisson(200.0, size=(2, 30, 6)).astype(float)
    # member 0: cluster 3 is signal-rich (bin 2) and holds every jet of the last bin, so
    # the background estimate of that bin is 0
    spectra[0, 3, 2] += 1000.0
    spectra[0, :, -1] = 0.0
    spectra[0, 3, -1] = 5.0
    analysis = analyse_spectra(spectra, outlier_fraction=0.2, threshold=3.0, statistic="poisson")
    assert analysis["selected"][0, 3]
    assert analysis["background_estimate"][0, -1] == 0.0
    assert analysis["untestable_bins"][0].tolist() == [False] * 5 + [True]
    assert not analysis["untestable_bins"][1].any()
    assert np.all(np.isfinite(analysis["mls"]))
    # the other bins are tested exactly as before
    rich, background = analysis["signal_rich_spectrum"][0], analysis["background_estimate"][0]
    expected = local_significance(rich[:-1], background[:-1]).max(initial=0.0)
    assert analysis["mls"][0] == pytest.approx(expected)


def test_min_background_excludes_bins_with_a_tiny_estimate():
    spectra = np.random.default_rng(7).poisson(100.0, size=(1, 20, 4)).astype(float)
    spectra[0, 0, 3] += 300.0
    strict = analyse_spectra(spectra, outlier_fraction=0.2, threshold=3.0, statistic="poisson")
    loose = analyse_spectra(
        spectra, outlier_fraction=0.2, threshold=3.0, statistic="poisson", min_background=1e6
    )
    assert strict["mls"][0] > 0
    assert not strict["untestable_bins"].any()
    assert loose["untestable_bins"][0].all()
    assert loose["mls"][0] == 0.0


# -- the scanner on synthetic events --------------------------------------------------------


@pytest.fixture(scope="module")
def transformer():
    return JetImageTransformer(n_pixels=24)


@pytest.fixture(scope="module")
def signal_sample(transformer):
    events = make_dijet_events(24_000, 2_500, mjj_range=(2950.0, 4700.0), random_state=11)
    X, mjj, _ = events.jets()
    return events, transformer.fit(X).transform_sparse(X), mjj


@pytest.fixture(scope="module")
def background_sample(transformer):
    events = make_dijet_events(24_000, 0, mjj_range=(2950.0, 4700.0), random_state=12)
    X, mjj, _ = events.jets()
    return events, transformer.fit(X).transform_sparse(X), mjj


def _scanner(**kwargs):
    params = dict(n_clusters=50, bins=BINS, n_ensemble=2, max_iter=40, random_state=0)
    params.update(kwargs)
    return ClusterScanner(**params)


@pytest.fixture(scope="module")
def signal_scan(signal_sample):
    _, images, mjj = signal_sample
    scanner = _scanner().fit(images, mjj)
    return scanner, scanner.scan(images, mjj)


def test_signal_rich_clusters_are_signal_enriched(signal_sample, signal_scan):
    events, images, mjj = signal_sample
    scanner, result = signal_scan
    is_signal = events.jet_is_signal
    inside = (mjj >= BINS[0]) & (mjj < BINS[-1])
    labels = scanner.predict_ensemble(images)
    for member in range(result.n_members):
        assert result.n_selected[member] >= 1
        chosen = np.isin(labels[member], np.flatnonzero(result.selected[member])) & inside
        s_chosen, b_chosen = is_signal[chosen].sum(), (~is_signal[chosen]).sum()
        s_all, b_all = is_signal[inside].sum(), (~is_signal[inside]).sum()
        sfi = (s_chosen / b_chosen) / (s_all / b_all)
        assert sfi >= 2.0


def test_signal_gives_a_larger_statistic_than_background_only(signal_scan, background_sample):
    _, images, mjj = background_sample
    background_statistic = _scanner().fit(images, mjj).test_statistic(images, mjj)
    _, result = signal_scan
    assert result.statistic > background_statistic + 3.0
    assert result.statistic > 5.0


def test_cluster_spectra_equal_a_bincount_per_member_bit_for_bit():
    rng = np.random.default_rng(11)
    n_jets, n_clusters, n_bins = 20_000, 7, 5
    labels = rng.integers(0, n_clusters, (3, n_jets))
    jet_bin = rng.integers(-1, n_bins, n_jets)  # -1: outside, skipped whatever its label
    labels[:, jet_bin < 0] = -1
    weights = rng.poisson(1.0, n_jets) * rng.random(n_jets)
    spectra = cluster_spectra(labels, jet_bin, weights, n_clusters, n_bins)
    inside = jet_bin >= 0
    for member in range(3):
        expected = np.bincount(
            labels[member, inside] * n_bins + jet_bin[inside],
            weights=weights[inside],
            minlength=n_clusters * n_bins,
        ).reshape(n_clusters, n_bins)
        np.testing.assert_array_equal(spectra[member], expected)
    labels[1, np.flatnonzero(inside)[4]] = n_clusters
    with pytest.raises(ValueError, match="outside \\[0, 7\\)"):
        cluster_spectra(labels, jet_bin, weights, n_clusters, n_bins)


def test_false_positive_rate_of_the_selection_is_nominal_for_large_counts():
    # Background-only, uncorrelated spectra of 50 equal clusters: z_{i,b} is a studentised
    # value (μ̃, σ̃ from 40 clusters), so P(z > θ) follows Student's t with 39 dof.
    rng = np.random.default_rng(7)
    shape = np.exp(-np.arange(16) / 4.0)
    shape /= shape.sum()
    spectra = rng.poisson(50_000 * shape, size=(400, 50, 16)).astype(float)
    analysis = analyse_spectra(spectra, outlier_fraction=0.2, threshold=3.0, statistic="poisson")
    nominal = 50 * 16 * stats.t.sf(3.0, df=39)
    assert analysis["selected"].sum(axis=1).mean() == pytest.approx(nominal, rel=0.25)


def test_idealized_background_only_selects_few_clusters(background_sample):
    events, images, mjj = background_sample
    scanner = _scanner(idealized=True, n_ensemble=3, threshold=3.0).fit(images, mjj)
    result = scanner.scan(images, mjj, is_signal=events.jet_is_signal)
    # ~800 jets per cluster spread over 16 bins: Poisson tails add to the nominal ≈ 1.9
    assert result.n_selected.mean() < 0.2 * 50
    assert result.statistic < 4.0


def test_idealized_scan_needs_truth_labels(background_sample):
    _, images, mjj = background_sample
    scanner = _scanner(idealized=True, n_ensemble=1, max_iter=5).fit(images, mjj)
    with pytest.raises(ValueError, match="is_signal"):
        scanner.scan(images, mjj)
    with pytest.raises(ValueError, match="is_signal"):
        scanner.test_statistic(images, mjj)


def test_idealized_toy_labels_only_the_jets_it_keeps_and_gives_the_full_scan(signal_sample):
    # test_statistic labels signal and first-bin jets only (the rest are redrawn);
    # scan labels every jet: the two must agree bit for bit, weights of 0 included.
    events, images, mjj = signal_sample
    truth = events.jet_is_signal
    weight = np.random.default_rng(3).poisson(1.0, mjj.size).astype(float)
    scanner = _scanner(idealized=True, n_clusters=10, n_ensemble=2, max_iter=5)
    scanner.fit(images, mjj, sample_weight=weight)
    full = scanner.scan(images, mjj, sample_weight=weight, is_signal=truth)
    calls = []
    original = scanner._labels_ensemble

    def spy(X, rows=None):
        calls.append(rows)
        return original(X, rows)

    scanner._labels_ensemble = spy
    toy = scanner.test_statistic(images, mjj, sample_weight=weight, is_signal=truth)
    assert toy == full.statistic
    jet_bin = np.searchsorted(scanner.bins_, mjj, side="right") - 1
    kept = (truth | (jet_bin == 0)) & (weight > 0) & (mjj >= BINS[0]) & (mjj < BINS[-1])
    np.testing.assert_array_equal(calls[0], np.flatnonzero(kept))
    assert calls[0].size < 0.5 * np.count_nonzero(weight)


def test_truth_labels_are_counted_but_only_idealize_an_idealized_scan(signal_sample):
    events, images, mjj = signal_sample
    subset = np.flatnonzero(mjj < 3500.0)[:5000]
    images, mjj, truth = images[subset], mjj[subset], events.jet_is_signal[subset]
    params = dict(n_clusters=8, n_ensemble=2, max_iter=5, bins=(3000.0, 3100.0, 3300.0, 3500.0))
    assert "idealised" not in ClusterScanner().get_params()
    with pytest.raises(TypeError, match="idealised"):
        ClusterScanner(idealised=True)
    new = _scanner(idealized=True, **params).fit(images, mjj)
    assert new.scan(images, mjj, is_signal=truth).metadata["idealized"] is True
    plain = _scanner(**params).fit(images, mjj)
    assert plain.scan(images, mjj).metadata == {"n_clusters": 8, "idealized": False}
    # the truth is ignored unless idealized
    assert plain.test_statistic(images, mjj, is_signal=truth) == plain.test_statistic(images, mjj)
    with_truth, without = plain.scan(images, mjj, is_signal=truth), plain.scan(images, mjj)
    assert without.cluster_signal is None
    np.testing.assert_array_equal(with_truth.selected, without.selected)
    # the counts are those of the k-means labels, jets inside the bins
    labels = plain.predict_ensemble(images)
    inside = (mjj >= 3000.0) & (mjj < 3500.0)
    for member in range(2):
        np.testing.assert_array_equal(
            with_truth.cluster_signal[member],
            np.bincount(labels[member][inside & truth], minlength=8),
        )
        np.testing.assert_array_equal(
            with_truth.cluster_background[member],
            np.bincount(labels[member][inside & ~truth], minlength=8),
        )
    np.testing.assert_array_equal(
        with_truth.cluster_signal + with_truth.cluster_background,
        with_truth.cluster_spectra.sum(axis=2),
    )


def test_the_sfi_of_a_scan_matches_a_brute_force_count(signal_sample):
    events, images, mjj = signal_sample
    truth = events.jet_is_signal
    weight = np.random.default_rng(3).uniform(0.5, 2.0, mjj.size)
    scanner = _scanner(n_clusters=8, n_ensemble=3, max_iter=5).fit(images, mjj)
    result = scanner.scan(images, mjj, weight, is_signal=truth)
    labels = scanner.predict_ensemble(images)
    inside = (mjj >= result.bins[0]) & (mjj < result.bins[-1])
    s_all, b_all = weight[inside & truth].sum(), weight[inside & ~truth].sum()
    for member in range(3):
        chosen = inside & np.isin(labels[member], np.flatnonzero(result.selected[member]))
        s_sel, b_sel = weight[chosen & truth].sum(), weight[chosen & ~truth].sum()
        expected = (s_sel / b_sel) / (s_all / b_all) if chosen.any() else 0.0
        assert result.signal_fraction_improvement()[member] == pytest.approx(expected, rel=1e-10)
        assert result.signal_to_background()[member] == pytest.approx(
            s_sel / b_sel if chosen.any() else 0.0, rel=1e-10
        )
    with pytest.raises(ValueError, match="without truth labels"):
        scanner.scan(images, mjj).signal_fraction_improvement()
    no_signal = scanner.scan(images, mjj, is_signal=np.zeros(mjj.size, bool))
    with pytest.raises(ValueError, match="undefined"):
        no_signal.signal_fraction_improvement()


def test_a_member_selecting_nothing_has_sfi_zero_and_pure_signal_inf():
    shape = (3, 4)
    result = ScanResult(
        bins=np.array([0.0, 1.0]),
        cluster_spectra=np.zeros((*shape, 1)),
        normalized_spectra=np.zeros((*shape, 1)),
        robust_mean=np.zeros((3, 1)),
        robust_std=np.zeros((3, 1)),
        standardized_spectra=np.zeros((*shape, 1)),
        selected=np.array([[False] * 4, [True, False, False, False], [False, True, False, False]]),
        signal_rich_spectrum=np.zeros((3, 1)),
        background_estimate=np.zeros((3, 1)),
        local_significance=np.zeros((3, 1)),
        untestable_bins=np.zeros((3, 1), bool),
        mls_members=np.zeros(3),
        statistic=0.0,
        statistic_name="poisson",
        threshold=3.0,
        n_jets=40,
        n_outside=0,
        cluster_signal=np.tile([2.0, 0.0, 0.0, 0.0], (3, 1)),
        cluster_background=np.tile([0.0, 4.0, 10.0, 4.0], (3, 1)),
    )
    np.testing.assert_array_equal(result.signal_to_background(), [0.0, np.inf, 0.0])
    np.testing.assert_array_equal(result.signal_fraction_improvement(), [0.0, np.inf, 0.0])
    assert "SFI" in str(result)
    assert "<table>" in result._repr_html_()


def test_statistic_is_the_mean_of_the_ensemble_members(signal_scan):
    _, result = signal_scan
    assert result.statistic == pytest.approx(result.mls_members.mean())
    assert result.mls_members.shape == (2,)


def test_same_random_state_gives_the_same_result_for_any_n_jobs(background_sample):
    _, images, mjj = background_sample
    subset = np.flatnonzero(mjj < 3600.0)
    images, mjj = images[subset], mjj[subset]
    one = _scanner(n_clusters=10, max_iter=10, n_jobs=1).fit(images, mjj).scan(images, mjj)
    two = _scanner(n_clusters=10, max_iter=10, n_jobs=2).fit(images, mjj).scan(images, mjj)
    np.testing.assert_array_equal(one.cluster_spectra, two.cluster_spectra)
    assert one.statistic == two.statistic


def test_integer_weights_equal_repeated_events_in_the_scan(signal_sample, signal_scan):
    events, images, mjj = signal_sample
    scanner, _ = signal_scan
    rng = np.random.default_rng(6)
    multiplicity = rng.poisson(1.0, len(events))
    jet_weight = np.repeat(multiplicity, 2)
    weighted = scanner.scan(images, mjj, sample_weight=jet_weight)
    repeated_rows = np.repeat(np.arange(len(mjj)), jet_weight)
    repeated = scanner.scan(images[repeated_rows], mjj[repeated_rows])
    np.testing.assert_allclose(weighted.cluster_spectra, repeated.cluster_spectra)
    np.testing.assert_allclose(weighted.mls_members, repeated.mls_members, rtol=1e-10)


def test_zero_weight_jets_are_not_labelled_and_the_spectra_stay_bitwise(
    signal_sample, signal_scan
):
    events, images, mjj = signal_sample
    scanner, _ = signal_scan
    multiplicity = np.random.default_rng(7).poisson(1.0, len(events))
    weight = np.repeat(multiplicity, 2).astype(np.float64)
    result = scanner.scan(images, mjj, sample_weight=weight)
    # brute force: every jet of the region labelled, every weight added
    jet_bin = np.searchsorted(scanner.bins_, mjj, side="right") - 1
    inside = (jet_bin >= 0) & (jet_bin < scanner.bins_.size - 1)
    labels = scanner.predict_ensemble(images)
    n_bins = scanner.bins_.size - 1
    for member in range(scanner.n_ensemble):
        expected = np.bincount(
            labels[member, inside] * n_bins + jet_bin[inside],
            weights=weight[inside],
            minlength=scanner.n_clusters * n_bins,
        ).reshape(scanner.n_clusters, n_bins)
        np.testing.assert_array_equal(result.cluster_spectra[member], expected)


def test_sparse_and_dense_images_give_the_same_labels_and_scan(background_sample):
    _, images, mjj = background_sample
    subset = np.flatnonzero(mjj < 3500.0)[:6000]
    sparse, mjj = images[subset], mjj[subset]
    dense = sparse.to_dense(smear=True, dtype=np.float64)
    params = dict(n_clusters=8, max_iter=10, bins=(3000.0, 3100.0, 3300.0, 3500.0))
    scanner = _scanner(**params).fit(sparse, mjj)
    np.testing.assert_array_equal(scanner.predict(sparse), scanner.predict(dense))
    np.testing.assert_array_equal(
        scanner.predict_ensemble(sparse), scanner.predict_ensemble(dense)
    )
    np.testing.assert_array_equal(
        scanner.scan(sparse, mjj).cluster_spectra, scanner.scan(dense, mjj).cluster_spectra
    )
    assert scanner.score(sparse, mjj) == pytest.approx(scanner.score(dense, mjj), rel=1e-10)


def test_dense_and_sparse_images_give_the_same_statistic_in_distribution():
    # Pseudo-experiments as a calibration runs them (Poisson weights per event, a fresh
    # fit per toy, signal events added to some), each on dense and on sparse images
    # with the same weights and member seeds. The k-means fits differ (MiniBatchKMeans
    # vs the sparse loop), so only the distributions can agree. The full-size
    # comparison (300 + 50 toys) is benchmarks/bench_dense_sparse_equivalence.py.
    events = make_dijet_events(6_000, 800, mjj_range=(2950.0, 3500.0), random_state=3)
    X, mjj, _ = events.jets()
    sparse = JetImageTransformer(n_pixels=10).fit(X).transform_sparse(X)
    dense = sparse.to_dense(smear=True)
    background = np.flatnonzero(~events.is_signal)
    signal = np.flatnonzero(events.is_signal)
    rng = np.random.RandomState(5)
    statistics = {"dense": [], "sparse": []}
    n_background_only, n_injected = 30, 12
    for toy in range(n_background_only + n_injected):
        event_weight = np.zeros(len(events))
        event_weight[background] = rng.poisson(1.0, background.size)
        if toy >= n_background_only:
            event_weight[rng.choice(signal, 300, replace=False)] = 1.0
        weight = np.repeat(event_weight, 2)
        seed = rng.randint(np.iinfo(np.int32).max)
        for name, images in (("dense", dense), ("sparse", sparse)):
            scanner = ClusterScanner(
                n_clusters=8, bins=BINS[:5], n_ensemble=2, max_iter=20, random_state=seed
            )
            # one OpenMP thread: MiniBatchKMeans on these tiny batches otherwise spends
            # its time synchronising threads (40x slower on a busy 2-core machine)
            with warnings.catch_warnings(), threadpool_limits(limits=1):
                warnings.simplefilter("ignore", EfficiencyWarning)
                scanner.fit(images, mjj, sample_weight=weight)
            statistics[name].append(scanner.test_statistic(images, mjj, sample_weight=weight))
    dense_ts, sparse_ts = np.array(statistics["dense"]), np.array(statistics["sparse"])
    for part in (slice(0, n_background_only), slice(n_background_only, None)):
        assert stats.ks_2samp(dense_ts[part], sparse_ts[part]).pvalue > 0.05
    # the injected signal raises the statistic on both paths
    for ts in (dense_ts, sparse_ts):
        assert np.median(ts[n_background_only:]) > np.median(ts[:n_background_only])


def test_dense_jet_images_get_an_efficiency_warning(background_sample):
    _, images, mjj = background_sample
    subset = np.flatnonzero(mjj < 3500.0)[:3000]
    dense = images[subset].to_dense(smear=True)
    params = dict(n_clusters=8, max_iter=5, bins=(3000.0, 3100.0, 3300.0, 3500.0))
    with pytest.warns(EfficiencyWarning, match=r"sparse_output=True"):
        _scanner(**params).fit(dense, mjj[subset])
    with warnings.catch_warnings():
        warnings.simplefilter("error", EfficiencyWarning)
        _scanner(**params).fit(images[subset], mjj[subset])  # sparse: no warning
        _scanner(**params).fit(np.abs(dense[:, :100]), mjj[subset])  # not jet images


def test_dense_images_are_fitted_by_sklearn_minibatch_kmeans(background_sample):
    _, images, mjj = background_sample
    subset = np.flatnonzero(mjj < 3500.0)[:6000]
    dense, mjj = images[subset].to_dense(smear=True), mjj[subset]
    scanner = _scanner(n_clusters=8, max_iter=10, batch_size=512).fit(dense, mjj)
    window = (mjj >= 3000.0) & (mjj < 3100.0)
    for member, seed in enumerate(scanner.ensemble_seeds_):
        km = MiniBatchKMeans(
            8, batch_size=512, max_iter=10, n_init=1, compute_labels=False, random_state=seed
        ).fit(dense[window])
        np.testing.assert_array_equal(scanner.ensemble_[member].centers, km.cluster_centers_)
    np.testing.assert_array_equal(scanner.cluster_centers_, scanner.ensemble_[0].centers)


def _brute_force_inertia(dense, centers, weight):
    distances = ((dense[:, None, :] - centers[None, :, :]) ** 2).sum(axis=-1)
    return float(weight @ distances.min(axis=1))


@pytest.mark.parametrize("fit_on", ["sparse", "dense"])
def test_score_is_minus_the_weighted_inertia_of_all_rows(background_sample, fit_on):
    _, images, mjj = background_sample
    subset = np.flatnonzero(mjj < 3700.0)[:4000]
    sparse, mjj = images[subset], mjj[subset]
    dense = sparse.to_dense(smear=True)
    weight = np.random.default_rng(3).poisson(1.0, mjj.shape[0]).astype(float)
    params = dict(n_clusters=7, max_iter=5, bins=(3000.0, 3100.0, 3300.0))
    scanner = _scanner(**params).fit(sparse if fit_on == "sparse" else dense, mjj)
    assert (mjj >= 3300.0).any()  # rows outside the bins count too
    expected = -_brute_force_inertia(dense, scanner.cluster_centers_, weight)
    assert scanner.score(sparse, mjj, weight) == pytest.approx(expected, rel=1e-10)
    assert scanner.score(dense, mjj, sample_weight=weight) == pytest.approx(expected, rel=1e-10)
    unweighted = -_brute_force_inertia(dense, scanner.cluster_centers_, np.ones(len(mjj)))
    assert scanner.score(sparse) == pytest.approx(unweighted, rel=1e-10)  # y is not needed
    assert scanner.score(sparse, mjj) < 0.0


def test_sample_unit_and_the_test_statistic_of_the_scan(signal_scan, signal_sample):
    _, images, mjj = signal_sample
    scanner, result = signal_scan
    assert ClusterScanner.sample_unit == "jet"
    assert scanner.sample_unit == "jet"
    assert scanner.test_statistic(images, mjj) == result.statistic
    assert ClusterScanner().bins == CLUSTER_SCANNING_BINS


def test_m_jj_is_binned_with_the_last_edge_excluded(background_sample):
    _, images, mjj = background_sample
    subset = np.flatnonzero(mjj < 3400.0)[:4000]
    images, mjj = images[subset], mjj[subset].copy()
    mjj[:3] = 3300.0  # on the last edge: outside
    scanner = _scanner(n_clusters=5, max_iter=3, bins=(3000.0, 3100.0, 3300.0)).fit(images, mjj)
    result = scanner.scan(images, mjj)
    inside = (mjj >= 3000.0) & (mjj < 3300.0)
    assert result.n_jets == int(inside.sum())
    assert result.n_outside == int((~inside).sum())
    np.testing.assert_allclose(
        result.cluster_spectra[0].sum(axis=0),
        np.histogram(mjj[inside], bins=(3000.0, 3100.0, 3300.0))[0],
    )


@pytest.mark.parametrize("sparse_output", [False, True], ids=["dense", "sparse"])
def test_pipeline_with_jet_images_fits_and_scores(sparse_output):
    events = make_dijet_events(3000, 300, mjj_range=(2950.0, 3700.0), random_state=13)
    X, mjj, _ = events.jets()
    pipeline = Pipeline(
        [
            ("images", JetImageTransformer(n_pixels=16, sparse_output=sparse_output)),
            ("scan", _scanner(n_clusters=10, max_iter=10, bins=(3000.0, 3100.0, 3300.0, 3500.0))),
        ]
    )
    pipeline.fit(X, mjj)
    images = pipeline[:-1].transform(X)
    statistic = pipeline[-1].test_statistic(images, mjj)
    assert statistic >= 0.0
    assert pipeline.score(X, mjj) == pipeline[-1].score(images, mjj) < 0.0
    again = clone(pipeline).fit(X, mjj)
    assert again[-1].test_statistic(again[:-1].transform(X), mjj) == statistic
    if sparse_output:  # the fast path inside the Pipeline is the by-hand sparse path
        by_hand = JetImageTransformer(n_pixels=16).fit(X).transform_sparse(X)
        scanner = clone(pipeline[-1]).fit(by_hand, mjj)
        assert scanner.test_statistic(by_hand, mjj) == statistic


def test_scan_reports_jets_outside_the_region(signal_scan, signal_sample):
    _, _, mjj = signal_sample
    _, result = signal_scan
    outside = int(((mjj < BINS[0]) | (mjj >= BINS[-1])).sum())
    assert result.n_outside == outside > 0
    assert result.n_jets + result.n_outside == len(mjj)
    assert result.cluster_spectra[0].sum() == pytest.approx(result.n_jets)


def test_scan_result_round_trips_through_a_file(signal_scan, tmp_path):
    _, result = signal_scan
    path = tmp_path / "scan.npz"
    result.save(path)
    back = ScanResult.load(path)
    for name, value in result.to_dict().items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(getattr(back, name), value)
        else:
            assert getattr(back, name) == value
    assert "statistic" in repr(back)
    assert ScanResult.from_dict(result.to_dict()).statistic == result.statistic


def test_scan_result_uses_the_one_result_io_mixin():
    from hepcluster.utils._results import ResultIO

    assert issubclass(ScanResult, ResultIO)
    for method in ("save", "to_dict"):
        assert getattr(ScanResult, method) is getattr(ResultIO, method)
    for method in ("load", "from_dict"):
        assert getattr(ScanResult, method).__func__ is getattr(ResultIO, method).__func__


def test_no_british_aliases_and_files_without_the_format_are_refused(signal_scan, tmp_path):
    _, result = signal_scan
    for old in ("normalised_spectra", "standardised_spectra"):
        assert not hasattr(result, old)
        assert old not in result.to_dict()
    fields = result.to_dict()
    arrays = {k: v for k, v in fields.items() if isinstance(v, np.ndarray)}
    scalars = {k: v for k, v in fields.items() if not isinstance(v, np.ndarray)}
    path = tmp_path / "untagged.npz"
    np.savez_compressed(path, **arrays, _scalars=np.asarray(json.dumps(scalars)))
    with pytest.raises(InvalidFileError, match="file format"):
        ScanResult.load(path)
    renamed = dict(fields)
    renamed["standardised_spectra"] = renamed.pop("standardized_spectra")
    with pytest.raises(TypeError, match="standardised_spectra"):
        ScanResult.from_dict(renamed)


def test_scan_result_reads_as_a_table(signal_sample):
    events, images, mjj = signal_sample
    scanner = _scanner(n_clusters=8, n_ensemble=2, max_iter=5).fit(images, mjj)
    result = scanner.scan(images, mjj, is_signal=events.jet_is_signal)
    text = str(result)
    assert text.splitlines()[0].startswith("Cluster Scanning: poisson MLS")
    assert "SFI" in text
    assert len(text.splitlines()) == 3 + result.n_members
    assert "SFI" not in str(scanner.scan(images, mjj))
    assert result._repr_html_().count("<tr>") == 1 + result.n_members
    assert repr(result).startswith("ScanResult(statistic=")


def test_scan_result_plots_the_three_paper_figures(signal_scan):
    pytest.importorskip("matplotlib", reason='needs matplotlib: pip install "hepcluster[plot]"')
    _, result = signal_scan
    axes = result.plot()
    assert len(axes) == 3
    assert len(axes[0].patches) == result.cluster_spectra.shape[1]
    for ax in axes:
        assert ax.get_legend() is not None
        assert ax.get_xlabel() == r"$m_{jj}$ [GeV]"
        assert ax.get_ylabel()
    legend = [text.get_text() for text in axes[0].get_legend().get_texts()]
    assert legend == ["other clusters", "signal-rich clusters"]
    # the title states the member's MLS and the ensemble mean that the result reports
    title = axes[2].get_title()
    assert f"{result.mls_members[0]:.2f}σ" in title
    assert f"{result.statistic:.2f}σ local" in title


def test_scan_result_plot_takes_ax_first(signal_scan):
    plt = pytest.importorskip(
        "matplotlib.pyplot", reason='needs matplotlib: pip install "hepcluster[plot]"'
    )
    _, result = signal_scan
    _, given = plt.subplots(1, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        drawn = result.plot(ax=given, member=1)
    assert list(drawn) == list(given)
    assert f"{result.mls_members[1]:.2f}σ" in given[2].get_title()
    with pytest.raises(TypeError, match="axes"):
        result.plot(axes=given)
    plt.close("all")


@pytest.mark.parametrize(
    ("mjj_shift", "kwargs", "message"),
    [
        (2000.0, {}, "no jets in the training window"),
        (0.0, {"n_clusters": 5000, "max_iter": 2}, "fewer than n_clusters"),
        (
            0.0,
            {"bins": (5000.0, 5100.0, 5200.0), "train_window": (3000.0, 3100.0)},
            "inside the bins",
        ),
        (0.0, {"bins": (3000.0, float("nan"), 3400.0)}, "bins must be finite"),
        (0.0, {"threshold": float("nan")}, "threshold must be a finite number"),
    ],
)
def test_bad_inputs_raise_clear_errors(background_sample, mjj_shift, kwargs, message):
    _, images, mjj = background_sample
    subset = np.flatnonzero(mjj < 3300.0)[:3000]
    images, mjj = images[subset], mjj[subset] + mjj_shift

    def fit_and_scan():
        _scanner(**kwargs).fit(images, mjj).scan(images, mjj)

    with pytest.raises(ValueError, match=message):
        fit_and_scan()


def test_nan_mjj_and_missing_y_raise(background_sample):
    _, images, mjj = background_sample
    bad = mjj.copy()
    bad[5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _scanner().fit(images, bad)
    with pytest.raises(ValueError, match="requires y"):
        _scanner().fit(images, None)


def test_zero_weights_in_the_training_window_are_named_as_the_cause(background_sample):
    _, images, mjj = background_sample
    weight = np.where((mjj >= 3000.0) & (mjj < 3100.0), 0.0, 1.0)
    with pytest.raises(ValueError, match="all have zero sample_weight"):
        _scanner().fit(images, mjj, sample_weight=weight)
