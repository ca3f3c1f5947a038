"""The one place where the command line writes a figure."""

import logging
from contextlib import contextmanager

__all__ = ["figure_style", "save_figure"]

logger = logging.getLogger(__name__)

DPI = 90
"""Resolution of the figures the subcommands write (dots per inch)."""


@contextmanager
def figure_style():
    """The package's plot style (mplhep's CMS style when installed) and pyplot.

    Yields
    ------
    module
        ``matplotlib.pyplot``; a missing matplotlib raises an ImportError naming the
        ``plot`` extra.
    """
    from ..plotting._style import hep_style, pyplot

    plt = pyplot()
    with hep_style():
        yield plt


def save_figure(fig, path, dpi=DPI):
    """Lay out, write and close a figure.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : path-like
        File to write; its suffix chooses the format (PNG for every subcommand).
    dpi : float, default=90

    Returns
    -------
    str
        The file name, for the summaries that list the figures written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.plot([0, 1], [1, 0])
    >>> save_figure(fig, pathlib.Path(tempfile.mkdtemp()) / "line.png")
    'line.png'
    """
    import matplotlib.pyplot as plt

    try:
        fig.tight_layout()
        fig.savefig(path, dpi=dpi)
    finally:
        plt.close(fig)
    logger.info("wrote %s", path)
    return getattr(path, "name", str(path))
