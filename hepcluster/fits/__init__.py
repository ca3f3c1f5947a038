"""Parametric background estimates: the dijet functions and their fits."""

from ._background import DijetFitBackground, bin_integrals
from ._dijet_functions import SQRT_S, dijet_function

__all__ = ["SQRT_S", "DijetFitBackground", "bin_integrals", "dijet_function"]
