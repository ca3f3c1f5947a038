"""hepcluster: unsupervised clustering searches for new physics at colliders.

Two published methods as scikit-learn estimators:

- Cluster Scanning (I. Oleksiyuk et al., arXiv:2402.17714), a model-agnostic resonance
  search with k-means on jet images and a data-driven background estimate;
- UCluster (V. Mikuni and F. Canelli, arXiv:2010.07106), a graph attention network
  trained jointly with a differentiable deep k-means.
"""

import logging

from ._config import config_context, get_config, set_config
from ._lazy import lazy_exports
from ._version import __version__

logging.getLogger(__name__).addHandler(logging.NullHandler())

# The estimators load scikit-learn, numba and their kernels: import them on first use, so
# that ``import hepcluster`` and ``hepcluster --help`` start at once.
_ESTIMATORS = {
    "ClusterScanner": ".scanning",
    "DeepKMeans": ".ucluster",
    "DijetFitBackground": ".fits",
    "JetImageTransformer": ".images",
    "UClusterEmbedding": ".ucluster",
    "WindowScan": ".scanning",
}


__getattr__, __dir__ = lazy_exports(__name__, _ESTIMATORS)


__all__ = [
    "ClusterScanner",
    "DeepKMeans",
    "DijetFitBackground",
    "JetImageTransformer",
    "UClusterEmbedding",
    "WindowScan",
    "__version__",
    "config_context",
    "get_config",
    "set_config",
]
