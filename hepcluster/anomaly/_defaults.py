"""Defaults of the anomaly search: one source for the functions and the command line.

A module without imports, so that ``hepcluster ucluster events --help`` reads them at once.
"""

__all__ = ["THRESHOLD"]

THRESHOLD = 3.0
"""Local significance (σ) of a cluster's excess in the signal region from which the
cluster counts as signal-rich."""
