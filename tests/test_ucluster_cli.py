"""The ``hepcluster ucluster`` subcommand, on a parser built the way hepcluster.cli does."""

import argparse
import json

import numpy as np
import pytest

from hepcluster.cli._ucluster import _model, add_parser
from hepcluster.datasets import make_dijet_events, make_jets, write_hls4ml
from hepcluster.ucluster import DeepKMeans, UClusterEmbedding

TINY = [
    "--width",
    "0.25",
    "--n-neighbors",
    "4",
    "--pretrain-epochs",
    "1",
    "--epochs",
    "1",
    "--batch-size",
    "512",
]


def _parse(argv):
    parser = argparse.ArgumentParser(prog="hepcluster")
    add_parser(parser.add_subparsers(dest="command", metavar="COMMAND"))
    return parser.parse_args(argv)


def test_the_subcommand_registers_both_tasks_with_paper_like_options():
    args = _parse(["ucluster", "jets"])
    assert (args.command, args.task, args.n_clusters, args.embedding_dim) == (
        "ucluster",
        "jets",
        3,
        3,
    )
    assert args.beta == 10.0
    args = _parse(["ucluster", "events", "events.h5", "--signal-region", "3300", "3700"])
    assert (args.task, args.n_clusters, args.embedding_dim) == ("events", 2, 2)
    assert args.signal_region == [3300.0, 3700.0]
    with pytest.raises(SystemExit):
        _parse(["ucluster"])


def test_the_command_line_and_the_estimators_share_one_set_of_defaults():
    args = _parse(["ucluster", "jets"])
    assert args.schedule == "fast"
    model = _model(args, "jets")
    defaults, embedding_defaults = DeepKMeans(), UClusterEmbedding()
    # every training setting the command line does not set falls back to the schedule
    assert model._settings() == defaults._settings()
    assert model.embedding._settings() == embedding_defaults._settings()
    paper = _model(_parse(["ucluster", "jets", "--schedule", "paper", "--epochs", "5"]), "jets")
    assert paper._settings() == DeepKMeans(schedule="paper", epochs=5)._settings()
    assert paper.embedding._settings() == UClusterEmbedding(schedule="paper")._settings()


@pytest.fixture
def _keras():
    pytest.importorskip("keras", reason='needs TensorFlow: pip install "hepcluster[ucluster]"')


@pytest.mark.usefixtures("_keras")
def test_ucluster_jets_writes_accuracies_clusters_and_a_figure(tmp_path, capsys, plot):
    args = _parse(
        [
            "ucluster",
            "jets",
            "--n-per-class",
            "30",
            "--n-constituents",
            "8",
            "--output",
            str(tmp_path),
            *TINY,
        ]
    )
    args.handler(args)
    summary = json.loads((tmp_path / "summary.json").read_text())
    for key in (
        "cluster_accuracy_kmeans_pretrained",
        "cluster_accuracy_ucluster",
        "accuracy_supervised_knn",
        "cluster_accuracy_kmeans_mass",
        "accuracy_supervised_knn_mass",
    ):
        assert 1 / 3 - 1e-9 <= summary[key] <= 1.0
    assert summary["n_jets"] == 90
    with np.load(tmp_path / "clusters.npz") as clusters:
        assert clusters["labels"].shape == (90,)
        assert clusters["embedding"].shape == (90, 3)
    assert (tmp_path / "ucluster_jets.png").stat().st_size > 0
    assert "cluster_accuracy_ucluster" in capsys.readouterr().out


@pytest.mark.usefixtures("_keras")
def test_ucluster_jets_streams_hls4ml_files(tmp_path):
    X, y = make_jets(20, n_constituents=8, random_state=0)
    write_hls4ml(tmp_path / "jets.h5", X, y)
    argv = ["ucluster", "jets", "--input", str(tmp_path / "jets.h5"), "--n-constituents", "8"]
    args = _parse([*argv, "--stream", "--output", str(tmp_path / "out"), "--no-plots", *TINY])
    args.handler(args)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["n_jets"] == 60
    assert "cluster_accuracy_kmeans_mass" not in summary  # not computed on a stream


@pytest.mark.usefixtures("_keras")
def test_ucluster_events_writes_the_anomaly_search(tmp_path):
    path = tmp_path / "events.h5"
    make_dijet_events(
        1500, 100, n_constituents=6, mjj_range=(2600.0, 5000.0), random_state=0
    ).to_hdf5(path)
    args = _parse(
        [
            "ucluster",
            "events",
            str(path),
            "--bins",
            "2600",
            "5000",
            "200",
            "--output",
            str(tmp_path / "out"),
            "--no-plots",
            *TINY,
        ]
    )
    args.handler(args)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert len(summary["clusters"]) == 2
    assert summary["n_events"] == 1600
    assert (tmp_path / "out" / "anomaly.npz").exists()


def test_ucluster_events_reports_a_missing_file(tmp_path):
    argv = ["ucluster", "events", str(tmp_path / "missing.h5"), "--output", str(tmp_path)]
    args = _parse([*argv, "--no-plots"])
    with pytest.raises(FileNotFoundError, match=r"missing\.h5"):
        args.handler(args)


def test_option_defaults_are_the_constants_of_the_functions_they_call():
    import inspect

    from hepcluster.datasets import make_jets
    from hepcluster.ucluster._defaults import N_CONSTITUENTS

    default = inspect.signature(make_jets).parameters["n_constituents"].default
    assert default == N_CONSTITUENTS
    args = _parse(["ucluster", "jets"])
    assert args.n_constituents == N_CONSTITUENTS
    assert args.sinkhorn_epsilon == DeepKMeans().sinkhorn_epsilon
    assert args.device == DeepKMeans().device == UClusterEmbedding().device
