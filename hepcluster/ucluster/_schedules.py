"""The training schedules of UCluster: α of the soft assignment and the learning rate.

Pure functions of the epoch number (no Keras), applied by the callbacks of
:mod:`hepcluster.ucluster._network.training`.

References
----------
V. Mikuni, F. Canelli, arXiv:2010.07106, §2: α starts at 1 and grows by 2 per epoch of
joint training; Adam with learning rate 10⁻³ halved every 3 epochs down to 10⁻⁵.
"""

__all__ = [
    "ALPHA",
    "ALPHA_STEP",
    "LEARNING_RATE",
    "LR_DECAY_EVERY",
    "LR_DECAY_FACTOR",
    "MIN_LEARNING_RATE",
    "alpha_schedule",
    "learning_rate_schedule",
]

ALPHA = 1.0
"""Initial inverse temperature α of the soft cluster assignment (arXiv:2010.07106, §2)."""

ALPHA_STEP = 2.0
"""Growth of α per epoch of joint training (arXiv:2010.07106, §2)."""

LEARNING_RATE = 1e-3
"""Initial Adam learning rate (arXiv:2010.07106, §2)."""

LR_DECAY_EVERY = 3
"""The learning rate is multiplied by :data:`LR_DECAY_FACTOR` every this many epochs."""

LR_DECAY_FACTOR = 0.5
"""Factor of each learning-rate step (halved, arXiv:2010.07106, §2)."""

MIN_LEARNING_RATE = 1e-5
"""Floor of the learning rate (arXiv:2010.07106, §2)."""


def alpha_schedule(epoch, alpha=ALPHA, alpha_step=ALPHA_STEP, alpha_max=None):
    """α of the soft assignment π = softmax(−α d) at a given epoch of joint training.

    Parameters
    ----------
    epoch : int
        Epoch of joint training, counted from 0.
    alpha : float, default=1.0
        α at epoch 0.
    alpha_step : float, default=2.0
        Added at every epoch: α_e = α + e · alpha_step.
    alpha_max : float or None, default=None
        Upper limit of α.

    Returns
    -------
    float

    Examples
    --------
    >>> from hepcluster.ucluster._schedules import alpha_schedule
    >>> [alpha_schedule(epoch) for epoch in range(4)]
    [1.0, 3.0, 5.0, 7.0]
    """
    if epoch < 0:
        raise ValueError(f"epoch must be >= 0, got {epoch}.")
    value = float(alpha) + float(alpha_step) * int(epoch)
    return value if alpha_max is None else min(value, float(alpha_max))


def learning_rate_schedule(
    epoch,
    learning_rate=LEARNING_RATE,
    decay_every=LR_DECAY_EVERY,
    decay_factor=LR_DECAY_FACTOR,
    min_learning_rate=MIN_LEARNING_RATE,
):
    """Step decay of the learning rate: lr_e = max(lr · f^⌊e / n⌋, lr_min).

    Parameters
    ----------
    epoch : int
        Epoch, counted from 0.
    learning_rate : float, default=1e-3
    decay_every : int, default=3
        n, the epochs between two steps.
    decay_factor : float, default=0.5
        f.
    min_learning_rate : float, default=1e-5
        lr_min, the floor (never above ``learning_rate``).

    Returns
    -------
    float

    Examples
    --------
    >>> from hepcluster.ucluster._schedules import learning_rate_schedule
    >>> [learning_rate_schedule(epoch) for epoch in (0, 2, 3, 6, 100)]
    [0.001, 0.001, 0.0005, 0.00025, 1e-05]
    """
    if epoch < 0:
        raise ValueError(f"epoch must be >= 0, got {epoch}.")
    steps = int(epoch) // int(decay_every)
    floor = min(float(min_learning_rate), float(learning_rate))
    return max(float(learning_rate) * float(decay_factor) ** steps, floor)
