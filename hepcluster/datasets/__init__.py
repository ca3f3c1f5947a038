"""Dijet events and jets: synthetic generators, readers of public formats, Pythia8."""

from ._event_table import EventTable
from ._hls4ml import read_hls4ml, write_hls4ml
from ._lhco import read_lhco, write_lhco
from ._parquet import read_parquet
from ._pythia_events import generate_pythia_events
from ._pythia_file import LHCO_RD, write_pythia_events
from ._pythia_jets import generate_pythia_jets
from ._root import read_root
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
    "LHCO_RD",
    "EventTable",
    "generate_pythia_events",
    "generate_pythia_jets",
    "make_dijet_events",
    "make_jets",
    "read_hls4ml",
    "read_lhco",
    "read_parquet",
    "read_root",
    "sample_dijet_spectrum",
    "write_hls4ml",
    "write_lhco",
    "write_pythia_events",
]
