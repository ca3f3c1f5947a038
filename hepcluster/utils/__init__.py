"""Utilities shared by the whole package: progress bars, optional imports, registry."""

from ._optional import import_optional
from ._progress import progress, progress_enabled
from ._registry import all_estimators

__all__ = ["all_estimators", "import_optional", "progress", "progress_enabled"]
