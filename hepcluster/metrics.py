"""Metrics of clustering searches: cluster accuracy, signal fraction improvement, S/B."""

import numpy as np
from scipy.optimize import linear_sum_assignment


def cluster_accuracy(y_true, labels):
    """Fraction of samples whose cluster maps to their class under the best matching.

    Clusters are matched one-to-one to classes so that the number of correctly assigned
    samples is largest (Hungarian algorithm, :func:`scipy.optimize.linear_sum_assignment`);
    with more clusters than classes, unmatched clusters count as wrong.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True classes (any hashable labels).
    labels : array-like of shape (n_samples,)
        Cluster labels.

    Returns
    -------
    float
        Accuracy in [0, 1].

    References
    ----------
    V. Mikuni, F. Canelli, arXiv:2010.07106, §3 (the cluster accuracy of UCluster).

    Examples
    --------
    >>> from hepcluster.metrics import cluster_accuracy
    >>> cluster_accuracy(["W", "W", "Z", "Z", "t"], [2, 2, 0, 1, 1])
    0.8
    """
    y_true = np.asarray(y_true)
    labels = np.asarray(labels)
    if y_true.shape != labels.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true and labels must be 1-D of the same length, got {y_true.shape} and "
            f"{labels.shape}."
        )
    if y_true.size == 0:
        raise ValueError("cluster_accuracy needs at least one sample.")
    classes, class_index = np.unique(y_true, return_inverse=True)
    clusters, cluster_index = np.unique(labels, return_inverse=True)
    contingency = np.zeros((clusters.size, classes.size), dtype=np.int64)
    np.add.at(contingency, (cluster_index, class_index), 1)
    rows, cols = linear_sum_assignment(contingency, maximize=True)
    return float(contingency[rows, cols].sum() / y_true.size)


def _selected_signal_and_background(is_signal, selected, sample_weight):
    """Weighted signal S and background B inside a selection (everything when None)."""
    is_signal = np.asarray(is_signal, dtype=bool)
    selected = np.ones_like(is_signal) if selected is None else np.asarray(selected, dtype=bool)
    weight = np.ones(is_signal.shape) if sample_weight is None else np.asarray(sample_weight)
    return weight[selected & is_signal].sum(), weight[selected & ~is_signal].sum()


def signal_to_background(is_signal, selected=None, sample_weight=None):
    """Signal-to-background ratio S/B of a selection.

    Parameters
    ----------
    is_signal : array-like of shape (n_samples,), bool
    selected : array-like of shape (n_samples,), bool, default=None
        Selection mask; ``None`` selects everything.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    float
        S/B (inf when the selection contains no background).
    """
    signal, background = _selected_signal_and_background(is_signal, selected, sample_weight)
    return float(signal / background) if background > 0 else float("inf")


def signal_fraction_improvement(is_signal, selected, sample_weight=None):
    """Signal fraction improvement SFI = (S_sel/B_sel) / (S_all/B_all).

    Parameters
    ----------
    is_signal : array-like of shape (n_samples,), bool
    selected : array-like of shape (n_samples,), bool
        The selection, e.g. jets of signal-rich clusters.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    float

    References
    ----------
    I. Oleksiyuk et al., arXiv:2402.17714, Appendix C.

    Examples
    --------
    >>> from hepcluster.metrics import signal_fraction_improvement
    >>> is_signal = [True, False, False, False, True, False]
    >>> selected = [True, True, False, False, False, False]
    >>> signal_fraction_improvement(is_signal, selected)
    2.0
    """
    overall = signal_to_background(is_signal, None, sample_weight)
    if overall == 0:
        raise ValueError("the sample contains no signal: SFI is undefined.")
    return signal_to_background(is_signal, selected, sample_weight) / overall


def signal_significance(is_signal, selected=None, sample_weight=None):
    """Significance S/√B of the signal in a selection (Gaussian approximation).

    Parameters
    ----------
    is_signal : array-like of shape (n_samples,), bool
    selected : array-like of shape (n_samples,), bool, default=None
        Selection mask; ``None`` selects everything.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    float
        S/√B (inf when the selection contains signal but no background, 0 when it contains
        neither).

    Examples
    --------
    >>> from hepcluster.metrics import signal_significance
    >>> signal_significance([True, True, False, False, False, False])
    1.0
    """
    signal, background = _selected_signal_and_background(is_signal, selected, sample_weight)
    if background > 0:
        return float(signal / np.sqrt(background))
    return float("inf") if signal > 0 else 0.0


def significance_improvement(is_signal, selected, sample_weight=None):
    """Significance improvement SI = (S_sel/√B_sel) / (S_all/√B_all) of a selection.

    Parameters
    ----------
    is_signal : array-like of shape (n_samples,), bool
    selected : array-like of shape (n_samples,), bool
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the sample contains no signal.

    References
    ----------
    V. Mikuni, F. Canelli, arXiv:2010.07106, §4 (the significance gain of the
    signal-rich cluster).

    Examples
    --------
    >>> from hepcluster.metrics import significance_improvement
    >>> is_signal = [True, True, False, False, False, False, False, False]
    >>> round(significance_improvement(is_signal, [True, True, True, False, False, False,
    ...                                             False, False]), 3)
    2.449
    """
    overall = signal_significance(is_signal, None, sample_weight)
    if overall == 0:
        raise ValueError("the sample contains no signal: the improvement is undefined.")
    return signal_significance(is_signal, selected, sample_weight) / overall


def excess_significance(observed, expected, statistic="poisson"):
    """Significance Z of the excess of an observed count over its expected background.

    The counts of several bins (e.g. a signal region) are summed first.

    Parameters
    ----------
    observed : float or array-like
        Observed (possibly weighted) counts N.
    expected : float or array-like
        Expected background B, same shape as ``observed``.
    statistic : {"poisson", "poisson-midp", "gaussian"}, default="poisson"
        ``"poisson"``: Z = Φ⁻¹(1 − p), p = P(X ≥ N | B) for X ~ Poisson(B), continuous in
        N; ``"gaussian"``: (N − B)/√B. See
        :func:`hepcluster.scanning.local_significance`.

    Returns
    -------
    float
        Z ≥ 0 (0 for a deficit; inf for N > B = 0).

    References
    ----------
    I. Oleksiyuk et al., arXiv:2402.17714, Eqs. 3.2–3.3; V. Mikuni, F. Canelli,
    arXiv:2010.07106, §4.

    Examples
    --------
    >>> from hepcluster.metrics import excess_significance
    >>> excess_significance([60.0, 70.0], [50.0, 50.0], statistic="gaussian")
    3.0
    >>> round(excess_significance(130.0, 100.0), 2)
    2.84
    """
    from .scanning import local_significance

    observed = np.asarray(observed, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if observed.shape != expected.shape:
        raise ValueError(
            f"observed and expected must have the same shape, got {observed.shape} and "
            f"{expected.shape}."
        )
    return float(local_significance(observed.sum(), expected.sum(), statistic))
