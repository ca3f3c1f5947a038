"""Local significances of binned excesses and the maximum local significance (MLS)."""

import numpy as np
from scipy import special

from ._defaults import STATISTICS

# Below this p-value the regularised incomplete gamma is evaluated in log space.
_SMALL_P = 1e-280


def _log_lower_regularised_gamma(a, x):
    """Log P(a, x) by its power series, accurate where P underflows (a > x > 0).

    P(a, x) = x^a e^{-x} / Γ(a + 1) · Σ_k x^k / ((a + 1) ⋯ (a + k)); the terms fall
    geometrically when a > x, which is the excess region where it is used.
    """
    a = np.asarray(a, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    term = np.ones_like(a)
    total = np.ones_like(a)
    for k in range(1, 100_000):
        term = term * x / (a + k)
        total = total + term
        if np.all(term < 1e-17 * total):
            break
    return a * np.log(x) - x - special.gammaln(a + 1.0) + np.log(total)


def _poisson_upper_tail(observed, expected, mid_p):
    """Log P(X ≥ n | μ) for X ~ Poisson(μ) with real n > μ > 0 (continuous in n)."""
    p = special.gammainc(observed, expected)
    log_p = np.empty_like(p)
    regular = p > _SMALL_P
    log_p[regular] = np.log(p[regular])
    if np.any(~regular):
        log_p[~regular] = _log_lower_regularised_gamma(observed[~regular], expected[~regular])
    if mid_p:
        # mid-p: P(X > n) + ½P(X = n) = P(X ≥ n) − ½ P(X = n)
        log_pmf = observed * np.log(expected) - expected - special.gammaln(observed + 1.0)
        log_p = log_p + np.log1p(-0.5 * np.exp(np.minimum(log_pmf - log_p, 0.0)))
    return log_p


def local_significance(observed, expected, *, statistic="poisson"):
    """Significance Z of the excess of observed over expected counts, bin by bin.

    Only overdensities count: Z = 0 wherever ``observed <= expected``.

    Parameters
    ----------
    observed : array-like
        Observed counts N_b, any shape; may be non-integer (weighted, bootstrapped).
    expected : array-like
        Expected background B_b, broadcastable to ``observed``.
    statistic : {"poisson", "poisson-midp", "gaussian"}, default="poisson"
        ``"poisson"``: Z = Φ⁻¹(1 − p) with p = P(X ≥ N | B) = P(N, B), the regularised
        lower incomplete gamma function (continuous in N), evaluated in log space so Z
        stays finite beyond 30σ. ``"poisson-midp"``: p = P(X > N) + ½P(X = N).
        ``"gaussian"``: Z = (N − B)/√B (arXiv:2402.17714, Eq. 3.3).

    Returns
    -------
    ndarray
        Z ≥ 0 of the broadcast shape; +inf where B = 0 < N.

    References
    ----------
    I. Oleksiyuk et al., arXiv:2402.17714, Eqs. 3.2–3.3.

    Examples
    --------
    >>> from hepcluster.stats import local_significance
    >>> local_significance([130.0, 90.0], [100.0, 100.0], statistic="gaussian")
    array([3., 0.])
    """
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS}, got {statistic!r}.")
    observed, expected = np.broadcast_arrays(
        np.asarray(observed, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    )
    if np.any(~np.isfinite(observed)) or np.any(~np.isfinite(expected)):
        raise ValueError("observed and expected counts must be finite.")
    if np.any(observed < 0) or np.any(expected < 0):
        raise ValueError("observed and expected counts must be non-negative.")
    z = np.zeros(observed.shape)
    excess = observed > expected
    no_background = excess & (expected == 0)
    z[no_background] = np.inf
    excess &= expected > 0
    n, b = observed[excess], expected[excess]
    if statistic == "gaussian":
        z[excess] = (n - b) / np.sqrt(b)
    else:
        log_p = _poisson_upper_tail(n, b, mid_p=statistic == "poisson-midp")
        z[excess] = np.maximum(-special.ndtri_exp(log_p), 0.0)
    return z


def max_local_significance(observed, expected, *, statistic="poisson"):
    """Maximum local significance over the last axis, for a batch of spectra at once.

    Parameters
    ----------
    observed, expected : array-like of shape (..., n_bins)
        Observed and expected counts per bin (see :func:`local_significance`).
    statistic : {"poisson", "poisson-midp", "gaussian"}, default="poisson"

    Returns
    -------
    ndarray of shape (...)
        MLS = max_b Z_b; 0 where no bin has an excess.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.stats import max_local_significance
    >>> observed = np.array([[100.0, 130.0, 100.0], [90.0, 95.0, 99.0]])
    >>> expected = np.full((2, 3), 100.0)
    >>> max_local_significance(observed, expected, statistic="gaussian")
    array([3., 0.])
    """
    z = local_significance(observed, expected, statistic=statistic)
    if z.ndim == 0:
        raise ValueError("max_local_significance needs at least one bin axis.")
    return z.max(axis=-1, initial=0.0)
