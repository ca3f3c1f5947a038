"""Argument constraints shared by the public functions (scikit-learn's ``validate_params``).

Functions decorate themselves with :func:`sklearn.utils._param_validation.validate_params`
and these constraints; an invalid argument raises
:class:`~sklearn.utils._param_validation.InvalidParameterError` (a ``ValueError`` and a
``TypeError``) whose message names the argument, the function and the accepted values,
e.g. "The 'n_signal' parameter of make_dijet_events must be an int in the range [0, inf).
Got -1 instead."
"""

import functools
import inspect
import os
from numbers import Integral, Real

from ._sklearn_compat import (
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_params,
)

__all__ = [
    "COUNT",
    "PATH",
    "POSITIVE",
    "POSITIVE_COUNT",
    "Interval",
    "StrOptions",
    "parse_shard",
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


def validate(constraints, *, prefer_skip_nested_validation=True):
    """``validate_params(constraints)`` that also refuses a bool where a count is expected.

    Parameters
    ----------
    constraints : dict of str to list
        Argument name to its accepted constraints (scikit-learn's syntax); arguments left
        out are not checked.
    prefer_skip_nested_validation : bool, default=True
        As for :func:`~sklearn.utils._param_validation.validate_params`: ``False`` when the
        function fits estimators whose own parameters must still be validated.

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
    >>> twice(True)
    Traceback (most recent call last):
    ...
    sklearn.utils._param_validation.InvalidParameterError: The 'n' parameter of twice must be an int in the range [0, inf), not a bool. Got True instead.
    """  # noqa: E501
    # Python's bool is an Integral, and scikit-learn's Interval accepts it: a count given
    # as True is almost always a misplaced flag, so it is refused here.
    counts = {
        name: rule
        for name, rules in constraints.items()
        for rule in rules
        if isinstance(rule, Interval) and rule.type is Integral and "boolean" not in rules
    }

    def decorator(function):
        validated = validate_params(
            constraints, prefer_skip_nested_validation=prefer_skip_nested_validation
        )(function)
        signature = inspect.signature(function)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            bound = signature.bind_partial(*args, **kwargs)
            for name, rule in counts.items():
                value = bound.arguments.get(name)
                if isinstance(value, bool):
                    raise InvalidParameterError(
                        f"The {name!r} parameter of {function.__qualname__} must be {rule}, "
                        f"not a bool. Got {value!r} instead."
                    )
            return validated(*args, **kwargs)

        return wrapper

    return decorator


def parse_shard(shard):
    """``(index, count)`` of a shard given as ``"I/N"``, ``(I, N)`` or ``None`` (``(0, 1)``).

    Examples
    --------
    >>> from hepcluster.utils._validation import parse_shard
    >>> parse_shard("2/4"), parse_shard(None)
    ((2, 4), (0, 1))
    """
    if shard is None:
        return 0, 1
    if isinstance(shard, str):
        try:
            index, count = (int(part) for part in shard.split("/"))
        except ValueError:
            raise ValueError(f"shard must look like 'I/N' (e.g. '0/4'), got {shard!r}.") from None
    else:
        index, count = shard
    if isinstance(index, bool) or isinstance(count, bool):
        raise ValueError(f"shard must be two integers (index, count), got {shard!r}.")
    if not (isinstance(index, Integral) and isinstance(count, Integral)) or not (
        0 <= index < count
    ):
        raise ValueError(f"shard must be (index, count) with 0 <= index < count, got {shard!r}.")
    return int(index), int(count)
