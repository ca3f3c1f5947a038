"""One progress-bar helper for every long loop of the package."""

import os
import sys

from tqdm.auto import tqdm

from .._config import get_config


def progress_enabled(enabled=None):
    """Decide whether a progress bar is shown.

    Parameters
    ----------
    enabled : bool or None, default=None
        Explicit choice of the caller; ``None`` defers to
        ``hepcluster.get_config()["progress_bar"]``.

    Returns
    -------
    bool
        ``True`` when a bar should be drawn.
    """
    if enabled is not None:
        return bool(enabled)
    setting = get_config()["progress_bar"]
    if setting == "auto":
        return sys.stderr is not None and sys.stderr.isatty()
    return bool(setting)


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
        Passed on to :class:`tqdm.tqdm`.

    Returns
    -------
    tqdm.tqdm
        A bar, disabled (and silent) when progress bars are switched off. With the
        default ``"auto"`` setting, tqdm decides: no bar where standard error is not a
        terminal, and ``TQDM_DISABLE=1`` in the environment switches bars off.

    Examples
    --------
    >>> from hepcluster.utils import progress
    >>> sum(progress(range(4), desc="toys", enabled=False))
    6
    """
    if enabled is None and get_config()["progress_bar"] == "auto":
        # tqdm's own rule: no bar where stderr is not a terminal (disable=None), and the
        # user's TQDM_DISABLE environment variable, which an explicit argument would
        # override, still applies.
        if "TQDM_DISABLE" not in os.environ:
            kwargs.setdefault("disable", None)
    else:
        kwargs["disable"] = not progress_enabled(enabled)
    return tqdm(iterable, total=total, desc=desc, unit=unit, dynamic_ncols=True, **kwargs)
