"""matplotlib figures of arrays and result objects (mplhep style when installed).

Every function takes ``ax=None`` (one Axes; a sequence of Axes for the multi-panel
:func:`plot_scan` and :func:`plot_jet_images`), creates a figure when it is ``None``, and
returns the axes it drew on. Result objects are duck-typed: this package imports none of
the packages that produce them.
"""

from ._calibration import (
    plot_null_distribution,
    plot_significance_curves,
    plot_significance_improvement,
)
from ._events import plot_jet_observable, plot_mjj
from ._images import plot_jet_images
from ._scanning import (
    plot_cluster_spectra,
    plot_scan,
    plot_signal_vs_background,
    plot_standardized_spectra,
)

__all__ = [
    "plot_cluster_spectra",
    "plot_jet_images",
    "plot_jet_observable",
    "plot_mjj",
    "plot_null_distribution",
    "plot_scan",
    "plot_signal_vs_background",
    "plot_significance_curves",
    "plot_significance_improvement",
    "plot_standardized_spectra",
]
