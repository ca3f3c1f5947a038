"""Argument constraints shared by the public functions (scikit-learn's ``validate_params``).

Functions decorate themselves with :func:`sklearn.utils._param_validation.validate_params`
and these constraints; an invalid argument raises
:class:`~sklearn.utils._param_validation.InvalidParameterError` (a ``ValueError`` and a
``TypeError``) whose message names the argument, the function and the accepted values,
e.g. "The 'n_signal' parameter of make_dijet_events must be an int in the range [0, inf).
Got -1 instead."
"""

import os
from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions, validate_params

__all__ = [
    "COUNT",
    "PATH",
    "POSITIVE",
    "POSITIVE_COUNT",
    "Interval",
    "StrOptions",
    "validate",
]

#: An integer ≥ 0 (a number of events or jets that may be zero).
COUNT = Interval(Integral, 0, None, closed="left")
#: An integer ≥ 1.
POSITIVE_COUNT = Interval(Integral, 1, None, closed="left")
#: A finite number > 0 (a mass, an energy, a radius).
POSITIVE = Interval(Real, 0, None, closed="neither")
#: A file-system path.
PATH = [str, os.PathLike]


def validate(constraints):
    """``validate_params(constraints)`` for a function that calls no other validated one.

    Parameters
    ----------
    constraints : dict of str to list
        Argument name to its accepted constraints (scikit-learn's syntax); arguments left
        out are not checked.

    Returns
    -------
    callable
        The decorator.

    Examples
    --------
    >>> from hepcluster.utils._validation import COUNT, validate
    >>> @validate({"n": [COUNT]})
    ... def twice(n):
    ...     return 2 * n
    >>> twice(3)
    6
    >>> twice(-1)
    Traceback (most recent call last):
    ...
    sklearn.utils._param_validation.InvalidParameterError: The 'n' parameter of twice must be an int in the range [0, inf). Got -1 instead.
    """  # noqa: E501
    return validate_params(constraints, prefer_skip_nested_validation=True)
