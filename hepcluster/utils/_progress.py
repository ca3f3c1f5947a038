"""One progress-bar helper for every long loop of the package.

The decision whether a bar is drawn is tqdm's own: ``disable=None`` (no bar where the
output is not a terminal) under the default ``progress_bar="auto"`` setting, and the
``TQDM_DISABLE`` environment variable, which tqdm reads when it is imported, always wins
over a hepcluster setting that would show a bar.
"""

import os
import sys

from tqdm.auto import tqdm

from .._config import get_config


def _setting(enabled):
    """The effective switch: the caller's ``enabled`` or the global configuration."""
    if enabled is not None:
        return bool(enabled)
    return get_config()["progress_bar"]


def _disable_argument(enabled):
    """Keyword arguments for tqdm's ``disable`` (none when the environment decides)."""
    setting = _setting(enabled)
    if setting is False:
        return {"disable": True}
    if "TQDM_DISABLE" in os.environ:
        # tqdm applied TQDM_DISABLE to its defaults at import; an explicit ``disable``
        # argument would override it, so none is passed.
        return {}
    if setting == "auto":
        return {"disable": None}
    return {"disable": False}


def progress_enabled(enabled=None):
    """Decide whether a progress bar may be shown.

    Parameters
    ----------
    enabled : bool or None, default=None
        Explicit choice of the caller; ``None`` defers to
        ``hepcluster.get_config()["progress_bar"]``.

    Returns
    -------
    bool
        ``False`` when bars are switched off (by the setting or by ``TQDM_DISABLE`` in
        the environment); under the ``"auto"`` setting whether standard error is a
        terminal, which is what tqdm's ``disable=None`` checks for its default output.

    Examples
    --------
    >>> import hepcluster
    >>> from hepcluster.utils import progress_enabled
    >>> with hepcluster.config_context(progress_bar=False):
    ...     progress_enabled()
    False
    """
    setting = _setting(enabled)
    if setting is False or os.environ.get("TQDM_DISABLE"):
        return False
    if setting == "auto":
        return sys.stderr is not None and sys.stderr.isatty()
    return True


def progress(iterable=None, *, total=None, desc=None, unit="it", enabled=None, **kwargs):
    """Wrap an iterable in a tqdm progress bar that respects the global switch.

    Parameters
    ----------
    iterable : iterable, optional
        What to iterate over. Leave out to update the bar by hand.
    total : int, optional
        Number of expected iterations.
    desc : str, optional
        Label shown left of the bar.
    unit : str, default="it"
        Unit of one iteration ("event", "jet", "toy", ...).
    enabled : bool or None, default=None
        Force the bar on or off; ``None`` follows :func:`hepcluster.set_config`.
    **kwargs
        Passed on to :class:`tqdm.tqdm`; an explicit ``disable`` wins over everything.

    Returns
    -------
    tqdm.tqdm
        A bar, disabled (and silent) when progress bars are switched off.

    Notes
    -----
    - ``progress_bar="auto"`` (the default) passes ``disable=None``: tqdm draws a bar only
      where its output is a terminal.
    - ``progress_bar=True`` (or ``enabled=True``) draws a bar, also into log files.
    - ``progress_bar=False`` (or ``enabled=False``) never draws one.
    - ``TQDM_DISABLE`` in the environment (tqdm's own switch) disables bars under
      ``"auto"`` and ``True`` alike.

    Examples
    --------
    >>> from hepcluster.utils import progress
    >>> sum(progress(range(4), desc="toys", enabled=False))
    6
    """
    for key, value in _disable_argument(enabled).items():
        kwargs.setdefault(key, value)
    return tqdm(iterable, total=total, desc=desc, unit=unit, dynamic_ncols=True, **kwargs)
