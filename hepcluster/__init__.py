"""hepcluster: unsupervised clustering searches for new physics at colliders.

Two published methods as scikit-learn estimators:

- Cluster Scanning (I. Oleksiyuk et al., arXiv:2402.17714), a model-agnostic resonance
  search with k-means on jet images and a data-driven background estimate;
- UCluster (V. Mikuni and F. Canelli, arXiv:2010.07106), a graph attention network
  trained jointly with a differentiable deep k-means.
"""

import logging

from ._config import config_context, get_config, set_config
from ._version import __version__
from .fits import DijetFitBackground
from .images import JetImageTransformer
from .scanning import ClusterScanner
from .ucluster import DeepKMeans, UClusterEmbedding

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "ClusterScanner",
    "DeepKMeans",
    "DijetFitBackground",
    "JetImageTransformer",
    "UClusterEmbedding",
    "__version__",
    "config_context",
    "get_config",
    "set_config",
]
