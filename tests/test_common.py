"""scikit-learn's common estimator checks over every public estimator of hepcluster."""

from sklearn.utils.estimator_checks import parametrize_with_checks

import hepcluster
from hepcluster.utils import all_estimators

# Estimators whose defaults only make sense on physics data get a generic configuration
# here (small, fast, absolute windows switched off); every other one is checked as built.
CHECK_PARAMS = {}

# Checks an estimator must skip, each with the reason (see the developer guide).
EXPECTED_FAILED_CHECKS = {}


def _instances():
    return [cls(**CHECK_PARAMS.get(name, {})) for name, cls in all_estimators()]


@parametrize_with_checks(
    _instances(),
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(type(est).__name__, {}),
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_registry_covers_every_exported_estimator():
    registered = {name for name, _ in all_estimators()}
    exported = {
        name
        for name in hepcluster.__all__
        if isinstance(getattr(hepcluster, name), type)
        and hasattr(getattr(hepcluster, name), "get_params")
    }
    assert exported <= registered


def test_check_params_name_only_registered_estimators():
    registered = {name for name, _ in all_estimators()}
    assert set(CHECK_PARAMS) <= registered
    assert set(EXPECTED_FAILED_CHECKS) <= registered
