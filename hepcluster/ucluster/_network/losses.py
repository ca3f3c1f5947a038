"""UCluster's losses: the focal loss of the auxiliary task and the deep k-means loss.

Imported lazily (Keras is needed). The functions are written with ``keras.ops`` and
return one value per sample; the classes are registered for Keras serialisation.

- Focal loss, FL = −Σ_c y_c (1 − p_c)^γ log p_c with γ = 2, on integer targets; a target
  of −1 marks a padded particle (segmentation) and is left out of the per-sample mean.
- Clustering loss, L_cluster = (1/N) Σ_j Σ_k ‖f_j − μ_k‖² π_jk with
  π_jk = softmax_k(−α ‖f_j − μ_k‖²) and trainable centroids μ.

References
----------
V. Mikuni, F. Canelli, arXiv:2010.07106, §2 (Eqs. 1–3); T.-Y. Lin et al., "Focal loss for
dense object detection", arXiv:1708.02002; M. M. Fard, T. Thonet, E. Gaussier, "Deep
k-Means: jointly clustering with k-Means and learning representations", arXiv:1806.10069.
"""

from .._defaults import FOCAL_GAMMA
from .backend import import_keras

keras = import_keras()
ops = keras.ops

__all__ = [
    "FOCAL_GAMMA",
    "ClusteringLayer",
    "FocalLoss",
    "PassThroughLoss",
    "clustering_loss",
    "focal_loss",
    "squared_distances",
]

SINKHORN_ITERATIONS = 50
"""Sinkhorn–Knopp iterations of the label-proportion regularised assignment."""

# Probabilities are clipped at this value before the logarithm.
_EPSILON = 1e-7


def focal_loss(y_true, y_pred, gamma=FOCAL_GAMMA):
    """Focal loss per sample for integer targets.

    Parameters
    ----------
    y_true : tensor of shape (batch,) or (batch, P), integer
        Class index; −1 marks an entry (padded particle) without a target.
    y_pred : tensor of shape (batch, n_classes) or (batch, P, n_classes)
        Class probabilities.
    gamma : float, default=2.0
        Focusing parameter γ (γ = 0 gives the cross entropy).

    Returns
    -------
    tensor of shape (batch,)
        −(1 − p_y)^γ log p_y; for per-particle targets the mean over the particles that
        have a target.
    """
    y_true = ops.cast(y_true, "int32")
    n_classes = ops.shape(y_pred)[-1]
    valid = ops.cast(y_true >= 0, y_pred.dtype)
    one_hot = ops.one_hot(ops.maximum(y_true, 0), n_classes, dtype=y_pred.dtype)
    p_true = ops.sum(one_hot * y_pred, axis=-1)
    p_true = ops.clip(p_true, _EPSILON, 1.0)
    loss = -ops.power(1.0 - p_true, gamma) * ops.log(p_true) * valid
    if len(loss.shape) == 2:
        loss = ops.sum(loss, axis=1) / ops.maximum(ops.sum(valid, axis=1), 1.0)
    return loss


def squared_distances(embedding, centroids):
    """‖f_j − μ_k‖² for every sample j and centroid k: (batch, E), (K, E) → (batch, K)."""
    difference = embedding[:, None, :] - centroids[None, :, :]
    return ops.sum(ops.square(difference), axis=-1)


def clustering_loss(distances, alpha):
    """Deep k-means loss per sample, Σ_k d_jk π_jk with π_jk = softmax_k(−α d_jk).

    Parameters
    ----------
    distances : tensor of shape (batch, K)
        Squared distances d_jk = ‖f_j − μ_k‖².
    alpha : float or scalar tensor
        Inverse temperature α of the soft assignment.

    Returns
    -------
    tensor of shape (batch,)
    """
    if distances.shape[-1] == 1:  # one cluster: π = 1
        return distances[:, 0]
    assignment = ops.softmax(-alpha * distances, axis=-1)
    return ops.sum(distances * assignment, axis=-1)


def sinkhorn_assignment(distances, epsilon, proportions, n_iterations=SINKHORN_ITERATIONS):
    """Soft assignment with prescribed cluster proportions (entropic optimal transport).

    The transport plan P between the N samples of the batch (mass 1/N each) and the K
    clusters (masses r_k) that minimises Σ P d − ε H(P) is P = diag(u) exp(−d/ε) diag(v);
    u and v are found by Sinkhorn–Knopp iterations, in log space for stability. Returns
    N·P, whose rows sum to 1 like the softmax assignment π and whose columns sum to N r_k.

    Parameters
    ----------
    distances : tensor of shape (batch, K)
        Squared distances d to the centroids.
    epsilon : float or scalar tensor
        Entropic regularisation ε (ε → 0: the hard optimal assignment).
    proportions : sequence of K floats summing to 1
        Expected fraction r_k of the samples in each cluster.
    n_iterations : int, default=50

    Returns
    -------
    tensor of shape (batch, K)

    References
    ----------
    M. Cuturi, "Sinkhorn distances: lightspeed computation of optimal transport",
    NeurIPS 2013, arXiv:1306.0895; Y. M. Asano, C. Rupprecht, A. Vedaldi,
    "Self-labelling via simultaneous clustering and representation learning", ICLR 2020,
    arXiv:1911.05371.
    """
    log_kernel = -distances / epsilon
    n_samples = ops.cast(ops.shape(distances)[0], distances.dtype)
    log_rows = -ops.log(n_samples)
    log_columns = ops.log(ops.convert_to_tensor(proportions, dtype=distances.dtype))
    log_u = ops.zeros_like(distances[:, 0])
    log_v = ops.zeros_like(distances[0, :])
    for _ in range(int(n_iterations)):
        log_u = log_rows - ops.logsumexp(log_kernel + log_v[None, :], axis=1)
        log_v = log_columns - ops.logsumexp(log_kernel + log_u[:, None], axis=0)
    plan = ops.exp(log_kernel + log_u[:, None] + log_v[None, :])
    return plan * n_samples


@keras.saving.register_keras_serializable(package="hepcluster")
class FocalLoss(keras.losses.Loss):
    """Focal loss with integer targets (−1 = no target), γ = 2 by default.

    Parameters
    ----------
    gamma : float, default=2.0
    name : str, default="focal_loss"
    **kwargs
        Passed to :class:`keras.losses.Loss` (``reduction``, ``dtype``).

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.ucluster._network.losses import FocalLoss
    >>> loss = FocalLoss()(np.array([0]), np.array([[0.5, 0.5]], dtype="float32"))
    >>> round(float(loss), 4)  # 0.25 · log 2
    0.1733
    """

    def __init__(self, gamma=FOCAL_GAMMA, name="focal_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.gamma = float(gamma)

    def call(self, y_true, y_pred):
        return focal_loss(y_true, y_pred, self.gamma)

    def get_config(self):
        config = super().get_config()
        config.update(gamma=self.gamma)
        return config


@keras.saving.register_keras_serializable(package="hepcluster")
class PassThroughLoss(keras.losses.Loss):
    """A loss whose value is the model output itself (the per-sample clustering loss).

    Lets the clustering loss, computed inside the model by :class:`ClusteringLayer`, be
    weighted with β through Keras' ``loss_weights``.
    """

    def __init__(self, name="clustering_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        return y_pred


@keras.saving.register_keras_serializable(package="hepcluster")
class ClusteringLayer(keras.layers.Layer):
    """Trainable centroids μ and the soft assignment π of deep k-means.

    Called on the embedding (batch, E), returns a dict with ``"distances"`` (batch, K),
    the squared distances to the centroids, ``"assignment"`` π (batch, K) and ``"loss"``
    (batch,), the per-sample clustering loss. α is a non-trainable weight that the α
    schedule updates at the start of each epoch.

    Parameters
    ----------
    n_clusters : int
    alpha : float, default=1.0
        Initial inverse temperature α.
    proportions : sequence of float or None, default=None
        Cluster fractions of the optimal-transport assignment
        (:func:`sinkhorn_assignment`); ``None``: the softmax π.
    epsilon : float or None, default=None
        ε of the transport plan; ``None``: 1/α.
    n_iterations : int, default=50
        Sinkhorn–Knopp iterations.
    **kwargs
        Passed to :class:`keras.layers.Layer`.
    """

    def __init__(
        self,
        n_clusters,
        alpha=1.0,
        proportions=None,
        epsilon=None,
        n_iterations=SINKHORN_ITERATIONS,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.n_clusters = int(n_clusters)
        self.initial_alpha = float(alpha)
        self.proportions = None if proportions is None else [float(p) for p in proportions]
        self.epsilon = None if epsilon is None else float(epsilon)
        self.n_iterations = int(n_iterations)

    def build(self, input_shape):
        self.centroids = self.add_weight(
            shape=(self.n_clusters, input_shape[-1]),
            initializer="zeros",
            trainable=True,
            name="centroids",
        )
        self.alpha = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self.initial_alpha),
            trainable=False,
            name="alpha",
        )

    def call(self, embedding):
        distances = squared_distances(embedding, self.centroids)
        alpha = ops.cast(self.alpha, distances.dtype)
        if self.n_clusters == 1:
            assignment = ops.ones_like(distances)
            loss = distances[:, 0]
        elif self.proportions is None:
            assignment = ops.softmax(-alpha * distances, axis=-1)
            loss = clustering_loss(distances, alpha)
        else:
            epsilon = 1.0 / ops.maximum(alpha, 1e-6) if self.epsilon is None else self.epsilon
            plan = sinkhorn_assignment(
                ops.stop_gradient(distances), epsilon, self.proportions, self.n_iterations
            )
            assignment = ops.stop_gradient(plan)
            loss = ops.sum(distances * assignment, axis=-1)
        return {"distances": distances, "assignment": assignment, "loss": loss}

    def compute_output_shape(self, input_shape):
        return {
            "distances": (input_shape[0], self.n_clusters),
            "assignment": (input_shape[0], self.n_clusters),
            "loss": (input_shape[0],),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            n_clusters=self.n_clusters,
            alpha=self.initial_alpha,
            proportions=self.proportions,
            epsilon=self.epsilon,
            n_iterations=self.n_iterations,
        )
        return config
