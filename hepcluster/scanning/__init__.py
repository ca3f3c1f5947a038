"""Cluster Scanning: the scanner, the window scan, robust standardisation, local significances."""

from ..stats import local_significance, max_local_significance
from ._result import ScanResult
from ._robust import robust_mean_std, trimmed_sd_correction
from ._scanner import ClusterScanner
from ._window_scan import WindowScan, WindowScanResult, window_bins

__all__ = [
    "ClusterScanner",
    "ScanResult",
    "WindowScan",
    "WindowScanResult",
    "local_significance",
    "max_local_significance",
    "robust_mean_std",
    "trimmed_sd_correction",
    "window_bins",
]
