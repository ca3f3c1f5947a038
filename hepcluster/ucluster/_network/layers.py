"""Keras layers of ABCNet on packed particles: graph attention pooling and helpers.

Imported lazily (it needs Keras at class-definition time); written with ``keras.ops`` and
registered for Keras serialisation under the package name ``hepcluster``.

Particles are *packed*: a batch of B samples (jets or events) holds only its N real
particles, one row each, in a (N, F) tensor, so that no layer spends work on padding.
Two integer tensors describe the batch (see :func:`~hepcluster.ucluster._packing.pack_particles`):

- ``slots`` (B, S): row of the i-th particle of each sample, or N where a sample has
  fewer than S particles (S is the largest multiplicity of the batch, at least k);
- ``index`` (N,): position of each particle in the flattened ``slots``,
  ``sample · S + i``, and ``segment`` (N,): the sample of each particle.

Only the k-nearest-neighbour search works on the (B, S) grid (a distance matrix per
sample); everything else costs in proportion to the real particles.

References
----------
V. Mikuni, F. Canelli, "ABCNet: an attention-based method for particle tagging",
Eur. Phys. J. Plus 135 (2020) 463, arXiv:2001.05311; "Unsupervised clustering for collider
physics", Phys. Rev. D 103 (2021) 092007, arXiv:2010.07106, §2.
"""

from .._defaults import N_NEIGHBORS
from .backend import import_keras

keras = import_keras()
ops = keras.ops

__all__ = [
    "BN_MOMENTUM",
    "GAPLayer",
    "GatherSamples",
    "MaskedBatchNormalization",
    "ParticleDense",
    "ScaleNormalization",
    "SegmentPooling",
    "Standardization",
    "knn_indices",
    "padded_values",
]

BN_MOMENTUM = 0.9
"""Momentum of the moving statistics of every batch normalisation. Keras' 0.99 needs
hundreds of steps to settle, longer than short trainings on a CPU last; the inference
network would then differ from the trained one."""

BN_EPSILON = 1e-3
"""ε of every batch normalisation (Keras' default)."""

# Distance added to padding so that top-k never prefers it to a real particle.
_FAR = 1e30
# Logit of neighbours that are padding (excluded from the attention softmax).
_MASKED_LOGIT = -1e9


def padded_values(values, slots):
    """Packed rows (N, C) on the (B, S) grid of ``slots``: (B, S, C), zeros for padding."""
    zeros = ops.zeros_like(values[:1])
    return ops.take(ops.concatenate([values, zeros], axis=0), slots, axis=0)


def pairwise_squared_distances(points):
    """Squared Euclidean distances between all pairs of points of each sample.

    Parameters
    ----------
    points : tensor of shape (batch, S, C)

    Returns
    -------
    tensor of shape (batch, S, S)
    """
    square = ops.sum(ops.square(points), axis=-1)
    inner = ops.matmul(points, ops.transpose(points, (0, 2, 1)))
    return ops.maximum(square[:, :, None] + square[:, None, :] - 2.0 * inner, 0.0)


def knn_indices(coordinates, slots, index, k):
    """Rows of the k nearest particles of the same sample (itself included).

    Parameters
    ----------
    coordinates : tensor of shape (N, C)
        Packed coordinates of the N real particles of the batch.
    slots : int tensor of shape (B, S)
        Row of each particle of each sample, N for padding; S ≥ k.
    index : int tensor of shape (N,)
        Position of each particle in the flattened ``slots``.
    k : int

    Returns
    -------
    int tensor of shape (N, k)
        Rows of the neighbours, nearest first; N where a sample has fewer than k
        particles (padding is never preferred to a real particle).
    """
    n_rows = ops.shape(coordinates)[0]
    points = padded_values(coordinates, slots)
    padding = ops.cast(slots >= n_rows, coordinates.dtype)
    distances = pairwise_squared_distances(points) + padding[:, None, :] * _FAR
    _, local = ops.top_k(-distances, k=k, sorted=True)  # (B, S, k) positions in a sample
    n_samples, n_slots = ops.shape(slots)[0], ops.shape(slots)[1]
    offsets = ops.arange(n_samples, dtype="int32")[:, None, None] * n_slots
    neighbours = ops.take(ops.reshape(slots, (-1,)), ops.cast(local, "int32") + offsets)
    return ops.take(ops.reshape(neighbours, (-1, k)), index, axis=0)


@keras.saving.register_keras_serializable(package="hepcluster")
class MaskedBatchNormalization(keras.layers.Layer):
    """Batch normalisation over the last axis, with optional per-entry weights (a mask).

    Called on ``values`` or ``[values, weights]`` (``weights`` of the shape of
    ``values`` without its last axis, 1 for entries to use, 0 for those to ignore).
    Training uses the (weighted) moments of the batch and updates moving averages with
    ``momentum``, as :class:`keras.layers.BatchNormalization`; inference uses the
    moving averages.

    Parameters
    ----------
    momentum : float, default=0.9
    epsilon : float, default=1e-3
    **kwargs
        Passed to :class:`keras.layers.Layer`.
    """

    def __init__(self, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        shape = input_shape[0] if isinstance(input_shape, list) else input_shape
        width = (shape[-1],)
        self.gamma = self.add_weight(shape=width, initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=width, initializer="zeros", name="beta")
        self.moving_mean = self.add_weight(
            shape=width, initializer="zeros", trainable=False, name="moving_mean"
        )
        self.moving_variance = self.add_weight(
            shape=width, initializer="ones", trainable=False, name="moving_variance"
        )

    def call(self, inputs, training=None):
        values, weights = inputs if isinstance(inputs, list) else (inputs, None)
        if training:
            width = ops.shape(values)[-1]
            flat = ops.reshape(values, (-1, width))
            if weights is None:
                mean = ops.mean(flat, axis=0)
                variance = ops.mean(ops.square(flat - mean), axis=0)
            else:
                w = ops.reshape(ops.cast(weights, values.dtype), (1, -1))
                total = ops.maximum(ops.sum(w), 1.0)
                mean = ops.matmul(w, flat)[0] / total
                variance = ops.matmul(w, ops.square(flat - mean))[0] / total
            self.moving_mean.assign(
                self.momentum * self.moving_mean + (1.0 - self.momentum) * mean
            )
            self.moving_variance.assign(
                self.momentum * self.moving_variance + (1.0 - self.momentum) * variance
            )
        else:
            mean, variance = self.moving_mean, self.moving_variance
        scale = self.gamma * ops.rsqrt(variance + self.epsilon)
        return (values - mean) * scale + self.beta

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0] if isinstance(input_shape, list) else input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(momentum=self.momentum, epsilon=self.epsilon)
        return config


@keras.saving.register_keras_serializable(package="hepcluster")
class GAPLayer(keras.layers.Layer):
    """Graph attention pooling layer (single head) over the k nearest particles.

    For every particle i with features x_i and its k nearest neighbours j of the same
    sample (searched in the given coordinates; padding is never a neighbour):

    - self term h_i = W x_i;
    - edge features y_ij = ReLU(BN(W′(x_i − x_j)));
    - attention c_ij = softmax_j(LeakyReLU(a·h_i + b·y_ij));
    - output x′_i = ReLU(Σ_j c_ij h_j), and the edge features max-pooled over j.

    The layer is equivariant under permutations of the particles of a sample and its
    result does not depend on padding (batch normalisation uses the moments over real
    edges).

    Parameters
    ----------
    units : int
        Output width (the width of W, W′).
    n_neighbors : int, default=10
        k; samples with fewer particles use all of them.
    negative_slope : float, default=0.2
        Slope of the LeakyReLU of the attention logits.
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Notes
    -----
    Called on ``[features, coordinates, slots, index]``: packed (N, F) and (N, C) and
    the batch layout of :func:`~hepcluster.ucluster._packing.pack_particles`; returns
    ``[attention_features, edge_features]``, both (N, units). The neighbours' values
    are gathered once, and h_j = W x_j is never formed per edge (Σ_j c_ij h_j =
    W Σ_j c_ij x_j), so the largest tensors are the (N, k, units) edge features.

    References
    ----------
    V. Mikuni, F. Canelli, arXiv:2001.05311 (ABCNet) and arXiv:2010.07106, §2.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.ucluster._network.layers import GAPLayer
    >>> from hepcluster.ucluster._packing import pack_particles
    >>> features = np.random.default_rng(0).normal(size=(1, 3, 5)).astype("float32")
    >>> batch = pack_particles(features, np.array([[1.0, 1.0, 0.0]]), min_slots=2)
    >>> layer = GAPLayer(4, n_neighbors=2)
    >>> attention, edges = layer(
    ...     [batch["features"], batch["features"][:, :2], batch["slots"], batch["index"]])
    >>> tuple(attention.shape)
    (2, 4)
    """

    def __init__(self, units, n_neighbors=N_NEIGHBORS, negative_slope=0.2, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.n_neighbors = int(n_neighbors)
        self.negative_slope = float(negative_slope)
        self.self_dense = keras.layers.Dense(self.units, use_bias=False, name="self")
        self.edge_dense = keras.layers.Dense(self.units, use_bias=False, name="edge")
        self.edge_norm = MaskedBatchNormalization(name="edge_norm")
        self.self_attention = keras.layers.Dense(1, name="self_attention")
        self.edge_attention = keras.layers.Dense(1, use_bias=False, name="edge_attention")

    def build(self, input_shape):
        n_features = input_shape[0][-1]
        self.self_dense.build((None, n_features))
        self.edge_dense.build((None, None, n_features))
        self.edge_norm.build((None, None, self.units))
        self.self_attention.build((None, self.units))
        self.edge_attention.build((None, None, self.units))

    def call(self, inputs, training=None):
        features, coordinates, slots, index = inputs
        n_rows = ops.shape(features)[0]
        neighbours = knn_indices(
            ops.cast(coordinates, features.dtype), slots, index, self.n_neighbors
        )
        valid = ops.cast(neighbours < n_rows, features.dtype)  # (N, k)
        # W and W′ are linear, so the neighbours' inputs x_j are gathered once (F wide,
        # narrower than h and W′x): W′(x_i − x_j) and Σ_j c_ij h_j = W Σ_j c_ij x_j.
        neighbour_x = padded_values(features, neighbours)  # (N, k, F)
        edges = self.edge_dense(features[:, None, :] - neighbour_x)  # (N, k, U)
        edges = ops.relu(self.edge_norm([edges, valid], training=training))
        h = self.self_dense(features)  # (N, U)
        logits = self.self_attention(h) + self.edge_attention(edges)[..., 0]  # (N, k)
        logits = ops.leaky_relu(logits, negative_slope=self.negative_slope)
        logits = ops.where(valid > 0.5, logits, _MASKED_LOGIT)
        coefficients = ops.softmax(logits, axis=-1) * valid
        pooled_x = ops.sum(coefficients[..., None] * neighbour_x, axis=1)  # Σ_j c_ij x_j
        attention = ops.relu(self.self_dense(pooled_x))
        edge_features = ops.max(edges * valid[..., None], axis=1)
        return [attention, edge_features]

    def compute_output_shape(self, input_shape):
        shape = (input_shape[0][0], self.units)
        return [shape, shape]

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units, n_neighbors=self.n_neighbors, negative_slope=self.negative_slope
        )
        return config


@keras.saving.register_keras_serializable(package="hepcluster")
class ParticleDense(keras.layers.Layer):
    """A 1×1 convolution over particles: Dense, batch normalisation, activation.

    Works on packed particles (N, F): every row is a real particle, so the batch
    statistics are those of the real particles.

    Parameters
    ----------
    units : int
    activation : str or None, default="relu"
    batch_norm : bool, default=True
    **kwargs
        Passed to :class:`keras.layers.Layer`.
    """

    def __init__(self, units, activation="relu", batch_norm=True, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = keras.activations.get(activation)
        self.batch_norm = bool(batch_norm)
        self.dense = keras.layers.Dense(self.units, use_bias=not self.batch_norm, name="dense")
        self.norm = MaskedBatchNormalization(name="norm") if self.batch_norm else None

    def build(self, input_shape):
        self.dense.build((None, input_shape[-1]))
        if self.norm is not None:
            self.norm.build((None, self.units))

    def call(self, values, training=None):
        out = self.dense(values)
        if self.norm is not None:
            out = self.norm(out, training=training)
        return self.activation(out)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            activation=keras.activations.serialize(self.activation),
            batch_norm=self.batch_norm,
        )
        return config


@keras.saving.register_keras_serializable(package="hepcluster")
class Standardization(keras.layers.Layer):
    """Fixed standardisation of features, (x − mean)/scale.

    ``mean`` and ``scale`` are computed from the training data (over real particles)
    before the network is built, and stored in the layer's configuration.

    Parameters
    ----------
    mean, scale : sequence of float
        One value per feature.
    **kwargs
        Passed to :class:`keras.layers.Layer`.
    """

    def __init__(self, mean, scale, **kwargs):
        super().__init__(**kwargs)
        self.mean = [float(v) for v in mean]
        self.scale = [float(v) for v in scale]

    def call(self, values):
        mean = ops.convert_to_tensor(self.mean, dtype=values.dtype)
        scale = ops.convert_to_tensor(self.scale, dtype=values.dtype)
        return (values - mean) / scale

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(mean=self.mean, scale=self.scale)
        return config


@keras.saving.register_keras_serializable(package="hepcluster")
class ScaleNormalization(keras.layers.Layer):
    """Centre a batch of vectors and divide by their RMS spread, one scale for all axes.

    y = (x − m) / sqrt(v + ε) with m the mean vector and v = mean ‖x − m‖² / E over the
    batch during training, and moving averages of both at inference. Unlike batch
    normalisation, the relative scales of the E dimensions are kept: the network may
    shrink a dimension that carries no information, but not the embedding as a whole.

    Parameters
    ----------
    momentum : float, default=0.9
        Momentum of the moving averages.
    epsilon : float, default=1e-3
    **kwargs
        Passed to :class:`keras.layers.Layer`.
    """

    def __init__(self, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        self.moving_mean = self.add_weight(
            shape=(input_shape[-1],), initializer="zeros", trainable=False, name="moving_mean"
        )
        self.moving_variance = self.add_weight(
            shape=(), initializer="ones", trainable=False, name="moving_variance"
        )

    def call(self, inputs, training=None):
        if training:
            mean = ops.mean(inputs, axis=0)
            variance = ops.mean(ops.square(inputs - mean))
            self.moving_mean.assign(
                self.momentum * self.moving_mean + (1.0 - self.momentum) * mean
            )
            self.moving_variance.assign(
                self.momentum * self.moving_variance + (1.0 - self.momentum) * variance
            )
        else:
            mean = ops.cast(self.moving_mean, inputs.dtype)
            variance = ops.cast(self.moving_variance, inputs.dtype)
        return (inputs - mean) / ops.sqrt(variance + self.epsilon)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(momentum=self.momentum, epsilon=self.epsilon)
        return config


@keras.saving.register_keras_serializable(package="hepcluster")
class SegmentPooling(keras.layers.Layer):
    """Average or maximum over the particles of each sample: (N, F) → (B, F).

    Called on ``[values, segment, slots]``; ``slots`` only gives B.

    Parameters
    ----------
    mode : {"average", "max"}, default="average"
    **kwargs
        Passed to :class:`keras.layers.Layer`.
    """

    def __init__(self, mode="average", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("average", "max"):
            raise ValueError(f"mode must be 'average' or 'max', got {mode!r}.")
        self.mode = mode

    def call(self, inputs):
        values, segment, slots = inputs
        n_samples = ops.shape(slots)[0]
        segment = ops.cast(segment, "int32")
        if self.mode == "max":
            return ops.segment_max(values, segment, num_segments=n_samples)
        total = ops.segment_sum(values, segment, num_segments=n_samples)
        counts = ops.segment_sum(ops.ones_like(values[:, :1]), segment, num_segments=n_samples)
        return total / ops.maximum(counts, 1.0)

    def compute_output_shape(self, input_shape):
        return (input_shape[2][0], input_shape[0][-1])

    def get_config(self):
        config = super().get_config()
        config.update(mode=self.mode)
        return config


@keras.saving.register_keras_serializable(package="hepcluster")
class GatherSamples(keras.layers.Layer):
    """Per-sample values for every particle: (B, F) with ``segment`` (N,) → (N, F)."""

    def call(self, inputs):
        values, segment = inputs
        return ops.take(values, ops.cast(segment, "int32"), axis=0)

    def compute_output_shape(self, input_shape):
        return (input_shape[1][0], input_shape[0][-1])
