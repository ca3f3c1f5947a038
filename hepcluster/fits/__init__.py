"""Parametric background estimates: the dijet functions and their likelihood fits."""

from ..stats import SQRT_S, dijet_function
from ._background import DijetFitBackground
from ._likelihood import bin_integrals

__all__ = ["SQRT_S", "DijetFitBackground", "bin_integrals", "dijet_function"]
