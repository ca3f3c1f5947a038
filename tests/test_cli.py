import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hepcluster.cli import build_parser, main
from hepcluster.datasets import EventTable


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for command in ("demo", "generate", "scan", "calibrate", "merge", "study", "ucluster", "info"):
        assert command in text


HEAVY = ("sklearn", "scipy", "numba", "pandas", "h5py", "matplotlib", "tensorflow", "keras")


def test_building_the_parser_imports_nothing_heavy():
    # ``hepcluster --help`` builds every subparser; none may import the numerical stack.
    code = (
        "import sys\n"
        "from hepcluster.cli import build_parser\n"
        "build_parser()\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# The constants modules the command line reads without importing their packages.
CONSTANTS_MODULES = (
    "scanning._defaults",
    "stats._defaults",
    "calibration._defaults",
    "datasets._defaults",
)


@pytest.mark.parametrize("module", CONSTANTS_MODULES)
def test_constants_modules_hold_literals_only(module):
    # defaults() executes the file alone: an import would load the package it avoids
    import ast

    import hepcluster

    path = Path(hepcluster.__file__).parent.joinpath(*module.split(".")).with_suffix(".py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]


@pytest.mark.parametrize("module", CONSTANTS_MODULES)
def test_constants_read_cheaply_are_the_imported_modules_values(module):
    import importlib

    from hepcluster.cli._options import execute_alone

    cheap, imported = execute_alone(module), importlib.import_module(f"hepcluster.{module}")
    names = [name for name in vars(imported) if name.isupper()]
    assert names
    for name in names:
        assert getattr(cheap, name) == getattr(imported, name), name


def test_help_defaults_are_the_estimators_defaults():
    import inspect

    from hepcluster.cli._demo import run_demo
    from hepcluster.datasets import make_dijet_events, make_jets

    demo = build_parser().parse_args(["demo"])
    signature = inspect.signature(run_demo).parameters
    assert demo.n_background_only == signature["n_background_only"].default
    assert demo.n_per_injection == signature["n_per_injection"].default
    assert demo.n_ensemble == signature["n_ensemble"].default
    assert demo.seed == signature["random_state"].default
    generate = build_parser().parse_args(["generate", "events.h5"])
    signature = inspect.signature(make_dijet_events).parameters
    for name in ("m_resonance", "m_x", "m_y", "n_constituents"):
        assert getattr(generate, name) == signature[name].default, name
    assert tuple(generate.classes) == inspect.signature(make_jets).parameters["classes"].default
    # the values the options show
    from hepcluster.calibration import run_pseudo_experiments
    from hepcluster.scanning import ClusterScanner

    scan = build_parser().parse_args(["scan", "events.h5"])
    scanner = ClusterScanner()
    assert scan.n_clusters == scanner.n_clusters
    assert scan.n_ensemble == scanner.n_ensemble
    assert scan.threshold == scanner.threshold
    assert scan.statistic == scanner.statistic
    assert tuple(scan.train_window) == tuple(scanner.train_window)
    from hepcluster.cli._options import region_bins

    assert region_bins(scan.region, scan.n_bins) == tuple(scanner.bins)
    calibrate = build_parser().parse_args(["calibrate", "events.h5"])
    pseudo = inspect.signature(run_pseudo_experiments).parameters
    assert calibrate.n_background_only == pseudo["n_background_only"].default
    assert calibrate.n_per_injection == pseudo["n_per_injection"].default
    assert tuple(calibrate.injections) == pseudo["signal_injections"].default


def test_region_bins_are_numpys_linspace():
    from hepcluster.cli._options import region_bins

    for region, n_bins in (((3000.0, 4600.0), 16), ((2950.0, 3800.0), 7), ((0.1, 0.7), 3)):
        expected = tuple(float(edge) for edge in np.linspace(*region, n_bins + 1))
        assert region_bins(region, n_bins) == expected


def test_every_figure_is_written_by_the_one_helper():
    from pathlib import Path

    import hepcluster

    root = Path(hepcluster.__file__).parent
    writers = sorted(
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if ".savefig(" in path.read_text(encoding="utf-8")
    )
    assert writers == ["cli/_figures.py"]


@pytest.mark.parametrize("module", ["hepcluster", "hepcluster.cli"])
def test_python_dash_m_runs_the_command(module):
    result = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "subcommands" in result.stdout


def test_no_subcommand_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_generate_writes_a_readable_event_table(tmp_path):
    path = tmp_path / "events.h5"
    status = main(
        [
            "--no-progress",
            "-q",
            "generate",
            str(path),
            "--n-background",
            "40",
            "--n-signal",
            "5",
            "--n-constituents",
            "30",
            "--seed",
            "3",
        ]
    )
    assert status == 0
    events = EventTable.read_hdf5(path)
    assert len(events) == 45
    assert events.n_signal == 5
    assert events.n_constituents == 30


def test_generate_pythia_preset_streams_shards_into_one_file(tmp_path):
    pytest.importorskip("pythia8mc", reason='needs pythia8mc: pip install "hepcluster[generate]"')
    path = tmp_path / "lhco.h5"
    common = ["--no-progress", "-q", "generate", str(path), "--generator", "pythia"]
    options = ["--preset", "lhco-rd", "--n-background", "3", "--n-signal", "2"]
    assert main([*common, *options, "--shard", "1/2"]) == 0
    assert not path.exists()  # the signal chunk is there, the background one is not
    assert main([*common, *options, "--shard", "0/2"]) == 0
    events = EventTable.read_hdf5(path)
    assert (len(events), events.n_signal) == (5, 2)
    assert events.jet_pt[:, 0].min() > 1200.0
    assert events.metadata["min_leading_jet_pt"] == 1200.0
    assert "n_cut_leading_jet_pt" in events.metadata


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--preset", "lhco-rd"], "--preset lhco-rd needs --generator pythia"),
        (["--shard", "0/2"], "--shard and --keep-chunks need --generator pythia"),
        (["--n-background", "0"], "--n-background must be a positive integer"),
    ],
)
def test_generate_refuses_options_of_another_generator(tmp_path, caplog, arguments, message):
    status = main(["generate", str(tmp_path / "x.h5"), *arguments])
    assert status == 2
    assert message in caplog.text


def test_generate_jets_writes_the_hls4ml_layout(tmp_path):
    from hepcluster.datasets import read_hls4ml

    path = tmp_path / "jets.h5"
    status = main(
        [
            "-q",
            "generate",
            str(path),
            "--jets",
            "--classes",
            "W",
            "top",
            "--n-per-class",
            "20",
            "--n-constituents",
            "30",
        ]
    )
    assert status == 0
    X, y = read_hls4ml(path)
    assert X.shape == (40, 90)
    assert sorted(set(y)) == ["W", "top"]


def test_generate_reports_bad_arguments_without_a_traceback(tmp_path, caplog):
    status = main(["generate", str(tmp_path / "x.h5"), "--n-constituents", "0"])
    assert status == 2
    assert "--n-constituents must be a positive integer" in caplog.text


def test_demo_writes_the_study_its_table_and_figures(tmp_path, plot):
    out = tmp_path / "demo"
    status = main(
        [
            "-q",
            "demo",
            "--generator",
            "synthetic",
            "--output",
            str(out),
            "--n-background",
            "6000",
            "--n-signal",
            "600",
            "--n-injected",
            "300",
            "--injections",
            "100",
            "400",
            "--n-background-only",
            "6",
            "--n-per-injection",
            "2",
            "--n-ensemble",
            "1",
            "--seed",
            "1",
        ]
    )
    assert status == 0
    summary = json.loads((out / "summary.json").read_text())
    events = summary["events"]
    assert events["n_events"] == 6600
    assert abs(events["signal"]["mjj_median_GeV"] - 3500.0) < 0.05 * 3500.0
    assert abs(events["signal"]["heavier_jet_mass_peak_GeV"] - 500.0) < 50.0
    assert events["signal"]["mean_tau21"] < events["background"]["mean_tau21"]
    rows = summary["comparison"]["rows"]
    assert [row["n_signal"] for row in rows] == [100, 400]
    assert "z_dijet_fit" in rows[0]
    assert summary["scan"]["statistic"] >= 0.0
    for figure in ("events.png", "scan.png", "calibration.png"):
        assert (out / figure).stat().st_size > 10_000
    assert "| injected signal |" in (out / "comparison.md").read_text()
    table = EventTable.read_hdf5(out / "events.h5")
    np.testing.assert_array_equal(table.is_signal.sum(), 600)
    assert events["generator"] == "synthetic"


def test_demo_runs_on_pythia_events_by_default(tmp_path):
    pytest.importorskip("pythia8mc", reason='needs pythia8mc: pip install "hepcluster[generate]"')
    out = tmp_path / "demo"
    arguments = ["--n-background", "1500", "--n-signal", "300", "--n-injected", "200"]
    arguments += ["--injections", "100", "300", "--n-background-only", "4"]
    arguments += ["--n-per-injection", "2", "--n-ensemble", "1", "--no-plots"]
    assert main(["-q", "--no-progress", "demo", "--output", str(out), *arguments]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["events"]["generator"] == "pythia"
    table = EventTable.read_hdf5(out / "events.h5")
    assert table.metadata["min_leading_jet_pt"] == 1200.0  # the LHC Olympics selection
    assert table.jet_pt[:, 0].min() > 1200.0
    assert summary["scan"]["n_jets_outside_region"] > 0  # counted, not silently dropped


def test_demo_refuses_injections_beyond_the_signal_pool(tmp_path, caplog):
    arguments = ["--generator", "synthetic", "--n-signal", "100", "--n-injected", "200"]
    assert main(["demo", "--output", str(tmp_path / "d"), *arguments]) == 2
    assert "the signal pool holds 100" in caplog.text


def test_info_lists_dependency_versions(capsys):
    assert main(["info"]) == 0
    assert "numpy" in capsys.readouterr().out


def test_parser_has_version():
    assert build_parser().prog == "hepcluster"


def test_scan_subcommand_writes_result_summary_and_figure(tmp_path, plot):
    from hepcluster.datasets import make_dijet_events
    from hepcluster.scanning import ScanResult

    path = tmp_path / "events.h5"
    make_dijet_events(3000, 300, mjj_range=(2950.0, 3800.0), random_state=2).to_hdf5(path)
    out = tmp_path / "scan"
    status = main(
        [
            "-q",
            "scan",
            str(path),
            "--output",
            str(out),
            "--n-clusters",
            "10",
            "--n-ensemble",
            "2",
            "--region",
            "3000",
            "3800",
            "--n-bins",
            "8",
        ]
    )
    assert status == 0
    result = ScanResult.load(out / "scan.npz")
    assert result.cluster_spectra.shape == (2, 10, 8)
    summary = json.loads((out / "scan.json").read_text())
    assert summary["statistic"] == pytest.approx(result.statistic)
    assert (out / "scan.png").exists()


def test_scan_of_a_missing_file_fails_cleanly(tmp_path, caplog):
    args = ["scan", str(tmp_path / "nothing.h5"), "--output", str(tmp_path / "o"), "--no-plots"]
    assert main(args) == 2
    assert "no such event file" in caplog.text


def test_calibrate_subcommand_writes_a_calibration(tmp_path, plot):
    from hepcluster.calibration import CalibrationResult
    from hepcluster.datasets import make_dijet_events

    path = tmp_path / "events.h5"
    make_dijet_events(3000, 300, mjj_range=(2950.0, 4700.0), random_state=2).to_hdf5(path)
    out = tmp_path / "calibration"
    status = main(
        [
            "-q",
            "calibrate",
            str(path),
            "--method",
            "dijet-fit",
            "--idealized",
            "--output",
            str(out),
            "--n-background-only",
            "20",
            "--injections",
            "100",
            "--n-per-injection",
            "3",
            "--checkpoint",
            str(tmp_path / "ck.json"),
        ]
    )
    assert status == 0
    result = CalibrationResult.load(out / "calibration.npz")
    assert result.null_statistics.shape == (20,)
    assert result.metadata["bootstrap"] == "parametric"
    assert (out / "calibration.png").exists()
    assert (tmp_path / "ck.json").exists()


# -- calibration on the command line: background only, observed scans, shards ----------------


@pytest.fixture(scope="module")
def small_events(tmp_path_factory):
    from hepcluster.datasets import make_dijet_events

    path = tmp_path_factory.mktemp("events") / "events.h5"
    make_dijet_events(3000, 300, mjj_range=(2950.0, 3800.0), random_state=2).to_hdf5(path)
    return path


_SMALL = ["--n-clusters", "8", "--n-ensemble", "1", "--region", "3000", "3800", "--n-bins", "8"]
_SMALL += ["--no-plots"]


def test_background_only_calibration_prints_and_writes_valid_json(small_events, tmp_path, capsys):
    out = tmp_path / "calibration"
    args = ["-q", "calibrate", str(small_events), "--method", "dijet-fit", "--output", str(out)]
    status = main([*args, "--n-background-only", "12", *_SMALL])
    assert status == 0
    assert "no signal injected" in capsys.readouterr().out
    report = json.loads((out / "calibration.json").read_text(), parse_constant=pytest.fail)
    assert report["n_null"] == 12
    assert report["summary"] == []


def test_observed_scan_gets_a_calibrated_global_significance(small_events, tmp_path, capsys):
    scan_out = tmp_path / "scan"
    assert main(["-q", "scan", str(small_events), "--output", str(scan_out), *_SMALL]) == 0
    printed = capsys.readouterr().out
    assert "local significance, not a global one" in printed
    assert "hepcluster calibrate" in printed
    out = tmp_path / "calibration"
    args = ["-q", "calibrate", str(small_events), "--output", str(out), *_SMALL]
    args += ["--n-background-only", "10", "--observed", str(scan_out / "scan.npz")]
    assert main(args) == 0
    assert "global significance Z =" in capsys.readouterr().out
    report = json.loads((out / "calibration.json").read_text(), parse_constant=pytest.fail)
    assert report["observed"]["global_significance"]["kind"] in ("computed", "lower bound")
    # a scan made with other settings is not calibrated by this calibration
    mismatched = [a if a != "8" else "9" for a in args]
    assert main(mismatched) == 2


def test_observed_file_of_the_wrong_kind_fails_before_any_work(small_events, tmp_path, caplog):
    args = ["calibrate", str(small_events), "--output", str(tmp_path / "c"), *_SMALL]
    assert main([*args, "--observed", str(small_events)]) == 2
    assert "is not a ScanResult file" in caplog.text
    assert main([*args, "--observed", "three"]) == 2
    assert "neither an existing scan file nor a number" in caplog.text


def test_output_onto_an_existing_file_fails_before_any_work(small_events, tmp_path, caplog):
    target = tmp_path / "taken"
    target.write_text("")
    assert main(["calibrate", str(small_events), "--output", str(target)]) == 2
    assert "is an existing file" in caplog.text
    assert main(["scan", str(small_events), "--output", str(target)]) == 2


@pytest.mark.parametrize("command", ["scan", "calibrate"])
@pytest.mark.parametrize("flag", ["--n-clusters", "--n-ensemble", "--n-bins"])
def test_count_options_are_named_by_their_flag(small_events, tmp_path, caplog, command, flag):
    out = str(tmp_path / "out")
    assert main([command, str(small_events), "--output", out, flag, "0"]) == 2
    assert f"{flag} must be" in caplog.text
    assert "parameter of" not in caplog.text  # not scikit-learn's Python-argument message


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_checkpoint_where_no_file_can_be_created_fails_before_any_work(
    small_events, tmp_path, caplog, monkeypatch
):
    from hepcluster.calibration import _pseudo

    def never_called(*args, **kwargs):
        raise AssertionError("the calibration started")

    monkeypatch.setattr(_pseudo, "_run_chunk", never_called)
    args = ["calibrate", str(small_events), "--output", str(tmp_path / "c"), *_SMALL]
    assert main([*args, "--checkpoint", "/proc/hepcluster-checkpoint.json"]) == 2
    assert "--checkpoint /proc/hepcluster-checkpoint.json: cannot create files in /proc" in (
        caplog.text
    )


def test_figures_without_matplotlib_fail_before_any_work(
    small_events, tmp_path, monkeypatch, caplog
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the extra were missing
    out = tmp_path / "scan"
    assert main(["scan", str(small_events), "--output", str(out)]) == 2
    assert 'pip install "hepcluster[plot]", or pass --no-plots' in caplog.text
    assert not (out / "scan.npz").exists()


def test_sharded_calibration_merges_on_the_command_line(small_events, tmp_path, capsys):
    common = ["-q", "calibrate", str(small_events), "--method", "dijet-fit", *_SMALL]
    common += ["--n-background-only", "9", "--injections", "100", "--n-per-injection", "2"]
    assert main([*common, "--output", str(tmp_path / "single")]) == 0
    for index in range(3):
        shard = ["--shard", f"{index}/3", "--output", str(tmp_path / f"shard{index}")]
        assert main([*common, *shard]) == 0
    shards = [str(tmp_path / f"shard{index}" / "calibration.npz") for index in range(3)]
    merge = ["-q", "merge", *shards, "--output", str(tmp_path / "merged"), "--no-plots"]
    assert main(merge) == 0
    from hepcluster.calibration import CalibrationResult

    single = CalibrationResult.load(tmp_path / "single" / "calibration.npz")
    merged = CalibrationResult.load(tmp_path / "merged" / "calibration.npz")
    np.testing.assert_array_equal(merged.null_statistics, single.null_statistics)
    np.testing.assert_array_equal(merged.injected_statistics, single.injected_statistics)
    other = [*common, "--seed", "5", "--shard", "0/3", "--output", str(tmp_path / "other")]
    assert main(other) == 0
    wrong = [shards[1], str(tmp_path / "other" / "calibration.npz")]
    assert main(["merge", *wrong, "--output", str(tmp_path / "bad"), "--no-plots"]) == 2
