"""Parametric background estimates: the dijet functions and their fits."""

from ._dijet_functions import SQRT_S, dijet_function

__all__ = ["SQRT_S", "dijet_function"]
