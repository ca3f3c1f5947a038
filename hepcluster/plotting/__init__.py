"""matplotlib figures of every result object (mplhep style when installed)."""

from ._calibration import (
    plot_null_distribution,
    plot_significance_curves,
    plot_significance_improvement,
)
from ._events import plot_jet_observable, plot_mjj
from ._images import plot_jet_images
from ._scanning import plot_cluster_spectra, plot_signal_vs_background, plot_standardised_spectra

__all__ = [
    "plot_cluster_spectra",
    "plot_jet_images",
    "plot_jet_observable",
    "plot_mjj",
    "plot_null_distribution",
    "plot_signal_vs_background",
    "plot_significance_curves",
    "plot_significance_improvement",
    "plot_standardised_spectra",
]
