"""Console logging set-up for the command line (library code only creates loggers)."""

import logging
import sys

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class _StandardErrorHandler(logging.StreamHandler):
    """Writes to the current ``sys.stderr``, also when it was replaced after configuration.

    A handler bound to the stream of its first configuration would keep writing to a stream
    that is gone (a test's captured stderr, a redirected one).
    """

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass  # always the current sys.stderr


def configure_logging(verbosity=0):
    """Send hepcluster log records to standard error.

    Parameters
    ----------
    verbosity : int, default=0
        ``-1`` warnings only, ``0`` info, ``1`` or more debug.

    Returns
    -------
    logging.Logger
        The package logger ``logging.getLogger("hepcluster")``.
    """
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    logger = logging.getLogger("hepcluster")
    logger.setLevel(level)
    if not any(getattr(h, "_hepcluster_console", False) for h in logger.handlers):
        handler = _StandardErrorHandler()
        handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%H:%M:%S"))
        handler._hepcluster_console = True
        logger.addHandler(handler)
    return logger
