"""UCluster: unsupervised clustering with a graph network and a differentiable k-means.

The second method of hepcluster (V. Mikuni, F. Canelli, *Unsupervised clustering for
collider physics*, Phys. Rev. D 103, 092007, arXiv:2010.07106):

- :class:`UClusterEmbedding` — ABCNet (graph attention, :class:`GAPLayer`) pre-trained on
  an auxiliary mass classification computed from the constituents; a transformer to the
  embedding.
- :class:`DeepKMeans` — the clusterer: k-means initialisation on the pre-trained
  embedding, then joint training with the focal loss plus β times the clustering loss
  (optionally with an optimal-transport label-proportion regulariser).
- :class:`JetStream` — data sets larger than memory (hls4ml files, chunk generators),
  read chunk by chunk at every epoch; the networks read packed particles
  (:class:`PackedSamples`), so padding costs nothing.
- Event-level anomaly detection (:func:`anomaly_search`): clusters of whole dijet events,
  signal-rich clusters and a background from a fit (the caller's, e.g. the dijet function
  of :class:`~hepcluster.fits.DijetFitBackground`) of the nearest cluster's spectrum.

``import hepcluster.ucluster`` works without TensorFlow. TensorFlow/Keras (extra
``ucluster``) are imported only when a network is built, trained or unpickled (without
TensorFlow's C++ start-up notices unless ``TF_CPP_MIN_LOG_LEVEL`` is set); without them
``fit`` raises an ImportError naming ``pip install "hepcluster[ucluster]"``. The Keras
names of this module (:class:`GAPLayer`, :func:`build_abcnet`, the losses) are loaded on
first access (PEP 562).
"""

import importlib

from ._anomaly import anomaly_search, event_matrix
from ._anomaly_result import AnomalySearchResult
from ._background import nearest_cluster_background
from ._data import JetStream
from ._deep_kmeans import DeepKMeans
from ._defaults import DEFAULT_SCHEDULE, SCHEDULES
from ._embedding import UClusterEmbedding, as_constituent_matrix
from ._features import (
    EVENT_MASS_BINS,
    JET_MASS_BINS,
    NetworkInputs,
    event_inputs,
    event_mass_targets,
    jet_inputs,
    jet_mass_targets,
    mass_bin_targets,
)
from ._packing import PackedSamples, batch_layout, pack_particles
from ._plots import plot_confusion_matrix
from ._schedules import alpha_schedule, learning_rate_schedule

# Names that need Keras: module that defines each, imported on first access.
_LAZY = {
    "ABCNET_WIDTHS": "._models",
    "build_abcnet": "._models",
    "GAPLayer": "._layers",
    "GatherSamples": "._layers",
    "MaskedBatchNormalization": "._layers",
    "ParticleDense": "._layers",
    "ScaleNormalization": "._layers",
    "SegmentPooling": "._layers",
    "Standardization": "._layers",
    "ClusteringLayer": "._losses",
    "FocalLoss": "._losses",
    "PassThroughLoss": "._losses",
    "clustering_loss": "._losses",
    "focal_loss": "._losses",
    "sinkhorn_assignment": "._losses",
}

__all__ = [
    "DEFAULT_SCHEDULE",
    "EVENT_MASS_BINS",
    "JET_MASS_BINS",
    "SCHEDULES",
    "AnomalySearchResult",
    "DeepKMeans",
    "JetStream",
    "NetworkInputs",
    "PackedSamples",
    "UClusterEmbedding",
    "alpha_schedule",
    "anomaly_search",
    "as_constituent_matrix",
    "batch_layout",
    "event_inputs",
    "event_mass_targets",
    "event_matrix",
    "jet_inputs",
    "jet_mass_targets",
    "learning_rate_schedule",
    "mass_bin_targets",
    "nearest_cluster_background",
    "pack_particles",
    "plot_confusion_matrix",
    *sorted(_LAZY),
]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
