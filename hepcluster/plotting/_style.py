"""Shared matplotlib access and the optional mplhep style."""

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
