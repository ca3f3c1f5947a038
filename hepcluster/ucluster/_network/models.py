"""ABCNet builders: the graph attention networks of UCluster for jets and for events.

Imported lazily (Keras is needed to build a model). The builder returns a functional
:class:`keras.Model` on packed particles (see :mod:`hepcluster.ucluster._network.layers`): its
inputs are a dict ``{"features", "coordinates", "slots", "index", "segment"[,
"globals"]}`` (one mini-batch of :meth:`~hepcluster.ucluster._packing.PackedSamples.batch`) and its
outputs a dict ``{"embedding": (B, E), "aux": (B, n_classes) or (N, n_classes)}``.

References
----------
V. Mikuni, F. Canelli, "Unsupervised clustering for collider physics", Phys. Rev. D 103
(2021) 092007, arXiv:2010.07106, §2 and Fig. 1; V. Mikuni, F. Canelli, "ABCNet: an
attention-based method for particle tagging", arXiv:2001.05311.
"""

from .._defaults import N_NEIGHBORS
from .backend import import_keras
from .layers import (
    BN_MOMENTUM,
    GAPLayer,
    GatherSamples,
    ParticleDense,
    ScaleNormalization,
    SegmentPooling,
    Standardization,
)

keras = import_keras()

__all__ = ["ABCNET_WIDTHS", "build_abcnet"]

ABCNET_WIDTHS = {
    "gap_1": 16,
    "conv_1": 64,
    "conv_2": 64,
    "gap_2": 128,
    "conv_3": 128,
    "conv_4": 256,
    "globals": 16,
    "head_1": 256,
    "head_2": 128,
}
"""Layer widths of ABCNet in UCluster (arXiv:2010.07106, §2): GAPLayer(16) → 2 conv 64 →
GAPLayer(128) → conv 128, 256 → skip concatenation → embedding; FC 256-128 head."""


def _width(name, width):
    return max(1, round(ABCNET_WIDTHS[name] * width))


def _standardise(pooled):
    # Centre the embedding and fix its overall scale (not that of each dimension). The
    # classification head normalises its own inputs, so without this the clustering loss
    # could shrink the embedding towards a point at no cost to the focal loss (the trivial
    # solution of deep k-means).
    return ScaleNormalization(name="embedding")(pooled)


def build_abcnet(
    n_features,
    n_classes,
    *,
    task="jets",
    embedding_dim=3,
    n_neighbors=N_NEIGHBORS,
    n_global=0,
    width=1.0,
    feature_scaling=None,
    global_scaling=None,
    name=None,
):
    """Build ABCNet for jet classification or event segmentation, on packed particles.

    Parameters
    ----------
    n_features : int
        Per-particle features.
    n_classes : int
        Classes of the auxiliary task (mass bins).
    task : {"jets", "events"}, default="jets"
        ``"jets"``: one softmax per sample, embedding by average pooling over the
        particles. ``"events"``: segmentation, one softmax per particle, embedding by max
        pooling, global event features concatenated to the skip features.
    embedding_dim : int, default=3
        Dimension E of the embedding (3 for W/Z/top, 2 for events in the paper).
    n_neighbors : int, default=10
        k of every GAPLayer.
    n_global : int, default=0
        Number of global event features (4 for the event task).
    width : float, default=1.0
        Multiplies every layer width of :data:`ABCNET_WIDTHS` (0.25 gives a fast network
        for tests and small data).
    feature_scaling, global_scaling : (sequence, sequence) or None, default=None
        ``(mean, scale)`` per feature: the particle (global) features enter the network
        as (x − mean)/scale. ``None`` leaves them unscaled.
    name : str, optional

    Returns
    -------
    keras.Model
        Inputs ``{"features": (N, n_features), "coordinates": (N, 2), "slots": (B, S),
        "index": (N,), "segment": (N,)[, "globals": (B, n_global)]}``, outputs
        ``{"embedding": (B, E), "aux": (B, n_classes) or (N, n_classes)}``. The number
        of particles (slots) per sample is free: the same network reads any P.

    Notes
    -----
    The first GAPLayer finds neighbours in the coordinates (Δη, Δφ), the second in the
    feature space of the preceding convolutions. The skip concatenation holds both
    convolution pairs, both sets of max-pooled edge features and, for events, the
    global features after a 16-wide convolution; a linear per-particle layer maps it to E
    dimensions before the pooling.
    """
    if task not in ("jets", "events"):
        raise ValueError(f"task must be 'jets' or 'events', got {task!r}.")
    features = keras.Input((n_features,), name="features")
    coordinates = keras.Input((2,), name="coordinates")
    slots = keras.Input((None,), dtype="int32", name="slots")
    index = keras.Input((), dtype="int32", name="index")
    segment = keras.Input((), dtype="int32", name="segment")
    inputs = {
        "features": features,
        "coordinates": coordinates,
        "slots": slots,
        "index": index,
        "segment": segment,
    }
    layout = [slots, index]

    scaled = features
    if feature_scaling is not None:
        scaled = Standardization(*feature_scaling, name="scale_features")(features)
    attention_1, edges_1 = GAPLayer(_width("gap_1", width), n_neighbors, name="gap_1")(
        [scaled, coordinates, *layout]
    )
    joined = keras.layers.Concatenate(name="join_1")([scaled, attention_1])
    conv_1 = ParticleDense(_width("conv_1", width), name="conv_1")(joined)
    conv_2 = ParticleDense(_width("conv_2", width), name="conv_2")(conv_1)
    attention_2, edges_2 = GAPLayer(_width("gap_2", width), n_neighbors, name="gap_2")(
        [conv_2, conv_2, *layout]
    )
    joined = keras.layers.Concatenate(name="join_2")([conv_2, attention_2])
    conv_3 = ParticleDense(_width("conv_3", width), name="conv_3")(joined)
    conv_4 = ParticleDense(_width("conv_4", width), name="conv_4")(conv_3)
    skip = [conv_1, conv_2, conv_3, conv_4, edges_1, edges_2]
    if n_global:
        global_features = keras.Input((n_global,), name="globals")
        inputs["globals"] = global_features
        scaled_globals = global_features
        if global_scaling is not None:
            scaled_globals = Standardization(*global_scaling, name="scale_globals")(
                global_features
            )
        expanded = GatherSamples(name="broadcast_globals")([scaled_globals, segment])
        skip.append(ParticleDense(_width("globals", width), name="globals_conv")(expanded))
    concatenated = keras.layers.Concatenate(name="skip")(skip)
    per_particle = ParticleDense(embedding_dim, activation=None, batch_norm=False, name="agg")(
        concatenated
    )
    if task == "jets":
        pooled = SegmentPooling("average", name="pooling")([per_particle, segment, slots])
        embedding = _standardise(pooled)
        hidden = keras.layers.Dense(_width("head_1", width), name="fc_1")(embedding)
        hidden = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name="fc_1_norm")(hidden)
        hidden = keras.layers.ReLU()(hidden)
        hidden = keras.layers.Dense(_width("head_2", width), name="fc_2")(hidden)
        hidden = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name="fc_2_norm")(hidden)
        hidden = keras.layers.ReLU()(hidden)
        aux = keras.layers.Dense(n_classes, activation="softmax", name="aux")(hidden)
    else:
        pooled = SegmentPooling("max", name="pooling")([per_particle, segment, slots])
        embedding = _standardise(pooled)
        expanded = GatherSamples(name="broadcast_embedding")([embedding, segment])
        joined = keras.layers.Concatenate(name="join_head")([expanded, conv_1, conv_3])
        hidden = ParticleDense(_width("head_1", width), name="seg_1")(joined)
        hidden = ParticleDense(_width("head_2", width), name="seg_2")(hidden)
        aux = keras.layers.Dense(n_classes, activation="softmax", name="aux")(hidden)
    outputs = {"embedding": embedding, "aux": aux}
    return keras.Model(inputs=inputs, outputs=outputs, name=name or f"abcnet_{task}")
