"""From cluster labels to the Cluster Scanning test statistic (arXiv:2402.17714 §3)."""

import numpy as np
from numba import njit

from ..stats import local_significance
from ._robust import robust_mean_std


def cluster_spectra(labels, bin_index, weights, n_clusters, n_bins):
    """Weighted m_jj histograms of every cluster, for a batch of labellings.

    Parameters
    ----------
    labels : ndarray of shape (n_members, n_jets), int
        Cluster of each jet under each ensemble member (in ``[0, n_clusters)`` for the
        jets inside the bins).
    bin_index : ndarray of shape (n_jets,), int
        m_jj bin of each jet; jets outside the region carry -1 and are skipped.
    weights : ndarray of shape (n_jets,)
        Jet weights (bootstrap multiplicities).
    n_clusters, n_bins : int

    Returns
    -------
    ndarray of shape (n_members, n_clusters, n_bins)

    Raises
    ------
    ValueError
        When a jet inside the bins has a label outside ``[0, n_clusters)``.
    """
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    bin_index = np.ascontiguousarray(bin_index, dtype=np.int64)
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    out = np.zeros((labels.shape[0], n_clusters, n_bins))
    bad = _fill_spectra(labels, bin_index, weights, out)
    if bad >= 0:
        member, jet = divmod(int(bad), labels.shape[1])
        raise ValueError(
            f"jet {jet} inside the bins has label {labels[member, jet]} under member "
            f"{member}, outside [0, {n_clusters})."
        )
    return out


@njit(cache=True)
def _fill_spectra(labels, bin_index, weights, out):
    """Add every jet's weight to its (member, cluster, bin), in jet order.

    The additions into each cell happen in the order ``np.bincount`` makes them, so the
    spectra are the same bit for bit; one pass without the index and weight arrays of
    all members that a bincount needs. Returns the flat index of the first jet with a
    label out of range, or -1.
    """
    n_members, n_jets = labels.shape
    n_clusters = out.shape[1]
    for m in range(n_members):
        member_labels = labels[m]
        spectra = out[m]
        for j in range(n_jets):
            b = bin_index[j]
            if b < 0:
                continue
            label = member_labels[j]
            if label < 0 or label >= n_clusters:
                return m * n_jets + j
            spectra[label, b] += weights[j]
    return -1


def analyse_spectra(spectra, *, outlier_fraction, threshold, statistic, min_background=0.0):
    """Standardize cluster spectra, select signal-rich clusters, estimate the background.

    Parameters
    ----------
    spectra : ndarray of shape (n_members, n_clusters, n_bins)
        Cluster spectra N_{i,b}.
    outlier_fraction : float
        Fraction f dropped by the robust per-bin estimators.
    threshold : float
        θ: cluster i is signal-rich when max_b z_{i,b} > θ.
    statistic : {"poisson", "poisson-midp", "gaussian"}
        Local significance used for the MLS.
    min_background : float, default=0.0
        Bins whose background estimate is at most this many events cannot be tested:
        their local significance is 0 and they are flagged in ``untestable_bins``.
        With the default, only bins without any background estimate are excluded, where
        a Poisson p-value of a non-empty signal-rich bin would be 0 and Z infinite.

    Returns
    -------
    dict of ndarray
        ``normalized_spectra``, ``robust_mean``, ``robust_std``, ``standardized_spectra``,
        ``selected``, ``signal_rich_spectrum``, ``background_estimate``,
        ``local_significance``, ``untestable_bins`` (bins excluded from the test, see
        ``min_background``) and ``mls`` (one value per member).
    """
    totals = spectra.sum(axis=2, keepdims=True)
    normalized = np.divide(spectra, totals, out=np.zeros_like(spectra), where=totals > 0)
    mean, std = robust_mean_std(normalized, outlier_fraction=outlier_fraction, axis=1)
    deviation = normalized - mean[:, None, :]
    standardized = np.divide(
        deviation, std[:, None, :], out=np.zeros_like(deviation), where=std[:, None, :] > 0
    )
    selected = standardized.max(axis=2) > threshold
    rich = np.einsum("mkb,mk->mb", spectra, selected.astype(np.float64))
    poor = spectra.sum(axis=1) - rich
    rich_total = rich.sum(axis=1, keepdims=True)
    poor_total = poor.sum(axis=1, keepdims=True)
    scale = np.divide(rich_total, poor_total, out=np.zeros_like(rich_total), where=poor_total > 0)
    background = poor * scale
    untestable = (background <= min_background) & selected.any(axis=1, keepdims=True)
    z = local_significance(rich, background, statistic=statistic)
    z[untestable | ~selected.any(axis=1, keepdims=True)] = 0.0
    return {
        "normalized_spectra": normalized,
        "robust_mean": mean,
        "robust_std": std,
        "standardized_spectra": standardized,
        "selected": selected,
        "signal_rich_spectrum": rich,
        "background_estimate": background,
        "local_significance": z,
        "untestable_bins": untestable,
        "mls": z.max(axis=1, initial=0.0),
    }
