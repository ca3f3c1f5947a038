"""Console logging set-up for the command line (library code only creates loggers)."""

import logging

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


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
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%H:%M:%S"))
        handler._hepcluster_console = True
        logger.addHandler(handler)
    return logger
