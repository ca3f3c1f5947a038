"""Cluster Scanning: the scanner, robust standardisation and the local significances."""

from ..stats import local_significance, max_local_significance
from ._result import ScanResult
from ._robust import robust_mean_std, trimmed_sd_correction
from ._scanner import ClusterScanner

__all__ = [
    "ClusterScanner",
    "ScanResult",
    "local_significance",
    "max_local_significance",
    "robust_mean_std",
    "trimmed_sd_correction",
]
