"""Calibration of test statistics on bootstrap pseudo-experiments; global significances."""

from ._estimate import Estimate
from ._pseudo import run_pseudo_experiments
from ._result import CalibrationResult
from ._significance import empirical_p_value, global_significance

__all__ = [
    "CalibrationResult",
    "Estimate",
    "empirical_p_value",
    "global_significance",
    "run_pseudo_experiments",
]
