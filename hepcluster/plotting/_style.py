"""Shared matplotlib access, axes handling and the optional mplhep style."""

import numpy as np

from ..utils import import_optional


def pyplot():
    """Return ``matplotlib.pyplot`` or raise an ImportError naming the ``plot`` extra."""
    return import_optional("matplotlib.pyplot", extra="plot")


def new_axes(ax=None, **subplot_kwargs):
    """Return ``ax`` or a fresh axes on a new figure."""
    if ax is not None:
        return ax
    _, ax = pyplot().subplots(**subplot_kwargs)
    return ax


def hep_style():
    """The CMS-like mplhep style as a matplotlib style context; a no-op without mplhep."""
    plt = pyplot()
    try:
        import mplhep
    except ImportError:
        return plt.style.context({})
    return plt.style.context(mplhep.style.ROOT)


def panel_axes(ax, n_panels, *, caller="plot", **subplot_kwargs):
    """Axes of a multi-panel figure: ``ax`` (a sequence of axes) or a new row of panels.

    Parameters
    ----------
    ax : sequence of matplotlib.axes.Axes or None
        Where to draw, one axes per panel; ``None`` creates a figure with one row.
    n_panels : int
        Number of panels.
    caller : str, default="plot"
        Name used in the messages.
    **subplot_kwargs
        Passed to :func:`matplotlib.pyplot.subplots` when a figure is created.

    Returns
    -------
    ndarray of matplotlib.axes.Axes, shape (n_panels,)

    Raises
    ------
    ValueError
        If the number of axes is not ``n_panels``.
    """
    if ax is None:
        _, ax = pyplot().subplots(1, n_panels, squeeze=False, **subplot_kwargs)
    panels = np.ravel(np.asarray(ax, dtype=object))
    if panels.size != n_panels:
        raise ValueError(
            f"{caller} draws {n_panels} panel(s) and needs {n_panels} axes, got {panels.size}."
        )
    return panels
