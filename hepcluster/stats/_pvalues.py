"""Global p-values and significances from a distribution of test statistics (Eq. 3.4)."""

import numpy as np
from scipy import stats


def empirical_p_value(null_statistics, observed, *, mid_p=False, n_failed=0):
    """Fraction of background-only pseudo-experiments at least as extreme as ``observed``.

    Parameters
    ----------
    null_statistics : array-like of shape (n_null,)
        Test statistics of background-only pseudo-experiments.
    observed : float or array-like
        Observed test statistic(s).
    mid_p : bool, default=False
        Count ties with weight ½, p = (N_{>t} + ½ N_{=t}) / N_tot; by default ties count
        fully, p = N_{≥t} / N_tot (the conservative choice; with a continuous statistic
        the two agree).
    n_failed : int, default=0
        Background-only pseudo-experiments whose method failed (no statistic). They
        count in N_tot and, conservatively, as at least as extreme as any observation:
        p = (N_{≥t} + n_failed) / (N_valid + n_failed).

    Returns
    -------
    p : ndarray
        p-values, the same shape as ``observed``.
    is_bound : ndarray of bool
        True where no null pseudo-experiment reaches ``observed`` (N_{≥t} = 0 and no
        failure): the p-value is then only bounded, p < 1/N_tot (arXiv:2402.17714,
        Eq. 3.4), and ``p`` holds that bound.

    Examples
    --------
    >>> from hepcluster.stats import empirical_p_value
    >>> p, bound = empirical_p_value([0.5, 1.0, 1.5, 2.0], [1.2, 3.0])
    >>> p.tolist(), bound.tolist()
    ([0.5, 0.25], [False, True])
    """
    null = np.sort(np.asarray(null_statistics, dtype=np.float64))
    if null.ndim != 1 or null.size == 0:
        raise ValueError("null_statistics must be a non-empty 1-D array.")
    if not np.all(np.isfinite(null)):
        raise ValueError("null_statistics contain NaN or infinite values.")
    observed = np.asarray(observed, dtype=np.float64)
    n_at_least = null.size - np.searchsorted(null, observed, side="left") + n_failed
    if mid_p:
        n_above = null.size - np.searchsorted(null, observed, side="right") + n_failed
        count = n_above + 0.5 * (n_at_least - n_above)
    else:
        count = n_at_least.astype(np.float64)
    n_total = null.size + n_failed
    is_bound = n_at_least == 0
    p = np.where(is_bound, 1.0 / n_total, count / n_total)
    return p, is_bound


def global_significance(null_statistics, observed, *, mid_p=False, n_failed=0):
    """Global significance Z = Φ⁻¹(1 − p) of observed statistics against a null sample.

    Parameters
    ----------
    null_statistics : array-like of shape (n_null,)
    observed : float or array-like
    mid_p : bool, default=False
    n_failed : int, default=0
        Failed background-only pseudo-experiments (see :func:`empirical_p_value`).

    Returns
    -------
    z : ndarray
        Significances; where no null value reaches the observation, the lower bound
        Z > Φ⁻¹(1 − 1/N_tot) (Eq. 3.4).
    is_bound : ndarray of bool
        Where ``z`` is only a lower bound.

    Notes
    -----
    Where every null statistic is at least as large as the observation (p = 1), ``z`` is
    floored at Φ⁻¹(1/N_tot) instead of −∞, so that medians and quantiles stay finite.

    Examples
    --------
    >>> from hepcluster.stats import global_significance
    >>> z, bound = global_significance(range(1000), [500.0, 2000.0])
    >>> z.round(3).tolist(), bound.tolist()
    ([0.0, 3.09], [False, True])
    """
    p, is_bound = empirical_p_value(null_statistics, observed, mid_p=mid_p, n_failed=n_failed)
    # p = 1 (every null value at least as large) would give Z = −∞; the null sample
    # resolves no more than Φ⁻¹(1/N_tot) on that side, the mirror of the upper bound.
    floor = stats.norm.ppf(1.0 / (np.size(null_statistics) + n_failed))
    return np.maximum(stats.norm.isf(p), floor), is_bound
