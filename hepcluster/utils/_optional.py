"""Lazy import of optional dependencies with a message naming the extra to install."""

import importlib


def import_optional(module_name, *, extra):
    """Import an optional dependency or explain which extra provides it.

    Parameters
    ----------
    module_name : str
        Importable name, e.g. ``"matplotlib.pyplot"`` or ``"pythia8mc"``.
    extra : str
        The ``hepcluster`` extra that installs it, e.g. ``"plot"``.

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    ImportError
        If the module is missing, naming ``pip install "hepcluster[extra]"``.

    Examples
    --------
    >>> from hepcluster.utils import import_optional
    >>> import_optional("math", extra="plot").sqrt(4.0)
    2.0
    """
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(
            f"{module_name!r} is required for this feature but is not installed. "
            f'Install it with: pip install "hepcluster[{extra}]"'
        ) from exc
