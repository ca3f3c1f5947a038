"""Statistics of null distributions: a generalised-Pareto model of their upper tail."""

from ._binomial import clopper_pearson
from ._tail import NullTailModel, fit_null_tail, tail_significance

__all__ = ["NullTailModel", "clopper_pearson", "fit_null_tail", "tail_significance"]
