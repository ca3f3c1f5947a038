"""UCluster: unsupervised clustering with a graph network and a differentiable k-means.

The second method of hepcluster (V. Mikuni, F. Canelli, *Unsupervised clustering for
collider physics*, Phys. Rev. D 103, 092007, arXiv:2010.07106):

- :class:`UClusterEmbedding` — ABCNet (graph attention) pre-trained on an auxiliary mass
  classification computed from the constituents; a transformer to the embedding.
- :class:`DeepKMeans` — the clusterer: k-means initialisation on the pre-trained
  embedding, then joint training with the focal loss plus β times the clustering loss
  (optionally with an optimal-transport label-proportion regulariser).
- :class:`JetStream` — data sets larger than memory (hls4ml files, chunk generators),
  read chunk by chunk at every epoch.
- :data:`SCHEDULES` — the training presets (``"fast"``, ``"paper"``) of both estimators.
- :func:`plot_confusion_matrix` — true classes against clusters.

The event-level anomaly search on the clusters of dijet events lives in
:mod:`hepcluster.anomaly`, which never imports the network.

``import hepcluster.ucluster`` is cheap and works without TensorFlow: the names above
are loaded on first access (PEP 562), and TensorFlow/Keras (extra ``ucluster``) only
when a network is built, trained or unpickled (without TensorFlow's C++ start-up
notices unless ``TF_CPP_MIN_LOG_LEVEL`` is set); without them ``fit`` raises an
ImportError naming ``pip install "hepcluster[ucluster]"``.
"""

from .._lazy import lazy_exports

# Module that defines each public name, imported on first access.
_LAZY = {
    "DeepKMeans": "._deep_kmeans",
    "JetStream": "._data",
    "SCHEDULES": "._defaults",
    "UClusterEmbedding": "._embedding",
    "plot_confusion_matrix": "._plots",
}

__all__ = ["SCHEDULES", "DeepKMeans", "JetStream", "UClusterEmbedding", "plot_confusion_matrix"]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
