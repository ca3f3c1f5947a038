"""UClusterEmbedding: ABCNet pre-trained on the auxiliary mass task, as a transformer."""

import logging
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._defaults import BATCH_SIZE, EMBEDDING_DIM, FOCAL_GAMMA, N_NEIGHBORS, PRETRAIN_EPOCHS
from ._features import (
    EVENT_MASS_BINS,
    JET_MASS_BINS,
    N_GLOBAL_FEATURES,
    event_inputs,
    event_mass_targets,
    feature_scaling,
    jet_inputs,
    jet_mass_targets,
)
from ._schedules import LEARNING_RATE, LR_DECAY_EVERY, LR_DECAY_FACTOR, MIN_LEARNING_RATE
from ._training import DEVICES

logger = logging.getLogger(__name__)

__all__ = ["UClusterEmbedding", "as_constituent_matrix"]

MASS_BINS = {"jets": JET_MASS_BINS, "events": EVENT_MASS_BINS}
JETS_PER_SAMPLE = {"jets": 1, "events": 2}


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
    >>> from hepcluster.ucluster import as_constituent_matrix
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


class UClusterEmbedding(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """ABCNet embedding of jets or events, pre-trained on an auxiliary mass classification.

    The first stage of UCluster: a graph attention network (ABCNet, built from
    :class:`~hepcluster.ucluster.GAPLayer`) reads the particles of each jet (or event)
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
    width : float, default=1.0
        Multiplies every layer width of ABCNet (see
        :data:`~hepcluster.ucluster.ABCNET_WIDTHS`; ~0.1M parameters at 1.0); smaller
        values train faster on a CPU.
    mass_bins : (float, float, int) or None, default=None
        ``(low, high, n_bins)`` of the auxiliary mass classes in GeV; ``None`` gives the
        paper's bins for the task.
    focal_gamma : float, default=2.0
        γ of the focal loss.
    epochs : int, default=10
        Pre-training epochs (0 leaves the network at its random initialisation).
    batch_size : int, default=1024
        Mini-batch size.
    learning_rate : float, default=1e-3
        Initial Adam learning rate.
    lr_decay_every : int, default=3
        The learning rate is multiplied by ``lr_decay_factor`` every this many epochs.
    lr_decay_factor : float, default=0.5
    min_learning_rate : float, default=1e-5
        Floor of the learning rate.
    jet_radius : float, default=1.0
        R0 of the τ21 global features (event task only).
    device : {"auto", "cpu", "gpu"}, default="auto"
        Where TensorFlow runs: ``"auto"`` uses a GPU when one is visible.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation and the shuffling. With an int, fits on a CPU
        are reproducible in the same process and thread configuration.

    Attributes
    ----------
    model_ : keras.Model
        The trained network, outputs ``{"embedding", "aux"}``.
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
    history_ : dict of list
        Per epoch: loss, learning rate, seconds and ``samples_per_second`` (throughput).

    See Also
    --------
    hepcluster.DeepKMeans : Clusters this embedding while training it further.
    hepcluster.ucluster.build_abcnet : The network.

    Notes
    -----
    Features (DESIGN.md §9): Δη, Δφ, log pT, log E, log(pT/pT_jet), log(E/E_jet) and ΔR
    per particle, standardised with the mean and SD of the training data; padding is
    masked everywhere and is never a neighbour. The embedding is centred and scaled to
    unit RMS over the data (one scale for all dimensions), so that the clustering loss
    cannot shrink it to a point.

    Fitting calls :func:`keras.utils.set_random_seed` with a seed drawn from
    ``random_state``; Python's and NumPy's global random states are restored afterwards,
    TensorFlow's global seed stays set. Mini-batches are drawn from a NumPy generator
    with the same seed. With an int ``random_state`` a fit on a CPU is reproducible in
    the same environment (TensorFlow's thread pools are left as they are: set
    ``tf.config.threading`` before the first fit to pin them). Very short trainings run
    eagerly and longer ones as a compiled graph; the two agree up to float32 rounding.

    TensorFlow is imported the first time an estimator is fitted (or unpickled), not when
    :mod:`hepcluster` is imported; it runs on a GPU when one is visible (``device``). A
    fitted estimator pickles with its weights (``pickle``, ``joblib``,
    :func:`copy.deepcopy`).

    References
    ----------
    V. Mikuni, F. Canelli, "Unsupervised clustering for collider physics", Phys. Rev. D
    103 (2021) 092007, arXiv:2010.07106.

    Examples
    --------
    >>> from hepcluster.datasets import make_jets
    >>> from hepcluster.ucluster import UClusterEmbedding
    >>> embedding = UClusterEmbedding(width=0.25, epochs=1, random_state=0)
    >>> embedding
    UClusterEmbedding(epochs=1, random_state=0, width=0.25)
    >>> X, y = make_jets(10, n_constituents=10, random_state=0)
    >>> embedding.fit_transform(X).shape
    (30, 3)
    """

    _parameter_constraints: dict = {  # noqa: RUF012 (scikit-learn's convention)
        "task": [StrOptions({"jets", "events"})],
        "embedding_dim": [Interval(Integral, 1, None, closed="left"), None],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "width": [Interval(Real, 0.0, None, closed="neither")],
        "mass_bins": [tuple, list, None],
        "focal_gamma": [Interval(Real, 0.0, None, closed="left")],
        "epochs": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0.0, None, closed="neither")],
        "lr_decay_every": [Interval(Integral, 1, None, closed="left")],
        "lr_decay_factor": [Interval(Real, 0.0, 1.0, closed="right")],
        "min_learning_rate": [Interval(Real, 0.0, None, closed="left")],
        "jet_radius": [Interval(Real, 0.0, None, closed="neither")],
        "device": [StrOptions(set(DEVICES))],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        task="jets",
        embedding_dim=None,
        n_neighbors=N_NEIGHBORS,
        width=1.0,
        mass_bins=None,
        focal_gamma=FOCAL_GAMMA,
        epochs=PRETRAIN_EPOCHS,
        batch_size=BATCH_SIZE,
        learning_rate=LEARNING_RATE,
        lr_decay_every=LR_DECAY_EVERY,
        lr_decay_factor=LR_DECAY_FACTOR,
        min_learning_rate=MIN_LEARNING_RATE,
        jet_radius=1.0,
        device="auto",
        random_state=None,
    ):
        self.task = task
        self.embedding_dim = embedding_dim
        self.n_neighbors = n_neighbors
        self.width = width
        self.mass_bins = mass_bins
        self.focal_gamma = focal_gamma
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.lr_decay_every = lr_decay_every
        self.lr_decay_factor = lr_decay_factor
        self.min_learning_rate = min_learning_rate
        self.jet_radius = jet_radius
        self.device = device
        self.random_state = random_state

    # -- inputs ---------------------------------------------------------------------------

    def _validate(self, X, *, reset):
        X = as_constituent_matrix(X, self.task)
        X = validate_data(self, X, reset=reset, dtype=[np.float64, np.float32])
        return X

    def _network_inputs(self, X):
        """Validated X → (NetworkInputs, X) with the shapes checked against the task."""
        if self.task == "jets":
            return jet_inputs(X)
        return event_inputs(X, jet_radius=self.jet_radius)

    def _targets(self, X):
        if self.task == "jets":
            return jet_mass_targets(X, self.mass_bins_)
        return event_mass_targets(X, self.mass_bins_)

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
        n_particles = self.n_constituents_ * JETS_PER_SAMPLE[self.task]
        return {
            "n_particles": n_particles,
            "n_features": self.n_particle_features_,
            "n_classes": self.mass_bins_[2],
            "task": self.task,
            "embedding_dim": self.embedding_dim_,
            "n_neighbors": self.n_neighbors,
            "n_global": N_GLOBAL_FEATURES if self.task == "events" else 0,
            "width": float(self.width),
            "feature_scaling": self.feature_scaling_,
            "global_scaling": self.global_scaling_,
        }

    def _build_network(self):
        from ._models import build_abcnet

        return build_abcnet(**self._network_config())

    def _seed(self):
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    # -- fitting --------------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Pre-train ABCNet on the auxiliary mass task computed from X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or EventTable
            Constituent matrix of jets (n_jets, 3·P) or of events (n_events, 2·3·P).
        y : None
            Ignored (the training is unsupervised); present for API consistency.

        Returns
        -------
        self : UClusterEmbedding

        Raises
        ------
        ValueError
            On a width that is not a multiple of 3 (6 for events), NaN or infinity, a
            negative pT or a jet without constituents.
        """
        X = self._validate(X, reset=True)
        self.mass_bins_ = self._resolve_mass_bins()
        inputs = self._network_inputs(X)
        targets = self._targets(X)
        self.n_constituents_ = X.shape[1] // (3 * JETS_PER_SAMPLE[self.task])
        self.n_particle_features_ = inputs.features.shape[-1]
        self.feature_scaling_, self.global_scaling_ = feature_scaling(inputs)
        self.embedding_dim_ = (
            EMBEDDING_DIM[self.task] if self.embedding_dim is None else self.embedding_dim
        )
        from ._training import seeded

        seed = self._seed()
        with seeded(seed):
            self.model_ = self._build_network()
            self.history_ = self._train_auxiliary(inputs, targets, seed)
        return self

    def _train_auxiliary(self, inputs, targets, seed):
        from ._losses import focal_loss
        from ._reporting import EpochReporter
        from ._training import device_scope, train

        if self.epochs == 0:
            return {}
        n_samples = len(inputs)
        unit = self.task[:-1]
        logger.info(
            "pre-training ABCNet (%d parameters) on %d %ss for %d epochs",
            self.model_.count_params(),
            n_samples,
            unit,
            self.epochs,
        )
        reporter = EpochReporter(n_samples, self.epochs, "UCluster pre-training", unit=unit)
        gamma = float(self.focal_gamma)
        with device_scope(self.device):
            train(
                self.model_,
                {**inputs.as_dict(), "target": targets},
                [
                    (
                        "aux",
                        1.0,
                        lambda outputs, batch: focal_loss(batch["target"], outputs["aux"], gamma),
                    )
                ],
                epochs=self.epochs,
                batch_size=self.batch_size,
                learning_rate=self.learning_rate,
                decay_every=self.lr_decay_every,
                decay_factor=self.lr_decay_factor,
                min_learning_rate=self.min_learning_rate,
                seed=seed,
                reporter=reporter,
            )
        return reporter.history

    # -- inference ------------------------------------------------------------------------

    def _embed(self, inputs):
        from ._training import device_scope, predict_in_batches

        with device_scope(self.device):
            embedding = predict_in_batches(
                self.model_, inputs.as_dict(), "embedding", self.batch_size
            )
        return embedding.astype(np.float64)

    def transform(self, X):
        """Embed jets or events.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or EventTable

        Returns
        -------
        ndarray of shape (n_samples, ``embedding_dim_``)
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        return self._embed(self._network_inputs(X))

    def predict_aux(self, X):
        """Probabilities of the auxiliary mass classes (per particle for events).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or EventTable

        Returns
        -------
        ndarray of shape (n_samples, n_mass_bins) or (n_events, 2P, n_mass_bins)
        """
        from ._training import device_scope, predict_in_batches

        check_is_fitted(self)
        X = self._validate(X, reset=False)
        with device_scope(self.device):
            return predict_in_batches(
                self.model_, self._network_inputs(X).as_dict(), "aux", self.batch_size
            )

    @property
    def _n_features_out(self):
        return self.embedding_dim_

    # -- pickling -------------------------------------------------------------------------

    def __getstate__(self):
        state = super().__getstate__()
        if "model_" in state:
            state = dict(state)
            model = state.pop("model_")
            state["_model_weights"] = [np.array(w) for w in model.get_weights()]
        return state

    def __setstate__(self, state):
        weights = state.pop("_model_weights", None)
        super().__setstate__(state)
        if weights is not None:
            self.model_ = self._build_network()
            self.model_.set_weights(weights)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Only pT must be non-negative, but the common checks then feed usable matrices.
        tags.input_tags.positive_only = True
        tags.non_deterministic = self.random_state is None
        return tags
