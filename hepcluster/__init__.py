"""hepcluster: unsupervised clustering searches for new physics at colliders.

Two published methods as scikit-learn estimators:

- Cluster Scanning (I. Oleksiyuk et al., arXiv:2402.17714), a model-agnostic resonance
  search with k-means on jet images and a data-driven background estimate;
- UCluster (V. Mikuni and F. Canelli, arXiv:2010.07106), a graph attention network
  trained jointly with a differentiable deep k-means.
"""

import importlib
import logging

from ._config import config_context, get_config, set_config
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


def __getattr__(name):
    if name in _ESTIMATORS:
        value = getattr(importlib.import_module(_ESTIMATORS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_ESTIMATORS))


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
