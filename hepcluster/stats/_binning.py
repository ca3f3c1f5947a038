"""The m_jj binning shared by every search: default edges, bin indices and histograms.

One convention everywhere (scanner, dijet fit, anomaly search, calibration): bin i holds
``edges[i] <= m_jj < edges[i + 1]``, the last edge is excluded, and values outside the
edges belong to no bin.
"""

import numpy as np

from ._defaults import CLUSTER_SCANNING_BINS

__all__ = ["CLUSTER_SCANNING_BINS", "bin_index", "check_bin_edges", "histogram"]


_COUNT_WORDS = {2: "two", 3: "three", 4: "four"}


def check_bin_edges(edges, *, name="bin edges", min_edges=2):
    """Bin edges as a float array: one-dimensional, finite, strictly increasing.

    The one validator of m_jj bin edges, used by :func:`bin_index`, :func:`histogram`
    and every estimator that takes ``bins``.

    Parameters
    ----------
    edges : array-like
        Candidate edges (m_jj in GeV).
    name : str, default="bin edges"
        How the messages name them (e.g. an estimator's parameter ``"bins"``).
    min_edges : int, default=2
        Fewest edges accepted (two make one bin).

    Returns
    -------
    ndarray of float64 of shape (n_bins + 1,)

    Raises
    ------
    ValueError
        If the edges are not a one-dimensional sequence of at least ``min_edges``
        finite, strictly increasing values; the message names the first fault.

    Examples
    --------
    >>> from hepcluster.stats import check_bin_edges
    >>> check_bin_edges([3000, 3100, 3200]).tolist()
    [3000.0, 3100.0, 3200.0]
    >>> check_bin_edges([3100.0, 3000.0], name="bins")
    Traceback (most recent call last):
    ...
    ValueError: bins must be strictly increasing, got [3100.0, 3000.0].
    """
    try:
        array = np.asarray(edges, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be m_jj edges in GeV, got {edges!r} ({error}).") from None
    count = _COUNT_WORDS.get(min_edges, str(min_edges))
    if array.ndim != 1 or array.size < min_edges:
        raise ValueError(
            f"{name} must be a one-dimensional sequence of at least {count} strictly "
            f"increasing m_jj edges, got shape {array.shape}."
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(
            f"{name} must be finite, strictly increasing m_jj edges in GeV, got {array.tolist()}."
        )
    if np.any(np.diff(array) <= 0):
        raise ValueError(f"{name} must be strictly increasing, got {array.tolist()}.")
    return array


def bin_index(values, edges):
    """Index of the bin of each value; -1 outside the edges (the last edge is excluded).

    Parameters
    ----------
    values : array-like
        Values to bin (m_jj in GeV), any shape; NaN belongs to no bin.
    edges : array-like of shape (n_bins + 1,)
        Finite, strictly increasing bin edges.

    Returns
    -------
    ndarray of int, the shape of ``values``
        i where ``edges[i] <= value < edges[i + 1]``, otherwise -1.

    Raises
    ------
    ValueError
        If ``edges`` are not finite, strictly increasing and at least two.

    Examples
    --------
    >>> from hepcluster.stats import bin_index
    >>> bin_index([2999.0, 3000.0, 3150.0, 3199.9, 3200.0], [3000.0, 3100.0, 3200.0]).tolist()
    [-1, 0, 1, 1, -1]
    """
    edges = check_bin_edges(edges)
    values = np.asarray(values, dtype=np.float64)
    index = np.asarray(np.searchsorted(edges, values, side="right") - 1, dtype=np.intp)
    # side="right" puts the last edge (and NaN) at n_bins: outside, like values below.
    return np.where(index < edges.size - 1, index, -1)


def histogram(values, edges, *, weights=None):
    """Weighted counts per bin, with the convention of :func:`bin_index`.

    Unlike :func:`numpy.histogram`, the last bin does not include its upper edge, so a value
    on an inner edge and one on the last edge are treated alike (the upper edge of a bin
    always belongs to the next one, or to none).

    Parameters
    ----------
    values : array-like
        Values to bin (m_jj in GeV), any shape.
    edges : array-like of shape (n_bins + 1,)
        Finite, strictly increasing bin edges.
    weights : array-like of the shape of ``values``, default=None
        Weight of each value (e.g. bootstrap multiplicities); None counts each once.

    Returns
    -------
    ndarray of float of shape (n_bins,)
        Sum of the weights of the values in each bin; values outside the edges are not
        counted.

    Raises
    ------
    ValueError
        If ``edges`` are invalid or ``weights`` do not have the shape of ``values``.

    Examples
    --------
    >>> from hepcluster.stats import histogram
    >>> histogram([3000.0, 3050.0, 3100.0, 3200.0], [3000.0, 3100.0, 3200.0]).tolist()
    [2.0, 1.0]
    >>> histogram([3000.0, 3150.0], [3000.0, 3100.0, 3200.0], weights=[0.5, 2.0]).tolist()
    [0.5, 2.0]
    """
    edges = check_bin_edges(edges)
    values = np.asarray(values, dtype=np.float64)
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != values.shape:
            raise ValueError(
                f"weights must have the shape of values {values.shape}, got {weights.shape}."
            )
        weights = weights.ravel()
    values = values.ravel()
    # numpy.histogram includes the last edge: drop what lies on it (or beyond, or NaN).
    # The counts are then numpy's own, summed in numpy's order.
    inside = values < edges[-1]
    counts, _ = np.histogram(
        values[inside], bins=edges, weights=None if weights is None else weights[inside]
    )
    return counts.astype(np.float64, copy=False)
