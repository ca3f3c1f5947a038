import json

import numpy as np
import pytest
from scipy import stats
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from hepcluster import ClusterScanner, DijetFitBackground, JetImageTransformer
from hepcluster.calibration import (
    CalibrationResult,
    EstimatorInputs,
    EventInputs,
    JetPairInputs,
    MethodComparison,
    compare_methods,
    empirical_p_value,
    global_significance,
    run_pseudo_experiments,
    run_shared_pseudo_experiments,
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
    assert "≥" in str(bounded)  # the medians, with their bounds
    assert "≥" not in repr(bounded)  # repr computes no median


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


def _scanner_pipeline(idealized=False):
    return Pipeline(
        [
            ("images", JetImageTransformer(n_pixels=16, sparse_output=True)),
            (
                "scan",
                ClusterScanner(
                    n_clusters=12,
                    bins=BINS,
                    n_ensemble=1,
                    max_iter=10,
                    batch_size=512,
                    idealized=idealized,
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


def test_idealized_scanner_gets_the_truth_labels(events):
    result = run_pseudo_experiments(
        _scanner_pipeline(idealized=True), events, n_background_only=3, random_state=5
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
    _save_checkpoint(path, saved["key"], saved["config"], partial, {})
    resumed = run_pseudo_experiments(_fit(), events, checkpoint=path, **options)
    np.testing.assert_array_equal(full.null_statistics, resumed.null_statistics)
    np.testing.assert_array_equal(full.injected_statistics, resumed.injected_statistics)
    with pytest.raises(ValueError, match="different calibration"):
        run_pseudo_experiments(
            _fit(), events, checkpoint=path, n_background_only=3, random_state=8
        )


def _shared_methods():
    return {
        "CS": _scanner_pipeline(),
        "CS (idealized)": _scanner_pipeline(idealized=True),
        "CS (threshold 2)": _scanner_pipeline().set_params(scan__threshold=2.0),
        "CS (k = 8)": _scanner_pipeline().set_params(scan__n_clusters=8),
    }


def test_shared_calibration_equals_each_method_calibrated_alone(events, monkeypatch):
    options = dict(n_background_only=6, signal_injections=[300], n_per_injection=3)
    alone = {
        name: run_pseudo_experiments(estimator, events, random_state=12, name=name, **options)
        for name, estimator in _shared_methods().items()
    }
    fits = []
    fit = ClusterScanner.fit
    monkeypatch.setattr(
        ClusterScanner, "fit", lambda self, *a, **k: fits.append(1) or fit(self, *a, **k)
    )
    shared = run_shared_pseudo_experiments(
        _shared_methods(), events, random_state=12, n_jobs=1, **options
    )
    assert list(shared) == list(alone)
    for name, result in shared.items():
        np.testing.assert_array_equal(result.null_statistics, alone[name].null_statistics)
        np.testing.assert_array_equal(result.injected_statistics, alone[name].injected_statistics)
        assert result.metadata["config_key"] == alone[name].metadata["config_key"]
        assert result.name == name
    # the first three differ only in what test_statistic reads: one fit for them, one for k = 8
    assert len(fits) == 2 * 9
    assert len({result.null_statistics.tobytes() for result in shared.values()}) == 4


def test_statistic_only_parameters_of_the_scanner_leave_its_fit_unchanged(events):
    from hepcluster.calibration._pseudo import _prepare

    problem = _prepare(_scanner_pipeline().set_params(scan__random_state=0), events, "poisson")
    reference = ClusterScanner(**problem.estimator.get_params()).fit(problem.features, problem.y)
    changed = {
        "idealized": True,
        "threshold": 3.5,
        "statistic": "gaussian",
        "outlier_fraction": 0.3,
        "min_background": 5.0,
    }
    assert set(changed) == set(ClusterScanner._statistic_only_params)
    for name, value in changed.items():
        other = ClusterScanner(**{**problem.estimator.get_params(), name: value})
        other.fit(problem.features, problem.y)
        for mine, theirs in zip(reference.ensemble_, other.ensemble_, strict=True):
            np.testing.assert_array_equal(mine.centers, theirs.centers, err_msg=name)


def test_checkpoints_move_between_single_and_shared_calibrations(events, tmp_path, monkeypatch):
    from hepcluster.calibration import _pseudo

    options = dict(
        n_background_only=5, signal_injections=[300], n_per_injection=2, random_state=13
    )
    paths = {"CS": tmp_path / "cs.json", "CS (idealized)": tmp_path / "ideal.json"}
    methods = {name: _shared_methods()[name] for name in paths}
    # a calibration of CS alone, killed half-way
    alone = run_pseudo_experiments(methods["CS"], events, checkpoint=paths["CS"], **options)
    saved = json.loads(paths["CS"].read_text())
    partial = {int(k): v for k, v in saved["payload"]["statistics"].items() if int(k) % 2}
    _save_checkpoint(paths["CS"], saved["key"], saved["config"], partial, {})
    asked = []
    run_task = _pseudo._run_task
    monkeypatch.setattr(
        _pseudo,
        "_run_task",
        lambda problem, seed, n_signal, retries, members: (
            asked.append(list(members)) or run_task(problem, seed, n_signal, retries, members)
        ),
    )
    shared = run_shared_pseudo_experiments(methods, events, checkpoints=paths, n_jobs=1, **options)
    np.testing.assert_array_equal(shared["CS"].null_statistics, alone.null_statistics)
    # the toys CS had done were run for the idealized scan only
    assert sorted(map(tuple, asked)) == sorted([(0, 1)] * 4 + [(1,)] * 3)
    # and the shared run's checkpoints resume alone, with nothing left to run
    asked.clear()
    again = run_pseudo_experiments(
        methods["CS (idealized)"], events, checkpoint=paths["CS (idealized)"], **options
    )
    assert asked == []
    np.testing.assert_array_equal(again.null_statistics, shared["CS (idealized)"].null_statistics)


def test_shared_calibrations_need_the_same_rows_and_no_parametric_bootstrap(events):
    with pytest.raises(ValueError, match="read different rows"):
        run_shared_pseudo_experiments(
            {"CS": _scanner_pipeline(), "fit": _fit()}, events, n_background_only=2
        )
    with pytest.raises(ValueError, match="one method at a time"):
        run_shared_pseudo_experiments(
            {"a": _fit(), "b": _fit()}, events, n_background_only=2, bootstrap="parametric"
        )
    with pytest.raises(TypeError, match="non-empty dict"):
        run_shared_pseudo_experiments([_fit()], events)
    with pytest.raises(ValueError, match="checkpoints for methods not in estimators: b"):
        run_shared_pseudo_experiments({"a": _fit()}, events, checkpoints={"b": "b.json"})


def _counting_fit(edges):
    return DijetFitBackground(n_params=3, bins=tuple(edges))


def test_checkpoint_of_an_estimator_with_the_same_repr_is_not_resumed(events, tmp_path):
    # scikit-learn elides long parameters in repr: these two differ only mid-edges
    edges = np.linspace(3000.0, 4600.0, 81)
    moved = edges.copy()
    moved[40] += 5.0
    first, second = _counting_fit(edges), _counting_fit(moved)
    assert repr(first) == repr(second)
    path = tmp_path / "calibration.json"
    options = dict(n_background_only=4, random_state=0, checkpoint=path)
    run_pseudo_experiments(first, events, **options)
    with pytest.raises(ValueError, match=r"different calibration \(differs in: estimator\)"):
        run_pseudo_experiments(second, events, **options)


def test_checkpoint_of_another_table_with_the_same_event_ids_is_not_resumed(tmp_path):
    # every generated table of one size has the same event ids 0, 1, ...
    tables = [
        make_dijet_events(600, 60, mjj_range=(2900.0, 4800.0), random_state=seed)
        for seed in (0, 1)
    ]
    np.testing.assert_array_equal(tables[0].event_id, tables[1].event_id)
    path = tmp_path / "calibration.json"
    options = dict(n_background_only=4, random_state=0, checkpoint=path)
    run_pseudo_experiments(_fit(), tables[0], **options)
    with pytest.raises(ValueError, match=r"different calibration \(differs in: data\)"):
        run_pseudo_experiments(_fit(), tables[1], **options)
    # nor do their results merge as shards of one calibration
    shards = [
        run_pseudo_experiments(_fit(), table, n_background_only=4, random_state=0, shard=(i, 2))
        for i, table in enumerate(tables)
    ]
    with pytest.raises(ValueError, match=r"different calibration.*data"):
        CalibrationResult.merge(shards)


def test_the_images_the_toys_read_enter_the_identity(events, tmp_path):
    path = tmp_path / "calibration.json"
    options = dict(n_background_only=2, random_state=0, checkpoint=path)
    run_pseudo_experiments(_scanner_pipeline(), events, **options)
    run_pseudo_experiments(_scanner_pipeline(), events, **options)  # resumes: same identity
    other = _scanner_pipeline().set_params(images__gamma=0.3)
    with pytest.raises(ValueError, match="different calibration"):
        run_pseudo_experiments(other, events, **options)


def test_all_workers_share_the_toys_with_n_jobs_minus_one(events, monkeypatch):
    import joblib

    from hepcluster.calibration import _pseudo

    chunk_sizes = []
    original = _pseudo._run_chunk

    def recording(problem, tasks, max_retries):
        chunk_sizes.append(len(tasks))
        return original(problem, tasks, max_retries)

    monkeypatch.setattr(_pseudo, "_run_chunk", recording)
    with joblib.parallel_config(backend="threading"):
        workers = joblib.effective_n_jobs(-1)
        run_pseudo_experiments(_fit(), events, n_background_only=40, n_jobs=-1, random_state=0)
    size = int(np.clip(np.ceil(40 / (4 * workers)), 1, 25))
    assert sorted(chunk_sizes, reverse=True) == [size] * (40 // size) + [40 % size] * bool(
        40 % size
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
        ({"n_background_only": 0}, r"'n_background_only' parameter of run_pseudo_experiments"),
        ({"signal_injections": [10**6]}, "signal pool"),
        ({"bootstrap": "jackknife"}, r"'bootstrap' parameter .* a str among .*'jackknife'"),
    ],
)
def test_bad_calibration_arguments_raise(events, kwargs, message):
    with pytest.raises(ValueError, match=message):
        run_pseudo_experiments(_fit(), events, **kwargs)


def test_parametric_bootstrap_needs_the_fit(events):
    with pytest.raises(ValueError, match="DijetFitBackground"):
        run_pseudo_experiments(_scanner_pipeline(), events, bootstrap="parametric")


def test_calibration_plots(events):
    pytest.importorskip("matplotlib", reason='needs matplotlib: pip install "hepcluster[plot]"')
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
        ({"n_background_only": 2.5}, r"'n_background_only' parameter .* must be an int"),
        ({"n_background_only": True}, r"'n_background_only' parameter .* not a bool"),
        ({"chunk_size": -1}, r"'chunk_size' parameter .* int in the range \[1, inf\) or None"),
        ({"signal_injections": [10.7]}, "whole numbers"),
        ({"max_retries": -1}, r"'max_retries' parameter .* int in the range \[0, inf\)"),
        ({"inputs": "particle"}, r"'inputs' parameter .* a str among .*'particle'"),
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
            ("images", JetImageTransformer(sparse_output=True)),
            ("scan", ClusterScanner(n_clusters=n_clusters, n_ensemble=1)),
        ]
    )
    result = run_pseudo_experiments(pipeline, sample, n_background_only=200, random_state=0)
    assert result.n_failed == 0
    assert np.all(np.isfinite(result.null_statistics))
    assert result.significance_estimate(result.null_statistics.max()).kind == "computed"


def test_calibration_figures_mark_bounds_and_label_every_axis():
    pytest.importorskip("matplotlib", reason='needs matplotlib: pip install "hepcluster[plot]"')
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
    assert "lower bound: empirical limit\n(no null toy beyond)" in labels
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


# -- the input adapters: how events become an estimator's rows -------------------------------

_RECORDED = []


class _RecordingSearch(BaseEstimator):
    """A search that records what calibration passes it; its statistic is the signal."""

    sample_unit = "event"

    def __init__(self, offset=0.0):
        self.offset = offset

    def fit(self, X, y, sample_weight=None):
        _RECORDED.append(("fit", np.shape(X), np.asarray(y).copy(), None))
        self.fitted_ = True
        return self

    def test_statistic(self, X, y, sample_weight=None, *, is_signal=None):
        _RECORDED.append(("test_statistic", np.shape(X), np.asarray(y).copy(), is_signal))
        return float(np.sum(sample_weight * is_signal)) + self.offset

    def score(self, X, y, sample_weight=None):
        raise AssertionError("calibration must never call score")


class _JetSearch(_RecordingSearch):
    sample_unit = "jet"


class _NoUnitSearch(BaseEstimator):
    """Without sample_unit: its rows are jets."""

    offset = 0.0
    fit = _RecordingSearch.fit
    test_statistic = _RecordingSearch.test_statistic


class _EveryOtherEvent:
    """A custom adapter: one row per even-numbered event."""

    sample_unit = "event"

    def from_events(self, events):
        chosen = np.arange(0, len(events), 2)
        return EstimatorInputs(
            X=events.mjj[chosen, None],
            y=events.mjj[chosen],
            row_event=chosen,
            is_signal=events.is_signal[chosen],
        )


def _recorded(events, estimator, **kwargs):
    _RECORDED.clear()
    result = run_pseudo_experiments(
        estimator,
        events,
        n_background_only=2,
        signal_injections=[50],
        n_per_injection=2,
        random_state=0,
        **kwargs,
    )
    return result, list(_RECORDED)


def test_event_rows_are_the_mjj_column_with_truth_and_weights(events):
    result, calls = _recorded(events, _RecordingSearch())
    assert [call[0] for call in calls] == ["fit", "test_statistic"] * 4
    for _, shape, y, is_signal in calls:
        assert shape == (len(events), 1)
        np.testing.assert_array_equal(y, events.mjj)
        if is_signal is not None:
            np.testing.assert_array_equal(is_signal, events.is_signal)
    np.testing.assert_array_equal(result.null_statistics, 0.0)
    np.testing.assert_array_equal(result.injected_statistics, 50.0)  # 50 signal events
    for inputs in ("event", EventInputs()):
        same, _ = _recorded(events, _RecordingSearch(), inputs=inputs)
        np.testing.assert_array_equal(same.injected_statistics, result.injected_statistics)


def test_jet_rows_are_the_two_leading_jets_of_every_event(events):
    X, mjj, _ = events.jets()
    for estimator, inputs in [
        (_JetSearch(), None),
        (_NoUnitSearch(), None),
        (_RecordingSearch(), "jet"),
        (_RecordingSearch(), JetPairInputs()),
    ]:
        result, calls = _recorded(events, estimator, inputs=inputs)
        _, shape, y, is_signal = calls[1]
        assert shape == X.shape
        np.testing.assert_array_equal(y, mjj)
        np.testing.assert_array_equal(is_signal, events.jet_is_signal)
        np.testing.assert_array_equal(result.injected_statistics, 100.0)  # both jets


def test_a_custom_adapter_and_bad_sample_units(events):
    result, calls = _recorded(events, _RecordingSearch(), inputs=_EveryOtherEvent())
    assert calls[1][1] == ((len(events) + 1) // 2, 1)
    assert np.all(result.injected_statistics <= 50.0)

    class _Particles(_RecordingSearch):
        sample_unit = "particle"

    with pytest.raises(ValueError, match="sample_unit = 'particle'"):
        run_pseudo_experiments(_Particles(), events, n_background_only=1)
    with pytest.raises(TypeError, match="test_statistic"):
        run_pseudo_experiments(Pipeline([("scale", StandardScaler())]), events)
    with pytest.raises(TypeError, match="'events' parameter"):
        run_pseudo_experiments(_fit(), events.mjj)


def test_event_level_pipelines_need_no_special_case(events):
    options = dict(n_background_only=4, signal_injections=[300], n_per_injection=2, random_state=4)
    bare = run_pseudo_experiments(_fit(), events, **options)
    piped = run_pseudo_experiments(
        Pipeline([("identity", FunctionTransformer()), ("fit", _fit())]), events, **options
    )
    np.testing.assert_array_equal(piped.null_statistics, bare.null_statistics)
    np.testing.assert_array_equal(piped.injected_statistics, bare.injected_statistics)
    with pytest.raises(ValueError, match="not in a Pipeline"):
        run_pseudo_experiments(
            Pipeline([("identity", FunctionTransformer()), ("fit", _fit())]),
            events,
            bootstrap="parametric",
        )


# -- the numbers of the calibration did not change in the redesign ----------------------------

# Computed with the code before the adapters (transform_sparse found by duck typing,
# DijetFitBackground found by isinstance, score as the statistic).
_PINNED = {
    "scan": (
        [
            1.7610820481869331,
            1.215032667071855,
            0.0,
            2.681666109714099,
            0.5680320374108692,
            2.83251955240939,
        ],
        [[1.7906909434376568, 2.5038434280633526, 2.0448313536575955]],
    ),
    "fit_poisson": (
        [
            1.7013996126827564,
            2.1376598503734274,
            0.6624300461774713,
            1.4305110955999356,
            1.2659884873291267,
            1.6513813456701565,
        ],
        [[1.7054528059279335, 1.3891015148122106, 1.6928117912300362]],
    ),
    "fit_parametric": (
        [
            0.8502641712490362,
            2.257826197648896,
            1.033868459758608,
            1.4256147304949178,
            1.1770372415725685,
            2.590047616616121,
        ],
        [[0.7487145893123535, 1.4980111370191644, 1.0929805520367233]],
    ),
}


@pytest.mark.parametrize("method", sorted(_PINNED))
def test_calibration_statistics_are_those_of_the_previous_release(events, method):
    options = dict(n_background_only=6, signal_injections=[300], n_per_injection=3)
    if method == "scan":
        scanner = ClusterScanner(
            n_clusters=5, n_ensemble=2, bins=BINS, max_iter=10, batch_size=512
        )
        pipeline = Pipeline(
            [("images", JetImageTransformer(sparse_output=True)), ("scan", scanner)]
        )
        result = run_pseudo_experiments(pipeline, events, random_state=3, **options)
    else:
        bootstrap = method.removeprefix("fit_")
        result = run_pseudo_experiments(
            _fit(), events, bootstrap=bootstrap, random_state=4, **options
        )
    null, injected = _PINNED[method]
    # Every pseudo-experiment of the fit is a MIGRAD minimisation, exact only to its
    # tolerance: its end point moves by ~1e-6 where BLAS rounds otherwise (OpenBLAS picks
    # its kernels by CPU); k-means labels, and so the scan's statistics, do not move.
    rtol = 1e-12 if method == "scan" else 1e-5
    np.testing.assert_allclose(result.null_statistics, null, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(result.injected_statistics, injected, rtol=rtol, atol=1e-12)


# -- compare_methods -----------------------------------------------------------------------


def _method(rng, name, shift):
    injected = [rng.normal(shift * k, 1.0, 11) for k in (1, 2, 3)]
    return CalibrationResult(
        rng.normal(size=200), [100, 200, 300], injected, n_background=1e4, name=name
    )


def test_method_comparison_round_trips_and_plots(tmp_path):
    pytest.importorskip("matplotlib", reason='needs matplotlib: pip install "hepcluster[plot]"')
    rng = np.random.default_rng(0)
    comparison = compare_methods(
        {"scan": _method(rng, "scan", 1.5), "dijet_fit": _method(rng, "fit", 0.5)}, z=2.0
    )
    assert isinstance(comparison, MethodComparison)
    rows = comparison.summary()["rows"]
    assert [row["n_signal"] for row in rows] == [100, 200, 300]
    assert rows[1]["z_scan"]["median"]["value"] == pytest.approx(
        comparison.medians["scan"].value[1]
    )
    assert "| injected signal |" in comparison.to_markdown()
    path = comparison.save(tmp_path / "comparison.npz")
    back = MethodComparison.load(path)
    assert back.reference == "dijet_fit"
    assert back.z == 2.0
    np.testing.assert_array_equal(
        back.results["scan"].injected_statistics, comparison.results["scan"].injected_statistics
    )
    assert back.to_markdown() == comparison.to_markdown()
    assert (
        MethodComparison.from_dict(comparison.to_dict()).to_markdown() == comparison.to_markdown()
    )
    import matplotlib.pyplot as plt

    axes = comparison.plot()
    assert len(axes) == 2
    _, given = plt.subplots(1, 2)
    assert list(comparison.plot(ax=given)) == list(given)
    with pytest.raises(TypeError, match="axes"):
        comparison.plot(axes=given)
    assert comparison.to_markdown() in str(comparison)
    assert "MethodComparison(" in repr(comparison)
    with pytest.raises(ValueError, match="2 axes"):
        comparison.plot(ax=given[:1])
    assert comparison.results["scan"].plot(ax=given[0]) is given[0]
    plt.close("all")
    with pytest.raises(ValueError, match="reference 'nope'"):
        compare_methods(comparison.results, reference="nope")


def test_null_distribution_draws_every_injection_level_distinguishably():
    pytest.importorskip("matplotlib", reason='needs matplotlib: pip install "hepcluster[plot]"')
    from matplotlib.colors import to_hex

    from hepcluster.plotting import plot_null_distribution

    rng = np.random.default_rng(3)
    levels = [100, 200, 300, 400, 500, 600, 700, 800]
    result = CalibrationResult(
        null_statistics=rng.normal(size=60),
        signal_injections=levels,
        injected_statistics=[rng.normal(level / 200, 0.3, 5) for level in levels],
        n_background=1e4,
        name="scan",
    )
    ax = plot_null_distribution(result)
    medians = [line for line in ax.lines if "signal events" in str(line.get_label())]
    assert len(medians) == len(levels)
    drawn = {(to_hex(line.get_color()), line.get_linestyle()) for line in medians}
    assert len(drawn) == len(levels)


def test_results_read_as_text_and_html_tables():
    rng = np.random.default_rng(0)
    levels = np.array([100, 200])
    result = CalibrationResult(
        null_statistics=rng.normal(size=400),
        signal_injections=levels,
        injected_statistics=np.stack([rng.normal(1.0, 0.3, 30), rng.normal(2.0, 0.3, 30)]),
        n_background=10_000,
        name="cs",
    )
    reference = CalibrationResult(
        null_statistics=rng.normal(size=400),
        signal_injections=levels,
        injected_statistics=np.stack([rng.normal(0.5, 0.3, 30), rng.normal(1.0, 0.3, 30)]),
        n_background=10_000,
        name="fit",
    )
    medians = result.median_estimate().format()
    text = str(result).splitlines()
    assert text[1] == "injected signal  median global Z (68 % interval)"
    assert [line.split(None, 1) for line in text[2:]] == [
        [str(n), m] for n, m in zip(levels, medians, strict=True)
    ]
    html = result._repr_html_()
    assert html.count("<tr>") == 1 + levels.size
    assert all(f"<td>{m}</td>" in html for m in medians)
    comparison = compare_methods({"cs": result, "fit": reference}, reference="fit")
    table = comparison._repr_html_()
    assert table.count("<tr>") == 1 + levels.size  # header and one row per level
    assert "<th>median global Z, cs</th>" in table
    assert "no signal injected" in str(
        CalibrationResult(
            null_statistics=rng.normal(size=50),
            signal_injections=np.array([], dtype=int),
            injected_statistics=np.zeros((0, 0)),
            n_background=100,
            name="null",
        )
    )
