"""Outlier-robust per-bin mean and standard deviation (Cluster Scanning, App. E)."""

import numpy as np
from scipy import stats


def trimmed_sd_correction(outlier_fraction):
    r"""Factor g(f) that turns the SD of a symmetrically trimmed normal sample into σ.

    Dropping the fraction f of a normal sample farthest from its centre leaves a normal
    truncated to ``|x| < z`` with z = Φ⁻¹(1 − f/2), whose variance is
    1 − 2zφ(z)/(1 − f); hence

    .. math:: g(f) = \left[1 - \frac{2 z \varphi(z)}{1 - f}\right]^{-1/2}.

    Parameters
    ----------
    outlier_fraction : float
        Fraction f in [0, 1) of values dropped.

    Returns
    -------
    float
        g(f); g(0) = 1 and g(0.2) ≈ 1.5115.

    References
    ----------
    I. Oleksiyuk et al., "Cluster Scanning: a novel approach to resonance searches",
    JHEP 06 (2024) 088, arXiv:2402.17714, Appendix E.

    Examples
    --------
    >>> from hepcluster.scanning import trimmed_sd_correction
    >>> round(trimmed_sd_correction(0.2), 4)
    1.5115
    """
    if not 0.0 <= outlier_fraction < 1.0:
        raise ValueError(f"outlier_fraction must lie in [0, 1), got {outlier_fraction!r}.")
    if outlier_fraction == 0.0:
        return 1.0
    z = stats.norm.isf(outlier_fraction / 2.0)
    return float((1.0 - 2.0 * z * stats.norm.pdf(z) / (1.0 - outlier_fraction)) ** -0.5)


def robust_mean_std(values, *, outlier_fraction=0.2, axis=0):
    """Mean and standard deviation after dropping the values farthest from the median.

    Along ``axis`` (the clusters, for each m_jj bin), the ``round(f·n)`` values with the
    largest ``|x − median|`` are dropped; the mean of the rest estimates μ and their
    sample SD times :func:`trimmed_sd_correction` estimates σ. Signal-rich clusters are
    outliers by construction, so they do not inflate the scale they are compared with.

    Parameters
    ----------
    values : array-like
        Values, e.g. normalised cluster spectra of shape (n_clusters, n_bins), or a batch
        of them (..., n_clusters, n_bins) with ``axis=-2``.
    outlier_fraction : float, default=0.2
        Fraction f of values dropped.
    axis : int, default=0
        Axis along which the estimates are taken.

    Returns
    -------
    mean, std : ndarray
        Arrays with ``axis`` removed.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.scanning import robust_mean_std
    >>> values = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    >>> mean, std = robust_mean_std(values, outlier_fraction=0.2)
    >>> float(mean)
    2.5
    """
    values = np.moveaxis(np.asarray(values, dtype=np.float64), axis, -1)
    n = values.shape[-1]
    n_keep = n - int(np.floor(outlier_fraction * n + 0.5))
    if n_keep < 2:
        raise ValueError(
            f"robust_mean_std needs at least 2 values left after dropping "
            f"{n - n_keep} of {n}; use more clusters or a smaller outlier_fraction."
        )
    distance = np.abs(values - np.median(values, axis=-1, keepdims=True))
    keep = np.argsort(distance, axis=-1, kind="stable")[..., :n_keep]
    kept = np.take_along_axis(values, keep, axis=-1)
    mean = kept.mean(axis=-1)
    std = kept.std(axis=-1, ddof=1) * trimmed_sd_correction(outlier_fraction)
    return mean, std
