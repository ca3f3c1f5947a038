"""Training and inference loops shared by UClusterEmbedding and DeepKMeans.

Keras is imported inside the functions, so that the estimator modules import without
TensorFlow; this module is the only place that touches global random states. Both loops
read a dataset of :mod:`hepcluster.ucluster._data` in packed mini-batches, so their cost
follows the real particles, not the slots, and a stream is never held in memory.
"""

import contextlib
import logging
import random

import numpy as np

from .._data import iter_batches, prefetch
from .._schedules import learning_rate_schedule
from .backend import DEVICES, check_device, device_scope, import_keras

logger = logging.getLogger("hepcluster.ucluster")

__all__ = [
    "DEVICES",
    "check_device",
    "device_scope",
    "import_keras",
    "predict",
    "seeded",
    "segment_mean",
    "to_numpy",
    "train",
]

# Names of the model inputs among the arrays of a batch.
INPUT_NAMES = ("features", "coordinates", "slots", "index", "segment", "globals")
# Trainings with at most this many steps run eagerly (no graph to compile).
_EAGER_MAX_STEPS = 8
# Smallest batch of inference (larger training batches are used as they are).
_MIN_PREDICT_BATCH = 512


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


def segment_mean(values, segment, n_samples):
    """Mean of per-particle values over the particles of each sample: (N,) → (B,)."""
    keras = import_keras()
    ops = keras.ops
    total = ops.segment_sum(values, segment, num_segments=n_samples)
    counts = ops.segment_sum(ops.ones_like(values), segment, num_segments=n_samples)
    return total / ops.maximum(counts, 1.0)


def _signature(batch):
    import tensorflow as tf

    return {
        name: tf.TensorSpec((None,) * np.ndim(value), tf.as_dtype(np.asarray(value).dtype))
        for name, value in batch.items()
    }


def train(
    model,
    dataset,
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
    min_slots,
    on_epoch_begin=None,
    eager=None,
    fast_variables=(),
    fast_factor=1.0,
):
    """Train ``model`` with Adam on the weighted sum of per-sample losses.

    Parameters
    ----------
    model : keras.Model
        Functional model on packed batches; its outputs are a dict.
    dataset : InMemoryDataset or StreamedDataset
        Packed samples with their targets (``batch["target"]``).
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
    min_slots : int
        Smallest slot grid of a batch (the k of the neighbour search).
    on_epoch_begin : callable, optional
        ``f(epoch) → dict`` of extra values to log (the α schedule uses it).
    eager : bool or None, default=None
        Run the training step eagerly instead of as a compiled graph; ``None`` decides
        by the number of steps (compiling costs a few seconds, an eager step a fraction
        of a second, so very short trainings run eagerly). Both agree up to float32
        rounding.
    fast_variables : sequence of keras.Variable, optional
        Variables trained with ``fast_factor`` times the learning rate.
    fast_factor : float, default=1.0
    """
    keras = import_keras()
    import tensorflow as tf

    n_batches = -(-dataset.n_samples // batch_size)
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

    def step(batch):
        inputs = {name: batch[name] for name in INPUT_NAMES if name in batch}
        with tf.GradientTape() as tape:
            outputs = model(inputs, training=True)
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

    compiled = None
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
        sums = np.zeros(len(losses) + 1)
        n_seen = 0
        for batch in prefetch(iter_batches(dataset, batch_size, min_slots=min_slots, rng=rng)):
            if eager:
                run = step
            else:
                if compiled is None:
                    compiled = tf.function(
                        step, input_signature=[_signature(batch)], autograph=False
                    )
                run = compiled
            total, values = run({name: tf.constant(value) for name, value in batch.items()})
            n_batch = len(batch["slots"])
            n_seen += n_batch
            sums += n_batch * np.array([float(total), *(float(v) for v in values)])
        means = sums / max(n_seen, 1)
        logs = {"loss": means[0]}
        logs.update(
            {f"{name}_loss": value for (name, _, _), value in zip(losses, means[1:], strict=True)}
        )
        logs["learning_rate"] = rate
        logs.update(extra)
        reporter.on_epoch_end(epoch, logs)
    reporter.on_train_end()


def predict(model, dataset, output, batch_size, *, min_slots, per_particle=False):
    """Inference-mode output ``output`` of ``model`` on every sample of a dataset.

    Parameters
    ----------
    model : keras.Model
    dataset : InMemoryDataset or StreamedDataset
    output : str
        Name of the output.
    batch_size : int
        At least 512 samples are evaluated at once.
    min_slots : int
    per_particle : bool, default=False
        The output has one row per particle; it is returned on the padded grid
        (n_samples, P, ...), zeros for padding.

    Returns
    -------
    ndarray
        One row per sample, in the order of the data.
    """
    import tensorflow as tf

    batch_size = max(int(batch_size), _MIN_PREDICT_BATCH)
    pieces = []
    batches = iter_batches(dataset, batch_size, min_slots=min_slots, with_samples=True)
    for batch, packed, samples in prefetch(batches):
        inputs = {name: tf.constant(batch[name]) for name in INPUT_NAMES if name in batch}
        values = to_numpy(model(inputs, training=False)[output])
        pieces.append(packed.unpack(values, samples) if per_particle else values)
    return np.concatenate(pieces, axis=0)


def to_numpy(tensor):
    """A backend tensor as a NumPy array (TensorFlow's own conversion, no copy warning)."""
    if hasattr(tensor, "numpy"):
        return tensor.numpy()
    return np.asarray(tensor)  # pragma: no cover - other backends
