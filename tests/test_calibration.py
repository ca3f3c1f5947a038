import json

import numpy as np
import pytest
from scipy import stats
from sklearn.pipeline import Pipeline

from hepcluster import ClusterScanner, DijetFitBackground, JetImageTransformer
from hepcluster.calibration import (
    CalibrationResult,
    empirical_p_value,
    global_significance,
    run_pseudo_experiments,
)
from hepcluster.calibration._pseudo import _save_checkpoint
from hepcluster.datasets import make_dijet_events

BINS = (3000.0, 3100.0, 3200.0, 3300.0, 3400.0, 3500.0, 3600.0, 3700.0, 3800.0)


# -- p-values and significances by hand ----------------------------------------------------


def test_p_values_count_the_null_statistics_at_least_as_large():
    null = [0.1, 0.5, 0.5, 0.9, 1.2]
    p, bound = empirical_p_value(null, [0.0, 0.5, 1.0, 1.2])
    np.testing.assert_allclose(p, [5 / 5, 4 / 5, 1 / 5, 1 / 5])
    assert not bound.any()
    p_mid, _ = empirical_p_value(null, [0.5, 1.2], mid_p=True)
    np.testing.assert_allclose(p_mid, [(2 + 0.5 * 2) / 5, 0.5 / 5])


def test_no_null_statistic_above_gives_the_flagged_lower_bound():
    null = np.arange(3900.0)
    z, bound = global_significance(null, [1e9])
    assert bound[0]
    assert z[0] == pytest.approx(stats.norm.isf(1 / 3900))


def test_observation_below_every_null_value_gives_a_finite_floor():
    z, bound = global_significance(np.arange(1.0, 101.0), [0.0])
    assert z[0] == pytest.approx(stats.norm.ppf(1 / 100))
    assert not bound[0]


def test_significance_is_the_inverse_normal_of_one_minus_p():
    rng = np.random.default_rng(0)
    null = rng.normal(size=500)
    observed = np.array([-1.0, 0.0, 1.5, 2.5])
    z, bound = global_significance(null, observed)
    p = np.array([(null >= t).mean() for t in observed])
    np.testing.assert_allclose(z[~bound], stats.norm.isf(p[~bound]))


def test_calibration_result_curves_by_hand():
    result = CalibrationResult(
        null_statistics=np.arange(1000.0),
        signal_injections=[100, 200, 300],
        injected_statistics=[[500.0] * 3, [842.0] * 3, [999.0] * 3],
        n_background=1e4,
    )
    medians = result.median_significance()
    np.testing.assert_allclose(medians, stats.norm.isf([0.5, 0.158, 0.001]))
    np.testing.assert_allclose(result.s_over_b, [0.01, 0.02, 0.03])
    assert medians[1] > 1.0
    expected = 100 + 100 * (1.0 - medians[0]) / (medians[1] - medians[0])
    needed = result.events_for(1.0)
    assert needed.kind == "computed"
    assert float(needed.value) == pytest.approx(expected)
    assert needed.low < needed.value < needed.high
    # never reached within the injected range: more than the largest injection is needed
    beyond = result.events_for(5.0)
    assert beyond.kind == "lower bound"
    assert float(beyond.value) == 300.0
    other = CalibrationResult(
        null_statistics=np.arange(1000.0),
        signal_injections=[100, 200, 300],
        injected_statistics=[[500.0] * 3, [500.0] * 3, [842.0] * 3],
        n_background=1e4,
    )
    improvement = result.significance_improvement(other)
    assert improvement.kind[0] == "undetermined"
    assert np.isnan(improvement.value[0])
    assert improvement.value[2] == pytest.approx(medians[2] / medians[1])
    assert improvement.low[2] < improvement.value[2] < improvement.high[2]
    assert float(result.events_for(1.0, other).value) < 1.0


def test_median_interval_is_the_clopper_pearson_interval_of_its_p_value():
    result = CalibrationResult(
        null_statistics=np.arange(1000.0),
        signal_injections=[100],
        injected_statistics=[[989.0] * 5],
        n_background=1e4,
    )
    median = result.median_estimate()
    low, high = stats.beta.ppf(0.16, 11, 990), stats.beta.isf(0.16, 12, 989)
    assert median.value[0] == pytest.approx(stats.norm.isf(0.011))
    assert median.low[0] == pytest.approx(stats.norm.isf(high))
    assert median.high[0] == pytest.approx(stats.norm.isf(low))


def test_bounds_are_marked_and_propagate_into_events_and_improvement():
    rng = np.random.default_rng(3)
    bounded = CalibrationResult(
        null_statistics=rng.normal(size=60),  # too few for a tail model
        signal_injections=[100, 200],
        injected_statistics=[[0.0, 0.1, 0.2], [50.0, 60.0, 70.0]],
        n_background=1e4,
    )
    median = bounded.median_estimate()
    assert median.kind.tolist() == ["computed", "lower bound"]
    assert median.format()[1] == f"≥ {stats.norm.isf(1 / 60):.2f}"
    assert np.isinf(median.high[1])
    needed = bounded.events_for(1.0)
    assert needed.kind == "upper bound"
    assert str(needed).startswith("≤ ")
    improvement = bounded.significance_improvement(bounded)
    assert improvement.kind[1] == "undetermined"  # a bound over a bound says nothing
    assert "≥" in repr(bounded)


def test_calibration_result_round_trips_through_a_file(tmp_path):
    result = CalibrationResult(
        null_statistics=np.random.default_rng(1).normal(size=50),
        signal_injections=[10, 20],
        injected_statistics=np.ones((2, 4)),
        n_background=123.0,
        name="fit",
        metadata={"bootstrap": "poisson"},
    )
    result.save(tmp_path / "calibration.npz")
    back = CalibrationResult.load(tmp_path / "calibration.npz")
    for key, value in result.to_dict().items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(getattr(back, key), value)
        else:
            assert getattr(back, key) == value


# -- pseudo-experiments ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def events():
    return make_dijet_events(8000, 1500, mjj_range=(2950.0, 3900.0), random_state=21)


def _fit():
    return DijetFitBackground(n_params=3, bins=BINS)


def _scanner_pipeline(idealised=False):
    return Pipeline(
        [
            ("images", JetImageTransformer(n_pixels=16)),
            (
                "scan",
                ClusterScanner(
                    n_clusters=12,
                    bins=BINS,
                    n_ensemble=1,
                    max_iter=10,
                    batch_size=512,
                    idealised=idealised,
                ),
            ),
        ]
    )


def test_idealised_fit_gives_uniform_background_only_p_values(events):
    reference = run_pseudo_experiments(
        _fit(), events, n_background_only=300, bootstrap="parametric", random_state=1
    )
    fresh = run_pseudo_experiments(
        _fit(), events, n_background_only=150, bootstrap="parametric", random_state=2
    )
    p, _ = reference.p_value(fresh.null_statistics, mid_p=True)
    assert stats.kstest(p, "uniform").pvalue > 0.01


def test_significance_grows_with_injected_signal(events):
    result = run_pseudo_experiments(
        _scanner_pipeline(),
        events,
        n_background_only=30,
        signal_injections=[250, 800],
        n_per_injection=8,
        random_state=3,
    )
    statistics = np.concatenate(
        [[np.median(result.null_statistics)], np.median(result.injected_statistics, axis=1)]
    )
    assert np.all(np.diff(statistics) > 0)
    medians = result.median_significance()
    assert medians[1] >= medians[0]
    assert medians[-1] == pytest.approx(result.max_significance)  # beyond every null toy


def test_cluster_scanning_beats_the_fit_at_moderate_injection(events):
    options = dict(n_background_only=30, signal_injections=[350], n_per_injection=8)
    scanning = run_pseudo_experiments(_scanner_pipeline(), events, random_state=4, **options)
    fit = run_pseudo_experiments(_fit(), events, random_state=4, **options)
    assert scanning.median_significance()[0] > fit.median_significance()[0]


def test_idealised_scanner_gets_the_truth_labels(events):
    result = run_pseudo_experiments(
        _scanner_pipeline(idealised=True), events, n_background_only=3, random_state=5
    )
    assert np.all(np.isfinite(result.null_statistics))


def test_results_do_not_depend_on_n_jobs_or_chunking(events):
    options = dict(n_background_only=8, signal_injections=[200], n_per_injection=4, random_state=6)
    serial = run_pseudo_experiments(_fit(), events, n_jobs=1, **options)
    parallel = run_pseudo_experiments(_fit(), events, n_jobs=2, chunk_size=3, **options)
    np.testing.assert_array_equal(serial.null_statistics, parallel.null_statistics)
    np.testing.assert_array_equal(serial.injected_statistics, parallel.injected_statistics)


def test_resume_from_a_checkpoint_gives_identical_results(events, tmp_path):
    options = dict(
        n_background_only=10, signal_injections=[200], n_per_injection=4, random_state=7
    )
    path = tmp_path / "calibration.json"
    full = run_pseudo_experiments(_fit(), events, checkpoint=path, **options)
    saved = json.loads(path.read_text())
    statistics = saved["payload"]["statistics"]
    assert len(statistics) == 14
    # a run killed half-way left only some pseudo-experiments behind
    partial = {int(k): v for k, v in statistics.items() if int(k) % 2}
    _save_checkpoint(path, saved["key"], partial, {})
    resumed = run_pseudo_experiments(_fit(), events, checkpoint=path, **options)
    np.testing.assert_array_equal(full.null_statistics, resumed.null_statistics)
    np.testing.assert_array_equal(full.injected_statistics, resumed.injected_statistics)
    with pytest.raises(ValueError, match="different calibration"):
        run_pseudo_experiments(
            _fit(), events, checkpoint=path, n_background_only=3, random_state=8
        )


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda text: text[: len(text) // 2], "not readable JSON"),
        (lambda text: text.replace('"statistics": {"0": ', '"statistics": {"0": 1e9 + '), "JSON"),
        (lambda text: json.dumps([1, 2]), "not a hepcluster calibration checkpoint"),
        (lambda text: text.replace("[", "[").replace('{"0": ', '{"0": 1', 1), "checksum"),
    ],
)
def test_damaged_checkpoints_are_refused_with_their_path(events, tmp_path, damage, message):
    options = dict(n_background_only=4, random_state=7)
    path = tmp_path / "calibration.json"
    run_pseudo_experiments(_fit(), events, checkpoint=path, **options)
    path.write_text(damage(path.read_text()))
    with pytest.raises(ValueError, match=message) as error:
        run_pseudo_experiments(_fit(), events, checkpoint=path, **options)
    assert str(path) in str(error.value)
    assert "remove it" in str(error.value)


def test_dask_cluster_gives_the_same_results_as_local_workers(events):
    distributed = pytest.importorskip("distributed")
    options = dict(n_background_only=6, signal_injections=[100], n_per_injection=2, random_state=9)
    local = run_pseudo_experiments(_fit(), events, n_jobs=1, **options)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        remote = run_pseudo_experiments(_fit(), events, backend="dask", **options)
    np.testing.assert_array_equal(local.null_statistics, remote.null_statistics)
    np.testing.assert_array_equal(local.injected_statistics, remote.injected_statistics)


def test_bootstrap_multiplicities_are_event_weights_not_copies(events):
    from hepcluster.calibration._pseudo import _event_weights, _prepare

    problem = _prepare(_scanner_pipeline(), events, "poisson")
    weights = _event_weights(problem, np.random.default_rng(0), 100)
    assert weights.shape == (len(events),)
    assert weights[events.is_signal].sum() == 100
    assert problem.features.n_jets == 2 * len(events)
    multinomial = _prepare(_fit(), events, "multinomial")
    weights = _event_weights(multinomial, np.random.default_rng(0), 0)
    assert weights.sum() == (~events.is_signal).sum()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_background_only": 0}, "n_background_only"),
        ({"signal_injections": [10**6]}, "signal pool"),
        ({"bootstrap": "jackknife"}, "bootstrap"),
    ],
)
def test_bad_calibration_arguments_raise(events, kwargs, message):
    with pytest.raises(ValueError, match=message):
        run_pseudo_experiments(_fit(), events, **kwargs)


def test_parametric_bootstrap_needs_the_fit(events):
    with pytest.raises(ValueError, match="DijetFitBackground"):
        run_pseudo_experiments(_scanner_pipeline(), events, bootstrap="parametric")


def test_calibration_plots(events):
    fit = run_pseudo_experiments(
        _fit(),
        events,
        n_background_only=20,
        signal_injections=[100, 400],
        n_per_injection=4,
        random_state=10,
    )
    from hepcluster.plotting import (
        plot_null_distribution,
        plot_significance_curves,
        plot_significance_improvement,
    )

    assert fit.plot(x="s_over_b").get_xlabel() == "injected S / B"
    plot_significance_curves([fit, fit])
    plot_significance_improvement(fit, fit)
    plot_null_distribution(fit)


# -- failures, shards, finite statistics -----------------------------------------------------

_CALLS = []


class _FlakyFit(DijetFitBackground):
    """A fit that fails on some bootstrap samples, as a real fit can."""

    def fit(self, X, y=None, sample_weight=None):
        _CALLS.append(1)
        if int(np.sum(sample_weight)) % 4 == 0:
            raise ValueError("this sample cannot be fitted")
        return super().fit(X, y, sample_weight)


def _flaky():
    return _FlakyFit(n_params=3, bins=BINS)


def test_failed_pseudo_experiments_are_recorded_and_counted_conservatively(events, tmp_path):
    path = tmp_path / "checkpoint.json"
    options = dict(n_background_only=40, signal_injections=[300], n_per_injection=8)
    result = run_pseudo_experiments(_flaky(), events, random_state=3, checkpoint=path, **options)
    assert 0 < result.n_failed < 48
    failed = [failure["task"] for failure in result.failures]
    statistics = np.concatenate([result.null_statistics, result.injected_statistics.ravel()])
    assert np.flatnonzero(np.isnan(statistics)).tolist() == failed
    assert all("cannot be fitted" in failure["reason"] for failure in result.failures)
    assert {"seed", "n_signal"} <= set(result.failures[0])
    n_failed_null = sum(task < 40 for task in failed)
    valid = result.null_statistics[np.isfinite(result.null_statistics)]
    assert result.n_null == 40
    t = np.median(valid)
    p, _ = result.p_value(t)
    assert p == pytest.approx(((valid >= t).sum() + n_failed_null) / 40)
    # failed injected pseudo-experiments count as not detected
    z, _ = result.injected_significances()
    assert np.all(z[np.isnan(result.injected_statistics)] == z.min())
    # resuming repeats neither the successes nor the failures
    _CALLS.clear()
    again = run_pseudo_experiments(_flaky(), events, random_state=3, checkpoint=path, **options)
    assert not _CALLS
    assert again.failures == result.failures


def test_a_calibration_in_which_everything_fails_raises(events):
    with pytest.raises(RuntimeError, match="every background-only pseudo-experiment failed"):
        run_pseudo_experiments(
            DijetFitBackground(bins=(5000.0, 5100.0, 5200.0, 5300.0, 5400.0, 5500.0)),
            events,
            n_background_only=3,
        )


def test_shards_merge_into_the_result_of_a_single_run(events):
    options = dict(n_background_only=12, signal_injections=[200, 400], n_per_injection=3)
    single = run_pseudo_experiments(_flaky(), events, random_state=11, **options)
    shards = [
        run_pseudo_experiments(_flaky(), events, random_state=11, shard=f"{i}/3", **options)
        for i in range(3)
    ]
    assert not shards[0].is_complete
    assert "shards=[0]" in repr(shards[0])
    partial = CalibrationResult.merge(shards[:2])
    assert partial.metadata["shards"]["indices"] == [0, 1]
    merged = CalibrationResult.merge([partial, shards[2]])
    assert merged.is_complete
    np.testing.assert_array_equal(merged.null_statistics, single.null_statistics)
    np.testing.assert_array_equal(merged.injected_statistics, single.injected_statistics)
    assert merged.failures == single.failures
    assert merged.name == single.name
    for key in ("config_key", "config", "estimator", "bootstrap", "random_state"):
        assert merged.metadata[key] == single.metadata[key]
    np.testing.assert_array_equal(merged.median_estimate().value, single.median_estimate().value)
    with pytest.raises(ValueError, match="overlap"):
        CalibrationResult.merge([shards[0], shards[0]])
    other = run_pseudo_experiments(_flaky(), events, random_state=12, shard=(1, 3), **options)
    with pytest.raises(ValueError, match=r"different calibration.*seeds"):
        CalibrationResult.merge([shards[0], other])


@pytest.mark.parametrize(
    ("shard", "message"),
    [("1/1", "0 <= index < count"), ("a/b", "I/N"), ((True, 2), "integers")],
)
def test_bad_shards_raise(events, shard, message):
    with pytest.raises(ValueError, match=message):
        run_pseudo_experiments(_fit(), events, n_background_only=2, shard=shard)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_background_only": True}, "n_background_only must be an integer"),
        ({"chunk_size": -1}, "chunk_size must be an integer >= 1"),
        ({"signal_injections": [10.7]}, "whole numbers"),
        ({"max_retries": -1}, "max_retries"),
    ],
)
def test_more_bad_calibration_arguments_raise(events, kwargs, message):
    with pytest.raises(ValueError, match=message):
        run_pseudo_experiments(_fit(), events, **{"n_background_only": 2, **kwargs})


@pytest.mark.parametrize(
    ("n_events", "n_clusters"),
    [(10_000, 50), (4_000, 20)],
)
def test_small_samples_give_finite_scanner_statistics_in_200_toys(n_events, n_clusters):
    # Background-only samples this small used to give an infinite MLS in 11/40 (10k events,
    # k = 50) and 17/40 (4k, k = 20) pseudo-experiments: every jet of a high-mass bin sat in a
    # signal-rich cluster. Such bins cannot be tested now and are counted instead.
    sample = make_dijet_events(n_events, 100, n_constituents=20, random_state=0)
    pipeline = Pipeline(
        [
            ("images", JetImageTransformer()),
            ("scan", ClusterScanner(n_clusters=n_clusters, n_ensemble=1)),
        ]
    )
    result = run_pseudo_experiments(pipeline, sample, n_background_only=200, random_state=0)
    assert result.n_failed == 0
    assert np.all(np.isfinite(result.null_statistics))
    assert result.significance_estimate(result.null_statistics.max()).kind == "computed"


def test_calibration_figures_mark_bounds_and_label_every_axis():
    rng = np.random.default_rng(8)
    result = CalibrationResult(
        null_statistics=rng.normal(size=60),  # too few toys for a tail model
        signal_injections=[100, 200, 300],
        injected_statistics=[rng.normal(0.5, 0.3, 5), rng.normal(1.5, 0.3, 5), [9.0] * 5],
        n_background=1e4,
        name="scan",
    )
    from hepcluster.plotting import (
        plot_null_distribution,
        plot_significance_curves,
        plot_significance_improvement,
    )

    ax = plot_significance_curves([result])
    assert ax.get_ylabel() == "global significance Z [σ]"
    assert ax.get_xlabel() == "injected signal events"
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "scan: median" in labels
    assert "lower bound (no null toy beyond)" in labels
    assert "empirical limit of 60 null toys" in labels
    # the bound at 300 injected events is drawn as an arrow (a lolims error bar)
    from matplotlib.lines import CARETUPBASE

    assert [line for line in ax.lines if line.get_marker() == CARETUPBASE]
    ax = plot_significance_improvement(result, result)
    assert "significance improvement" in ax.get_ylabel()
    assert ax.get_legend() is not None
    ax = plot_null_distribution(result)
    assert "local MLS" in ax.get_xlabel()
    assert ax.get_legend() is not None
