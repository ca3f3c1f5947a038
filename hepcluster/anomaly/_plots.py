"""The figure of the event-level anomaly search: one cluster against its background."""

import numpy as np

__all__ = ["plot_anomaly_cluster"]


def _log_range(*arrays):
    """A log-axis range that shows every count drawn but not a fit's far tail."""
    values = np.concatenate([np.ravel(a) for a in arrays])
    positive = values[np.isfinite(values) & (values > 0)]
    if not positive.size:
        return 0.5, 10.0
    return 0.5 * min(positive.min(), 1.0), 100.0 * positive.max()


def _bin_unit(edges):
    widths = np.diff(edges)
    if np.allclose(widths, widths[0]):
        return f"events / {widths[0]:g} GeV"
    return "events / bin"


def plot_anomaly_cluster(result, ax=None, *, cluster=None):
    """m_jj spectrum of one cluster of an anomaly search against its background estimate.

    Parameters
    ----------
    result : AnomalySearchResult
    ax : matplotlib Axes or sequence of two Axes, optional
        One Axes: the spectra (log scale). Two: the spectra and the per-bin local
        significance below. ``None`` creates a figure with both panels.
    cluster : int, optional
        Cluster to draw; defaults to ``result.best_cluster``.

    Returns
    -------
    matplotlib.axes.Axes or ndarray of Axes

    Examples
    --------
    See :meth:`AnomalySearchResult.plot`.
    """
    from ..plotting._style import pyplot

    if ax is None:
        plt = pyplot()
        _, ax = plt.subplots(
            2, 1, figsize=(8, 7), sharex=True, gridspec_kw={"height_ratios": (3, 1)}
        )
    panels = np.atleast_1d(ax)
    if panels.size > 2:
        raise ValueError(f"ax must be one Axes or two, got {panels.size}.")
    k = result.best_cluster if cluster is None else int(cluster)
    edges = result.bins
    low, high = result.signal_region_index[k]
    spectrum = result.cluster_spectra[k]
    estimate = result.background_estimates[k]
    signal = result.signal_spectra[k]
    top = panels[0]
    top.stairs(spectrum, edges, label=f"cluster {k} (data)", color="black")
    top.stairs(
        estimate,
        edges,
        label=f"background: fit of cluster {result.nearest_cluster[k]}, scaled to sidebands",
        color="tab:blue",
        linestyle="--",
    )
    if signal.any():
        top.stairs(signal, edges, label="signal (truth)", color="tab:red")
    top.axvspan(edges[low], edges[high], color="tab:orange", alpha=0.15, label="signal region")
    top.set_yscale("log")
    top.set_ylim(*_log_range(spectrum, signal[signal > 0]))
    top.set_ylabel(_bin_unit(edges))
    top.set_title(
        f"cluster {k}: local significance Z = {result.excess_significance[k]:.1f}\n"
        f"in {edges[low]:g}–{edges[high]:g} GeV, S/B = {result.signal_to_background[k]:.3g}",
        fontsize="medium",
    )
    top.legend(fontsize="x-small", loc="upper right")
    bottom = top
    if panels.size == 2:
        bottom = panels[1]
        bottom.stairs(result.local_significance[k], edges, color="black", label="per-bin local Z")
        bottom.axhline(0.0, color="grey", linewidth=0.8)
        bottom.axvspan(edges[low], edges[high], color="tab:orange", alpha=0.15)
        bottom.set_ylabel("local significance [σ]", fontsize="x-small")
        bottom.legend(fontsize="x-small", loc="best")
    bottom.set_xlabel(r"$m_{jj}$ [GeV]")
    top.set_xlim(edges[0], edges[-1])
    return ax
