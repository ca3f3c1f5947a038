"""Figures of event tables: m_jj spectra and jet observables, signal against background."""

import numpy as np

from ._style import new_axes

_LABELS = {
    "jet_mass": r"jet mass $m_J$ [GeV]",
    "tau21": r"$\tau_{21} = \tau_2/\tau_1$ (dimensionless)",
    "jet_pt": r"jet $p_T$ [GeV]",
    "jet_eta": r"jet pseudorapidity $\eta$ (dimensionless)",
}
_DENSITY_LABELS = {
    "jet_mass": "fraction of jets / GeV",
    "tau21": r"fraction of jets / unit $\tau_{21}$",
    "jet_pt": "fraction of jets / GeV",
    "jet_eta": r"fraction of jets / unit $\eta$",
}


def plot_mjj(events, *, bins=60, log=True, ax=None):
    """Histogram the m_jj spectrum of background and signal events.

    Parameters
    ----------
    events : EventTable
        Events with truth labels ``is_signal``.
    bins : int or array-like, default=60
        Bins in GeV (as for :func:`numpy.histogram`).
    log : bool, default=True
        Logarithmic y axis.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made otherwise.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = new_axes(ax)
    edges = np.histogram_bin_edges(events.mjj, bins=bins)
    for label, mask, colour in (
        ("QCD", ~events.is_signal, "tab:blue"),
        ("signal", events.is_signal, "tab:red"),
    ):
        if mask.any():
            ax.hist(
                events.mjj[mask],
                bins=edges,
                weights=events.weight[mask],
                histtype="step",
                label=f"{label} ({int(mask.sum())})",
                color=colour,
            )
    ax.set_xlabel(r"$m_{jj}$ [GeV]")
    ax.set_ylabel("events / bin (weighted)")
    if log:
        ax.set_yscale("log")
    ax.legend()
    return ax


def plot_jet_observable(events, *, observable="jet_mass", bins=50, range=None, ax=None):
    """Histogram a per-jet observable (both jets) for background and signal, normalized.

    Parameters
    ----------
    events : EventTable
    observable : {"jet_mass", "tau21", "jet_pt", "jet_eta"}, default="jet_mass"
        Field of the event table.
    bins : int or array-like, default=50
    range : (float, float), optional
        Histogram range.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    if observable not in _LABELS:
        raise ValueError(f"observable must be one of {sorted(_LABELS)}, got {observable!r}.")
    ax = new_axes(ax)
    values = getattr(events, observable)
    for label, mask, colour in (
        ("QCD", ~events.is_signal, "tab:blue"),
        ("signal", events.is_signal, "tab:red"),
    ):
        if mask.any():
            ax.hist(
                values[mask].ravel(),
                bins=bins,
                range=range,
                density=True,
                histtype="step",
                label=label,
                color=colour,
            )
    ax.set_xlabel(_LABELS[observable])
    ax.set_ylabel(_DENSITY_LABELS[observable])
    ax.legend()
    return ax
