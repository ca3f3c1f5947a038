"""Defaults of UCluster: one source for the estimators and the command line.

V. Mikuni, F. Canelli, "Unsupervised clustering for collider physics", Phys. Rev. D 103
(2021) 092007, arXiv:2010.07106. The auxiliary mass bins live in
:mod:`hepcluster.ucluster._features`.

Training settings come in two presets, :data:`SCHEDULES`, chosen with the ``schedule``
parameter of :class:`~hepcluster.UClusterEmbedding` and :class:`~hepcluster.DeepKMeans`
(and ``--schedule`` of ``hepcluster ucluster``); a parameter given explicitly wins over
its preset.
"""

from ._schedules import (
    ALPHA,
    ALPHA_STEP,
    LEARNING_RATE,
    LR_DECAY_EVERY,
    LR_DECAY_FACTOR,
    MIN_LEARNING_RATE,
)

__all__ = [
    "BETA",
    "DEFAULT_DEVICE",
    "DEFAULT_SCHEDULE",
    "DEVICES",
    "EMBEDDING_DIM",
    "FOCAL_GAMMA",
    "N_CLUSTERS",
    "N_CONSTITUENTS",
    "N_NEIGHBORS",
    "SCHEDULES",
    "SINKHORN_EPSILON",
    "SINKHORN_ITERATIONS",
    "resolve_schedule",
]

N_NEIGHBORS = 10
"""k nearest neighbours of every GAPLayer (§2)."""

FOCAL_GAMMA = 2.0
"""γ of the focal loss of the auxiliary task (§2)."""

BETA = 10.0
"""Weight β of the clustering loss in L = L_focal + β L_cluster (§2)."""

EMBEDDING_DIM = {"jets": 3, "events": 2}
"""Embedding dimension E: 3 for W/Z/top jets (§3), 2 for the LHCO events (§4)."""

N_CLUSTERS = 3
"""Clusters k of the jet task (W, Z, top; §3)."""

N_CONSTITUENTS = 100
"""Particle slots per jet of the jet task (§3), as in :func:`hepcluster.datasets.make_jets`."""

DEVICES = ("auto", "cpu", "gpu")
"""Where TensorFlow runs: ``"auto"`` uses a GPU when one is visible."""

DEFAULT_DEVICE = "auto"
"""The ``device`` of the estimators and of the command line."""

SINKHORN_ITERATIONS = 50
"""Sinkhorn–Knopp iterations per mini-batch of the label-proportion regularisation."""

SINKHORN_EPSILON = 0.1
"""Entropic regularisation ε of the transport plan, in squared distances of the unit-RMS
embedding: about a tenth of the squared distance between clusters, sharp enough for
the plan to follow the distances, smooth enough to converge in 50 iterations."""

SCHEDULES = {
    "paper": {
        "width": 1.0,
        "pretrain_epochs": 10,
        "epochs": 90,
        "batch_size": 1024,
        "pretrain_learning_rate": LEARNING_RATE,
        "learning_rate": LEARNING_RATE,
        "lr_decay_every": LR_DECAY_EVERY,
        "lr_decay_factor": LR_DECAY_FACTOR,
        "min_learning_rate": MIN_LEARNING_RATE,
        "alpha": ALPHA,
        "alpha_step": ALPHA_STEP,
        "alpha_max": None,
        "centroid_lr_factor": 1.0,
        "n_restarts": 1,
    },
    "fast": {
        "width": 0.25,
        "pretrain_epochs": 10,
        "epochs": 6,
        "batch_size": 64,
        "pretrain_learning_rate": 3e-3,
        "learning_rate": LEARNING_RATE,
        "lr_decay_every": LR_DECAY_EVERY,
        "lr_decay_factor": LR_DECAY_FACTOR,
        "min_learning_rate": MIN_LEARNING_RATE,
        "alpha": 0.05,
        "alpha_step": 0.3,
        "alpha_max": 0.5,
        "centroid_lr_factor": 100.0,
        "n_restarts": 3,
    },
}
"""Training presets.

``"paper"`` (§2): the full ABCNet, 10 epochs of pre-training and 90 of joint training,
batch 1024, α = 1 growing by 2 per epoch, Adam at 10⁻³ halved every 3 epochs down to
10⁻⁵: ~10⁵ steps on the paper's ~10⁶ jets, for a GPU; one run, as in the paper.

``"fast"`` (the default): a quarter-width ABCNet, 10 epochs of pre-training at a
learning rate of 3·10⁻³ and 6 of joint training, in small batches (many more steps per
epoch for the same data); a soft start of α (the embedding has unit RMS, so α = 1 + 2 per
epoch hardens the assignment before the clusters can move), capped at 0.5 (harder
assignments let the clusters drift back to a mass-only partition), and centroids that
learn 100× faster than the network so that they follow the clusters within a few hundred
steps; three independent runs, of which :class:`~hepcluster.DeepKMeans` keeps the one whose
cluster sizes match the expected label proportions best (``n_restarts``). The user guide
gives its cost and the accuracies reached.
"""

DEFAULT_SCHEDULE = "fast"
"""The preset of the estimators and of the command line."""


def resolve_schedule(schedule, **explicit):
    """Settings of a preset with the explicitly given (not ``None``) values on top.

    Parameters
    ----------
    schedule : {"fast", "paper"}
    **explicit
        Parameter values; ``None`` takes the preset's value.

    Returns
    -------
    dict
        The preset's settings for the names in ``explicit``.

    Examples
    --------
    >>> from hepcluster.ucluster._defaults import resolve_schedule
    >>> resolve_schedule("paper", epochs=None, batch_size=64)
    {'epochs': 90, 'batch_size': 64}
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {sorted(SCHEDULES)}, got {schedule!r}.")
    preset = SCHEDULES[schedule]
    return {name: preset[name] if value is None else value for name, value in explicit.items()}
