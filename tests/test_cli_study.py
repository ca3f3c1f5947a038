import json

import numpy as np
import pytest

from hepcluster.calibration import CalibrationResult, compare_methods, run_pseudo_experiments
from hepcluster.cli import main
from hepcluster.cli._study import METHODS, _estimator, computed_part
from hepcluster.datasets import make_dijet_events

BUDGET = dict(n_background_only=6, signal_injections=(150, 300), n_per_injection=2)
SCANNER = dict(n_clusters=6, n_ensemble=1)
ARGUMENTS = [
    "--n-background-only",
    "6",
    "--injections",
    "150",
    "300",
    "--n-per-injection",
    "2",
    "--n-clusters",
    "6",
    "--n-ensemble",
    "1",
    "--no-plots",
]


@pytest.fixture(scope="module")
def event_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("study") / "events.h5"
    make_dijet_events(3000, 400, mjj_range=(2800.0, 4800.0), random_state=0).to_hdf5(path)
    return path


def _study(event_file, output, *extra):
    return main(
        [
            "-q",
            "--no-progress",
            "study",
            str(event_file),
            "--output",
            str(output),
            *ARGUMENTS,
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def single_run(event_file, tmp_path_factory):
    output = tmp_path_factory.mktemp("single")
    assert _study(event_file, output) == 0
    return output


def test_every_method_is_calibrated_on_the_same_pseudo_experiments(single_run, event_file):
    from hepcluster.datasets import EventTable

    events = EventTable.read_hdf5(event_file)
    bins = np.linspace(3000.0, 4600.0, 17)
    events = events[(events.mjj >= bins[0]) & (events.mjj < bins[-1])]
    report = json.loads((single_run / "study.json").read_text())
    assert report["counts"]["n_events_outside_region"] > 0
    assert report["counts"]["n_events_read"] == 3400
    assert report["complete"]
    # an independent calibration of two methods with the package's public API
    independent = {}
    for method in ("cluster_scanning", "dijet_fit_4"):
        estimator, bootstrap = _estimator(method, bins=tuple(bins), threshold=3.0, **SCANNER)
        independent[method] = run_pseudo_experiments(
            estimator, events, bootstrap=bootstrap, random_state=0, **BUDGET
        )
        saved = CalibrationResult.load(single_run / f"calibration_{method}.npz")
        np.testing.assert_array_equal(saved.null_statistics, independent[method].null_statistics)
        np.testing.assert_array_equal(
            saved.injected_statistics, independent[method].injected_statistics
        )
    comparison = compare_methods(independent, reference="dijet_fit_4").summary()
    rows = report["comparison_realistic"]["rows"]
    for row, expected in zip(rows, comparison["rows"], strict=True):
        assert row["z_cluster_scanning"] == expected["z_cluster_scanning"]
        assert row["z_dijet_fit_4"] == expected["z_dijet_fit_4"]
    # the idealized fit resamples the fitted density: other toys than the realistic fit
    realistic = CalibrationResult.load(single_run / "calibration_dijet_fit_4.npz")
    idealized = CalibrationResult.load(single_run / "calibration_dijet_fit_4_idealized.npz")
    assert not np.array_equal(realistic.null_statistics, idealized.null_statistics)
    markdown = (single_run / "study.md").read_text()
    assert "## Realistic" in markdown
    assert "## Idealized" in markdown
    assert "complete" in markdown


def test_shards_merge_into_the_single_run(single_run, event_file, tmp_path):
    assert _study(event_file, tmp_path, "--shard", "1/2") == 0
    partial = json.loads((tmp_path / "study.json").read_text())
    assert not partial["complete"]
    assert "PARTIAL" in (tmp_path / "study.md").read_text()
    assert partial["toys"]["cluster_scanning"]["n_null"] == 3
    assert _study(event_file, tmp_path, "--shard", "0/2") == 0
    assert _study(event_file, tmp_path) == 0  # merges the two shards
    for method in METHODS:
        merged = CalibrationResult.load(tmp_path / f"calibration_{method}.npz")
        single = CalibrationResult.load(single_run / f"calibration_{method}.npz")
        np.testing.assert_array_equal(merged.null_statistics, single.null_statistics)
        np.testing.assert_array_equal(merged.injected_statistics, single.injected_statistics)


def test_a_preview_reports_the_shards_so_far_and_runs_nothing(
    single_run, event_file, tmp_path, monkeypatch, caplog
):
    from hepcluster.calibration import _pseudo

    assert _study(event_file, tmp_path, "--preview") == 2
    assert "no finished shard of cluster_scanning" in caplog.text
    assert _study(event_file, tmp_path, "--shard", "0/2") == 0

    def never_called(*args, **kwargs):
        raise AssertionError("the preview ran pseudo-experiments")

    monkeypatch.setattr(_pseudo, "_run_chunk", never_called)
    assert _study(event_file, tmp_path, "--preview") == 0
    preview = json.loads((tmp_path / "preview" / "study.json").read_text())
    assert preview["preview"]
    assert not preview["complete"]
    assert "PARTIAL" in (tmp_path / "preview" / "study.md").read_text()
    shard = CalibrationResult.load(tmp_path / "shards" / "cluster_scanning.0-of-2.npz")
    assert preview["toys"]["cluster_scanning"]["n_null"] == computed_part(shard).n_null == 3
    assert not list(tmp_path.glob("calibration_*.npz"))  # nothing merged as final
    assert _study(event_file, tmp_path, "--preview", "--shard", "1/2") == 2


def test_figure5_keeps_the_improvement_panel_on_its_values(event_file, tmp_path):
    from types import SimpleNamespace

    import matplotlib.pyplot as plt

    from hepcluster.cli._study import _focus_improvement

    _, ax = plt.subplots()
    ax.plot([0.0, 1.0], [-1.0, 70.0], label="a / fit")
    ax.plot([0.0], [1.0], "o", label="computed (68 % interval)")
    ax.legend()
    ax.set_ylim(-1.0, 70.0)
    improvement = SimpleNamespace(
        value=np.array([6.0, 3.0, np.nan, 50.0]),
        kind=np.array(["computed", "lower bound", "undetermined", "undetermined"]),
    )
    _focus_improvement(ax, improvement)
    assert ax.get_ylim() == pytest.approx((-1.0, -1.0 + 2.0 * (1.15 * 6.0 + 1.0)))
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["a / fit"]
    plt.close("all")
    # and the study's figures are written with it
    arguments = [argument for argument in ARGUMENTS if argument != "--no-plots"]
    study = ["-q", "--no-progress", "study", str(event_file), "--output", str(tmp_path)]
    assert main([*study, *arguments]) == 0
    assert (tmp_path / "figure5.png").stat().st_size > 0


def test_the_computed_part_of_a_shard_keeps_equal_toys_per_level():
    shards = {"count": 2, "indices": [0]}  # tasks 0, 2, 4 (null), 6, 8 (level 0), 10 (level 1)
    nan = np.nan
    result = CalibrationResult(
        null_statistics=[1.0, nan, 2.0, nan, 3.0, nan],
        signal_injections=[10, 20],
        injected_statistics=[[5.0, nan, 7.0], [nan, 6.0, nan]],
        n_background=100.0,
        metadata={"shards": shards},
    )
    part = computed_part(result)
    assert part.is_complete
    np.testing.assert_array_equal(part.null_statistics, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(part.injected_statistics, [[5.0], [6.0]])
    assert part.metadata["partial"]["shards"] == shards


def test_unknown_method_is_refused(event_file, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["study", str(event_file), "--output", str(tmp_path), "--methods", "bump"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'bump'" in capsys.readouterr().err


def test_a_finished_study_is_not_rewritten_without_overwrite(single_run, event_file, caplog):
    assert _study(event_file, single_run) == 2
    assert "already holds a finished study" in caplog.text
    assert "--overwrite" in caplog.text


def test_a_study_of_other_settings_does_not_reuse_the_calibrations(
    single_run, event_file, tmp_path
):
    import shutil

    output = tmp_path / "copy"
    shutil.copytree(single_run, output)
    (output / "study.json").unlink()  # as if unfinished
    status = main(["study", str(event_file), "--output", str(output), *ARGUMENTS, "--seed", "3"])
    assert status == 2
    assert _study(event_file, output, "--seed", "3", "--overwrite") == 0
    rerun = CalibrationResult.load(output / "calibration_dijet_fit_4.npz")
    first = CalibrationResult.load(single_run / "calibration_dijet_fit_4.npz")
    assert not np.array_equal(rerun.null_statistics, first.null_statistics)
