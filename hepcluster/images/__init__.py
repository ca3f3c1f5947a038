"""Jet images for Cluster Scanning: the transformer, sparse images and fast labelling.

- :class:`JetImageTransformer` turns the constituent matrix into centred, rotated,
  flipped, γ-scaled and smeared jet images (arXiv:2402.17714, §3);
- :class:`SparseImages` holds the unsmeared images, at most one pixel per constituent;
- :func:`nearest_centroid` labels them against k-means centroids through the metric
  ``K = GᵀG`` of the smearing operator, without building the dense smeared rows;
  :func:`ensemble_nearest_centroid` does so for every member of an ensemble in one pass.
"""

from ._sparse import (
    SparseImages,
    ensemble_nearest_centroid,
    gaussian_smearing_matrix,
    nearest_centroid,
    smearing_kernel,
    smearing_operator,
)
from ._transformer import JetImageTransformer

__all__ = [
    "JetImageTransformer",
    "SparseImages",
    "ensemble_nearest_centroid",
    "gaussian_smearing_matrix",
    "nearest_centroid",
    "smearing_kernel",
    "smearing_operator",
]
