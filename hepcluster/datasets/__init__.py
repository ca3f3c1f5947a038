"""Dijet events and jets: synthetic generators, readers of public formats, Pythia8."""

from ._event_table import EventTable
from ._synthetic import (
    BACKGROUND_DIJET_PARAMS,
    JET_MASSES,
    make_dijet_events,
    make_jets,
    sample_dijet_spectrum,
)

__all__ = [
    "BACKGROUND_DIJET_PARAMS",
    "JET_MASSES",
    "EventTable",
    "make_dijet_events",
    "make_jets",
    "sample_dijet_spectrum",
]
