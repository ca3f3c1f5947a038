"""matplotlib figures of every result object (mplhep style when installed)."""

from ._events import plot_jet_observable, plot_mjj

__all__ = ["plot_jet_observable", "plot_mjj"]
