"""Registry of the public estimators, used by the common tests and the docs."""

import importlib
import inspect
import pkgutil

from sklearn.base import BaseEstimator


def all_estimators():
    """List every public scikit-learn estimator defined in hepcluster.

    Walks all public modules of the package, so that an estimator cannot avoid the
    common checks (``tests/test_common.py``) by being forgotten in a list.

    Returns
    -------
    estimators : list of (str, type)
        ``(name, class)`` pairs sorted by name.

    Examples
    --------
    >>> from hepcluster.utils import all_estimators
    >>> all(isinstance(name, str) for name, _ in all_estimators())
    True
    """
    import hepcluster

    found = {}
    for module_info in pkgutil.walk_packages(hepcluster.__path__, prefix="hepcluster."):
        parts = module_info.name.split(".")[1:]
        # private modules are reached through their package; the command line holds no
        # estimators (and nothing below it imports it)
        if any(part.startswith("_") for part in parts) or parts[0] == "cli":
            continue
        try:
            module = importlib.import_module(module_info.name)
        except ImportError:  # a module whose optional extra is missing
            continue
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(obj, BaseEstimator)
                and not name.startswith("_")
                and obj.__module__.startswith("hepcluster.")
                and not inspect.isabstract(obj)
            ):
                found[name] = obj
    return sorted(found.items())
