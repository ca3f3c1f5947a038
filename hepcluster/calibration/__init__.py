"""Calibration of test statistics on bootstrap pseudo-experiments; global significances."""

from ._comparison import MethodComparison, compare_methods
from ._estimate import Estimate
from ._pseudo import run_pseudo_experiments
from ._result import CalibrationResult
from ._significance import empirical_p_value, global_significance

__all__ = [
    "CalibrationResult",
    "Estimate",
    "MethodComparison",
    "compare_methods",
    "empirical_p_value",
    "global_significance",
    "run_pseudo_experiments",
]
