"""The package's own error types: what went wrong is the user's to fix, and the message says how.

The command line ends every :class:`HepclusterError` with a one-line message and exit
status 2. Each type also derives from the built-in exception callers caught before these
types existed (:class:`ValueError`), so that ``except ValueError`` keeps working.
"""

__all__ = ["HepclusterError", "IncompatibleInputError", "InvalidFileError"]


class HepclusterError(Exception):
    """Base of the errors the user can fix: bad values, damaged files, mismatched inputs."""


class InvalidFileError(HepclusterError, ValueError):
    """A file is damaged, cut short, edited, empty or of another kind than expected.

    The message names the file and the cause (e.g. "not a zip archive: it starts with a
    PNG signature", "checksum mismatch", "missing field 'bins'").

    Examples
    --------
    >>> issubclass(InvalidFileError, ValueError)
    True
    """


class IncompatibleInputError(HepclusterError, ValueError):
    """Two inputs that must belong together do not: the message names the differing field."""
