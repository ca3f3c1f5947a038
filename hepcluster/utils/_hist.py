"""``hist.Hist`` objects of the package's spectra (the optional ``hist`` extra).

Every result builds its histograms here, so that axes are named and labelled the same way
everywhere: m_jj axes are ``hist.axis.Variable`` named ``"mjj"`` with the label
``"m_jj [GeV]"``. The objects follow the UHI ``PlottableHistogram`` protocol, so
``mplhep.histplot`` and other UHI tools draw them as they are.
"""

import numpy as np

from ._optional import import_optional

MJJ_AXIS = {"name": "mjj", "label": "m_jj [GeV]"}
"""Name and label of every m_jj axis."""


def hist_module():
    """``hist``, or an ImportError naming ``pip install "hepcluster[hist]"``."""
    return import_optional("hist", extra="hist")


def mjj_axis(edges, *, flow=False):
    """A variable-width m_jj axis over ``edges`` (GeV); no flow bins unless ``flow``."""
    hist = hist_module()
    return hist.axis.Variable(
        np.asarray(edges, dtype=np.float64), underflow=flow, overflow=flow, **MJJ_AXIS
    )


def weighted_hist(axes, values, variances, *, name, label):
    """A ``Weight``-storage histogram over ``axes`` with the given sums and variances.

    Parameters
    ----------
    axes : sequence of hist axes
        Without flow bins (the arrays fill the bins exactly).
    values, variances : array-like of the shape of the bins
        Σw and the variance of each bin.
    name, label : str
        Name and label of the histogram (the label is the quantity counted).

    Returns
    -------
    hist.Hist
    """
    hist = hist_module()
    histogram = hist.Hist(*axes, storage=hist.storage.Weight(), name=name, label=label)
    values = np.asarray(values, dtype=np.float64)
    variances = np.asarray(variances, dtype=np.float64)
    if values.shape != histogram.shape or variances.shape != histogram.shape:
        raise ValueError(
            f"values {values.shape} and variances {variances.shape} do not match the bins "
            f"{histogram.shape}."
        )
    view = histogram.view()
    view.value = values
    view.variance = variances
    return histogram
