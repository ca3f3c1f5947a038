"""Figures of UCluster: true classes against clusters."""

import numpy as np

__all__ = ["plot_confusion_matrix"]


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
