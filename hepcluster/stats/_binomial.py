"""Binomial confidence intervals of empirical fractions (p-values of null samples)."""

import numpy as np
from scipy import stats


def clopper_pearson(count, n_total, *, confidence_level=0.68):
    """Central Clopper–Pearson interval of a binomial fraction ``count / n_total``.

    Parameters
    ----------
    count : array-like
        Successes (may be half-integers for mid-p counts; the interval is then that of
        the neighbouring integers, widened to cover both).
    n_total : int
        Trials.
    confidence_level : float, default=0.68

    Returns
    -------
    low, high : ndarray
        Interval of the fraction.

    Examples
    --------
    >>> from hepcluster.stats import clopper_pearson
    >>> low, high = clopper_pearson(5, 100, confidence_level=0.95)
    >>> round(float(low), 4), round(float(high), 4)
    (0.0164, 0.1128)
    """
    alpha = 1.0 - confidence_level
    count = np.asarray(count, dtype=np.float64)
    below, above = np.floor(count), np.ceil(count)
    with np.errstate(invalid="ignore"):
        low = np.where(below > 0, stats.beta.ppf(alpha / 2, below, n_total - below + 1), 0.0)
        high = np.where(
            above < n_total, stats.beta.isf(alpha / 2, above + 1, n_total - above), 1.0
        )
    return low, high
