"""The ``hepcluster ucluster`` subcommand: UCluster on jets (W/Z/top) or on dijet events.

:func:`add_parser` registers it with the ``argparse`` subparsers of
:func:`hepcluster.cli.build_parser`; its handler :func:`run` is called with the parsed
arguments. The option defaults are the estimators' constants
(``hepcluster.ucluster._defaults``, ``hepcluster.anomaly._defaults``: modules without
imports, whose packages load their estimators lazily).
"""

import json
import logging
import os
import sys
from pathlib import Path

from ..anomaly._defaults import THRESHOLD
from ..ucluster._defaults import (
    BETA,
    DEFAULT_DEVICE,
    DEFAULT_SCHEDULE,
    DEVICES,
    EMBEDDING_DIM,
    N_CLUSTERS,
    N_CONSTITUENTS,
    N_NEIGHBORS,
    SCHEDULES,
    SINKHORN_EPSILON,
)
from ._figures import figure_style, save_figure
from ._options import add_overwrite_option

logger = logging.getLogger(__name__)

__all__ = ["add_parser", "run"]

N_PER_CLASS = 1000
"""Synthetic or Pythia jets per class of ``ucluster jets``: minutes on a CPU."""

EVENT_N_CLUSTERS = 2
"""k of the event task (arXiv:2010.07106, §4: two clusters of LHCO events)."""

EVENT_N_CONSTITUENTS = 30
"""Particles per jet the event task reads."""

EVENT_BINS = (2500.0, 6000.0, 100.0)
"""m_jj bins of the event task: LOW, HIGH, WIDTH in GeV."""


def _add_training_options(parser, *, n_clusters, embedding_dim):
    fast, paper = SCHEDULES["fast"], SCHEDULES["paper"]
    group = parser.add_argument_group(
        "network and training",
        "Settings left out come from --schedule, the same presets as the estimators' "
        f"(hepcluster.ucluster.SCHEDULES). 'fast' (default): width {fast['width']}, "
        f"{fast['pretrain_epochs']} + {fast['epochs']} epochs, batch {fast['batch_size']}, "
        f"α {fast['alpha']} + {fast['alpha_step']}/epoch up to {fast['alpha_max']}, centroid "
        "learning-rate factor "
        f"{fast['centroid_lr_factor']:g}: minutes on a CPU. 'paper': width {paper['width']}, "
        f"{paper['pretrain_epochs']} + {paper['epochs']} epochs, batch {paper['batch_size']}, "
        f"α {paper['alpha']} + {paper['alpha_step']}/epoch (a GPU run).",
    )
    group.add_argument(
        "--schedule",
        choices=sorted(SCHEDULES),
        default=DEFAULT_SCHEDULE,
        help="training preset (default: %(default)s)",
    )
    group.add_argument(
        "--n-clusters", type=int, default=n_clusters, help="clusters k (default: %(default)s)"
    )
    group.add_argument(
        "--embedding-dim",
        type=int,
        default=embedding_dim,
        help="embedding dimension E (default: %(default)s)",
    )
    group.add_argument(
        "--width", type=float, default=None, help="multiplier of ABCNet's layer widths"
    )
    group.add_argument(
        "--n-neighbors",
        type=int,
        default=N_NEIGHBORS,
        help="k of the kNN graphs (default: %(default)s)",
    )
    group.add_argument("--pretrain-epochs", type=int, default=None, help="pre-training epochs")
    group.add_argument("--epochs", type=int, default=None, help="joint-training epochs")
    group.add_argument("--batch-size", type=int, default=None)
    group.add_argument(
        "--pretrain-learning-rate",
        type=float,
        default=None,
        help="Adam learning rate of pre-training",
    )
    group.add_argument(
        "--learning-rate", type=float, default=None, help="Adam learning rate of joint training"
    )
    group.add_argument(
        "--beta",
        type=float,
        default=BETA,
        help="weight β of the clustering loss (default: %(default)s)",
    )
    group.add_argument("--alpha", type=float, default=None, help="α at the first joint epoch")
    group.add_argument("--alpha-step", type=float, default=None, help="growth of α per epoch")
    group.add_argument("--alpha-max", type=float, default=None, help="upper limit of α")
    group.add_argument(
        "--centroid-lr-factor",
        type=float,
        default=None,
        help="learning-rate multiplier of the centroids",
    )
    group.add_argument(
        "--label-proportions",
        choices=["none", "uniform"],
        default="none",
        help="optimal-transport (Sinkhorn) label-proportion regularisation of the "
        "assignment (default: %(default)s)",
    )
    group.add_argument(
        "--sinkhorn-epsilon",
        type=float,
        default=SINKHORN_EPSILON,
        help="ε of the transport plan (default: %(default)s)",
    )
    group.add_argument(
        "--restarts",
        type=int,
        default=None,
        help="independent runs, of which the one whose cluster sizes match the expected "
        "proportions best is kept (default: the schedule's, 3 fast / 1 paper)",
    )
    group.add_argument(
        "--device",
        choices=DEVICES,
        default=DEFAULT_DEVICE,
        help="where TensorFlow trains; 'gpu' fails at once without one (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--no-plots", action="store_true", help="skip the figures")
    add_overwrite_option(parser)


def add_parser(subparsers):
    """Register ``hepcluster ucluster {jets,events}`` with an argparse subparsers object.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``parser.add_subparsers()`` returned in :func:`hepcluster.cli.build_parser`.

    Returns
    -------
    argparse.ArgumentParser
        The ``ucluster`` parser; its ``handler`` default is :func:`run`.

    Examples
    --------
    >>> import argparse
    >>> from hepcluster.cli._ucluster import add_parser
    >>> parser = argparse.ArgumentParser(prog="hepcluster")
    >>> _ = add_parser(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["ucluster", "jets", "--n-per-class", "100"])
    >>> args.task, args.n_per_class, args.handler.__name__
    ('jets', 100, 'run')
    """
    parser = subparsers.add_parser(
        "ucluster",
        help="UCluster (arXiv:2010.07106): deep clustering of jets or of dijet events",
        description=(
            "Train UCluster, a graph attention network (ABCNet) trained jointly with a "
            "differentiable k-means, and write the clusters, metrics and figures. "
            "'jets': unsupervised W/Z/top classification; 'events': anomaly detection on "
            "dijet events with a nearest-cluster background estimate. Needs the 'ucluster' "
            "extra (TensorFlow)."
        ),
    )
    tasks = parser.add_subparsers(title="tasks", dest="task", metavar="TASK", required=True)

    jets = tasks.add_parser(
        "jets",
        help="cluster W, Z and top jets; cluster accuracy against k-means and KNN",
        description="Unsupervised multiclass classification of jets (UCluster §3).",
    )
    source = jets.add_mutually_exclusive_group()
    source.add_argument(
        "--input",
        type=Path,
        nargs="*",
        default=None,
        help="hls4ml jet files (default: synthetic jets from hepcluster.datasets.make_jets)",
    )
    source.add_argument(
        "--pythia",
        action="store_true",
        help="generate the jets with Pythia8 + FastJet (extra 'generate'; ~300 jets/s/core)",
    )
    jets.add_argument(
        "--stream",
        action="store_true",
        help="read the --input files chunk by chunk at every epoch (larger than memory)",
    )
    jets.add_argument(
        "--n-per-class",
        type=int,
        default=N_PER_CLASS,
        help="synthetic or Pythia jets per class (default: %(default)s)",
    )
    jets.add_argument(
        "--n-constituents",
        type=int,
        default=N_CONSTITUENTS,
        help="particle slots per jet (default: %(default)s, as in the paper)",
    )
    jets.add_argument(
        "--output",
        type=Path,
        default=Path("hepcluster-ucluster-jets"),
        help="output folder (default: %(default)s)",
    )
    _add_training_options(
        jets,
        n_clusters=N_CLUSTERS,
        embedding_dim=EMBEDDING_DIM["jets"],
    )

    events = tasks.add_parser(
        "events",
        help="cluster dijet events and estimate the background of signal-rich clusters",
        description="Anomaly detection on whole dijet events (UCluster §4).",
    )
    events.add_argument(
        "events", type=Path, help="event file: HDF5, ROOT (.root) or parquet (.parquet)"
    )
    events.add_argument(
        "--n-constituents",
        type=int,
        default=EVENT_N_CONSTITUENTS,
        help="particles per jet kept (default: %(default)s)",
    )
    events.add_argument(
        "--bins",
        type=float,
        nargs=3,
        default=EVENT_BINS,
        metavar=("LOW", "HIGH", "WIDTH"),
        help="m_jj bins from LOW to HIGH of WIDTH, in GeV (default: {:g} {:g} {:g})".format(
            *EVENT_BINS
        ),
    )
    events.add_argument(
        "--signal-region",
        type=float,
        nargs=2,
        default=None,
        metavar=("LOW", "HIGH"),
        help="m_jj signal region in GeV, on bin edges (default: every window of three bins "
        "with a sideband bin on each side; the one with the largest excess)",
    )
    events.add_argument(
        "--threshold",
        type=float,
        default=THRESHOLD,
        help="a cluster is signal-rich when the local significance of its excess in the "
        "signal region is at least this (σ; default: %(default)s)",
    )
    events.add_argument(
        "--output",
        type=Path,
        default=Path("hepcluster-ucluster-events"),
        help="output folder (default: %(default)s)",
    )
    _add_training_options(
        events,
        n_clusters=EVENT_N_CLUSTERS,
        embedding_dim=EMBEDDING_DIM["events"],
    )
    parser.set_defaults(handler=run)
    return parser


def _model(args, task):
    from ..ucluster import DeepKMeans, UClusterEmbedding

    embedding = UClusterEmbedding(
        task=task,
        embedding_dim=args.embedding_dim,
        n_neighbors=args.n_neighbors,
        width=args.width,
        pretrain_epochs=args.pretrain_epochs,
        batch_size=args.batch_size,
        learning_rate=args.pretrain_learning_rate,
        schedule=args.schedule,
        device=args.device,
        random_state=args.seed,
    )
    return DeepKMeans(
        embedding,
        n_clusters=args.n_clusters,
        beta=args.beta,
        alpha=args.alpha,
        alpha_step=args.alpha_step,
        alpha_max=args.alpha_max,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        centroid_lr_factor=args.centroid_lr_factor,
        label_proportions=None if args.label_proportions == "none" else args.label_proportions,
        sinkhorn_epsilon=args.sinkhorn_epsilon,
        n_restarts=args.restarts,
        schedule=args.schedule,
        device=args.device,
        random_state=args.seed,
    )


def _throughput(model):
    import numpy as np

    rates = model.embedding_.history_.get("samples_per_second", []) + model.history_.get(
        "samples_per_second", []
    )
    # The first epoch of each phase includes building the graph; report the later ones.
    later = rates[1:] if len(rates) > 1 else rates
    return float(np.median(later)) if later else float("nan")


def _jet_data(args):
    """(X, y): an array, or a JetStream and its labels, as the options ask."""
    if args.input:
        if args.stream:
            from ..ucluster import JetStream

            stream = JetStream.from_hls4ml(
                args.input, classes=("W", "Z", "top"), n_constituents=args.n_constituents
            )
            return stream, stream.labels()
        from ..datasets import read_hls4ml

        return read_hls4ml(
            args.input, n_constituents=args.n_constituents, classes=("W", "Z", "top")
        )
    if args.stream:
        raise ValueError("--stream reads --input files; give the hls4ml files to stream.")
    if args.pythia:
        from ..datasets import generate_pythia_jets

        return generate_pythia_jets(
            args.n_per_class, n_constituents=args.n_constituents, random_state=args.seed
        )
    from ..datasets import make_jets

    return make_jets(args.n_per_class, n_constituents=args.n_constituents, random_state=args.seed)


KNN_NEIGHBORS = 15
"""Neighbours of the supervised KNN baselines (fewer when the training half is smaller)."""


def _knn_neighbors(train):
    """The KNN baselines' k: 15, or every training jet of a smaller sample."""
    n_train = int(train.sum())
    if n_train < 1 or n_train == train.size:
        raise ValueError(
            f"the supervised baselines need jets to train and to test on, got {train.size} "
            "jets in all: raise --n-per-class."
        )
    return min(KNN_NEIGHBORS, n_train)


def _mass_baselines(X, y, train, seed):
    """k-means on the jet mass alone and a supervised KNN on it: the trivial baselines."""
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.neighbors import KNeighborsClassifier

    from ..jets import jet_kinematics
    from ..metrics import cluster_accuracy

    if not isinstance(X, np.ndarray):
        return {}
    mass = jet_kinematics(np.asarray(X, dtype=np.float64)).mass[:, None]
    labels = KMeans(3, n_init=10, random_state=seed).fit_predict(mass)
    knn = KNeighborsClassifier(n_neighbors=_knn_neighbors(train)).fit(mass[train], y[train])
    return {
        "cluster_accuracy_kmeans_mass": cluster_accuracy(y, labels),
        "accuracy_supervised_knn_mass": float(knn.score(mass[~train], y[~train])),
    }


def _run_jets(args):
    import numpy as np
    from sklearn.neighbors import KNeighborsClassifier

    from ..metrics import cluster_accuracy

    X, y = _jet_data(args)
    logger.info("%d jets with %d constituent slots", len(y), args.n_constituents)
    model = _model(args, "jets").fit(X)
    embedding = model.embed(X)
    y = np.asarray(y)
    rng = np.random.default_rng(args.seed)
    train = rng.random(len(y)) < 0.5
    knn = KNeighborsClassifier(n_neighbors=_knn_neighbors(train)).fit(embedding[train], y[train])
    summary = {
        "n_jets": len(y),
        "schedule": args.schedule,
        "cluster_accuracy_kmeans_pretrained": cluster_accuracy(y, model.init_labels_),
        "cluster_accuracy_ucluster": cluster_accuracy(y, model.labels_),
        "accuracy_supervised_knn": float(knn.score(embedding[~train], y[~train])),
        **_mass_baselines(X, y, train, args.seed),
        "training_jets_per_second": _throughput(model),
    }
    np.savez_compressed(
        args.output / "clusters.npz",
        labels=model.labels_,
        init_labels=model.init_labels_,
        embedding=embedding,
        y=np.asarray(y, dtype=str),
        cluster_centers=model.cluster_centers_,
    )
    if not args.no_plots:
        _plot_jets(args.output / "ucluster_jets.png", embedding, y, model)
    return summary


def _plot_jets(path, embedding, y, model):
    import numpy as np

    from ..ucluster import plot_confusion_matrix

    with figure_style() as plt:
        fig, axes = plt.subplots(1, 2, figsize=(14, 6))
        for name in np.unique(y):
            chosen = y == name
            axes[0].scatter(embedding[chosen, 0], embedding[chosen, 1], s=2, label=str(name))
        axes[0].scatter(
            *model.cluster_centers_[:, :2].T, marker="x", color="black", s=80, label="centroids"
        )
        axes[0].set_xlabel("embedding 0")
        axes[0].set_ylabel("embedding 1")
        axes[0].set_title("UCluster embedding (first two dimensions)")
        axes[0].legend(markerscale=3)
        plot_confusion_matrix(y, model.labels_, n_clusters=model.n_clusters, ax=axes[1])
        return save_figure(fig, path)


def _run_events(args):
    import numpy as np

    from ..anomaly import anomaly_search
    from ..fits import DijetFitBackground
    from ._options import read_events

    events = read_events(args.events)
    if events.n_constituents > args.n_constituents:
        events.constituents = np.ascontiguousarray(
            events.constituents[:, :, : args.n_constituents]
        )
    logger.info("read %r", events)
    low, high, width = args.bins
    bins = np.arange(low, high + 0.5 * width, width)
    model = _model(args, "events")
    result = anomaly_search(
        events,
        model=model,
        bins=bins,
        background=DijetFitBackground(),
        signal_region=args.signal_region,
        threshold=args.threshold,
    )
    result.save(args.output / "anomaly.npz")
    summary = result.summary()
    summary["training_events_per_second"] = _throughput(model)
    if not args.no_plots:
        with figure_style() as plt:
            fig, axes = plt.subplots(
                2,
                result.n_clusters,
                figsize=(8 * result.n_clusters, 8),
                sharex=True,
                squeeze=False,
                gridspec_kw={"height_ratios": (3, 1)},
            )
            for k in range(result.n_clusters):
                result.plot(cluster=k, ax=axes[:, k])
            save_figure(fig, args.output / "ucluster_events.png")
    return summary


def _check_search_options(args):
    """Finite m_jj bins, signal region and threshold of ``ucluster events``."""
    import math

    low, high, width = args.bins
    if not all(map(math.isfinite, args.bins)) or not (low < high and width > 0):
        raise ValueError(
            f"--bins LOW HIGH WIDTH needs finite LOW < HIGH and WIDTH > 0, got {low:g} "
            f"{high:g} {width:g}."
        )
    if args.signal_region is not None and not all(map(math.isfinite, args.signal_region)):
        raise ValueError(
            "--signal-region LOW HIGH must be finite m_jj values, got "
            + " ".join(f"{edge:g}" for edge in args.signal_region)
            + "."
        )
    if not math.isfinite(args.threshold):
        raise ValueError(f"--threshold must be a finite number, got {args.threshold:g}.")


def run(args):
    """Handler of ``hepcluster ucluster``: train, evaluate, write ``summary.json``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments of the ``ucluster`` subcommand.
    """
    from ..utils._results import write_json
    from ._options import check_plotting, output_folder

    results = {
        "jets": ("summary.json", "clusters.npz", "ucluster_jets.png"),
        "events": ("summary.json", "anomaly.npz", "ucluster_events.png"),
    }[args.task]
    if args.task == "events":
        _check_search_options(args)
    output_folder(args.output, results=results, overwrite=args.overwrite)
    check_plotting(args)
    # TensorFlow's C++ start-up notices are filtered unless asked for: -v shows them all
    # (a value the user set is never changed).
    if getattr(args, "verbose", 0):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
    summary = _run_jets(args) if args.task == "jets" else _run_events(args)
    write_json(summary, args.output / "summary.json")
    sys.stdout.write(json.dumps(summary, indent=2, default=float) + "\n")
    logger.info("results written to %s", args.output.resolve())
