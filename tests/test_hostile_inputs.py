"""Hostile inputs: every damaged, wrong-kind or nonsensical input gets a one-line message.

Each case runs the command line (or the Python API) on one bad input and checks that it
ends with exit status 2 (a ``ValueError`` for the API), a message that names the file or
the option and the cause, no traceback, and no output folder left behind.
"""

import dataclasses
import hashlib
import json
import zipfile

import numpy as np
import pytest

from hepcluster.cli import main

_SMALL = ["--n-clusters", "6", "--n-ensemble", "1", "--region", "3000", "3800", "--n-bins", "8"]
_SMALL += ["--no-plots"]
_FIT = ["--method", "dijet-fit", "--n-background-only", "4", *_SMALL]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Event files (good, negative and NaN weights, other content), a scan and a calibration."""
    from hepcluster.datasets import make_dijet_events

    root = tmp_path_factory.mktemp("hostile")
    events = make_dijet_events(2000, 200, mjj_range=(2950.0, 3800.0), random_state=3)
    paths = {"events": root / "events.h5", "other": root / "other.h5"}
    events.to_hdf5(paths["events"])
    make_dijet_events(2000, 200, mjj_range=(2950.0, 3800.0), random_state=4).to_hdf5(
        paths["other"]
    )
    for name, bad in (("negative", -1.0), ("nan", np.nan)):
        weight = events.weight.copy()
        weight[7] = bad
        paths[name] = root / f"{name}.h5"
        dataclasses.replace(events, weight=weight).to_hdf5(paths[name])
    scan = root / "scan"
    assert main(["-q", "scan", str(paths["events"]), "--output", str(scan), *_SMALL]) == 0
    paths["scan"] = scan / "scan.npz"
    # a scan as earlier versions wrote it: no settings, no hash of the event file
    from hepcluster.scanning import ScanResult

    old = ScanResult.load(paths["scan"])
    for key in ("scan_settings", "events_sha256", "events_file"):
        old.metadata.pop(key)
    paths["old scan"] = root / "old-scan.npz"
    old.save(paths["old scan"])
    calibration = root / "calibration"
    command = ["-q", "calibrate", str(paths["events"]), "--output", str(calibration), *_FIT]
    assert main(command) == 0
    paths["calibration"] = calibration / "calibration.npz"
    good = paths["scan"].read_bytes()
    paths["truncated"] = root / "truncated.npz"
    paths["truncated"].write_bytes(good[: len(good) // 2])
    paths["zeroed"] = root / "zeroed.npz"
    paths["zeroed"].write_bytes(bytes(len(good)))
    paths["empty"] = root / "empty.npz"
    paths["empty"].write_bytes(b"")
    paths["png"] = root / "figure.png"
    paths["png"].write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    # a shard edited by hand: one statistic changed, the checksum left as it was
    paths["edited"] = root / "edited.npz"
    with zipfile.ZipFile(paths["calibration"]) as source:
        members = {name: source.read(name) for name in source.namelist()}
    with np.load(paths["calibration"]) as data:
        null = data["null_statistics"].copy()
    null[0] += 1.0
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, null)
    members["null_statistics.npy"] = buffer.getvalue()
    with zipfile.ZipFile(paths["edited"], "w") as target:
        for name, content in members.items():
            target.writestr(name, content)
    return paths


def _checkpoint(path, payload, key="x"):
    """A checkpoint with a valid checksum around ``payload`` (as an editor would write it)."""
    checksum = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    path.write_text(
        json.dumps({"key": key, "config": {}, "payload": payload, "checksum": checksum})
    )
    return path


def _valid_checkpoint(files, tmp_path):
    """A checkpoint of a real (tiny) run, to edit."""
    path = tmp_path / "valid.json"
    out = tmp_path / "first"
    command = ["-q", "calibrate", str(files["events"]), "--output", str(out), *_FIT]
    assert main([*command, "--checkpoint", str(path)]) == 0
    return json.loads(path.read_text())


def _edited_checkpoint(files, tmp_path, edit):
    saved = _valid_checkpoint(files, tmp_path)
    payload = saved["payload"]
    edit(payload)
    return _checkpoint(tmp_path / "edited.json", payload, key=saved["key"])


# (name, command builder, fragments the message must contain)
CASES = {
    "observed nan": (
        lambda f, t: ["calibrate", f["events"], *_FIT, "--observed", "nan"],
        ["--observed nan", "finite"],
    ),
    "observed inf": (
        lambda f, t: ["calibrate", f["events"], *_FIT, "--observed", "inf"],
        ["--observed inf", "finite"],
    ),
    "merge observed nan": (
        lambda f, t: ["merge", f["calibration"], "--observed", "nan", "--no-plots"],
        ["--observed nan", "finite"],
    ),
    "observed truncated npz": (
        lambda f, t: ["calibrate", f["events"], *_SMALL, "--observed", f["truncated"]],
        ["truncated.npz", "damaged or cut short"],
    ),
    "observed zeroed npz": (
        lambda f, t: ["calibrate", f["events"], *_SMALL, "--observed", f["zeroed"]],
        ["zeroed.npz", "zero bytes"],
    ),
    "observed empty npz": (
        lambda f, t: ["calibrate", f["events"], *_SMALL, "--observed", f["empty"]],
        ["empty.npz", "empty"],
    ),
    "observed png": (
        lambda f, t: ["calibrate", f["events"], *_SMALL, "--observed", f["png"]],
        ["figure.png", "PNG image"],
    ),
    "observed event file": (
        lambda f, t: ["calibrate", f["events"], *_SMALL, "--observed", f["events"]],
        ["events.h5", "HDF5 file"],
    ),
    "observed calibration file": (
        lambda f, t: ["calibrate", f["events"], *_SMALL, "--observed", f["calibration"]],
        ["calibration.npz", "holds a CalibrationResult, not a ScanResult"],
    ),
    "observed other statistic": (
        lambda f, t: [
            "calibrate",
            f["events"],
            *_SMALL,
            "--observed",
            f["scan"],
            "--statistic",
            "gaussian",
        ],
        ["--statistic poisson", "--statistic gaussian"],
    ),
    "observed other training window": (
        lambda f, t: [
            "calibrate",
            f["events"],
            *_SMALL,
            "--observed",
            f["scan"],
            "--train-window",
            "3100",
            "3300",
        ],
        ["--train-window 3000 3100", "--train-window 3100 3300"],
    ),
    "observed other threshold": (
        lambda f, t: [
            "calibrate",
            f["events"],
            *_SMALL,
            "--observed",
            f["scan"],
            "--threshold",
            "2",
        ],
        ["--threshold 3", "--threshold 2"],
    ),
    "observed scan of another event file": (
        lambda f, t: ["calibrate", f["other"], *_SMALL, "--observed", f["scan"]],
        ["another event file", "events.h5"],
    ),
    "observed scan of an earlier version": (
        lambda f, t: ["calibrate", f["events"], *_SMALL, "--observed", f["old scan"]],
        ["old-scan.npz", "earlier version", "rerun 'hepcluster scan'"],
    ),
    "scan region without events": (
        lambda f, t: ["scan", f["events"], *_SMALL, "--region", "5400", "5500"],
        ["--region 5400 5500 holds 0 event(s)", "events.h5", "m_jj range"],
    ),
    "scan region with fewer jets than clusters": (
        lambda f, t: ["scan", f["events"], *_SMALL, "--n-clusters", "9000"],
        ["--region 3000 3800 holds", "jets", "at least --n-clusters 9000 jets"],
    ),
    "calibrate region without events": (
        lambda f, t: ["calibrate", f["events"], *_FIT, "--region", "5400", "5500"],
        ["--region 5400 5500 holds 0 event(s)", "events.h5"],
    ),
    "scan with more bins than events": (
        lambda f, t: ["scan", f["events"], *_SMALL, "--n-bins", "100000"],
        ["--n-bins 100000 leaves", "bins empty", "is the largest count"],
    ),
    "calibrate with bins too narrow to fill": (
        lambda f, t: ["calibrate", f["events"], *_FIT, "--n-bins", "3000"],
        ["--n-bins 3000 leaves", "bins empty", "at least one event"],
    ),
    "merge truncated npz": (
        lambda f, t: ["merge", f["truncated"], "--no-plots"],
        ["truncated.npz", "damaged or cut short"],
    ),
    "merge empty npz": (lambda f, t: ["merge", f["empty"], "--no-plots"], ["empty.npz", "empty"]),
    "merge png": (lambda f, t: ["merge", f["png"], "--no-plots"], ["figure.png", "PNG"]),
    "merge scan file": (
        lambda f, t: ["merge", f["scan"], "--no-plots"],
        ["scan.npz", "holds a ScanResult, not a CalibrationResult"],
    ),
    "merge edited shard": (
        lambda f, t: ["merge", f["edited"], "--no-plots"],
        ["edited.npz", "checksum mismatch"],
    ),
    "checkpoint task out of range": (
        lambda f, t: [
            "calibrate",
            f["events"],
            *_FIT,
            "--checkpoint",
            _edited_checkpoint(f, t, lambda p: p["statistics"].update({"-1": 0.5})),
        ],
        ["edited.json", "task '-1'", "outside"],
    ),
    "checkpoint task beyond the last": (
        lambda f, t: [
            "calibrate",
            f["events"],
            *_FIT,
            "--checkpoint",
            _edited_checkpoint(f, t, lambda p: p["statistics"].update({"99": 0.5})),
        ],
        ["edited.json", "task '99'", "outside"],
    ),
    "checkpoint missing key": (
        lambda f, t: [
            "calibrate",
            f["events"],
            *_FIT,
            "--checkpoint",
            _edited_checkpoint(f, t, lambda p: p.pop("failures")),
        ],
        ["edited.json", "'failures'"],
    ),
    "checkpoint wrong type": (
        lambda f, t: [
            "calibrate",
            f["events"],
            *_FIT,
            "--checkpoint",
            _edited_checkpoint(f, t, lambda p: p["statistics"].update({"0": "high"})),
        ],
        ["edited.json", "not a finite number"],
    ),
    "checkpoint not json": (
        lambda f, t: [
            "calibrate",
            f["events"],
            *_FIT,
            "--checkpoint",
            f["png"],
        ],
        ["figure.png", "damaged"],
    ),
    "negative weights scan": (
        lambda f, t: ["scan", f["negative"], *_SMALL],
        ["negative.h5", "1 negative", "event 7"],
    ),
    "nan weights calibrate": (
        lambda f, t: ["calibrate", f["nan"], *_FIT],
        ["nan.h5", "1 NaN", "event 7"],
    ),
    "threshold leaves every bin untestable": (
        lambda f, t: ["scan", f["events"], *_SMALL, "--threshold", "-5"],
        ["untestable", "--threshold -5"],
    ),
    "calibrate threshold leaves every bin untestable": (
        lambda f, t: [
            "calibrate",
            f["events"],
            *_SMALL,
            "--n-background-only",
            "2",
            "--threshold",
            "-5",
        ],
        ["untestable", "--threshold -5"],
    ),
    "n-jobs 0": (lambda f, t: ["scan", f["events"], *_SMALL, "--n-jobs", "0"], ["--n-jobs 0"]),
    "region to infinity": (
        lambda f, t: ["scan", f["events"], "--region", "3000", "inf"],
        ["--region", "finite"],
    ),
    "train window nan": (
        lambda f, t: ["scan", f["events"], "--train-window", "nan", "3100"],
        ["--train-window", "finite"],
    ),
    "generate into a folder": (
        lambda f, t: ["generate", t, "--n-background", "10"],
        ["is a folder"],
    ),
    "generate with a NaN mass": (
        lambda f, t: ["generate", t / "x.h5", "--m-resonance", "nan", "--n-background", "10"],
        ["--m-resonance must be a positive mass", "nan"],
    ),
    "generate over an existing file": (
        lambda f, t: ["generate", f["other"], "--n-background", "10"],
        ["other.h5 already exists", "--overwrite"],
    ),
    "generate where no file can be created": (
        lambda f, t: ["generate", "/proc/hepcluster-events.h5", "--n-background", "10"],
        ["/proc/hepcluster-events.h5", "cannot create files in /proc"],
    ),
    "observed empty text": (
        lambda f, t: ["calibrate", f["events"], *_SMALL, "--observed", ""],
        ["--observed needs a scan file"],
    ),
    "scan over earlier results": (
        lambda f, t: ["scan", f["events"], *_SMALL, "--output", f["scan"].parent],
        ["already holds scan.npz", "--overwrite"],
    ),
    "calibrate over earlier results": (
        lambda f, t: ["calibrate", f["events"], *_FIT, "--output", f["calibration"].parent],
        ["already holds calibration.npz", "--overwrite"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_command_line_input_gets_a_clear_one_line_message(
    case, files, tmp_path, caplog, capsys
):
    build, fragments = CASES[case]
    command = [str(item) for item in build(files, tmp_path)]
    if "--output" not in command and command[0] in ("scan", "calibrate", "merge"):
        command += ["--output", str(tmp_path / "new-output")]
    caplog.clear()
    status = main(command)
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert status == 2, errors
    assert len(errors) == 1
    assert "\n" not in errors[0]
    assert "Traceback" not in capsys.readouterr().err
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    # a failed command leaves no output folder behind
    assert not (tmp_path / "new-output").exists()


def test_overwrite_replaces_earlier_results(files, tmp_path):
    out = tmp_path / "calibration"
    command = ["-q", "calibrate", str(files["events"]), "--output", str(out), *_FIT]
    assert main(command) == 0
    assert main(command) == 2
    assert main([*command, "--overwrite"]) == 0


def test_merge_has_its_own_default_folder():
    from hepcluster.cli import build_parser

    merge = build_parser().parse_args(["merge", "a.npz"])
    calibrate = build_parser().parse_args(["calibrate", "events.h5"])
    assert merge.output != calibrate.output


def test_observed_scan_with_every_matching_setting_calibrates(files, tmp_path, capsys):
    out = tmp_path / "observed"
    command = ["-q", "calibrate", str(files["events"]), "--output", str(out), *_SMALL]
    assert main([*command, "--n-background-only", "3", "--observed", str(files["scan"])]) == 0
    assert "global significance Z =" in capsys.readouterr().out


def test_scan_prints_every_setting_of_the_calibrate_command(files, tmp_path, capsys):
    out = tmp_path / "scan"
    command = ["-q", "scan", str(files["events"]), "--output", str(out), *_SMALL]
    extra = ["--statistic", "gaussian", "--train-window", "3000", "3141.5926"]
    assert main([*command, *extra, "--threshold", "2.0000001"]) == 0
    printed = capsys.readouterr().out
    line = next(text for text in printed.splitlines() if "hepcluster calibrate" in text)
    for setting in (
        "--statistic gaussian",
        "--train-window 3000 3141.5926",
        "--threshold 2.0000001",
    ):
        assert setting in line
    # the printed command is accepted as it stands (fails only for the missing counts)
    from hepcluster.cli import build_parser
    from hepcluster.cli._calibrate import _observed_statistic

    args = build_parser().parse_args(line.split()[1:])
    assert np.isfinite(_observed_statistic(args.observed, args))


def test_partial_result_says_it_is_partial_instead_of_a_median(files, tmp_path, capsys):
    out = tmp_path / "shard"
    command = ["-q", "calibrate", str(files["events"]), "--output", str(out), *_FIT]
    command += ["--injections", "50", "--n-per-injection", "2", "--shard", "0/2"]
    assert main(command) == 0
    printed = capsys.readouterr().out
    assert "partial" in printed
    assert "median" not in printed.replace("no median", "")


def test_result_files_of_equal_content_are_equal_apart_from_the_run_time(files, tmp_path):
    from hepcluster.utils._results import read_checksum

    paths = []
    for index in range(2):
        out = tmp_path / f"run{index}"
        command = ["-q", "calibrate", str(files["events"]), "--output", str(out), *_FIT]
        assert main(command) == 0
        paths.append(out / "calibration.npz")
    assert read_checksum(paths[0]) == read_checksum(paths[1])
    with zipfile.ZipFile(paths[0]) as first, zipfile.ZipFile(paths[1]) as second:
        differing = [name for name in first.namelist() if first.read(name) != second.read(name)]
    assert set(differing) <= {"_volatile.npy"}


def test_jet_images_with_a_billion_pixels_per_side_are_refused():
    from hepcluster.images import JetImageTransformer

    with pytest.raises(ValueError, match="n_pixels"):
        JetImageTransformer(n_pixels=10**9).fit(np.ones((2, 6)))


def test_more_neighbours_than_particle_slots_are_refused():
    pytest.importorskip("tensorflow")
    from hepcluster.datasets import make_jets
    from hepcluster.ucluster import UClusterEmbedding

    X, _ = make_jets(20, n_constituents=20, random_state=0)
    with pytest.raises(ValueError, match="n_neighbors=1000000 needs graphs of 1000000 particles"):
        UClusterEmbedding(n_neighbors=10**6, epochs=1).fit(X)


def test_invalid_event_weights_are_not_retried(monkeypatch):
    from hepcluster.calibration import _pseudo, run_pseudo_experiments
    from hepcluster.datasets import make_dijet_events
    from hepcluster.fits import DijetFitBackground

    events = make_dijet_events(500, 50, random_state=0)
    weight = events.weight.copy()
    weight[3] = -2.0
    events = dataclasses.replace(events, weight=weight)
    calls = []
    attempt = _pseudo._attempt
    monkeypatch.setattr(_pseudo, "_attempt", lambda *a: calls.append(a) or attempt(*a))
    with pytest.raises(ValueError, match="event weights are negative or not finite"):
        run_pseudo_experiments(DijetFitBackground(), events, n_background_only=3)
    assert calls == []


# -- figures and summaries say what they show ---------------------------------------------


def _bounded_result():
    from hepcluster.calibration import CalibrationResult

    rng = np.random.default_rng(8)
    return CalibrationResult(
        null_statistics=rng.normal(size=60),  # too few toys for a tail model
        signal_injections=[100, 200, 300, 400],
        injected_statistics=[
            rng.normal(0.5, 0.3, 5),
            rng.normal(1.5, 0.3, 5),
            [9.0] * 5,
            [40.0] * 5,
        ],
        n_background=1e4,
        name="scan",
    )


def _inside_figure(fig, texts):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    outside = []
    for text in texts:
        if not text.get_text():
            continue
        extent = text.get_window_extent(renderer)
        if not (
            extent.x0 >= box.x0 - 0.5
            and extent.y0 >= box.y0 - 0.5
            and extent.x1 <= box.x1 + 0.5
            and extent.y1 <= box.y1 + 0.5
        ):
            outside.append(text.get_text())
    return outside


def test_scan_figure_labels_lie_inside_the_figure(files):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from hepcluster.cli._figures import figure_style
    from hepcluster.scanning import ScanResult

    result = ScanResult.load(files["scan"])
    with figure_style() as plt:
        fig, axes = plt.subplots(1, 3, figsize=(24, 7.5))  # as hepcluster scan draws it
        result.plot(ax=axes)
        fig.tight_layout()
        texts = [t for ax in axes for t in (ax.xaxis.label, ax.yaxis.label, ax.title)]
        assert _inside_figure(fig, texts) == []
        plt.close(fig)


def test_calibration_figure_labels_lie_inside_the_figure():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from hepcluster.cli._figures import figure_style
    from hepcluster.plotting import plot_null_distribution, plot_significance_curves

    result = _bounded_result()
    with figure_style() as plt:
        fig, axes = plt.subplots(1, 2, figsize=(18, 6.5))
        plot_significance_curves([result], ax=axes[0])
        plot_null_distribution(result, ax=axes[1])
        fig.tight_layout()
        texts = [t for ax in axes for t in (ax.xaxis.label, ax.yaxis.label, ax.title)]
        assert _inside_figure(fig, texts) == []
        plt.close(fig)


def test_bounds_stand_alone_and_say_where_they_come_from():
    pytest.importorskip("matplotlib")
    from hepcluster.plotting import plot_significance_curves

    result = _bounded_result()
    ax = plot_significance_curves([result])
    median_line = next(line for line in ax.lines if line.get_label() == "scan: median")
    y = np.asarray(median_line.get_ydata(), dtype=float)
    # the two upper levels are lower bounds: not on the (solid) median line
    assert np.isnan(y[2:]).all()
    assert np.isfinite(y[:2]).all()
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "lower bound: empirical limit\n(no null toy beyond)" in labels
    assert not any("tail model's end point" in label for label in labels)


def test_bound_sources_tell_the_empirical_limit_from_a_tail_end_point():
    from hepcluster.calibration import Estimate

    result = _bounded_result()
    limit = result.empirical_bound
    estimate = Estimate(
        np.array([1.0, limit, limit + 0.5]),
        np.array([0.8, limit, limit + 0.5]),
        np.array([1.2, np.inf, np.inf]),
        np.array(["computed", "lower bound", "lower bound"], dtype=object),
    )
    assert result.bound_sources(estimate).tolist() == ["", "empirical limit", "tail end point"]


def test_null_panel_follows_the_null_sample():
    pytest.importorskip("matplotlib")
    from hepcluster.plotting import plot_null_distribution

    result = _bounded_result()
    ax = plot_null_distribution(result)
    null = result.null_statistics
    _, high = ax.get_xlim()
    assert high < 2 * null.max() - null.min()  # not stretched to the injected 40σ
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert any("400 signal events: 40.0 (off the axis" in label for label in labels)


def test_no_negative_zero_in_formatted_significances():
    from hepcluster.calibration import Estimate

    estimate = Estimate(
        np.array([-0.001]), np.array([-0.004]), np.array([0.2]), np.array(["computed"], object)
    )
    assert "-0.00" not in estimate.format()[0]


def test_markdown_explains_bounds_and_bounds_that_fall_with_more_signal():
    from hepcluster.calibration import CalibrationResult, compare_methods

    rng = np.random.default_rng(3)
    result = CalibrationResult(
        null_statistics=rng.normal(size=50),
        signal_injections=[100, 200, 300],
        injected_statistics=[rng.normal(0.0, 0.3, 5), [9.0] * 5, [9.0] * 4 + [1.0]],
        n_background=1e4,
        name="scan",
    )
    comparison = compare_methods({"a": result, "b": result}, reference="b")
    text = comparison.to_markdown()
    assert f"≥ {result.empirical_bound:.2f} is that empirical limit" in text
    assert "A lower bound can fall" not in text  # the bounds here do not fall
    from hepcluster.calibration import Estimate

    kind = np.array(["computed", "lower bound", "lower bound"], dtype=object)
    comparison.medians["a"] = Estimate(
        np.array([1.0, 3.78, 3.60]), np.array([0.9, 3.78, 3.60]), np.full(3, np.inf), kind
    )
    text = comparison.to_markdown()
    assert "A lower bound can fall as the signal grows (scan: ≥ 3.78 at 200, ≥ 3.60 at 300)" in (
        text
    )


def test_suggested_bin_count_leaves_no_bin_empty(files, caplog):
    """The count the --n-bins message suggests is accepted, and one more bin is not."""
    import re

    from hepcluster.cli._options import check_region_events, region_bins
    from hepcluster.datasets import EventTable

    events = EventTable.read(files["events"])
    with pytest.raises(ValueError, match="is the largest count") as error:
        check_region_events(events, region_bins((3000.0, 3800.0), 5000), "events.h5")
    largest = int(re.search(r"--n-bins (\d+) is the largest", str(error.value)).group(1))
    check_region_events(events, region_bins((3000.0, 3800.0), largest), "events.h5")
    with pytest.raises(ValueError, match="bins empty"):
        check_region_events(events, region_bins((3000.0, 3800.0), largest + 1), "events.h5")
