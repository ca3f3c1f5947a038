"""Training machinery shared by UClusterEmbedding and DeepKMeans.

Keras is imported inside the functions, so that the estimator modules import without
TensorFlow; this module is the only place that touches global random states.
"""

import contextlib
import logging
import random

import numpy as np

from ..utils import import_optional
from ._schedules import learning_rate_schedule

logger = logging.getLogger("hepcluster.ucluster")

__all__ = [
    "device_scope",
    "import_keras",
    "predict_in_batches",
    "seeded",
    "to_numpy",
    "train",
]

DEVICES = ("auto", "cpu", "gpu")
# Names of the model inputs among the arrays passed to :func:`train`.
_INPUT_NAMES = ("features", "coordinates", "mask", "globals")
# Trainings with at most this many steps run eagerly (no graph to compile).
_EAGER_MAX_STEPS = 8
# Smallest batch of inference (larger training batches are used as they are).
_MIN_PREDICT_BATCH = 512


def import_keras():
    """Keras 3 (with its backend), or an ImportError naming the ``ucluster`` extra."""
    return import_optional("keras", extra="ucluster")


@contextlib.contextmanager
def seeded(seed):
    """Seed Keras (and its backend) for a deterministic fit, leaving other states intact.

    :func:`keras.utils.set_random_seed` seeds Python's :mod:`random`, NumPy's global
    generator and the backend; the first two are restored on exit so that fitting an
    estimator does not change the random numbers of the calling code. The backend's
    global seed (``tf.random.set_seed``) stays set.
    """
    keras = import_keras()
    python_state = random.getstate()
    numpy_state = np.random.get_state()  # noqa: NPY002 (the global state is restored)
    keras.utils.set_random_seed(int(seed))
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)  # noqa: NPY002


def device_scope(device):
    """Context placing the computation on ``"cpu"``, ``"gpu"`` or wherever Keras would."""
    if device == "auto":
        return contextlib.nullcontext()
    keras = import_keras()
    if device == "gpu" and not _has_gpu():
        raise ValueError("device='gpu' was requested but TensorFlow sees no GPU.")
    return keras.device(f"{device}:0")


def _has_gpu():
    keras = import_keras()
    if keras.backend.backend() != "tensorflow":  # pragma: no cover - other backends
        return False
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def _check_backend(keras):
    if keras.backend.backend() != "tensorflow":
        raise ImportError(
            "UCluster trains with TensorFlow; Keras is configured for the "
            f"{keras.backend.backend()!r} backend. Set KERAS_BACKEND=tensorflow."
        )


def train(
    model,
    x,
    losses,
    *,
    epochs,
    batch_size,
    learning_rate,
    decay_every,
    decay_factor,
    min_learning_rate,
    seed,
    reporter,
    on_epoch_begin=None,
    eager=None,
    fast_variables=(),
    fast_factor=1.0,
):
    """Train ``model`` with Adam on the weighted sum of per-sample losses.

    Parameters
    ----------
    model : keras.Model
        Functional model; its outputs are a dict.
    x : dict of ndarray
        Inputs by name (one row per sample) plus the targets, all shuffled together.
    losses : list of (str, float, callable)
        ``(name, weight, function(outputs, batch) → per-sample loss)``.
    epochs, batch_size : int
    learning_rate, decay_every, decay_factor, min_learning_rate
        Step schedule of :func:`learning_rate_schedule`, restarted at epoch 0.
    seed : int
        Seeds the order of the mini-batches (a NumPy generator, independent of any
        global state).
    reporter : EpochReporter
        Receives the mean of each loss per epoch.
    on_epoch_begin : callable, optional
        ``f(epoch) → dict`` of extra values to log (the α schedule uses it).
    eager : bool or None, default=None
        Run the training step eagerly instead of as a compiled graph; ``None`` decides
        by the number of steps (compiling costs a few seconds, an eager step a fraction
        of a second, so very short trainings run eagerly). Both agree up to float32
        rounding.
    """
    keras = import_keras()
    _check_backend(keras)
    import tensorflow as tf

    n_samples = len(next(iter(x.values())))
    n_batches = -(-n_samples // batch_size)
    if eager is None:
        eager = epochs * n_batches <= _EAGER_MAX_STEPS
    fast_ids = {id(variable) for variable in fast_variables}
    variables = [v for v in model.trainable_variables if id(v) not in fast_ids]
    fast_variables = [v for v in model.trainable_variables if id(v) in fast_ids]
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    optimizer.build(variables)
    fast_optimizer = keras.optimizers.Adam(learning_rate=learning_rate * fast_factor)
    if fast_variables:
        fast_optimizer.build(fast_variables)
    input_names = [name for name in x if name in _INPUT_NAMES]

    def step(batch):
        with tf.GradientTape() as tape:
            outputs = model({name: batch[name] for name in input_names}, training=True)
            values = [tf.reduce_mean(function(outputs, batch)) for _, _, function in losses]
            total = tf.add_n(
                [weight * value for (_, weight, _), value in zip(losses, values, strict=True)]
            )
        gradients = tape.gradient(total, variables + fast_variables)
        # Weights without a gradient (the attention of a GAPLayer with a single
        # neighbour) are left out rather than handed to the optimiser as None.
        for opt, grads, weights in (
            (optimizer, gradients[: len(variables)], variables),
            (fast_optimizer, gradients[len(variables) :], fast_variables),
        ):
            pairs = [(g, w) for g, w in zip(grads, weights, strict=True) if g is not None]
            if pairs:
                opt.apply_gradients(pairs)
        return total, values

    if not eager:
        signature = {
            name: tf.TensorSpec((None, *value.shape[1:]), tf.as_dtype(value.dtype))
            for name, value in x.items()
        }
        step = tf.function(step, input_signature=[signature], autograph=False)
    rng = np.random.default_rng(seed)
    reporter.on_train_begin()
    for epoch in range(epochs):
        rate = learning_rate_schedule(
            epoch, learning_rate, decay_every, decay_factor, min_learning_rate
        )
        optimizer.learning_rate.assign(rate)
        fast_optimizer.learning_rate.assign(rate * fast_factor)
        extra = on_epoch_begin(epoch) if on_epoch_begin is not None else {}
        reporter.on_epoch_begin(epoch)
        order = rng.permutation(n_samples)
        sums = np.zeros(len(losses) + 1)
        for start in range(0, n_samples, batch_size):
            index = order[start : start + batch_size]
            batch = {name: tf.constant(value[index]) for name, value in x.items()}
            total, values = step(batch)
            sums += len(index) * np.array([float(total), *(float(v) for v in values)])
        means = sums / n_samples
        logs = {"loss": means[0]}
        logs.update(
            {f"{name}_loss": value for (name, _, _), value in zip(losses, means[1:], strict=True)}
        )
        logs["learning_rate"] = rate
        logs.update(extra)
        reporter.on_epoch_end(epoch, logs)
    reporter.on_train_end()


def predict_in_batches(model, x, output, batch_size):
    """Inference-mode output ``output`` of ``model`` on the dict of arrays ``x``.

    Calls the model directly (no ``predict`` loop to compile), in batches of at least
    512 samples or the training batch size, whichever is larger (memory grows like
    batch · P · k · width, as in training).
    """
    batch_size = max(int(batch_size), _MIN_PREDICT_BATCH)
    n_samples = len(next(iter(x.values())))
    pieces = []
    for start in range(0, n_samples, batch_size):
        batch = {key: value[start : start + batch_size] for key, value in x.items()}
        pieces.append(to_numpy(model(batch, training=False)[output]))
    return np.concatenate(pieces, axis=0)


def to_numpy(tensor):
    """A backend tensor as a NumPy array (TensorFlow's own conversion, no copy warning)."""
    if hasattr(tensor, "numpy"):
        return tensor.numpy()
    return np.asarray(tensor)  # pragma: no cover - other backends
