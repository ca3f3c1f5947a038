"""Packages whose public names are imported on first access (PEP 562)."""

import importlib
import sys


def lazy_exports(package, sources):
    """``__getattr__`` and ``__dir__`` for ``package``, importing each name on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    sources : dict of str to str
        Public name to the (relative) module that defines it.

    Returns
    -------
    (callable, callable)
        The module-level ``__getattr__`` and ``__dir__``; a name, once imported, is kept
        in the package's namespace.
    """

    def __getattr__(name):
        if name in sources:
            value = getattr(importlib.import_module(sources[name], package), name)
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted({*vars(sys.modules[package]), *sources})

    return __getattr__, __dir__
