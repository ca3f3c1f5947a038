"""Global configuration: progress bars and the like, switched with a context manager."""

import os
from contextlib import contextmanager

_PROGRESS_CHOICES = ("auto", True, False)


def _progress_from_environment():
    value = os.environ.get("HEPCLUSTER_PROGRESS", "auto").strip().lower()
    if value in ("0", "false", "off", "no"):
        return False
    if value in ("1", "true", "on", "yes"):
        return True
    return "auto"


_global_config = {"progress_bar": _progress_from_environment()}


def get_config():
    """Return a copy of the current hepcluster configuration.

    Returns
    -------
    config : dict
        Keys are the parameters of :func:`set_config`.

    Examples
    --------
    >>> import hepcluster
    >>> sorted(hepcluster.get_config())
    ['progress_bar']
    """
    return dict(_global_config)


def set_config(progress_bar=None):
    """Set global hepcluster configuration.

    Parameters
    ----------
    progress_bar : {"auto", True, False}, default=None
        Show progress bars on long loops (generation, calibration, training).
        ``"auto"`` shows them only when standard error is a terminal, so that
        log files and thousands of pseudo-experiments stay quiet. The environment
        variable ``HEPCLUSTER_PROGRESS=0`` sets ``False`` at import time.
        ``None`` leaves the setting unchanged.

    Examples
    --------
    >>> import hepcluster
    >>> hepcluster.set_config(progress_bar=False)
    >>> hepcluster.get_config()["progress_bar"]
    False
    >>> hepcluster.set_config(progress_bar="auto")
    """
    if progress_bar is not None:
        if progress_bar not in _PROGRESS_CHOICES:
            raise ValueError(
                f"progress_bar must be one of {_PROGRESS_CHOICES}, got {progress_bar!r}."
            )
        _global_config["progress_bar"] = progress_bar


@contextmanager
def config_context(**new_config):
    """Temporarily change the global configuration inside a ``with`` block.

    Parameters
    ----------
    **new_config
        Keyword arguments of :func:`set_config`.

    Examples
    --------
    >>> import hepcluster
    >>> with hepcluster.config_context(progress_bar=False):
    ...     hepcluster.get_config()["progress_bar"]
    False
    """
    old_config = get_config()
    set_config(**new_config)
    try:
        yield
    finally:
        set_config(**old_config)
