"""Keras layers of ABCNet: the graph attention pooling layer and masked helpers.

Imported lazily (it needs Keras at class-definition time); everything is written with
``keras.ops`` so that the layers are backend independent, and registered for Keras
serialisation under the package name ``hepcluster``.

References
----------
V. Mikuni, F. Canelli, "ABCNet: an attention-based method for particle tagging",
Eur. Phys. J. Plus 135 (2020) 463, arXiv:2001.05311; "Unsupervised clustering for collider
physics", Phys. Rev. D 103 (2021) 092007, arXiv:2010.07106, §2.
"""

from ..utils import import_optional
from ._defaults import N_NEIGHBORS

keras = import_optional("keras", extra="ucluster")
ops = keras.ops

__all__ = [
    "BN_MOMENTUM",
    "BroadcastParticles",
    "GAPLayer",
    "MaskedPooling",
    "MaskedStandardization",
    "ParticleDense",
    "ScaleNormalization",
]

BN_MOMENTUM = 0.9
"""Momentum of the moving statistics of every batch normalisation. Keras' 0.99 needs
hundreds of steps to settle, longer than short trainings on a CPU last; the inference
network would then differ from the trained one."""

# Distance added to padded particles so that top-k never prefers them to a real particle.
_FAR = 1e30
# Logit of neighbours that are padding (excluded from the attention softmax).
_MASKED_LOGIT = -1e9


def pairwise_squared_distances(points):
    """Squared Euclidean distances between all pairs of particles of each sample.

    Parameters
    ----------
    points : tensor of shape (batch, P, C)

    Returns
    -------
    tensor of shape (batch, P, P)
    """
    square = ops.sum(ops.square(points), axis=-1)
    inner = ops.matmul(points, ops.transpose(points, (0, 2, 1)))
    return ops.maximum(square[:, :, None] + square[:, None, :] - 2.0 * inner, 0.0)


def knn_indices(points, mask, k):
    """Indices of the k nearest real particles of every particle (itself included).

    Padded particles are placed infinitely far away, so they are chosen only when a jet
    has fewer than k real particles; :class:`GAPLayer` masks them out of the attention.

    Parameters
    ----------
    points : tensor of shape (batch, P, C)
    mask : tensor of shape (batch, P)
        1 for real particles, 0 for padding.
    k : int
        Number of neighbours, at most P.

    Returns
    -------
    tensor of shape (batch, P, k), int32
    """
    distances = pairwise_squared_distances(points)
    distances = distances + (1.0 - mask[:, None, :]) * _FAR
    _, indices = ops.top_k(-distances, k=k, sorted=True)
    return indices


def gather_neighbors(values, indices):
    """Values of the neighbours: (batch, P, F) gathered with (batch, P, k) → (batch, P, k, F)."""
    batch = ops.shape(indices)[0]
    n_points = ops.shape(indices)[1]
    k = ops.shape(indices)[2]
    flat = ops.reshape(indices, (batch, n_points * k, 1))
    gathered = ops.take_along_axis(values, flat, axis=1)
    return ops.reshape(gathered, (batch, n_points, k, ops.shape(values)[-1]))


@keras.saving.register_keras_serializable(package="hepcluster")
class GAPLayer(keras.layers.Layer):
    """Graph attention pooling layer (single head) over the k nearest real particles.

    For every particle i with features x_i and its k nearest neighbours j (searched in the
    given coordinates; padding is never a neighbour):

    - self term h_i = W x_i;
    - edge features y_ij = ReLU(BN(W′(x_i − x_j)));
    - attention c_ij = softmax_j(LeakyReLU(a·h_i + b·y_ij));
    - output x′_i = ReLU(Σ_j c_ij h_j), and the edge features max-pooled over j.

    Padded particles get zero outputs. The layer is equivariant under permutations of
    the particles and invariant under adding padding (batch normalisation uses masked
    moments).

    Parameters
    ----------
    units : int
        Output width (the width of W, W′).
    n_neighbors : int, default=10
        k; jets with fewer real particles use all of them.
    negative_slope : float, default=0.2
        Slope of the LeakyReLU of the attention logits.
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Notes
    -----
    Called on ``[features, coordinates, mask]`` with shapes (batch, P, F), (batch, P, C)
    and (batch, P); returns ``[attention_features, edge_features]``, both
    (batch, P, units).

    References
    ----------
    V. Mikuni, F. Canelli, arXiv:2001.05311 (ABCNet) and arXiv:2010.07106, §2.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.ucluster import GAPLayer
    >>> layer = GAPLayer(4, n_neighbors=2)
    >>> features = np.random.default_rng(0).normal(size=(1, 3, 5)).astype("float32")
    >>> mask = np.array([[1.0, 1.0, 0.0]], dtype="float32")
    >>> attention, edges = layer([features, features[..., :2], mask])
    >>> tuple(attention.shape), float(abs(np.asarray(attention)[0, 2]).sum())
    ((1, 3, 4), 0.0)
    """

    def __init__(self, units, n_neighbors=N_NEIGHBORS, negative_slope=0.2, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.n_neighbors = int(n_neighbors)
        self.negative_slope = float(negative_slope)
        self.self_dense = keras.layers.Dense(self.units, use_bias=False, name="self")
        self.edge_dense = keras.layers.Dense(self.units, use_bias=False, name="edge")
        self.edge_norm = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name="edge_norm")
        self.self_attention = keras.layers.Dense(1, name="self_attention")
        self.edge_attention = keras.layers.Dense(1, use_bias=False, name="edge_attention")

    def build(self, input_shape):
        feature_shape, _, _ = input_shape
        n_points = feature_shape[1]
        self._k = self.n_neighbors if n_points is None else min(self.n_neighbors, n_points)
        n_features = feature_shape[-1]
        self.self_dense.build((None, None, n_features))
        self.edge_dense.build((None, None, n_features))
        self.edge_norm.build((None, None, None, self.units))
        self.self_attention.build((None, None, self.units))
        self.edge_attention.build((None, None, None, self.units))

    def call(self, inputs, training=None):
        features, coordinates, mask = inputs
        mask = ops.cast(mask, features.dtype)
        indices = knn_indices(ops.cast(coordinates, features.dtype), mask, self._k)
        h = self.self_dense(features)  # (B, P, U)
        projected = self.edge_dense(features)  # W′x, so W′(x_i − x_j) = W′x_i − W′x_j
        neighbor_h = gather_neighbors(h, indices)  # (B, P, k, U)
        neighbor_projected = gather_neighbors(projected, indices)
        neighbor_mask = ops.squeeze(gather_neighbors(mask[..., None], indices), -1)
        valid = neighbor_mask * mask[:, :, None]  # (B, P, k): real i and real j
        edges = projected[:, :, None, :] - neighbor_projected
        edges = ops.relu(self.edge_norm(edges, training=training, mask=valid > 0.5))
        logits = self.self_attention(h)[:, :, None, 0] + self.edge_attention(edges)[..., 0]
        logits = ops.leaky_relu(logits, negative_slope=self.negative_slope)
        logits = ops.where(neighbor_mask > 0.5, logits, _MASKED_LOGIT)
        if self._k == 1:  # a single neighbour (itself) takes all the attention
            coefficients = neighbor_mask
        else:
            coefficients = ops.softmax(logits, axis=-1) * neighbor_mask
        attention = ops.relu(ops.sum(coefficients[..., None] * neighbor_h, axis=2))
        edge_features = ops.max(edges * valid[..., None], axis=2)
        return [attention * mask[..., None], edge_features * mask[..., None]]

    def compute_output_shape(self, input_shape):
        feature_shape = tuple(input_shape[0])
        shape = (*feature_shape[:-1], self.units)
        return [shape, shape]

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units, n_neighbors=self.n_neighbors, negative_slope=self.negative_slope
        )
        return config


@keras.saving.register_keras_serializable(package="hepcluster")
class ParticleDense(keras.layers.Layer):
    """A 1×1 convolution over particles: Dense, masked batch normalisation, activation.

    Padded particles are excluded from the batch statistics and get zero outputs.

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
        self.norm = (
            keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name="norm")
            if self.batch_norm
            else None
        )

    def build(self, input_shape):
        feature_shape, _ = input_shape
        self.dense.build((None, None, feature_shape[-1]))
        if self.norm is not None:
            self.norm.build((None, None, self.units))

    def call(self, inputs, training=None):
        values, mask = inputs
        mask = ops.cast(mask, values.dtype)
        out = self.dense(values)
        if self.norm is not None:
            out = self.norm(out, training=training, mask=mask > 0.5)
        return self.activation(out) * mask[..., None]

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape[0])[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            activation=keras.activations.serialize(self.activation),
            batch_norm=self.batch_norm,
        )
        return config


@keras.saving.register_keras_serializable(package="hepcluster")
class MaskedStandardization(keras.layers.Layer):
    """Fixed standardisation of per-particle features, (x − mean)/scale, zero on padding.

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

    def call(self, inputs):
        values, mask = inputs
        mask = ops.cast(mask, values.dtype)
        mean = ops.convert_to_tensor(self.mean, dtype=values.dtype)
        scale = ops.convert_to_tensor(self.scale, dtype=values.dtype)
        return (values - mean) / scale * mask[..., None]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

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

    def __init__(self, momentum=BN_MOMENTUM, epsilon=1e-3, **kwargs):
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
class MaskedPooling(keras.layers.Layer):
    """Average or maximum over the real particles: (batch, P, F) → (batch, F).

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
        values, mask = inputs
        mask = ops.cast(mask, values.dtype)[..., None]
        if self.mode == "average":
            return ops.sum(values * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)
        return ops.max(ops.where(mask > 0.5, values, -1e30), axis=1)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[0])
        return (shape[0], shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(mode=self.mode)
        return config


@keras.saving.register_keras_serializable(package="hepcluster")
class BroadcastParticles(keras.layers.Layer):
    """Repeat per-sample values for every particle: (batch, F), (batch, P) → (batch, P, F).

    Padded particles get zeros.
    """

    def call(self, inputs):
        values, mask = inputs
        mask = ops.cast(mask, values.dtype)
        return values[:, None, :] * mask[..., None]

    def compute_output_shape(self, input_shape):
        values_shape, mask_shape = (tuple(s) for s in input_shape)
        return (values_shape[0], mask_shape[1], values_shape[-1])
