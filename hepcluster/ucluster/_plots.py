"""Figures of UCluster: a cluster of the anomaly search, and classes against clusters."""

import numpy as np

__all__ = ["plot_anomaly_cluster", "plot_confusion_matrix"]


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


def plot_anomaly_cluster(result, cluster=None, ax=None):
    """m_jj spectrum of one cluster of an anomaly search against its background estimate.

    Parameters
    ----------
    result : AnomalySearchResult
    cluster : int, optional
        Cluster to draw; defaults to ``result.best_cluster``.
    ax : matplotlib Axes or sequence of two Axes, optional
        One Axes: the spectra (log scale). Two: the spectra and the per-bin local
        significance below. ``None`` creates a figure with both panels.

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


def plot_confusion_matrix(y_true, labels, *, n_clusters=None, match=True, ax=None):
    """Counts of every true class in every cluster, with a colour bar.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True classes (e.g. ``"W"``, ``"Z"``, ``"top"``).
    labels : array-like of shape (n_samples,), int
        Cluster of each sample, in ``0 … n_clusters − 1``.
    n_clusters : int, optional
        Number of clusters (columns); defaults to ``max(labels) + 1``.
    match : bool, default=True
        Order the clusters to match the classes best (the assignment that
        :func:`hepcluster.metrics.cluster_accuracy` uses), so the diagonal holds the
        matched counts.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Its title gives the cluster accuracy.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from hepcluster.ucluster import plot_confusion_matrix
    >>> ax = plot_confusion_matrix(["W", "W", "Z", "top"], [1, 1, 0, 2])
    >>> ax.get_title()
    'cluster accuracy 1.00'
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['1', '0', '2']
    """
    from scipy.optimize import linear_sum_assignment

    from ..plotting._style import new_axes

    y_true = np.asarray(y_true)
    labels = np.asarray(labels, dtype=np.int64)
    n_clusters = int(labels.max()) + 1 if n_clusters is None else int(n_clusters)
    classes = np.unique(y_true)
    matrix = np.array(
        [[np.sum((y_true == c) & (labels == k)) for k in range(n_clusters)] for c in classes]
    )
    order = np.arange(n_clusters)
    rows, columns = linear_sum_assignment(matrix, maximize=True)
    accuracy = matrix[rows, columns].sum() / max(matrix.sum(), 1)
    if match:
        order = np.concatenate([columns, np.setdiff1d(order, columns)])
    matrix = matrix[:, order]
    ax = new_axes(ax)
    image = ax.imshow(matrix, cmap="Blues", vmin=0)
    ax.figure.colorbar(image, ax=ax, label="samples")
    size = max(6.0, min(14.0, 60.0 / max(matrix.shape)))
    for (i, k), value in np.ndenumerate(matrix):
        dark = value > 0.5 * matrix.max()
        color = "white" if dark else "black"
        ax.text(k, i, f"{value:,}", ha="center", va="center", fontsize=size, color=color)
    ax.set_xticks(range(n_clusters), [str(k) for k in order])
    ax.set_yticks(range(len(classes)), [str(c) for c in classes])
    ax.set_xlabel("cluster")
    ax.set_ylabel("true class")
    ax.minorticks_off()
    ax.set_title(f"cluster accuracy {accuracy:.2f}")
    return ax
