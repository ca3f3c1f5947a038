"""The private scikit-learn API hepcluster uses, in one place.

scikit-learn's parameter validation (``sklearn.utils._param_validation``), the
``_fit_context`` decorator, the set_output configuration, the sample-weight and
feature-name checks and ``MiniBatchKMeans``' accumulated centre weights are private:
they may change in any release. Every module of the package imports them from here, so a
change in scikit-learn is met in this file alone, and the supported range
(:data:`SUPPORTED_SKLEARN`, the bounds in ``pyproject.toml``) is checked by the tests
against the installed version and the minimum one.
"""

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
    "num_samples",
    "validate_params",
]

SUPPORTED_SKLEARN = (">=1.6", "<1.10")
"""scikit-learn releases this module is written for (the dependency's bounds)."""

fit_context = _fit_context
get_output_config = _get_output_config
check_sample_weight = _check_sample_weight
check_feature_names_in = _check_feature_names_in
num_samples = _num_samples


def minibatch_counts(estimator):
    """Accumulated weight of each centre of a fitted ``MiniBatchKMeans``, or None.

    scikit-learn keeps it in the private ``_counts``; ``None`` where a release does not.
    """
    return getattr(estimator, "_counts", None)
