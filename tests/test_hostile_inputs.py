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
    _more_files(root, events, paths)
    return paths


def _more_files(root, events, paths):
    """Wrong-kind event files, shards of unrelated calibrations, foreign archives."""
    import h5py

    good = paths["events"].read_bytes()
    paths["truncated h5"] = root / "truncated.h5"
    paths["truncated h5"].write_bytes(good[: len(good) // 3])
    paths["text h5"] = root / "text.h5"
    paths["text h5"].write_text("mjj,weight\n3000,1\n")
    paths["foreign h5"] = root / "foreign.h5"
    with h5py.File(paths["foreign h5"], "w") as file:
        file["df"] = np.zeros((3, 5))
    paths["folder"] = root / "folder.h5"
    paths["folder"].mkdir()
    paths["a file"] = root / "a-file"
    paths["a file"].write_text("x")
    paths["no signal"] = root / "no-signal.h5"
    dataclasses.replace(events, is_signal=np.zeros_like(events.is_signal)).to_hdf5(
        paths["no signal"]
    )
    paths["zero weights"] = root / "zero-weights.h5"
    dataclasses.replace(events, weight=np.zeros_like(events.weight)).to_hdf5(paths["zero weights"])
    paths["plain npz"] = root / "plain.npz"
    np.savez(paths["plain npz"], a=np.arange(3))
    paths["zip"] = root / "notes.npz"
    with zipfile.ZipFile(paths["zip"], "w") as archive:
        archive.writestr("notes.txt", "hello")
    for name, extra in (
        ("shard 0/2", ["--shard", "0/2"]),
        ("shard 1/2", ["--shard", "1/2"]),
        ("shard 0/2 seed 1", ["--shard", "0/2", "--seed", "1"]),
        ("shard 0/3", ["--shard", "0/3"]),
    ):
        out = root / name.replace("/", "-").replace(" ", "-")
        command = ["-q", "calibrate", str(paths["events"]), "--output", str(out), *_FIT]
        assert main([*command, *extra]) == 0
        paths[name] = out / "calibration.npz"
    # a checkpoint of a finished dijet-fit calibration with the default bins of _FIT
    paths["checkpoint"] = root / "checkpoint.json"
    command = ["-q", "calibrate", str(paths["events"]), "--output", str(root / "ck"), *_FIT]
    assert main([*command, "--checkpoint", str(paths["checkpoint"])]) == 0
    paths["ucluster results"] = root / "ucluster-jets"
    paths["ucluster results"].mkdir()
    (paths["ucluster results"] / "summary.json").write_text("{}")


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
    "study with more bins than events": (
        lambda f, t: ["study", f["events"], "--output", t / "s", "--n-bins", "100000"],
        ["--n-bins 100000 leaves", "bins empty", "is the largest count"],
    ),
    # -- more, found by an independent tester -------------------------------------------
    "generate with a negative seed": (
        lambda f, t: ["generate", t / "x.h5", "--n-background", "10", "--seed", "-1"],
        ["--seed must be an integer in [0, 4294967295]", "-1"],
    ),
    "generate more constituents than memory": (
        lambda f, t: [
            "generate",
            t / "x.h5",
            "--n-background",
            "10",
            "--n-signal",
            "0",
            "--n-constituents",
            "1000000000",
        ],
        ["not enough memory", "GiB", "choose smaller sizes"],
    ),
    "generate below a file": (
        lambda f, t: ["generate", f["a file"] / "x.h5", "--n-background", "10"],
        ["a-file is a file, not a folder"],
    ),
    "generate zero events": (
        lambda f, t: ["generate", t / "x.h5", "--n-background", "0", "--n-signal", "0"],
        ["--n-background must be a positive integer"],
    ),
    "generate a decay above the resonance mass": (
        lambda f, t: ["generate", t / "x.h5", "--n-background", "10", "--m-x", "5000"],
        ["m_x + m_y", "below m_resonance"],
    ),
    "scan a text file": (lambda f, t: ["scan", f["text h5"], *_SMALL], ["text.h5", "not an HDF5"]),
    "scan a truncated event file": (
        lambda f, t: ["scan", f["truncated h5"], *_SMALL],
        ["truncated.h5", "truncated or damaged"],
    ),
    "scan an HDF5 file of another layout": (
        lambda f, t: ["scan", f["foreign h5"], *_SMALL],
        ["foreign.h5", "not an EventTable file", "['df']"],
    ),
    "scan a folder": (lambda f, t: ["scan", f["folder"], *_SMALL], ["folder.h5", "is a folder"]),
    "scan a missing file": (
        lambda f, t: ["scan", t / "missing.h5", *_SMALL],
        ["no such event file", "missing.h5"],
    ),
    "scan events of zero weight": (
        lambda f, t: ["scan", f["zero weights"], *_SMALL],
        ["zero-weights.h5", "holds 0 event(s)"],
    ),
    "scan with one cluster": (
        lambda f, t: ["scan", f["events"], *_SMALL, "--n-clusters", "1"],
        ["--n-clusters must be at least 2", "got 1"],
    ),
    "scan idealized without truth labels": (
        lambda f, t: ["scan", f["no signal"], *_SMALL, "--idealized"],
        ["--idealized", "no-signal.h5", "labelled signal"],
    ),
    "scan a training window without events": (
        lambda f, t: ["scan", f["events"], *_SMALL, "--train-window", "9000", "9100"],
        ["no jets in the training window [9000, 9100)"],
    ),
    "scan a reversed region": (
        lambda f, t: ["scan", f["events"], *_SMALL, "--region", "3800", "3000"],
        ["--region LOW HIGH needs LOW < HIGH"],
    ),
    "scan a NaN threshold": (
        lambda f, t: ["scan", f["events"], *_SMALL, "--threshold", "nan"],
        ["--threshold must be a finite number"],
    ),
    "scan no ensemble": (
        lambda f, t: ["scan", f["events"], *_SMALL, "--n-ensemble", "0"],
        ["--n-ensemble must be a positive integer"],
    ),
    "scan a negative seed": (
        lambda f, t: ["scan", f["events"], *_SMALL, "--seed", "-3"],
        ["--seed must be an integer", "-3"],
    ),
    "scan into a file": (
        lambda f, t: ["scan", f["events"], *_SMALL, "--output", f["a file"]],
        ["a-file is an existing file, expected a folder"],
    ),
    "calibrate negative injections": (
        lambda f, t: ["calibrate", f["events"], *_FIT, "--injections", "-5"],
        ["--injections must be numbers of signal events, 0 or more", "-5"],
    ),
    "calibrate injections beyond the signal events": (
        lambda f, t: ["calibrate", f["events"], *_FIT, "--injections", "1000000"],
        ["--injections 1000000", "events.h5 holds 200", "without replacement"],
    ),
    "calibrate injections without signal events": (
        lambda f, t: ["calibrate", f["no signal"], *_FIT, "--injections", "50"],
        ["--injections 50", "no-signal.h5 holds 0"],
    ),
    "calibrate no injected pseudo-experiments": (
        lambda f, t: [
            "calibrate",
            f["events"],
            *_FIT,
            "--injections",
            "5",
            "--n-per-injection",
            "0",
        ],
        ["--n-per-injection must be a positive integer"],
    ),
    "calibrate no background-only pseudo-experiments": (
        lambda f, t: ["calibrate", f["events"], *_FIT, "--n-background-only", "0"],
        ["--n-background-only must be a positive integer"],
    ),
    "calibrate shard past the last": (
        lambda f, t: ["calibrate", f["events"], *_FIT, "--shard", "2/2"],
        ["shard must be (index, count) with 0 <= index < count", "2/2"],
    ),
    "calibrate zero shards": (
        lambda f, t: ["calibrate", f["events"], *_FIT, "--shard", "0/0"],
        ["0 <= index < count", "0/0"],
    ),
    "calibrate shard not I/N": (
        lambda f, t: ["calibrate", f["events"], *_FIT, "--shard", "abc"],
        ["shard must look like 'I/N'", "abc"],
    ),
    "calibrate checkpoint folder": (
        lambda f, t: ["calibrate", f["events"], *_FIT, "--checkpoint", f["folder"]],
        ["--checkpoint", "folder.h5 is a folder"],
    ),
    "calibrate checkpoint is the event file": (
        lambda f, t: ["calibrate", f["events"], *_FIT, "--checkpoint", f["events"]],
        ["--checkpoint", "events.h5 is an HDF5 file", "choose another path"],
    ),
    "calibrate checkpoint is a result": (
        lambda f, t: ["calibrate", f["events"], *_FIT, "--checkpoint", f["scan"]],
        ["--checkpoint", "scan.npz is a zip archive", "choose another path"],
    ),
    "calibrate checkpoint of other bins": (
        lambda f, t: [
            "calibrate",
            f["events"],
            *_FIT,
            "--n-bins",
            "7",
            "--checkpoint",
            f["checkpoint"],
        ],
        ["checkpoint.json belongs to a different calibration", "estimator"],
    ),
    "calibrate checkpoint in a missing folder": (
        lambda f, t: ["calibrate", f["events"], *_FIT, "--checkpoint", t / "no" / "ck.json"],
        ["--checkpoint", "does not exist"],
    ),
    "calibrate negative observed": (
        lambda f, t: ["calibrate", f["events"], *_FIT, "--observed", "-1"],
        ["--observed -1", "an MLS is at least 0"],
    ),
    "calibrate observed with a decimal comma": (
        lambda f, t: ["calibrate", f["events"], *_FIT, "--observed", "3,5"],
        ["--observed 3,5", "neither an existing scan file nor a number"],
    ),
    "calibrate observed scan with the dijet fit": (
        lambda f, t: ["calibrate", f["events"], *_FIT, "--observed", f["scan"]],
        ["is a Cluster Scanning result", "--method cluster-scanning"],
    ),
    "calibrate observed plain npz": (
        lambda f, t: ["calibrate", f["events"], *_SMALL, "--observed", f["plain npz"]],
        ["plain.npz is not a valid ScanResult file", "did not write it"],
    ),
    "calibrate observed zip of other content": (
        lambda f, t: ["calibrate", f["events"], *_SMALL, "--observed", f["zip"]],
        ["notes.npz is not a valid ScanResult file"],
    ),
    "calibrate observed folder": (
        lambda f, t: ["calibrate", f["events"], *_SMALL, "--observed", f["folder"]],
        ["folder.h5 is a folder"],
    ),
    "calibrate idealized fit with a bootstrap": (
        lambda f, t: [
            "calibrate",
            f["events"],
            *_FIT,
            "--idealized",
            "--bootstrap",
            "multinomial",
        ],
        ["--bootstrap multinomial has no effect", "parametric bootstrap"],
    ),
    "calibrate a text file": (
        lambda f, t: ["calibrate", f["text h5"], *_FIT],
        ["text.h5", "not an HDF5"],
    ),
    "merge one shard twice": (
        lambda f, t: ["merge", f["shard 0/2"], f["shard 0/2"], "--no-plots"],
        ["both hold shard 0 of 2", "pass each shard once"],
    ),
    "merge shards of other seeds": (
        lambda f, t: ["merge", f["shard 0/2 seed 1"], f["shard 1/2"], "--no-plots"],
        ["shards of different calibrations", "--seed", "shard-1-2"],
    ),
    "merge shards of other counts": (
        lambda f, t: ["merge", f["shard 0/3"], f["shard 1/2"], "--no-plots"],
        ["different counts (2 and 3 shards)"],
    ),
    "calibrate a shard with an observed value": (
        lambda f, t: ["calibrate", f["events"], *_FIT, "--shard", "0/2", "--observed", "2"],
        ["--observed needs every shard", "hepcluster merge --observed"],
    ),
    "merge a folder": (
        lambda f, t: ["merge", f["folder"], "--no-plots"],
        ["folder.h5 is a folder"],
    ),
    "merge a plain npz": (
        lambda f, t: ["merge", f["plain npz"], "--no-plots"],
        ["plain.npz is not a valid CalibrationResult file"],
    ),
    "merge an event file": (
        lambda f, t: ["merge", f["events"], "--no-plots"],
        ["events.h5", "an HDF5 file"],
    ),
    "merge a missing file": (
        lambda f, t: ["merge", t / "missing.npz", "--no-plots"],
        ["no such calibration file", "missing.npz"],
    ),
    "merge observed on a partial result": (
        lambda f, t: ["merge", f["shard 0/2"], "--no-plots", "--observed", "2"],
        ["--observed needs every shard"],
    ),
    "merge observed text": (
        lambda f, t: ["merge", f["shard 0/2"], f["shard 1/2"], "--no-plots", "--observed", "x"],
        ["--observed x: not a number"],
    ),
    "merge into a file": (
        lambda f, t: ["merge", f["shard 0/2"], "--no-plots", "--output", f["a file"]],
        ["a-file is an existing file"],
    ),
    "demo without background": (
        lambda f, t: [
            "demo",
            "--generator",
            "synthetic",
            "--n-background",
            "0",
            "--output",
            t / "d",
        ],
        ["--n-background must be a positive integer"],
    ),
    "demo negative injections": (
        lambda f, t: [
            "demo",
            "--generator",
            "synthetic",
            "--injections",
            "-5",
            "--output",
            t / "d",
        ],
        ["--injections must be a number of signal events", "-5"],
    ),
    "demo no background-only pseudo-experiments": (
        lambda f, t: [
            "demo",
            "--generator",
            "synthetic",
            "--n-background-only",
            "0",
            "--output",
            t / "d",
        ],
        ["--n-background-only must be a positive integer"],
    ),
    "demo negative ensemble": (
        lambda f, t: [
            "demo",
            "--generator",
            "synthetic",
            "--n-ensemble",
            "-1",
            "--output",
            t / "d",
        ],
        ["--n-ensemble must be a positive integer"],
    ),
    "demo into a file": (
        lambda f, t: ["demo", "--generator", "synthetic", "--output", f["a file"]],
        ["a-file is an existing file"],
    ),
    "study a missing file": (
        lambda f, t: ["study", t / "missing.h5", "--output", t / "s"],
        ["no such event file"],
    ),
    "ucluster events NaN threshold": (
        lambda f, t: [
            "ucluster",
            "events",
            f["events"],
            "--threshold",
            "nan",
            "--output",
            t / "u",
        ],
        ["--threshold must be a finite number"],
    ),
    "ucluster events infinite bins": (
        lambda f, t: [
            "ucluster",
            "events",
            f["events"],
            "--bins",
            "3000",
            "inf",
            "100",
            "--output",
            t / "u",
        ],
        ["--bins LOW HIGH WIDTH needs finite"],
    ),
    "ucluster over earlier results": (
        lambda f, t: ["ucluster", "jets", "--output", f["ucluster results"]],
        ["already holds summary.json", "--overwrite"],
    ),
    "ucluster into a file": (
        lambda f, t: ["ucluster", "jets", "--output", f["a file"]],
        ["a-file is an existing file"],
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
        ["figure.png", "is a PNG image", "choose another path"],
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
        UClusterEmbedding(n_neighbors=10**6, pretrain_epochs=1).fit(X)


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


# -- the Python API -------------------------------------------------------------------------


def _constituents(n_jets=40, n_slots=4):
    rng = np.random.default_rng(0)
    X = np.zeros((n_jets, 3 * n_slots))
    X[:, 0::3] = rng.uniform(1.0, 100.0, (n_jets, n_slots))
    X[:, 1::3] = rng.normal(0.0, 0.3, (n_jets, n_slots))
    X[:, 2::3] = rng.normal(0.0, 0.3, (n_jets, n_slots))
    return X


def _images(n_jets=400):
    from hepcluster.images import JetImageTransformer

    return JetImageTransformer(n_pixels=8).fit_transform(_constituents(n_jets))


def _mjj(n_jets=400):
    return np.random.default_rng(1).uniform(3000.0, 3800.0, n_jets)


def _transformer(**params):
    from hepcluster.images import JetImageTransformer

    return JetImageTransformer(**params)


def _window_scan(**params):
    from hepcluster.scanning import WindowScan

    return WindowScan(_scanner(), **params)


def _scanner(**params):
    from hepcluster.scanning import ClusterScanner

    return ClusterScanner(**{"n_clusters": 3, "n_ensemble": 1, **params})


def _fit(**params):
    from hepcluster.fits import DijetFitBackground

    return DijetFitBackground(**params)


def _datasets():
    import hepcluster.datasets

    return hepcluster.datasets


def _calibration():
    import hepcluster.calibration

    return hepcluster.calibration


# (name, call, exception type, fragment of the message)
API_CASES = {
    "images of NaN constituents": (
        lambda f: _transformer().fit_transform(np.full((2, 6), np.nan)),
        ValueError,
        "NaN",
    ),
    "images of 5 columns": (
        lambda f: _transformer().fit(np.ones((3, 5))),
        ValueError,
        "3·P columns",
    ),
    "images of negative pT": (
        lambda f: _transformer().fit_transform(-np.abs(_constituents())),
        ValueError,
        "negative transverse momentum",
    ),
    "images with no pixels": (
        lambda f: _transformer(n_pixels=0).fit(_constituents()),
        ValueError,
        "'n_pixels' parameter",
    ),
    "scanner with NaN m_jj": (
        lambda f: _scanner().fit(_images(), np.r_[_mjj(399), np.nan]),
        ValueError,
        "NaN",
    ),
    "scanner with m_jj of another length": (
        lambda f: _scanner().fit(_images(), _mjj(10)),
        ValueError,
        "inconsistent numbers of samples",
    ),
    "scanner with decreasing bins": (
        lambda f: _scanner(bins=[3800.0, 3000.0]).fit(_images(), _mjj()),
        ValueError,
        "strictly increasing",
    ),
    "scanner without jets in its training window": (
        lambda f: _scanner(train_window=(9000.0, 9100.0)).fit(_images(), _mjj()),
        ValueError,
        "no jets in the training window [9000, 9100)",
    ),
    "scanner with more clusters than jets": (
        lambda f: _scanner(n_clusters=500, train_window=(3000.0, 3800.0)).fit(_images(), _mjj()),
        ValueError,
        "fewer than n_clusters = 500",
    ),
    "scanner with negative weights": (
        lambda f: _scanner().fit(_images(), _mjj(), sample_weight=-np.ones(400)),
        ValueError,
        "sample_weight must be non-negative",
    ),
    "window scan with negative weights": (
        lambda f: _window_scan().fit(_images(), _mjj(), sample_weight=-np.ones(400)),
        ValueError,
        "sample_weight must be non-negative",
    ),
    "scan before fit": (
        lambda f: _scanner().scan(_images(), _mjj()),
        ValueError,
        "not fitted yet",
    ),
    "dijet fit without events in its bins": (
        lambda f: _fit().fit(np.zeros((50, 1)), np.full(50, 100.0)),
        ValueError,
        "no events inside the bins",
    ),
    "dijet fit with one bin edge": (
        lambda f: _fit(bins=[3000.0]).fit(np.zeros((50, 1)), _mjj(50)),
        ValueError,
        "at least two",
    ),
    "dijet fit with seven parameters": (
        lambda f: _fit(n_params=7).fit(np.zeros((50, 1)), _mjj(50)),
        ValueError,
        "'n_params' parameter",
    ),
    "window scan without windows": (
        lambda f: _window_scan(windows=[]).fit(_images(), _mjj()),
        ValueError,
        "windows must be a non-empty sequence",
    ),
    "pseudo-experiments with a shard past the last": (
        lambda f: _calibration().run_pseudo_experiments(
            _fit(), _datasets().EventTable.read(f["events"]), n_background_only=2, shard="3/2"
        ),
        ValueError,
        "0 <= index < count",
    ),
    "pseudo-experiments injecting more than the signal pool": (
        lambda f: _calibration().run_pseudo_experiments(
            _fit(),
            _datasets().EventTable.read(f["events"]),
            n_background_only=2,
            signal_injections=[10**6],
        ),
        ValueError,
        "the signal pool holds 200 events",
    ),
    "significance of a NaN statistic": (
        lambda f: (
            _calibration().CalibrationResult.load(f["calibration"]).significance_estimate(np.nan)
        ),
        ValueError,
        "NaN",
    ),
    "calibration result from a PNG": (
        lambda f: _calibration().CalibrationResult.load(f["png"]),
        ValueError,
        "PNG image",
    ),
    "read_lhco of a text file": (
        lambda f: _datasets().read_lhco(f["text h5"], n_events=2),
        ValueError,
        "not an HDF5 file",
    ),
    "read_lhco of an event table": (
        lambda f: _datasets().read_lhco(f["events"], n_events=2),
        ValueError,
        "holds no pandas table",
    ),
    "read_root of a text file": (
        lambda f: _datasets().read_root(f["text h5"]),
        ValueError,
        "not a readable ROOT file",
    ),
    "read_parquet of a text file": (
        lambda f: _datasets().read_parquet(f["text h5"]),
        ValueError,
        "not a readable parquet file",
    ),
    "read_parquet of a folder": (
        lambda f: _datasets().read_parquet(f["folder"]),
        ValueError,
        "is a directory",
    ),
    "EventTable.read of a folder": (
        lambda f: _datasets().EventTable.read(f["folder"]),
        ValueError,
        "is a directory",
    ),
    "EventTable.read of an HDF5 file of another layout": (
        lambda f: _datasets().EventTable.read(f["foreign h5"]),
        ValueError,
        "not an EventTable file",
    ),
    "EventTable.read with options for an HDF5 file": (
        lambda f: _datasets().EventTable.read(f["events"], n_events=3),
        TypeError,
        "read_hdf5 takes no options",
    ),
}


@pytest.mark.parametrize("case", list(API_CASES))
def test_hostile_python_input_raises_a_clear_error(case, files):
    call, error, fragment = API_CASES[case]
    if "root" in case:
        pytest.importorskip("uproot")
    if "parquet" in case:
        pytest.importorskip("pyarrow")
    with pytest.raises(error) as raised:
        call(files)
    assert fragment in str(raised.value)


def test_parameter_messages_name_the_flag_that_was_typed():
    from hepcluster.cli import _name_the_flag

    message = "The 'n_clusters' parameter of DeepKMeans must be an int in the range [1, inf)."
    named = _name_the_flag(message, ["ucluster", "jets", "--n-clusters", "0"])
    assert named.startswith("--n-clusters: the 'n_clusters' parameter of DeepKMeans")
    assert _name_the_flag(message, ["ucluster", "jets"]) == message  # a default: no flag


def test_a_scan_that_selects_no_cluster_says_why_its_mls_is_0(files, tmp_path, capsys):
    command = ["-q", "scan", str(files["events"]), *_SMALL, "--threshold", "1e9"]
    assert main([*command, "--output", str(tmp_path / "scan")]) == 0
    assert "no cluster is signal-rich" in capsys.readouterr().out
