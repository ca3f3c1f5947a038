"""The private scikit-learn API hepcluster uses, in one place.

scikit-learn's parameter validation (``sklearn.utils._param_validation``), the
``_fit_context`` decorator, the set_output configuration, the sample-weight and
feature-name checks and ``MiniBatchKMeans``' accumulated centre weights are private:
they may change in any release. Every module of the package imports them from here, so a
change in scikit-learn is met in this file alone, and the supported range
(:data:`SUPPORTED_SKLEARN`, the bounds in ``pyproject.toml``) is checked by the tests
against the installed version and the minimum one.
"""

import inspect

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_params,
)
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import (
    _check_feature_names_in,
    _check_sample_weight,
    _num_samples,
)

__all__ = [
    "SUPPORTED_SKLEARN",
    "HasMethods",
    "Hidden",
    "Interval",
    "InvalidParameterError",
    "StrOptions",
    "check_feature_names_in",
    "check_sample_weight",
    "fit_context",
    "get_output_config",
    "minibatch_counts",
    "minibatch_ewa_inertia",
    "num_samples",
    "validate_params",
]

SUPPORTED_SKLEARN = (">=1.6", "<1.10")
"""scikit-learn releases this module is written for (the dependency's bounds)."""

fit_context = _fit_context
get_output_config = _get_output_config
check_feature_names_in = _check_feature_names_in

_SAMPLE_WEIGHT_OPTIONS = frozenset(inspect.signature(_check_sample_weight).parameters)


def check_sample_weight(sample_weight, X, *, allow_all_zero_weights=False, **options):
    """scikit-learn's sample-weight check, on every supported release.

    ``allow_all_zero_weights`` came with scikit-learn 1.9; earlier releases accept all-zero
    weights silently, so there the refusal (the default) is made here, with the same
    ``ValueError``.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,), float or None
    X : array-like of shape (n_samples, ...)
        Only its number of rows is read.
    allow_all_zero_weights : bool, default=False
    **options
        Further keyword arguments of ``sklearn.utils.validation._check_sample_weight``
        (``dtype``, ``copy``, ``ensure_non_negative``).

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    if "allow_all_zero_weights" in _SAMPLE_WEIGHT_OPTIONS:
        options["allow_all_zero_weights"] = allow_all_zero_weights
        return _check_sample_weight(sample_weight, X, **options)
    weight = _check_sample_weight(sample_weight, X, **options)
    if not allow_all_zero_weights and weight.size and not np.any(weight):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return weight


num_samples = _num_samples


def minibatch_counts(estimator):
    """Accumulated weight of each centre of a fitted ``MiniBatchKMeans``, or None.

    scikit-learn keeps it in the private ``_counts``; ``None`` where a release does not.
    """
    return getattr(estimator, "_counts", None)


def minibatch_ewa_inertia(estimator):
    """Smoothed per-row batch inertia of a fitted ``MiniBatchKMeans``, or NaN.

    scikit-learn keeps it in the private ``_ewa_inertia``; NaN where a release does not.
    """
    return getattr(estimator, "_ewa_inertia", float("nan"))
