"""UClusterEmbedding: ABCNet pre-trained on the auxiliary mass task, as a transformer."""

import logging
import os
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils._sklearn_compat import Interval, StrOptions, fit_context
from ._data import InMemoryDataset, JetStream, StreamedDataset
from ._defaults import (
    DEFAULT_DEVICE,
    DEFAULT_SCHEDULE,
    DEVICES,
    EMBEDDING_DIM,
    FOCAL_GAMMA,
    N_NEIGHBORS,
    SCHEDULES,
    resolve_schedule,
)
from ._features import (
    EVENT_MASS_BINS,
    JET_MASS_BINS,
    N_GLOBAL_FEATURES,
    TARGET_MASSES,
    FeatureMoments,
    event_inputs,
    event_mass_targets,
    jet_inputs,
    jet_mass_targets,
)
from ._packing import PackedSamples

logger = logging.getLogger(__name__)

__all__ = ["UClusterEmbedding", "as_constituent_matrix", "as_stream"]

MASS_BINS = {"jets": JET_MASS_BINS, "events": EVENT_MASS_BINS}
JETS_PER_SAMPLE = {"jets": 1, "events": 2}


def as_stream(X):
    """``X`` as a :class:`JetStream` when it is a stream or an hls4ml file, else None.

    Parameters
    ----------
    X : object
        A :class:`JetStream`, a path (str or path-like) to an hls4ml file, or anything
        else (an array, returned as None).

    Returns
    -------
    JetStream or None

    Raises
    ------
    TypeError
        On a generator or iterator, which can be read only once.
    """
    if isinstance(X, JetStream):
        return X
    if isinstance(X, (str, os.PathLike)):
        return JetStream.from_hls4ml(X)
    if hasattr(X, "__next__"):
        raise TypeError(
            "a generator or iterator of chunks can be read only once, but UCluster reads "
            "its data once per epoch: wrap a function that returns a new one in a "
            "JetStream, e.g. fit(JetStream(lambda: my_chunks()))."
        )
    return None


def as_constituent_matrix(X, task="jets"):
    """The 2-D constituent matrix of jets or events from the accepted input layouts.

    Parameters
    ----------
    X : array-like or EventTable
        Jets: (n, 3·P) or (n, P, 3). Events: (n, 2·3·P), (n, 2, P, 3) or an
        :class:`~hepcluster.datasets.EventTable` (its two jets side by side).
    task : {"jets", "events"}, default="jets"

    Returns
    -------
    array-like
        A 2-D array (or ``X`` unchanged when it is not an array with more dimensions).

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.ucluster._embedding import as_constituent_matrix
    >>> as_constituent_matrix(np.zeros((5, 2, 30, 3)), task="events").shape
    (5, 180)
    """
    if hasattr(X, "constituents") and hasattr(X, "mjj"):  # an EventTable
        if task != "events":
            raise ValueError(
                "an EventTable holds dijet events: use task='events', or pass the jets "
                "(events.jets()[0]) for task='jets'."
            )
        constituents = np.asarray(X.constituents)
        return constituents.reshape(constituents.shape[0], -1)
    ndim = getattr(X, "ndim", None)
    if ndim is not None and ndim in (3, 4) and X.shape[-1] == 3:
        expected = 3 if task == "jets" else 4
        if ndim != expected:
            raise ValueError(
                f"a {ndim}-D input needs shape "
                + ("(n_jets, P, 3)" if task == "jets" else "(n_events, 2, P, 3)")
                + f" for task={task!r}; got {X.shape}."
            )
        return np.reshape(X, (X.shape[0], -1))
    return X


_MAX_PAIR_BYTES = 8 * 2**30
"""Largest pairwise-distance tensor of one batch a fit may need (8 GiB, float32)."""


class UClusterEmbedding(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """ABCNet embedding of jets or events, pre-trained on an auxiliary mass classification.

    The first stage of UCluster: a graph attention network (ABCNet, built from
    GAPLayers, §2 of the paper) reads the particles of each jet (or event)
    and is trained with the focal loss to predict the jet mass in bins, a target that
    ``fit`` computes from the constituents themselves (no labels needed). The output of
    :meth:`transform` is the E-dimensional embedding in front of the classification head,
    the space that :class:`~hepcluster.DeepKMeans` clusters.

    Parameters
    ----------
    task : {"jets", "events"}, default="jets"
        ``"jets"``: X is the constituent matrix (n_jets, 3·P); the auxiliary target is
        the jet mass in 20 bins of 10–200 GeV; the embedding is an average over the
        particles. ``"events"``: X holds the two leading jets of each event side by side,
        (n_events, 2·3·P) (an :class:`~hepcluster.datasets.EventTable` is accepted);
        segmentation, per particle, of the mass of its jet in 20 bins of 10–1000 GeV,
        with four global event features (log m_J1, log m_J2, τ21 of both jets); the
        embedding is a maximum over the particles.
    embedding_dim : int or None, default=None
        Dimension E of the embedding; ``None`` gives 3 for jets and 2 for events, as in
        the paper.
    n_neighbors : int, default=10
        k of the k-nearest-neighbour graphs of the GAPLayers.
    width : float or None, default=None
        Multiplies every layer width of ABCNet (1.0 is the paper's network); ``None``
        takes the schedule's (0.25 for ``"fast"``, 1.0 for ``"paper"``).
    mass_bins : (float, float, int) or None, default=None
        ``(low, high, n_bins)`` of the auxiliary mass classes in GeV; ``None`` gives the
        paper's bins for the task.
    mass : {"ungroomed", "softdrop"}, default="ungroomed"
        The jet mass the auxiliary targets are built from: ``"ungroomed"``, the mass of
        all constituents, as in the paper; ``"softdrop"``, the soft-drop groomed mass
        (z_cut = 0.1, β = 0, R0 = 0.8, :func:`hepcluster.jets.softdrop_mass`), a
        deviation from the paper for jets with underlying event or pile-up, whose
        ungroomed mass they shift and smear (see Notes).
    focal_gamma : float, default=2.0
        γ of the focal loss.
    pretrain_epochs : int or None, default=None
        Epochs of pre-training on the auxiliary task (0 leaves the network at its random
        initialisation); ``None``: the schedule's (``SCHEDULES[schedule]
        ["pretrain_epochs"]``). :class:`~hepcluster.DeepKMeans`' ``epochs``
        are the joint-training epochs that follow.
    batch_size : int or None, default=None
        Mini-batch size; ``None``: the schedule's.
    learning_rate : float or None, default=None
        Initial Adam learning rate of pre-training; ``None``: the schedule's
        (``SCHEDULES[schedule]["pretrain_learning_rate"]``).
    lr_decay_every : int or None, default=None
        The learning rate is multiplied by ``lr_decay_factor`` every this many epochs;
        ``None``: the schedule's.
    lr_decay_factor : float or None, default=None
        ``None``: the schedule's.
    min_learning_rate : float or None, default=None
        Floor of the learning rate; ``None``: the schedule's.
    jet_radius : float, default=1.0
        R0 of the τ21 global features (event task only); also the smallest distance
        expected between the two jets of an event.
    schedule : {"fast", "paper"}, default="fast"
        Preset of every training setting left at ``None`` (see
        :data:`~hepcluster.ucluster.SCHEDULES`). ``"fast"`` is the default, sized for a
        CPU; ``"paper"`` is the paper's schedule, sized for a GPU. A
        :class:`~hepcluster.DeepKMeans` that trains this embedding must have
        the same ``schedule``.
    device : {"auto", "cpu", "gpu"}, default="auto"
        Where TensorFlow runs: ``"auto"`` uses a GPU when one is visible; ``"gpu"``
        without one raises before any work. A :class:`~hepcluster.DeepKMeans`
        that trains this embedding must have the same ``device``.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation and the shuffling. With an int, fits on a CPU
        are reproducible in the same process and thread configuration.

    Attributes
    ----------
    network_ : keras.Model
        The trained network (ABCNet), outputs ``{"embedding", "aux"}``; it reads the
        packed batches of :meth:`prepare`.
    n_features_in_ : int
        Width of X.
    n_constituents_ : int
        Particle slots P per jet.
    embedding_dim_ : int
        E in use.
    mass_bins_ : tuple
        Auxiliary bins in use.
    n_particle_features_ : int
        Features per particle (7 for jets, 8 for events).
    feature_scaling_, global_scaling_ : (list, list) or None
        Mean and SD of the particle (global) features over the training data, by which
        the network standardises its inputs.
    settings_ : dict
        The training settings in use (the schedule with the explicit parameters).
    history_ : dict of list
        Per epoch: loss, learning rate, seconds and ``samples_per_second`` (throughput).

    See Also
    --------
    hepcluster.DeepKMeans : Clusters this embedding while training it further.
    hepcluster.ucluster.JetStream : Data sets larger than memory.

    Notes
    -----
    Features: Δη, Δφ, log pT, log E, log(pT/pT_jet), log(E/E_jet) and ΔR per particle,
    standardised with the mean and SD of the training data. The network reads only the
    real particles of every jet (packed):
    padding costs nothing and is never a neighbour, so the same network reads jets with
    any number of slots, and a step costs in proportion to the real particles of the
    batch. The embedding is centred and scaled to unit RMS over the data (one scale for
    all dimensions), so that the clustering loss cannot shrink it to a point.

    ``mass="softdrop"`` deviates from the paper (§3 uses the jet mass): soft drop
    (Larkoski et al., arXiv:1402.2657) removes soft wide-angle radiation, which sharpens
    the W, Z and top mass peaks of jets with underlying event, but with z_cut = 0.1 it
    also drops one prong of asymmetric W and Z decays; the user guide compares both
    targets.

    ``X`` may be a :class:`~hepcluster.ucluster.JetStream` or the path of an hls4ml file
    (all its jets): the data are then read chunk by chunk at every pass (feature
    statistics and checks first, then every epoch) and never held in memory as a whole.

    :meth:`fit` is :meth:`prepare` with ``reset=True`` followed by :meth:`pretrain`;
    :class:`~hepcluster.DeepKMeans` drives the embedding through these public
    steps and :meth:`embed`, :meth:`auxiliary_loss` and ``network_``.

    Fitting calls ``keras.utils.set_random_seed`` with a seed drawn from
    ``random_state``; Python's and NumPy's global random states are restored afterwards,
    TensorFlow's global seed stays set. Mini-batches are drawn from a NumPy generator
    with the same seed. With an int ``random_state`` a fit on a CPU is reproducible in
    the same environment (TensorFlow's thread pools are left as they are: set
    ``tf.config.threading`` before the first fit to pin them). Very short trainings run
    eagerly and longer ones as a compiled graph; the two agree up to float32 rounding.

    TensorFlow is imported the first time an estimator is fitted (or unpickled), not when
    :mod:`hepcluster` is imported, without its C++ start-up notices unless
    ``TF_CPP_MIN_LOG_LEVEL`` is set. A fitted estimator pickles with its weights
    (``pickle``, ``joblib``, :func:`copy.deepcopy`).

    References
    ----------
    V. Mikuni, F. Canelli, "Unsupervised clustering for collider physics", Phys. Rev. D
    103 (2021) 092007, arXiv:2010.07106.

    Examples
    --------
    >>> from hepcluster.datasets import make_jets
    >>> from hepcluster.ucluster import UClusterEmbedding
    >>> embedding = UClusterEmbedding(pretrain_epochs=1, random_state=0)
    >>> embedding
    UClusterEmbedding(pretrain_epochs=1, random_state=0)
    >>> X, y = make_jets(10, n_constituents=10, random_state=0)
    >>> embedding.fit_transform(X).shape
    (30, 3)
    """

    _parameter_constraints: dict = {  # noqa: RUF012 (scikit-learn's convention)
        "task": [StrOptions({"jets", "events"})],
        "embedding_dim": [Interval(Integral, 1, None, closed="left"), None],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "width": [Interval(Real, 0.0, None, closed="neither"), None],
        "mass_bins": [tuple, list, None],
        "mass": [StrOptions(set(TARGET_MASSES))],
        "focal_gamma": [Interval(Real, 0.0, None, closed="left")],
        "pretrain_epochs": [Interval(Integral, 0, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "learning_rate": [Interval(Real, 0.0, None, closed="neither"), None],
        "lr_decay_every": [Interval(Integral, 1, None, closed="left"), None],
        "lr_decay_factor": [Interval(Real, 0.0, 1.0, closed="right"), None],
        "min_learning_rate": [Interval(Real, 0.0, None, closed="left"), None],
        "jet_radius": [Interval(Real, 0.0, None, closed="neither")],
        "schedule": [StrOptions(set(SCHEDULES))],
        "device": [StrOptions(set(DEVICES))],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        task="jets",
        *,
        embedding_dim=None,
        n_neighbors=N_NEIGHBORS,
        width=None,
        mass_bins=None,
        mass="ungroomed",
        focal_gamma=FOCAL_GAMMA,
        pretrain_epochs=None,
        batch_size=None,
        learning_rate=None,
        lr_decay_every=None,
        lr_decay_factor=None,
        min_learning_rate=None,
        jet_radius=1.0,
        schedule=DEFAULT_SCHEDULE,
        device=DEFAULT_DEVICE,
        random_state=None,
    ):
        self.task = task
        self.embedding_dim = embedding_dim
        self.n_neighbors = n_neighbors
        self.width = width
        self.mass_bins = mass_bins
        self.mass = mass
        self.focal_gamma = focal_gamma
        self.pretrain_epochs = pretrain_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.lr_decay_every = lr_decay_every
        self.lr_decay_factor = lr_decay_factor
        self.min_learning_rate = min_learning_rate
        self.jet_radius = jet_radius
        self.schedule = schedule
        self.device = device
        self.random_state = random_state

    # -- settings and inputs --------------------------------------------------------------

    def _settings(self):
        settings = resolve_schedule(
            self.schedule,
            width=self.width,
            pretrain_epochs=self.pretrain_epochs,
            batch_size=self.batch_size,
            pretrain_learning_rate=self.learning_rate,
            lr_decay_every=self.lr_decay_every,
            lr_decay_factor=self.lr_decay_factor,
            min_learning_rate=self.min_learning_rate,
        )
        settings["epochs"] = settings.pop("pretrain_epochs")
        settings["learning_rate"] = settings.pop("pretrain_learning_rate")
        return settings

    def _inference_batch_size(self):
        settings = getattr(self, "settings_", None) or self._settings()
        return settings["batch_size"]

    def _validate(self, X, *, reset):
        X = as_constituent_matrix(X, self.task)
        X = validate_data(self, X, reset=reset, dtype=[np.float64, np.float32])
        return X

    def _network_inputs(self, X):
        """Validated X → NetworkInputs, with the shapes checked against the task."""
        if self.task == "jets":
            return jet_inputs(X)
        return event_inputs(X, jet_radius=self.jet_radius)

    def _targets(self, X):
        if self.task == "jets":
            return jet_mass_targets(X, self.mass_bins_, mass=self.mass)
        return event_mass_targets(X, self.mass_bins_, mass=self.mass)

    def _packed(self, X, *, targets):
        inputs = self._network_inputs(X)
        return PackedSamples.from_inputs(inputs, self._targets(X) if targets else None)

    def _stream_chunk(self, chunk, where):
        """One chunk of a stream, validated against the width seen first."""
        X = as_constituent_matrix(np.asarray(chunk), self.task)
        if getattr(X, "ndim", None) != 2:
            raise ValueError(f"{where} is not a 2-D constituent matrix: shape {np.shape(X)}.")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"{where} has {X.shape[1]} columns, but the stream's first chunk (or the "
                f"fitted estimator) has {self.n_features_in_}: all chunks need the same "
                "width."
            )
        X = np.asarray(X, dtype=np.float32 if X.dtype == np.float32 else np.float64)
        if not np.all(np.isfinite(X)):
            raise ValueError(f"{where} contains NaN or infinity.")
        return X

    def _prepare(self, X, *, reset, targets=True):
        """A dataset of packed samples (with the auxiliary targets) for training.

        With ``reset`` the input statistics (width, feature scaling) are learned; a
        stream is read once for them, and every chunk is checked, before any training.
        """
        stream = as_stream(X)
        if stream is None:
            X = self._validate(X, reset=reset)
            if reset:
                self._learn_layout(X.shape[1])
            packed = self._packed(X, targets=targets)
            if reset:
                moments = FeatureMoments()
                moments.add(packed)
                self.feature_scaling_, self.global_scaling_ = moments.scaling()
            return InMemoryDataset(packed)
        if reset:
            self.__dict__.pop("feature_names_in_", None)
        moments = FeatureMoments() if reset else None
        n_samples = 0
        for number, chunk in enumerate(stream):
            where = f"chunk {number} of the stream"
            if number == 0 and reset:
                first = as_constituent_matrix(np.asarray(chunk), self.task)
                if getattr(first, "ndim", None) != 2:
                    raise ValueError(
                        f"{where} is not a 2-D constituent matrix: shape {np.shape(first)}."
                    )
                self.n_features_in_ = first.shape[1]
                self._learn_layout(first.shape[1])
            elif number == 0:
                check_is_fitted(self)
            X_chunk = self._stream_chunk(chunk, where)
            if len(X_chunk) == 0:
                continue
            try:
                packed = self._packed(X_chunk, targets=False)
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
            if moments is not None:
                moments.add(packed)
            n_samples += len(X_chunk)
        if n_samples == 0:
            raise ValueError("the stream holds no sample.")
        if moments is not None:
            self.feature_scaling_, self.global_scaling_ = moments.scaling()

        def convert(chunk):
            X_chunk = self._stream_chunk(chunk, "a chunk of the stream")
            return self._packed(X_chunk, targets=targets)

        return StreamedDataset(stream, convert, n_samples)

    def _learn_layout(self, width):
        unit = 3 * JETS_PER_SAMPLE[self.task]
        if width % unit != 0:
            what = "(pT, eta, phi) per constituent" + (
                " for each of 2 jets" if self.task == "events" else ""
            )
            raise ValueError(f"X must have a multiple of {unit} columns ({what}); got {width}.")
        self.n_constituents_ = width // unit
        self.mass_bins_ = self._resolve_mass_bins()
        self.n_particle_features_ = 7 if self.task == "jets" else 8
        self.embedding_dim_ = (
            EMBEDDING_DIM[self.task] if self.embedding_dim is None else self.embedding_dim
        )

    def _resolve_mass_bins(self):
        if self.mass_bins is None:
            return MASS_BINS[self.task]
        try:
            low, high, n_bins = self.mass_bins
            low, high = float(low), float(high)
        except (TypeError, ValueError):
            raise ValueError(
                f"mass_bins must be (low, high, n_bins), got {self.mass_bins!r}."
            ) from None
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise ValueError(f"mass_bins needs finite low < high, got {self.mass_bins!r}.")
        if not isinstance(n_bins, Integral) or n_bins < 2:
            raise ValueError(f"mass_bins needs at least 2 bins, got {self.mass_bins!r}.")
        return (low, high, int(n_bins))

    # -- network --------------------------------------------------------------------------

    def _network_config(self):
        return {
            "n_features": self.n_particle_features_,
            "n_classes": self.mass_bins_[2],
            "task": self.task,
            "embedding_dim": self.embedding_dim_,
            "n_neighbors": self.n_neighbors,
            "n_global": N_GLOBAL_FEATURES if self.task == "events" else 0,
            "width": float(self.settings_["width"]),
            "feature_scaling": self.feature_scaling_,
            "global_scaling": self.global_scaling_,
        }

    def _build_network(self):
        from ._network.models import build_abcnet

        return build_abcnet(**self._network_config())

    def _seed(self):
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    # -- fitting --------------------------------------------------------------------------

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Pre-train ABCNet on the auxiliary mass task computed from X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), EventTable, JetStream or path
            Constituent matrix of jets (n_jets, 3·P) or of events (n_events, 2·3·P); a
            :class:`~hepcluster.ucluster.JetStream` or an hls4ml file for data sets
            larger than memory.
        y : None
            Ignored (the training is unsupervised); present for API consistency.

        Returns
        -------
        self : UClusterEmbedding

        Raises
        ------
        ValueError
            On a width that is not a multiple of 3 (6 for events), NaN or infinity, a
            negative pT, a jet without constituents, a jet matrix given to the event
            task, stream chunks of different widths, or an ``n_neighbors`` whose graphs
            would not fit in memory (over 8 GiB of pairwise distances per batch); all
            before any training.
        RuntimeError
            On ``device="gpu"`` without a GPU, before any work.
        """
        return self.pretrain(self.prepare(X, reset=True))

    def prepare(self, X, *, reset=False):
        """The training data of the network: X checked, packed and with its mass targets.

        The first half of :meth:`fit` (with ``reset=True``), and the data that
        :class:`~hepcluster.DeepKMeans` trains the network on jointly.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), EventTable, JetStream or path
            As in :meth:`fit`.
        reset : bool, default=False
            ``True``: check the parameters and the device, learn the input layout
            (``n_features_in_``, ``n_constituents_``, ``mass_bins_``, …), the feature
            scaling and ``settings_`` from X, as :meth:`fit` does before training.
            ``False``: X must match the fitted embedding.

        Returns
        -------
        dataset
            An opaque dataset of packed samples with their auxiliary targets, with
            attribute ``n_samples``; it is read again at every epoch (a stream chunk by
            chunk), and is what :meth:`pretrain` and :meth:`embed` take.

        Raises
        ------
        ValueError, RuntimeError
            As :meth:`fit`, before any training.
        """
        if not reset:
            check_is_fitted(self)
            return self._prepare(X, reset=False)
        from ._network.backend import check_device

        self._validate_params()
        check_device(self.device)
        self.settings_ = self._settings()
        dataset = self._prepare(X, reset=True)
        # A batch is padded to max(particle slots, n_neighbors) particles and the first
        # GAPLayer forms their pairwise distances: refuse sizes no memory holds.
        n_slots = max(self.n_features_in_ // 3, self.n_neighbors)
        n_bytes = 4 * self.settings_["batch_size"] * n_slots * n_slots
        if n_bytes > _MAX_PAIR_BYTES:
            raise ValueError(
                f"n_neighbors={self.n_neighbors} needs graphs of {n_slots} particles: the "
                f"pairwise distances of one batch of {self.settings_['batch_size']} would "
                f"take {n_bytes / 2**30:.3g} GiB; a {'jet' if self.task == 'jets' else 'event'}"
                f" here has {self.n_features_in_ // 3} particle slots, so use n_neighbors "
                "below that."
            )
        return dataset

    def pretrain(self, dataset):
        """Build ABCNet and train it on the auxiliary task: the second half of :meth:`fit`.

        Parameters
        ----------
        dataset
            The result of :meth:`prepare` with ``reset=True``.

        Returns
        -------
        self : UClusterEmbedding
            With ``network_`` and ``history_``.
        """
        from ._network.training import seeded

        seed = self._seed()
        with seeded(seed):
            self.network_ = self._build_network()
            self.history_ = self._train_auxiliary(dataset, seed)
        return self

    def auxiliary_loss(self):
        """The per-sample focal loss of the auxiliary task, for training the network further.

        Returns
        -------
        callable
            ``loss(outputs, batch)``: the focal loss (γ = ``focal_gamma``) of each sample
            of a packed batch of :meth:`prepare` given the network's outputs (for events,
            the mean over the particles of each event).
        """
        from ._network.losses import focal_loss
        from ._network.training import import_keras, segment_mean

        keras = import_keras()
        gamma = float(self.focal_gamma)
        if self.task == "jets":
            return lambda outputs, batch: focal_loss(batch["target"], outputs["aux"], gamma)

        def per_event(outputs, batch):
            per_particle = focal_loss(batch["target"], outputs["aux"], gamma)
            n_events = keras.ops.shape(batch["slots"])[0]
            return segment_mean(per_particle, batch["segment"], n_events)

        return per_event

    def _train_auxiliary(self, dataset, seed):
        from ._network.training import device_scope, train
        from ._reporting import EpochReporter

        settings = self.settings_
        if settings["epochs"] == 0:
            return {}
        n_samples = dataset.n_samples
        unit = self.task[:-1]
        logger.info(
            "pre-training ABCNet (%d parameters) on %d %ss for %d epochs",
            self.network_.count_params(),
            n_samples,
            unit,
            settings["epochs"],
        )
        reporter = EpochReporter(n_samples, settings["epochs"], "UCluster pre-training", unit=unit)
        with device_scope(self.device):
            train(
                self.network_,
                dataset,
                [("aux", 1.0, self.auxiliary_loss())],
                epochs=settings["epochs"],
                batch_size=settings["batch_size"],
                learning_rate=settings["learning_rate"],
                decay_every=settings["lr_decay_every"],
                decay_factor=settings["lr_decay_factor"],
                min_learning_rate=settings["min_learning_rate"],
                seed=seed,
                reporter=reporter,
                min_slots=self.n_neighbors,
            )
        return reporter.history

    # -- inference ------------------------------------------------------------------------

    def embed(self, dataset):
        """The embedding of a dataset of :meth:`prepare` by the current network.

        Parameters
        ----------
        dataset
            The result of :meth:`prepare`.

        Returns
        -------
        ndarray of shape (dataset.n_samples, ``embedding_dim_``), float64
        """
        from ._network.training import device_scope, predict

        with device_scope(self.device):
            embedding = predict(
                self.network_,
                dataset,
                "embedding",
                self._inference_batch_size(),
                min_slots=self.n_neighbors,
            )
        return embedding.astype(np.float64)

    def transform(self, X):
        """Embed jets or events.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), EventTable, JetStream or path

        Returns
        -------
        ndarray of shape (n_samples, ``embedding_dim_``)
        """
        check_is_fitted(self)
        return self.embed(self._prepare(X, reset=False, targets=False))

    def predict_aux(self, X):
        """Probabilities of the auxiliary mass classes (per particle for events).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), EventTable, JetStream or path

        Returns
        -------
        ndarray of shape (n_samples, n_mass_bins) or (n_events, 2P, n_mass_bins)
        """
        from ._network.training import device_scope, predict

        check_is_fitted(self)
        dataset = self._prepare(X, reset=False, targets=False)
        with device_scope(self.device):
            return predict(
                self.network_,
                dataset,
                "aux",
                self._inference_batch_size(),
                min_slots=self.n_neighbors,
                per_particle=self.task == "events",
            )

    @property
    def _n_features_out(self):
        return self.embedding_dim_

    # -- pickling -------------------------------------------------------------------------

    def __getstate__(self):
        state = super().__getstate__()
        if "network_" in state:
            state = dict(state)
            network = state.pop("network_")
            state["_network_weights"] = [np.array(w) for w in network.get_weights()]
        return state

    def __setstate__(self, state):
        weights = state.pop("_network_weights", None)
        super().__setstate__(state)
        if weights is not None:
            self.network_ = self._build_network()
            self.network_.set_weights(weights)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Not positive_only: η and φ are signed; only the pT columns must be >= 0.
        tags.non_deterministic = self.random_state is None
        return tags
