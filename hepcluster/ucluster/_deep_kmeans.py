"""DeepKMeans: UCluster's joint training of the embedding and a differentiable k-means."""

import copy
import itertools
import logging
import time
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
    clone,
)
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ..utils._sklearn_compat import HasMethods, Interval, StrOptions, fit_context, num_samples
from ._defaults import (
    BETA,
    DEFAULT_DEVICE,
    DEFAULT_SCHEDULE,
    DEVICES,
    N_CLUSTERS,
    SCHEDULES,
    SINKHORN_EPSILON,
    SINKHORN_ITERATIONS,
    resolve_schedule,
)
from ._embedding import UClusterEmbedding, as_stream
from ._schedules import alpha_schedule

logger = logging.getLogger(__name__)

__all__ = ["DeepKMeans"]


def _sinkhorn_cost(distances, proportions, epsilon, n_iterations=200):
    """Entropic optimal-transport cost Σ P d with row masses 1/N and column masses r."""
    log_kernel = -distances / epsilon
    log_rows = -np.log(len(distances))
    log_columns = np.log(proportions)
    log_v = np.zeros(distances.shape[1])
    for _ in range(n_iterations):
        log_u = log_rows - _logsumexp(log_kernel + log_v[None, :], axis=1)
        log_v = log_columns - _logsumexp(log_kernel + log_u[:, None], axis=0)
    plan = np.exp(log_kernel + log_u[:, None] + log_v[None, :])
    return float(np.sum(plan * distances))


def _logsumexp(values, axis):
    top = values.max(axis=axis, keepdims=True)
    return np.log(np.exp(values - top).sum(axis=axis)) + np.squeeze(top, axis=axis)


def match_proportions(features, centers, proportions, max_samples=5000):
    """The order of ``proportions`` over the clusters that costs least to transport.

    The label proportions are fractions of the classes, but which centroid stands for
    which class is unknown: for up to 6 clusters every permutation is tried and the one
    with the smallest entropic transport cost of the (sub-sampled) embedding to the
    centroids is kept; beyond that the largest fraction goes to the largest cluster.

    Parameters
    ----------
    features : ndarray of shape (n_samples, E)
    centers : ndarray of shape (K, E)
    proportions : sequence of K floats summing to 1

    Returns
    -------
    list of float
        The fractions, one per centroid.
    """
    proportions = np.asarray(proportions, dtype=np.float64)
    step = max(1, len(features) // max_samples)
    sample = features[::step]
    distances = ((sample[:, None, :] - centers[None]) ** 2).sum(-1)
    k = len(proportions)
    if k > 6:
        sizes = np.bincount(np.argmin(distances, axis=1), minlength=k)
        order = np.empty(k, dtype=int)
        order[np.argsort(-sizes, kind="stable")] = np.argsort(-proportions, kind="stable")
        return proportions[order].tolist()
    epsilon = 0.05 * max(float(np.median(distances)), 1e-12)
    candidates = {tuple(p) for p in itertools.permutations(proportions)}
    best = min(sorted(candidates), key=lambda p: _sinkhorn_cost(distances, np.array(p), epsilon))
    return list(best)


def _softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=1, keepdims=True)


class DeepKMeans(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator):
    """UCluster: k-means in the embedding of a graph network trained jointly with it.

    1. The embedding (:class:`~hepcluster.UClusterEmbedding`) is pre-trained on its
       auxiliary mass classification (focal loss).
    2. The centroids μ are initialised with k-means on the pre-trained embedding.
    3. Network and centroids are trained jointly on L = L_focal + β L_cluster, with
       L_cluster = (1/N) Σ_j Σ_k ‖f_j − μ_k‖² π_jk and π_jk = softmax_k(−α ‖f_j − μ_k‖²);
       α grows every epoch so that the soft assignment hardens, while the learning rate
       decays stepwise.

    Parameters
    ----------
    embedding : UClusterEmbedding or None, default=None
        The network and its pre-training settings; ``None`` uses
        ``UClusterEmbedding(schedule=schedule, device=device)``. It is cloned (and
        pre-trained) in :meth:`fit` unless ``prefit=True``. Its ``schedule`` and
        ``device`` must equal this estimator's (see Notes).
    n_clusters : int, default=3
        Number of clusters k.
    beta : float, default=10.0
        Weight β of the clustering loss.
    alpha : float or None, default=None
        α at the first epoch of joint training; ``None``: the schedule's.
    alpha_step : float or None, default=None
        α grows by this much per epoch; ``None``: the schedule's.
    alpha_max : float or None, default=None
        Upper limit of α; ``None``: the schedule's (0.5 ``"fast"``, none ``"paper"``;
        ``float("inf")`` for no limit).
    epochs : int or None, default=None
        Epochs of joint training, after the embedding's ``pretrain_epochs`` of
        pre-training; ``None``: the schedule's.
    batch_size : int or None, default=None
        ``None``: the schedule's.
    learning_rate : float or None, default=None
        Initial Adam learning rate of the joint training (the schedule restarts after
        pre-training); ``None``: the schedule's.
    lr_decay_every : int or None, default=None
    lr_decay_factor : float or None, default=None
    min_learning_rate : float or None, default=None
    n_init : int, default=10
        Initialisations of the k-means that seeds μ.
    n_restarts : int or None, default=None
        Independent runs of the whole fit (pre-training, k-means start, joint training),
        each with its own seeds; the run whose cluster sizes are closest to the expected
        label proportions is kept (see Notes); ``None``: the schedule's (3 ``"fast"``,
        1 ``"paper"``). With ``prefit=True`` the runs share the given embedding and
        differ in the k-means start and the joint training only.
    label_proportions : "uniform", array-like of shape (n_clusters,) or None, default=None
        Label-proportion regularisation with optimal transport (beyond the paper; its
        authors name it as a future direction). During joint training the assignment
        of each mini-batch is the entropic optimal-transport plan between the samples
        and the clusters whose cluster masses are these fractions (Sinkhorn–Knopp
        iterations), instead of π, so that no cluster can swallow or lose the samples
        of another. The fractions are *given*, not learned: ``"uniform"`` (1/k each, as
        in self-labelling) or the expected fractions (e.g. from cross sections),
        normalised to 1; which cluster gets which fraction is decided once, on the
        k-means initialisation (the order that costs least to transport, see
        ``proportions_``). ``None`` trains with π as in the paper.
    sinkhorn_epsilon : float or None, default=0.1
        Entropic regularisation ε of the transport plan, P ∝ exp(−d/ε), in units of
        the squared distances of the (unit-RMS) embedding; ``None`` uses ε = 1/α, the
        temperature of π (too soft at the start of the ``"fast"`` schedule, where the
        plan then spreads every sample over all clusters).
    sinkhorn_iterations : int, default=50
        Sinkhorn–Knopp iterations per mini-batch.
    centroid_lr_factor : float or None, default=None
        The centroids learn with this multiple of the learning rate (1 in the paper,
        100 in the ``"fast"`` schedule); ``None``: the schedule's.
    prefit : bool, default=False
        Use ``embedding`` as already fitted (it is copied, not modified): no pre-training.
    schedule : {"fast", "paper"}, default="fast"
        Preset of every joint-training setting left at ``None`` (see
        :data:`~hepcluster.ucluster.SCHEDULES`), and of the embedding when ``embedding``
        is ``None``; a given embedding must have the same ``schedule``. ``"fast"`` is
        the default, sized for a CPU; ``"paper"`` is the paper's schedule (α = 1 + 2
        per epoch, batch 1024, the full-width network), sized for ~10⁶ jets on a GPU.
    device : {"auto", "cpu", "gpu"}, default="auto"
        Where TensorFlow runs; ``"gpu"`` without a GPU raises before any work. A given
        embedding must have the same ``device``.
    random_state : int, RandomState instance or None, default=None
        Seeds pre-training (when the embedding has no ``random_state`` of its own), the
        k-means initialisation and the joint training.

    Attributes
    ----------
    embedding_ : UClusterEmbedding
        The embedding after joint training (of the kept run).
    cluster_centers_ : ndarray of shape (n_clusters, embedding_dim)
        Centroids μ.
    labels_ : ndarray of shape (n_samples,)
        Cluster of each training sample.
    init_centers_ : ndarray of shape (n_clusters, embedding_dim)
        k-means centroids on the pre-trained embedding (the starting point).
    init_labels_ : ndarray of shape (n_samples,)
        k-means clusters of the training samples on the pre-trained embedding: the
        baseline UCluster improves on.
    alpha_ : float
        α of the last epoch, used by :meth:`predict_proba`.
    proportions_ : list of float or None
        The label proportions in the order of the clusters (see ``label_proportions``).
    settings_ : dict
        The joint-training settings in use.
    history_ : dict of list
        Per epoch of joint training: total, focal and clustering losses, α, learning
        rate, seconds and ``samples_per_second``.
    restarts_ : list of dict
        One entry per run: its ``random_state`` (the seeds of pre-training, k-means start
        and joint training), ``cluster_fractions`` (largest first), ``size_divergence``
        (the selection criterion, see Notes) and ``seconds``.
    best_restart_ : int
        Index in ``restarts_`` of the kept run.
    n_features_in_ : int

    See Also
    --------
    hepcluster.UClusterEmbedding : The network and its pre-training.
    hepcluster.ucluster.JetStream : Data sets larger than memory.
    hepcluster.metrics.cluster_accuracy : Accuracy of the clusters against known classes.

    Notes
    -----
    ``schedule`` and ``device`` are resolved in one place: this estimator's values rule
    the joint training, and they fill the default embedding. A given ``embedding`` with
    another ``schedule`` or ``device`` is refused by :meth:`fit` (a ``ValueError``
    naming both), because it would pre-train with one preset and train jointly with
    the other: pass the same value to both, e.g.
    ``DeepKMeans(UClusterEmbedding(schedule="paper"), schedule="paper")``.

    The embedding is driven only through its public steps
    (:meth:`UClusterEmbedding.prepare`, :meth:`~UClusterEmbedding.pretrain`,
    :meth:`~UClusterEmbedding.embed`, :meth:`~UClusterEmbedding.auxiliary_loss` and
    ``network_``), so any subclass that keeps them can be clustered.

    The embedding has a fixed overall scale (unit RMS), which is what α is relative to:
    the paper's α = 1, +2 per epoch hardens the assignment within a few epochs, which
    suits ~10⁵ steps but freezes the k-means start in a run of a few hundred steps. The
    ``"fast"`` schedule therefore starts softer, caps α and moves the centroids faster
    (the user guide gives the accuracies reached). Some seeds collapse a cluster, which
    :meth:`fit` warns about. A fit is reproducible with its ``random_state`` on one
    machine and software stack; another CPU (other BLAS and oneDNN kernels) gives other
    rounding, and another end point for some seeds.

    With ``label_proportions`` the clustering loss is Σ_k ‖f_j − μ_k‖² Q_jk with Q the
    transport plan of the batch (rows summing to 1, columns to the given fractions),
    treated as a fixed target (no gradient flows through Q), as in self-labelling by
    optimal transport.

    **Restarts.** Some fits end in a degenerate partition, and nothing in a single run
    tells which: on 5,000 Pythia W/Z/top jets about one seed in four ends with W and Z in
    one cluster holding ~60 % of the jets and a cluster of ~5 % beside it (accuracy 0.58
    instead of ≈ 0.74). Those runs have the *lowest* k-means objective in their embedding
    and agree with each other (adjusted Rand index 0.97), so neither the loss, the inertia
    nor the agreement between restarts picks the good runs; restarting only the joint
    training is not enough either: from two of eight pre-trained embeddings all four joint
    trainings tried ended collapsed, so every run pre-trains anew.
    What separates them is the size of the clusters: the kept run minimises the
    divergence D(q ‖ p) = Σ_k q_k log(q_k / p_k) of the expected fractions q (sorted, from
    ``label_proportions``; 1/k each when ``None``) from the run's cluster fractions p
    (sorted, floored at half a sample), which is infinite-like for an empty cluster and
    small for sizes near the expected ones. It is a prior on the cluster sizes, used
    only to choose between runs (not in training): give ``label_proportions`` when the
    classes are known to be unbalanced. When the kept run still has a cluster below a
    quarter of its expected share, :meth:`fit` warns.

    :meth:`predict` returns argmin_k ‖f − μ_k‖², :meth:`transform` the Euclidean distances
    ‖f − μ_k‖ (like :class:`~sklearn.cluster.KMeans`), :meth:`predict_proba` the soft
    assignment π at the final α.

    References
    ----------
    V. Mikuni, F. Canelli, "Unsupervised clustering for collider physics", Phys. Rev. D
    103 (2021) 092007, arXiv:2010.07106; M. M. Fard, T. Thonet, E. Gaussier, "Deep
    k-Means", arXiv:1806.10069; M. Cuturi, "Sinkhorn distances: lightspeed computation of
    optimal transport", NeurIPS 2013, arXiv:1306.0895; Y. M. Asano, C. Rupprecht,
    A. Vedaldi, "Self-labelling via simultaneous clustering and representation
    learning", ICLR 2020, arXiv:1911.05371.

    Examples
    --------
    >>> from hepcluster.ucluster import DeepKMeans, UClusterEmbedding
    >>> model = DeepKMeans(UClusterEmbedding(pretrain_epochs=2), n_clusters=3, epochs=3,
    ...                    random_state=0)
    >>> model.get_params()["embedding__pretrain_epochs"]
    2
    >>> from hepcluster.datasets import make_jets
    >>> X, y = make_jets(100, n_constituents=20, random_state=0)
    >>> model.fit_predict(X).shape  # doctest: +SKIP
    (300,)
    """

    _parameter_constraints: dict = {  # noqa: RUF012 (scikit-learn's convention)
        "embedding": [HasMethods(["fit", "transform"]), None],
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "beta": [Interval(Real, 0.0, None, closed="left")],
        "alpha": [Interval(Real, 0.0, None, closed="left"), None],
        "alpha_step": [Interval(Real, 0.0, None, closed="left"), None],
        "alpha_max": [Interval(Real, 0.0, None, closed="both"), None],  # inf: no limit
        "epochs": [Interval(Integral, 0, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "learning_rate": [Interval(Real, 0.0, None, closed="neither"), None],
        "lr_decay_every": [Interval(Integral, 1, None, closed="left"), None],
        "lr_decay_factor": [Interval(Real, 0.0, 1.0, closed="right"), None],
        "min_learning_rate": [Interval(Real, 0.0, None, closed="left"), None],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "n_restarts": [Interval(Integral, 1, None, closed="left"), None],
        "label_proportions": [StrOptions({"uniform"}), "array-like", None],
        "sinkhorn_epsilon": [Interval(Real, 0.0, None, closed="neither"), None],
        "sinkhorn_iterations": [Interval(Integral, 1, None, closed="left")],
        "centroid_lr_factor": [Interval(Real, 0.0, None, closed="left"), None],
        "prefit": ["boolean"],
        "schedule": [StrOptions(set(SCHEDULES))],
        "device": [StrOptions(set(DEVICES))],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        embedding=None,
        *,
        n_clusters=N_CLUSTERS,
        beta=BETA,
        alpha=None,
        alpha_step=None,
        alpha_max=None,
        epochs=None,
        batch_size=None,
        learning_rate=None,
        lr_decay_every=None,
        lr_decay_factor=None,
        min_learning_rate=None,
        n_init=10,
        n_restarts=None,
        label_proportions=None,
        sinkhorn_epsilon=SINKHORN_EPSILON,
        sinkhorn_iterations=SINKHORN_ITERATIONS,
        centroid_lr_factor=None,
        prefit=False,
        schedule=DEFAULT_SCHEDULE,
        device=DEFAULT_DEVICE,
        random_state=None,
    ):
        self.embedding = embedding
        self.n_clusters = n_clusters
        self.beta = beta
        self.alpha = alpha
        self.alpha_step = alpha_step
        self.alpha_max = alpha_max
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.lr_decay_every = lr_decay_every
        self.lr_decay_factor = lr_decay_factor
        self.min_learning_rate = min_learning_rate
        self.n_init = n_init
        self.n_restarts = n_restarts
        self.label_proportions = label_proportions
        self.sinkhorn_epsilon = sinkhorn_epsilon
        self.sinkhorn_iterations = sinkhorn_iterations
        self.centroid_lr_factor = centroid_lr_factor
        self.prefit = prefit
        self.schedule = schedule
        self.device = device
        self.random_state = random_state

    # -- fitting --------------------------------------------------------------------------

    def _settings(self):
        return resolve_schedule(
            self.schedule,
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            lr_decay_every=self.lr_decay_every,
            lr_decay_factor=self.lr_decay_factor,
            min_learning_rate=self.min_learning_rate,
            alpha=self.alpha,
            alpha_step=self.alpha_step,
            alpha_max=self.alpha_max,
            centroid_lr_factor=self.centroid_lr_factor,
        )

    def _resolved_restarts(self):
        return resolve_schedule(self.schedule, n_restarts=self.n_restarts)["n_restarts"]

    def _proportions(self):
        if self.label_proportions is None:
            return None
        if isinstance(self.label_proportions, str):  # "uniform"
            return [1.0 / self.n_clusters] * self.n_clusters
        proportions = np.asarray(self.label_proportions, dtype=np.float64)
        if (
            proportions.shape != (self.n_clusters,)
            or not np.all(np.isfinite(proportions))
            or np.any(proportions <= 0)
        ):
            raise ValueError(
                f"label_proportions must hold n_clusters={self.n_clusters} positive "
                f"fractions, got {self.label_proportions!r}."
            )
        return (proportions / proportions.sum()).tolist()

    def _template(self):
        if self.embedding is None:
            return UClusterEmbedding(schedule=self.schedule, device=self.device)
        if not isinstance(self.embedding, UClusterEmbedding):
            raise TypeError(
                "DeepKMeans trains the network of its embedding and needs a "
                f"UClusterEmbedding, got {type(self.embedding).__name__}."
            )
        for name in ("schedule", "device"):
            mine, theirs = getattr(self, name), getattr(self.embedding, name)
            if mine != theirs:
                raise ValueError(
                    f"DeepKMeans has {name}={mine!r} but its embedding has {name}="
                    f"{theirs!r}: the embedding would be trained with one and the joint "
                    f"training with the other. Give both the same {name}, e.g. "
                    f"DeepKMeans(UClusterEmbedding({name}={mine!r}), {name}={mine!r})."
                )
        return self.embedding

    def _check_samples(self, n_samples):
        if n_samples < self.n_clusters:
            raise ValueError(f"n_samples={n_samples} should be >= n_clusters={self.n_clusters}.")

    def _pretrained(self, X, seed, *, override_seed=False):
        """The embedding (pre-trained here unless prefit) and the training dataset.

        ``seed`` seeds the pre-training when the embedding has no ``random_state`` of
        its own, or always with ``override_seed`` (restarts after the first).
        """
        template = self._template()
        if self.prefit:
            check_is_fitted(template, msg="prefit=True needs a fitted embedding.")
            embedding = copy.deepcopy(template)
            dataset = embedding.prepare(X)
            self._check_samples(dataset.n_samples)
            return embedding, dataset
        embedding = clone(template)
        if embedding.random_state is None or override_seed:
            embedding.set_params(random_state=seed)
        dataset = embedding.prepare(X, reset=True)
        self._check_samples(dataset.n_samples)
        return embedding.pretrain(dataset), dataset

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Pre-train, start the centroids with k-means and train jointly, ``n_restarts`` times.

        The run whose cluster sizes are closest to the expected proportions is kept
        (see Notes of :class:`DeepKMeans`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), EventTable, JetStream or path
            Constituent matrix of jets (or of events, with an event-task embedding); a
            :class:`~hepcluster.ucluster.JetStream` or an hls4ml file for data sets
            larger than memory.
        y : None
            Ignored (unsupervised).

        Returns
        -------
        self : DeepKMeans

        Raises
        ------
        ValueError
            On invalid constituents (see :class:`~hepcluster.UClusterEmbedding`),
            invalid ``label_proportions``, fewer samples than clusters, or an
            ``embedding`` whose ``schedule`` or ``device`` differs from this
            estimator's, before any training.
        RuntimeError
            On ``device="gpu"`` without a GPU, before any work.

        Warns
        -----
        ConvergenceWarning
            When a cluster of the kept run holds fewer than a quarter of its expected
            share of the samples (1/k, or its ``label_proportions`` fraction): the
            training has collapsed it.
        """
        from ._network.backend import check_device

        check_device(self.device)
        self._template()  # a mismatched embedding fails before any work
        if as_stream(X) is None:
            self._check_samples(num_samples(X))
        proportions = self._proportions()
        self.settings_ = self._settings()
        n_restarts = self._resolved_restarts()
        # Row 0 is the seeds of a single fit (the first three draws), so that the first
        # run of a restarted fit is the fit with n_restarts=1.
        seeds = check_random_state(self.random_state).randint(
            np.iinfo(np.int32).max, size=(n_restarts, 3)
        )
        expected = (
            np.full(self.n_clusters, 1.0 / self.n_clusters)
            if proportions is None
            else np.asarray(proportions)
        )
        runs, best = [], None
        for restart, run_seeds in enumerate(seeds):
            start = time.perf_counter()
            run = self._fit_once(X, proportions, run_seeds, override_seed=restart > 0)
            fractions = np.bincount(run["labels"], minlength=self.n_clusters) / len(run["labels"])
            divergence = size_divergence(fractions, expected, len(run["labels"]))
            runs.append(
                {
                    "random_state": [int(v) for v in run_seeds],
                    "cluster_fractions": sorted(fractions.tolist(), reverse=True),
                    "size_divergence": divergence,
                    "seconds": time.perf_counter() - start,
                }
            )
            if n_restarts > 1:
                logger.info(
                    "run %d of %d: cluster fractions %s, size divergence %.4f",
                    restart + 1,
                    n_restarts,
                    ", ".join(f"{v:.3f}" for v in runs[-1]["cluster_fractions"]),
                    divergence,
                )
            if best is None or divergence < runs[best]["size_divergence"]:
                best, kept = restart, run
        for name, value in kept.items():
            setattr(self, name + "_", value)
        self.restarts_ = runs
        self.best_restart_ = best
        self.n_features_in_ = self.embedding_.n_features_in_
        if hasattr(self.embedding_, "feature_names_in_"):
            self.feature_names_in_ = self.embedding_.feature_names_in_
        else:
            self.__dict__.pop("feature_names_in_", None)
        _warn_on_collapsed_clusters(self.labels_, self.n_clusters, expected, n_restarts)
        return self

    def _fit_once(self, X, proportions, seeds, *, override_seed):
        """One run: pre-training, k-means start and joint training, with three seeds."""
        embedding, dataset = self._pretrained(X, int(seeds[0]), override_seed=override_seed)
        features = embedding.embed(dataset)
        kmeans = KMeans(self.n_clusters, n_init=self.n_init, random_state=int(seeds[1]))
        init_labels = kmeans.fit_predict(features)
        init_centers = kmeans.cluster_centers_.copy()
        if proportions is not None:
            proportions = match_proportions(features, init_centers, proportions)
        from ._network.training import seeded

        with seeded(int(seeds[2])):
            centers, alpha, history = self._train_jointly(
                embedding, dataset, proportions, init_centers, int(seeds[2])
            )
        return {
            "embedding": embedding,
            "init_labels": init_labels,
            "init_centers": init_centers,
            "proportions": proportions,
            "cluster_centers": centers,
            "alpha": alpha,
            "history": history,
            "labels": self._assign(embedding.embed(dataset), centers),
        }

    def _train_jointly(self, embedding, dataset, proportions, init_centers, seed):
        from ._network.losses import ClusteringLayer
        from ._network.training import device_scope, import_keras, train
        from ._reporting import EpochReporter

        keras = import_keras()
        settings = self.settings_
        alpha_of = lambda epoch: alpha_schedule(  # noqa: E731
            epoch, settings["alpha"], settings["alpha_step"], settings["alpha_max"]
        )
        if settings["epochs"] == 0:
            return init_centers.copy(), alpha_of(0), {}
        network = embedding.network_
        clustering = ClusteringLayer(
            self.n_clusters,
            alpha_of(0),
            proportions,
            epsilon=self.sinkhorn_epsilon,
            n_iterations=self.sinkhorn_iterations,
            name="clustering",
        )
        outputs = dict(network.output)
        outputs["cluster"] = clustering(network.output["embedding"])["loss"]
        joint = keras.Model(network.input, outputs)
        clustering.centroids.assign(init_centers.astype(np.float32))
        unit = embedding.task[:-1]
        logger.info(
            "joint training of ABCNet and %d centroids on %d %ss for %d epochs (β=%g)",
            self.n_clusters,
            dataset.n_samples,
            unit,
            settings["epochs"],
            self.beta,
        )
        reporter = EpochReporter(
            dataset.n_samples, settings["epochs"], "UCluster joint training", unit=unit
        )

        def set_alpha(epoch):
            value = alpha_of(epoch)
            clustering.alpha.assign(value)
            return {"alpha": value}

        with device_scope(self.device):
            train(
                joint,
                dataset,
                [
                    ("focal", 1.0, embedding.auxiliary_loss()),
                    ("cluster", float(self.beta), lambda out, batch: out["cluster"]),
                ],
                epochs=settings["epochs"],
                batch_size=settings["batch_size"],
                learning_rate=settings["learning_rate"],
                decay_every=settings["lr_decay_every"],
                decay_factor=settings["lr_decay_factor"],
                min_learning_rate=settings["min_learning_rate"],
                seed=seed,
                reporter=reporter,
                min_slots=embedding.n_neighbors,
                on_epoch_begin=set_alpha,
                fast_variables=[clustering.centroids],
                fast_factor=float(settings["centroid_lr_factor"]),
            )
        centers = clustering.centroids.numpy().astype(np.float64)
        return centers, alpha_of(settings["epochs"] - 1), reporter.history

    # -- inference ------------------------------------------------------------------------

    def _squared_distances(self, features, centers=None):
        centers = self.cluster_centers_ if centers is None else centers
        difference = features[:, None, :] - centers[None, :, :]
        return np.einsum("ikd,ikd->ik", difference, difference)

    def _assign(self, features, centers=None):
        return np.argmin(self._squared_distances(features, centers), axis=1)

    def embed(self, X):
        """The embedding f of X after joint training.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or EventTable

        Returns
        -------
        ndarray of shape (n_samples, embedding_dim)
        """
        check_is_fitted(self)
        return self.embedding_.transform(X)

    def predict(self, X):
        """Nearest centroid of each sample in the embedding.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or EventTable

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return self._assign(self.embed(X))

    def transform(self, X):
        """Euclidean distance of each sample to every centroid, ‖f − μ_k‖.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or EventTable

        Returns
        -------
        ndarray of shape (n_samples, n_clusters)
        """
        return np.sqrt(self._squared_distances(self.embed(X)))

    def predict_proba(self, X):
        """Soft assignment π_k = softmax_k(−α ‖f − μ_k‖²) at the final α.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or EventTable

        Returns
        -------
        ndarray of shape (n_samples, n_clusters)
            Rows sum to 1.
        """
        distances = self._squared_distances(self.embed(X))
        return _softmax(-self.alpha_ * distances)

    def score(self, X, y=None):
        """Opposite of the k-means objective in the embedding, −Σ_j min_k ‖f_j − μ_k‖².

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or EventTable
        y : None
            Ignored.

        Returns
        -------
        float
        """
        return -float(self._squared_distances(self.embed(X)).min(axis=1).sum())

    @property
    def _n_features_out(self):
        return self.n_clusters

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Not positive_only: η and φ are signed; only the pT columns must be >= 0.
        tags.non_deterministic = self.random_state is None
        return tags


COLLAPSED_FRACTION = 0.25
"""A cluster holding less than this fraction of its expected share counts as collapsed."""


def size_divergence(fractions, expected, n_samples):
    """D(q ‖ p) of the expected cluster fractions q from the fractions p of a run.

    Both are sorted (which cluster is which does not matter) and p is floored at half
    a sample, so an empty cluster costs much but finitely.

    Parameters
    ----------
    fractions : array-like of shape (k,)
        Fractions of the samples in each cluster.
    expected : array-like of shape (k,)
        Expected fractions, summing to 1.
    n_samples : int

    Returns
    -------
    float
        0 when the sorted fractions equal the expected ones.

    Examples
    --------
    >>> from hepcluster.ucluster._deep_kmeans import size_divergence
    >>> size_divergence([0.5, 0.5], [0.5, 0.5], 100)
    0.0
    >>> round(size_divergence([0.9, 0.1], [0.5, 0.5], 100), 4)
    0.5108
    """
    p = np.sort(np.maximum(np.asarray(fractions, dtype=np.float64), 0.5 / n_samples))
    q = np.sort(np.asarray(expected, dtype=np.float64))
    return float(np.sum(q * np.log(q / p)))


def _warn_on_collapsed_clusters(labels, n_clusters, expected=None, n_restarts=1):
    """Warn when the kept run has a cluster (almost) empty: deep k-means' trivial solution.

    A cluster counts as collapsed when it holds less than :data:`COLLAPSED_FRACTION` of
    its expected share (the sorted ``expected`` fractions against the sorted sizes;
    1/k each by default). The warning says so before a physics result is read into what
    are fewer clusters, and how to rerun.
    """
    counts = np.bincount(labels, minlength=n_clusters)
    if expected is None:
        expected = np.full(n_clusters, 1.0 / n_clusters)
    order = np.argsort(counts, kind="stable")
    limits = np.empty(n_clusters)
    limits[order] = COLLAPSED_FRACTION * len(labels) * np.sort(np.asarray(expected))
    collapsed = np.flatnonzero(counts < limits)
    if len(collapsed):
        sizes = ", ".join(f"cluster {k}: {counts[k]}" for k in collapsed)
        runs = f"the best of {n_restarts} runs" if n_restarts > 1 else "the run"
        warnings.warn(
            f"{len(collapsed)} of {n_clusters} clusters hold fewer than "
            f"{COLLAPSED_FRACTION:g} of their expected share of the {len(labels)} samples "
            f"({sizes}) in {runs}: the clustering has collapsed. Refit with more runs "
            f"and another random_state, e.g. DeepKMeans(n_restarts={max(2 * n_restarts, 3)}, "
            "random_state=...), or set label_proportions, which forbids empty clusters "
            "in training.",
            ConvergenceWarning,
            stacklevel=4,
        )
