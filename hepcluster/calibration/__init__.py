"""Calibration of test statistics on bootstrap pseudo-experiments; global significances.

:func:`run_pseudo_experiments` turns an :class:`~hepcluster.datasets.EventTable` into
the rows of a search estimator through an explicit adapter (:class:`JetPairInputs`,
:class:`EventInputs`, :class:`EmbeddingInputs`), chosen from the estimator's
``sample_unit`` or given, and calibrates its ``test_statistic``; :func:`compare_methods`
sets methods side by side (arXiv:2402.17714, §3.3 and §4);
:func:`run_shared_pseudo_experiments` calibrates several methods on the same toys, fitting
once where they differ only in their test statistic.
"""

from ..stats import empirical_p_value, global_significance
from ._comparison import MethodComparison, compare_methods
from ._estimate import Estimate
from ._inputs import EmbeddingInputs, EstimatorInputs, EventInputs, JetPairInputs
from ._pseudo import run_pseudo_experiments, run_shared_pseudo_experiments
from ._result import CalibrationResult

__all__ = [
    "CalibrationResult",
    "EmbeddingInputs",
    "Estimate",
    "EstimatorInputs",
    "EventInputs",
    "JetPairInputs",
    "MethodComparison",
    "compare_methods",
    "empirical_p_value",
    "global_significance",
    "run_pseudo_experiments",
    "run_shared_pseudo_experiments",
]
