"""Generalised-Pareto (peaks-over-threshold) model of the upper tail of a null distribution.

An empirical global p-value p = N_{≥t}/N_tot cannot go below 1/N_tot (arXiv:2402.17714,
Eq. 3.4). Above a high threshold u the exceedances of a null test statistic follow, to a
good approximation, a generalised Pareto distribution (Pickands 1975), which extrapolates
the p-value beyond the largest null statistic. The interval comes from the profile
likelihood of the tail probability (Davison & Smith 1990; Coles 2001, §4.3).
"""

import logging
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special, stats

from ._binomial import clopper_pearson

__all__ = ["NullTailModel", "fit_null_tail", "tail_significance"]

logger = logging.getLogger(__name__)

SHAPE_BOUNDS = (-0.5, 1.0)
"""Range of the maximum-likelihood shape ξ. Below −0.5 the likelihood is irregular
(Smith 1985, Biometrika 72, 67); at ξ ≥ 1 the null statistic would have no mean."""

# Profile-likelihood region: deficits of the GPD likelihood at which its boundary is
# traced, rays (directions around the maximum) per level, and radii along each ray in
# standard errors of the whitened (ξ, log σ) plane.
_N_LEVELS = 16
_N_RAYS = 64
_N_RADII = 41
_MAX_RADIUS = 4.0
# Shape values below this make the GPD likelihood unbounded (Smith 1985).
_SHAPE_FLOOR = -0.999
# |ξ| below which log1p(ξ a)/ξ is replaced by its series a − ξa²/2 + ξ²a³/3.
_SHAPE_EPS = 1e-8
# t-values evaluated at once in the interval computation (memory ~ _T_CHUNK · 1 000 floats).
_T_CHUNK = 2048


# -- the generalised Pareto distribution --------------------------------------------------


def _log1p_over_shape(shape, a):
    """Value of log(1 + ξ a)/ξ, continuous at ξ = 0 (finite where 1 + ξ a > 0)."""
    shape = np.asarray(shape, dtype=np.float64)
    small = np.abs(shape) < _SHAPE_EPS
    safe = np.where(small, 1.0, shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        exact = np.log1p(safe * a) / safe
    series = a - shape * a * a / 2.0 + shape * shape * a**3 / 3.0
    return np.where(small, series, exact)


def _gpd_log_sf(excess, shape, scale):
    """Logarithm of P(Y > y) of the GPD, −inf beyond the upper end point of ξ < 0 (broadcasts)."""
    a = np.asarray(excess, dtype=np.float64) / scale
    with np.errstate(invalid="ignore"):
        inside = 1.0 + shape * a > 0.0
        log_sf = -_log1p_over_shape(shape, np.where(inside, a, 0.0))
    return np.where(inside, log_sf, -np.inf)


def _gpd_log_likelihood(excesses, shape, log_scale):
    """GPD log-likelihood of ``excesses`` at parameters of any (broadcast) shape.

    ℓ(ξ, σ) = −n log σ − (1 + 1/ξ) Σ log(1 + ξ y_i/σ), −inf outside the support; near
    ξ = 0 the 1/ξ term is replaced by its series, whose power sums of y are closed-form.
    """
    shape, log_scale = np.broadcast_arrays(
        np.asarray(shape, dtype=np.float64), np.asarray(log_scale, dtype=np.float64)
    )
    inverse_scale = np.exp(-log_scale)
    inside = (1.0 + shape * excesses.max() * inverse_scale > 0.0) & (shape > _SHAPE_FLOOR)
    xi = np.where(inside, shape, 0.0)
    sum_log1p = np.sum(np.log1p((xi * inverse_scale)[..., None] * excesses), axis=-1)
    small = np.abs(xi) < _SHAPE_EPS
    with np.errstate(divide="ignore", invalid="ignore"):
        exact = sum_log1p / np.where(small, 1.0, xi)
    a1, a2, a3 = (np.sum(excesses**k) * inverse_scale**k for k in (1, 2, 3))
    series = a1 - xi * a2 / 2.0 + xi * xi * a3 / 3.0
    value = -excesses.size * log_scale - sum_log1p - np.where(small, series, exact)
    return np.where(inside & np.isfinite(value), value, -np.inf)


def _profile_log_scale(excesses, shape):
    """Maximum-likelihood log σ at each fixed ξ (vectorised bisection).

    For fixed ξ > −1 the likelihood is concave in s = log σ with
    ∂ℓ/∂s = −n + (1 + ξ) Σ w_i/(1 + ξ w_i), w_i = y_i e^{−s}, which is positive for
    s < max(log y_min, log(−ξ y_max)) and negative for s > log((1 + ξ) ȳ + max(−ξ, 0) y_max).
    """
    shape = np.asarray(shape, dtype=np.float64)
    y_min, y_max, y_mean = excesses.min(), excesses.max(), excesses.mean()
    neg = np.maximum(-shape, 0.0)
    with np.errstate(divide="ignore"):
        low = np.maximum(np.log(y_min), np.log(neg * y_max))
    high = np.log((1.0 + shape) * y_mean + neg * y_max) + 1e-12
    xi = shape[..., None]
    for _ in range(42):  # bracket width ≲ 10 -> 2e-12
        mid = 0.5 * (low + high)
        w = excesses * np.exp(-mid)[..., None]
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = -excesses.size + (1.0 + shape) * np.sum(w / (1.0 + xi * w), axis=-1)
        positive = (slope > 0.0) | ~np.isfinite(slope)
        low = np.where(positive, mid, low)
        high = np.where(positive, high, mid)
    return 0.5 * (low + high)


def _fit_gpd(excesses):
    """Maximum-likelihood (ξ, log σ, ℓ_max) with ξ restricted to ``SHAPE_BOUNDS``.

    The profile likelihood ℓ_p(ξ) = max_σ ℓ(ξ, σ) is scanned on a grid over the whole
    range (so the optimiser never starts in a wrong local maximum), refined on a finer
    grid around the best point and finished by parabolic interpolation.
    """
    lo, hi = SHAPE_BOUNDS
    grid = np.linspace(lo, hi, 31)
    for _ in range(2):
        profile = _gpd_log_likelihood(excesses, grid, _profile_log_scale(excesses, grid))
        best = int(np.argmax(profile))
        step = grid[1] - grid[0]
        grid = np.linspace(max(lo, grid[best] - step), min(hi, grid[best] + step), 21)
    profile = _gpd_log_likelihood(excesses, grid, _profile_log_scale(excesses, grid))
    best = int(np.clip(np.argmax(profile), 1, grid.size - 2))
    (x0, x1, x2), (f0, f1, f2) = grid[best - 1 : best + 2], profile[best - 1 : best + 2]
    curvature = f0 - 2.0 * f1 + f2
    shape = grid[int(np.argmax(profile))]
    if np.all(np.isfinite([f0, f1, f2])) and curvature < 0.0:
        vertex = x1 - 0.5 * (x2 - x0) / 2.0 * (f2 - f0) / curvature
        shape = float(np.clip(vertex, max(lo, x0), min(hi, x2)))
    log_scale = float(_profile_log_scale(excesses, np.array(shape)))
    log_likelihood = float(_gpd_log_likelihood(excesses, shape, log_scale))
    if not np.isfinite(log_likelihood):  # pragma: no cover - the grid point is always valid
        shape = float(grid[int(np.argmax(profile))])
        log_scale = float(_profile_log_scale(excesses, np.array(shape)))
        log_likelihood = float(_gpd_log_likelihood(excesses, shape, log_scale))
    return float(shape), log_scale, log_likelihood


def _first_order_bias(shape, n_exceedances):
    """O(1/n) biases of the GPD maximum-likelihood ξ and σ/σ (Giles, Feng & Godwin 2016).

    b(ξ) = −(1 + ξ)(3 + ξ)/(n(1 + 3ξ)), b(σ)/σ = (3 + 5ξ + 4ξ²)/(n(1 + 3ξ)), evaluated at
    max(ξ, 0): the expansion diverges towards ξ = −1/3, whereas the MLE restricted to
    ξ ≥ −0.5 keeps a bias close to its ξ = 0 value there (checked by simulation).
    """
    xi = max(shape, 0.0)
    denominator = n_exceedances * (1.0 + 3.0 * xi)
    return -(1.0 + xi) * (3.0 + xi) / denominator, (3.0 + 5.0 * xi + 4.0 * xi * xi) / denominator


def _observed_information(excesses, shape, log_scale):
    """−Hessian of ℓ in (ξ, log σ) by central differences."""
    h = 1e-4
    point = np.array([shape, log_scale])
    offsets = np.array([[i, j] for i in (-1, 0, 1) for j in (-1, 0, 1)], dtype=np.float64) * h
    values = _gpd_log_likelihood(excesses, *(point + offsets).T).reshape(3, 3)
    d_xx = (values[2, 1] - 2.0 * values[1, 1] + values[0, 1]) / h**2
    d_ss = (values[1, 2] - 2.0 * values[1, 1] + values[1, 0]) / h**2
    d_xs = (values[2, 2] - values[2, 0] - values[0, 2] + values[0, 0]) / (4.0 * h**2)
    return -np.array([[d_xx, d_xs], [d_xs, d_ss]])


def _whitening(information):
    """Cholesky factor of the covariance, with a positive-definite fallback."""
    information = np.where(np.isfinite(information), information, 0.0)
    values, vectors = np.linalg.eigh(information)
    # At a boundary of SHAPE_BOUNDS or for tiny samples the information can be singular.
    values = np.maximum(values, 1e-3 * max(values.max(), 1.0))
    covariance = (vectors / values) @ vectors.T
    return covariance, np.linalg.cholesky(covariance)


# -- the profile-likelihood region ---------------------------------------------------------


def _region_boundary(excesses, shape, log_scale, log_likelihood, whitening, deficits):
    """Points on the boundaries {ℓ = ℓ_max − d} of the GPD likelihood region.

    Rays leave the maximum in every direction of the plane whitened by the Cholesky factor
    of the covariance; along each the deficit ℓ_max − ℓ is evaluated on a grid and its
    signed root √(2·deficit), nearly linear in the radius, interpolated to each level.

    Returns
    -------
    shape, scale : ndarray of shape (n_levels, n_rays)
    """
    angles = np.linspace(0.0, 2.0 * np.pi, _N_RAYS, endpoint=False)
    directions = whitening @ np.stack([np.cos(angles), np.sin(angles)])  # (2, n_rays)
    targets = np.sqrt(2.0 * np.asarray(deficits))
    max_radius = _MAX_RADIUS
    for _ in range(4):
        radii = np.linspace(0.0, max_radius, _N_RADII)
        xi = shape + radii[:, None] * directions[0]
        s = log_scale + radii[:, None] * directions[1]
        deficit = log_likelihood - _gpd_log_likelihood(excesses, xi, s)  # (n_radii, n_rays)
        deficit[0] = 0.0
        root = np.sqrt(2.0 * np.maximum(deficit, 0.0))
        # The deficit can dip where the MLE sits on a bound of SHAPE_BOUNDS; keep it rising.
        root = np.maximum.accumulate(root, axis=0)
        if np.all(root[-1] > targets[-1]):
            break
        max_radius *= 2.0
    # First grid radius at which each level is exceeded, per ray.
    above = root[None, :, :] > targets[:, None, None]  # (n_levels, n_radii, n_rays)
    index = np.where(above.any(axis=1), np.argmax(above, axis=1), _N_RADII - 1)
    index = np.maximum(index, 1)
    rays = np.arange(_N_RAYS)
    r0, r1 = radii[index - 1], radii[index]
    q0, q1 = root[index - 1, rays], root[index, rays]
    finite = np.isfinite(q1)
    fraction = np.where(
        finite & (q1 > q0),
        (targets[:, None] - q0) / np.where(finite & (q1 > q0), q1 - q0, 1.0),
        0.0,
    )
    radius = r0 + np.clip(fraction, 0.0, 1.0) * (r1 - r0)
    if np.any(~finite):
        # The support edge u + σ/|ξ| ≥ y_max (ξ < 0) cuts the ray: bisect for the level.
        lev, ray = np.nonzero(~finite)
        a, b = r0[lev, ray], r1[lev, ray]
        for _ in range(30):
            mid = 0.5 * (a + b)
            d = log_likelihood - _gpd_log_likelihood(
                excesses,
                shape + mid * directions[0, ray],
                log_scale + mid * directions[1, ray],
            )
            inside = d <= np.asarray(deficits)[lev]
            a, b = np.where(inside, mid, a), np.where(inside, b, mid)
        radius[lev, ray] = a
    boundary_shape = shape + radius * directions[0]
    boundary_scale = np.exp(log_scale + radius * directions[1])
    return boundary_shape, boundary_scale


def _binomial_log_rate_bounds(n_exceedances, n_null, deficits):
    """Values of log ζ at which the binomial log-likelihood of n_u/N drops by each deficit."""
    n, total = n_exceedances, n_null
    rate = n / total

    def log_likelihood(z):
        tail = (total - n) * math.log1p(-z) if n < total else 0.0
        return n * math.log(z) + tail

    top = log_likelihood(rate)
    low, high = np.empty(len(deficits)), np.empty(len(deficits))
    for i, d in enumerate(deficits):
        if d <= 0.0:
            low[i] = high[i] = math.log(rate)
            continue

        def excess(z, d=d):
            return top - log_likelihood(z) - d

        low[i] = math.log(optimize.brentq(excess, 1e-300, rate, xtol=1e-300, rtol=1e-14))
        if n < total:
            high[i] = math.log(optimize.brentq(excess, rate, 1.0 - 1e-16, rtol=1e-14))
        else:
            high[i] = 0.0
    return low, high


def _significance_from_log_p(log_p):
    """Z = Φ⁻¹(1 − p) = −Φ⁻¹(p) from log p, finite far beyond 30σ."""
    return -special.ndtri_exp(np.asarray(log_p, dtype=np.float64))


# -- the model -------------------------------------------------------------------------------


@dataclass(eq=False)
class NullTailModel:
    r"""Generalised-Pareto model of the upper tail of a null test-statistic distribution.

    Returned by :func:`fit_null_tail`. Above the threshold u the global p-value of an
    observed statistic t is extrapolated from the fitted tail; at or below u it is the
    empirical fraction of null statistics at least as large as t.

    Attributes
    ----------
    threshold : float
        Threshold u; the exceedances are the null statistics strictly above it.
    shape : float
        Maximum-likelihood shape ξ of the GPD (ξ > 0 heavy tail, ξ = 0 exponential,
        ξ < 0 bounded with end point u + σ/``|ξ|``).
    scale : float
        Maximum-likelihood scale σ of the GPD, in units of the statistic.
    covariance : ndarray of shape (2, 2)
        Asymptotic covariance of (ξ, σ), the inverse observed information.
    n_null : int
        Number of null statistics N_tot.
    n_exceedances : int
        Number n_u of null statistics above u.
    confidence_level : float
        Coverage of the intervals of :meth:`p_value` and :meth:`significance`.
    log_likelihood : float
        Maximum of the GPD log-likelihood of the exceedances.
    null_statistics : ndarray of shape (n_null,)
        The null statistics, sorted (the empirical p-value at or below u uses them).
    tail_fraction : float or None
        Requested fraction of exceedances; None where the threshold was given.
    companion : NullTailModel or None
        The fit at the higher threshold that leaves half the exceedances; its intervals
        are united with this model's (threshold uncertainty). None where that would leave
        fewer than ``min_exceedances`` or where it was switched off.
    shape_bias, scale_bias : float
        First-order small-sample biases of ξ and σ (Giles, Feng & Godwin 2016), which
        every p-value subtracts.

    See Also
    --------
    fit_null_tail : Builds the model.

    Notes
    -----
    Above u, for t > u (Davison & Smith 1990; Coles 2001, §4.3.3),

    .. math:: p(t) = \zeta_u \left(1 + \xi \frac{t - u}{\sigma}\right)^{-1/\xi},
              \qquad \hat\zeta_u = n_u / N_{tot},

    and exp(−(t − u)/σ) at ξ = 0, with ξ and σ the maximum-likelihood estimates less their
    O(1/n_u) bias, b(ξ) = −(1 + ξ)(3 + ξ)/(n_u(1 + 3ξ)) and
    b(σ) = σ(3 + 5ξ + 4ξ²)/(n_u(1 + 3ξ)) (Giles, Feng & Godwin 2016, at max(ξ, 0)).
    Uncorrected, the MLE of ξ is low by ≈ 3/n_u, which for 50 exceedances moves an
    extrapolation to 5σ by several units of log p, towards overstating Z.

    The interval of p(t) is a profile-likelihood interval (Coles 2001, §4.3.3): the range
    of p(t) over the parameters (ζ_u, ξ, σ) whose joint likelihood, binomial for n_u and
    GPD for the exceedances, lies within χ²₁(CL)/2 of its maximum (moved by the same bias
    correction). Because the two likelihoods factorise, the region is traced as the union
    of the GPD contours at deficit d with the binomial bounds on ζ_u at deficit
    χ²₁(CL)/2 − d. It is then united with the interval of the ``companion`` fit at a
    higher threshold: the GPD is only the limit law of exceedances, and for the Gaussian-like
    tails of maximum local significances the shape fitted at a finite threshold is
    systematically below the one that governs the far tail (it rises towards 0 as the
    threshold rises), so a single-threshold interval overstates Z beyond the nominal rate;
    the difference between thresholds is the threshold-stability check of Coles (2001,
    §4.3.4) turned into an uncertainty.

    At or below u, p = N_{≥t}/N_tot with a Clopper–Pearson interval. The significance is
    Z = Φ⁻¹(1 − p), evaluated from log p so that it stays finite for tiny p.

    References
    ----------
    J. Pickands, *Statistical inference using extreme order statistics*, Ann. Statist. 3
    (1975) 119. A. C. Davison, R. L. Smith, *Models for exceedances over high thresholds*,
    J. R. Stat. Soc. B 52 (1990) 393. S. Coles, *An Introduction to Statistical Modeling of
    Extreme Values*, Springer (2001), ch. 4. D. E. Giles, H. Feng, R. T. Godwin,
    *Bias-corrected maximum likelihood estimation of the parameters of the generalized
    Pareto distribution*, Commun. Stat. Theory Methods 45 (2016) 2465.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.stats import fit_null_tail
    >>> null = np.random.default_rng(0).exponential(size=2000)
    >>> tail = fit_null_tail(null)
    >>> tail.n_exceedances
    200
    >>> p, p_low, p_high = tail.p_value(12.0)
    >>> bool(p_low < np.exp(-12.0) < p_high)
    True
    """

    threshold: float
    shape: float
    scale: float
    covariance: np.ndarray
    n_null: int
    n_exceedances: int
    confidence_level: float
    log_likelihood: float
    null_statistics: np.ndarray
    tail_fraction: float | None = None
    companion: "NullTailModel | None" = None
    _cache: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        self.covariance = np.asarray(self.covariance, dtype=np.float64).reshape(2, 2)
        self.null_statistics = np.sort(np.asarray(self.null_statistics, dtype=np.float64))

    @property
    def exceedances(self):
        """Excesses y = x − u of the null statistics x above the threshold, sorted."""
        null = self.null_statistics
        return null[null > self.threshold] - self.threshold

    @property
    def shape_bias(self):
        """First-order small-sample bias of the MLE ξ, subtracted in every p-value."""
        return _first_order_bias(self.shape, self.n_exceedances)[0]

    @property
    def scale_bias(self):
        """First-order small-sample bias of the MLE σ, subtracted in every p-value."""
        return _first_order_bias(self.shape, self.n_exceedances)[1] * self.scale

    # -- the interval machinery (cached) ------------------------------------------------

    def _region(self):
        """GPD contour points and binomial rate bounds, one entry per split of the deficit."""
        if "region" not in self._cache:
            excesses = self.exceedances
            half = 0.5 * stats.chi2.ppf(self.confidence_level, df=1)
            deficits = half * np.arange(_N_LEVELS + 1) / _N_LEVELS
            log_scale = math.log(self.scale)
            information = _observed_information(excesses, self.shape, log_scale)
            _, whitening = _whitening(information)
            shapes, scales = _region_boundary(
                excesses, self.shape, log_scale, self.log_likelihood, whitening, deficits
            )
            # The small-sample bias of the MLE moves the whole region (Giles et al. 2016).
            shapes = shapes - self.shape_bias
            scales = scales * (1.0 - self.scale_bias / self.scale)
            rate_low, rate_high = _binomial_log_rate_bounds(
                self.n_exceedances, self.n_null, half - deficits
            )
            self._cache["region"] = (shapes, scales, rate_low, rate_high)
        return self._cache["region"]

    def _log_p_tail(self, t):
        """Logarithms of p, p_low, p_high of the tail model at t > u (1-D array)."""
        shapes, scales, rate_low, rate_high = self._region()
        excess = t - self.threshold
        log_rate = math.log(self.n_exceedances / self.n_null)
        log_p = log_rate + _gpd_log_sf(
            excess, self.shape - self.shape_bias, self.scale - self.scale_bias
        )
        low, high = np.empty_like(t), np.empty_like(t)
        for start in range(0, t.size, _T_CHUNK):
            chunk = slice(start, start + _T_CHUNK)
            log_sf = _gpd_log_sf(excess[chunk, None, None], shapes, scales)
            high[chunk] = np.max(rate_high + log_sf.max(axis=-1), axis=-1)
            low[chunk] = np.min(rate_low + log_sf.min(axis=-1), axis=-1)
        return log_p, np.minimum(low, log_p), np.maximum(high, log_p)

    def log_p_value(self, t):
        """Natural logarithm of :meth:`p_value` (finite where p underflows).

        Parameters
        ----------
        t : float or array-like
            Observed test statistic(s).

        Returns
        -------
        log_p, log_p_low, log_p_high : ndarray
            Shaped like ``t``.
        """
        t = np.asarray(t, dtype=np.float64)
        if np.any(np.isnan(t)):
            raise ValueError("The observed statistics contain NaN.")
        flat = t.ravel()
        out = np.empty((3, flat.size))
        tail = flat > self.threshold
        if np.any(tail):
            out[:, tail] = self._log_p_tail(flat[tail])
        if np.any(~tail):
            null = self.null_statistics
            count = null.size - np.searchsorted(null, flat[~tail], side="left")
            low, high = clopper_pearson(count, null.size, confidence_level=self.confidence_level)
            with np.errstate(divide="ignore"):
                out[:, ~tail] = np.log([count / null.size, low, high])
        if self.companion is not None:
            _, low, high = self.companion.log_p_value(flat)
            out[1] = np.minimum(out[1], low)
            out[2] = np.maximum(out[2], high)
        return tuple(part.reshape(t.shape) for part in out)

    def p_value(self, t):
        """Global p-value of observed statistic(s) t, with its confidence interval.

        Parameters
        ----------
        t : float or array-like
            Observed test statistic(s).

        Returns
        -------
        p, p_low, p_high : ndarray
            Shaped like ``t``; p_low ≤ p ≤ p_high. Above the threshold the tail model
            (p may underflow to 0 beyond ~37σ; :meth:`log_p_value` does not), at or below
            it the empirical N_{≥t}/N_tot with a Clopper–Pearson interval. p_low is 0
            where the region includes a bounded tail (ξ < 0) ending below t.
        """
        return tuple(np.exp(part) for part in self.log_p_value(t))

    def significance(self, t):
        """Global significance Z = Φ⁻¹(1 − p) of observed statistic(s), with its interval.

        Parameters
        ----------
        t : float or array-like
            Observed test statistic(s).

        Returns
        -------
        z, z_low, z_high : ndarray
            Shaped like ``t``; z_low from p_high, z_high from p_low (+inf where p_low = 0).
        """
        log_p, log_low, log_high = self.log_p_value(t)
        return (
            _significance_from_log_p(log_p),
            _significance_from_log_p(log_high),
            _significance_from_log_p(log_low),
        )

    # -- serialisation ------------------------------------------------------------------

    def to_json_dict(self):
        """JSON-friendly dict of the model; :meth:`from_json_dict` restores it exactly.

        Returns
        -------
        dict
        """
        return {
            "threshold": float(self.threshold),
            "shape": float(self.shape),
            "scale": float(self.scale),
            "covariance": self.covariance.tolist(),
            "n_null": int(self.n_null),
            "n_exceedances": int(self.n_exceedances),
            "confidence_level": float(self.confidence_level),
            "log_likelihood": float(self.log_likelihood),
            "null_statistics": self.null_statistics.tolist(),
            "tail_fraction": None if self.tail_fraction is None else float(self.tail_fraction),
            "companion": None if self.companion is None else self._companion_dict(),
        }

    def _companion_dict(self):
        data = self.companion.to_json_dict()
        del data["null_statistics"]  # the same sample as the model's
        return data

    @classmethod
    def from_json_dict(cls, data):
        """Model from the output of :meth:`to_json_dict`.

        Parameters
        ----------
        data : dict

        Returns
        -------
        NullTailModel
        """
        data = dict(data)
        companion = data.get("companion")
        if companion is not None:
            companion = cls.from_json_dict(
                {**companion, "null_statistics": data["null_statistics"]}
            )
        return cls(
            threshold=float(data["threshold"]),
            shape=float(data["shape"]),
            scale=float(data["scale"]),
            covariance=np.asarray(data["covariance"], dtype=np.float64),
            n_null=int(data["n_null"]),
            n_exceedances=int(data["n_exceedances"]),
            confidence_level=float(data["confidence_level"]),
            log_likelihood=float(data["log_likelihood"]),
            null_statistics=np.asarray(data["null_statistics"], dtype=np.float64),
            tail_fraction=None if data.get("tail_fraction") is None else data["tail_fraction"],
            companion=companion,
        )

    def __eq__(self, other):
        if not isinstance(other, NullTailModel):
            return NotImplemented
        return self.to_json_dict() == other.to_json_dict()

    __hash__ = None

    def __repr__(self):
        shape_err, scale_err = np.sqrt(np.maximum(np.diag(self.covariance), 0.0))
        return (
            f"NullTailModel(threshold={self.threshold:.6g}, "
            f"n_exceedances={self.n_exceedances} of {self.n_null}, "
            f"shape={self.shape:.3f} ± {shape_err:.3f}, "
            f"scale={self.scale:.4g} ± {scale_err:.2g}, "
            f"confidence_level={self.confidence_level:g}"
            + (
                ""
                if self.companion is None
                else f", interval also from threshold={self.companion.threshold:.6g} "
                f"(n_exceedances={self.companion.n_exceedances})"
            )
            + ")"
        )


# -- fitting ---------------------------------------------------------------------------------


def _choose_threshold(null, n_above):
    """Largest null value with at least ``n_above`` null values strictly above it."""
    n, k = null.size, max(n_above, 1)
    candidate = null[max(n - k - 1, 0)]
    if n - np.searchsorted(null, candidate, side="right") < k:
        # Ties at the quantile: step down to the next distinct value, if there is one.
        below = np.searchsorted(null, candidate, side="left") - 1
        if below >= 0:
            candidate = null[below]
    return float(candidate)


def fit_null_tail(
    null_statistics,
    *,
    tail_fraction=0.1,
    min_exceedances=25,
    confidence_level=0.68,
    threshold=None,
    threshold_uncertainty=True,
):
    r"""Fit a generalised Pareto distribution to the upper tail of null test statistics.

    Parameters
    ----------
    null_statistics : array-like of shape (n_null,)
        Test statistics of background-only pseudo-experiments. A point mass (e.g. 0 when
        no cluster is selected) and ties are allowed; only the values above the threshold
        enter the fit.
    tail_fraction : float, default=0.1
        Fraction f of the null sample above the default threshold, in (0, 1).
    min_exceedances : int, default=25
        Fewest exceedances accepted.
    confidence_level : float, default=0.68
        Coverage of the model's intervals, in (0, 1).
    threshold : float or None, default=None
        Threshold u. By default the largest null value with at least round(f·N) null values
        strictly above it (the empirical 1 − f quantile; where values tie there, the next
        lower null value, so ties never sit among the exceedances' lower end).
    threshold_uncertainty : bool, default=True
        Also fit above the higher threshold that leaves half the exceedances (when they
        number at least ``min_exceedances``) and unite the two intervals; see
        :class:`NullTailModel`. Without it the interval undercovers the Gaussian-like tails
        of maximum local significances at 4–5σ.

    Returns
    -------
    NullTailModel

    Raises
    ------
    ValueError
        For non-finite or empty null statistics, parameters out of range, fewer than
        ``min_exceedances`` exceedances (the message says how many null pseudo-experiments
        would give enough) or fewer than 3 distinct exceedance values.

    See Also
    --------
    NullTailModel : The model, its p-values and significances with intervals.

    Notes
    -----
    The excesses y = x − u of the n_u null statistics above u are fitted by maximum
    likelihood with the GPD density (Pickands 1975; Davison & Smith 1990)

    .. math:: f(y) = \frac{1}{\sigma}\left(1 + \frac{\xi y}{\sigma}\right)^{-1 - 1/\xi},

    with ξ restricted to [−0.5, 1]. The profile likelihood in ξ (σ maximised analytically
    per ξ, where the likelihood is concave in log σ) is scanned over the whole range before
    it is refined, so no starting value can lead the fit astray. The threshold trades bias
    (too low: the GPD is only the limit law of high exceedances) for variance (too few
    exceedances); Coles (2001, §4.3.4) discusses its choice.

    References
    ----------
    J. Pickands, Ann. Statist. 3 (1975) 119. A. C. Davison, R. L. Smith, J. R. Stat. Soc. B
    52 (1990) 393. S. Coles, *An Introduction to Statistical Modeling of Extreme Values*,
    Springer (2001), §4.3.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.stats import fit_null_tail
    >>> null = np.random.default_rng(1).standard_normal(1000)
    >>> tail = fit_null_tail(null)
    >>> tail.n_exceedances, tail.n_null
    (100, 1000)
    >>> z, z_low, z_high = tail.significance(4.0)  # beyond the 1000 toys' reach
    >>> bool(z_low < 4.0 < z_high)
    True
    """
    null = np.asarray(null_statistics, dtype=np.float64)
    if null.ndim != 1 or null.size == 0:
        raise ValueError(f"null_statistics must be a non-empty 1-D array, got shape {null.shape}.")
    n_bad = int(np.count_nonzero(~np.isfinite(null)))
    if n_bad:
        raise ValueError(
            f"null_statistics contain {n_bad} non-finite (NaN or infinite) values; "
            "drop or count failed pseudo-experiments before fitting the tail."
        )
    if not 0.0 < tail_fraction < 1.0:
        raise ValueError(f"tail_fraction must lie in (0, 1), got {tail_fraction!r}.")
    if not 0.0 < confidence_level < 1.0:
        raise ValueError(f"confidence_level must lie in (0, 1), got {confidence_level!r}.")
    if int(min_exceedances) != min_exceedances or min_exceedances < 3:
        raise ValueError(f"min_exceedances must be an integer ≥ 3, got {min_exceedances!r}.")
    null = np.sort(null)
    n_null = null.size
    if threshold is None:
        u = _choose_threshold(null, round(tail_fraction * n_null))
    else:
        u = float(threshold)
        if not np.isfinite(u):
            raise ValueError(f"threshold must be finite, got {threshold!r}.")
    excesses = null[null > u] - u
    n_u = excesses.size
    if n_u < min_exceedances:
        needed = math.ceil(min_exceedances * n_null / n_u) if n_u else None
        hint = (
            f"about {needed} null pseudo-experiments would give enough at this tail fraction"
            if needed
            else "no null statistic exceeds it"
        )
        raise ValueError(
            f"Only {n_u} of {n_null} null statistics exceed the threshold {u:.6g}; the tail "
            f"model needs at least min_exceedances={min_exceedances} ({hint})."
        )
    n_distinct = np.unique(excesses).size
    if n_distinct < 3:
        raise ValueError(
            f"The {n_u} exceedances of the threshold {u:.6g} take only {n_distinct} distinct "
            "value(s); a generalised Pareto fit needs at least 3."
        )
    companion = None
    if threshold_uncertainty:
        u_high = _choose_threshold(null, n_u // 2)
        excesses_high = null[null > u_high] - u_high
        if (
            u_high > u
            and excesses_high.size >= min_exceedances
            and np.unique(excesses_high).size >= 3
        ):
            companion = _fit_model(null, u_high, excesses_high, confidence_level, None)
        else:
            logger.debug(
                "No higher threshold with %d exceedances: interval from one threshold.",
                min_exceedances,
            )
    fraction = None if threshold is not None else float(tail_fraction)
    return _fit_model(null, u, excesses, confidence_level, fraction, companion)


def _fit_model(null, u, excesses, confidence_level, tail_fraction, companion=None):
    """NullTailModel of the exceedances of the sorted ``null`` over ``u``."""
    shape, log_scale, log_likelihood = _fit_gpd(excesses)
    information = _observed_information(excesses, shape, log_scale)
    covariance, _ = _whitening(information)
    jacobian = np.diag([1.0, math.exp(log_scale)])  # (ξ, log σ) -> (ξ, σ)
    return NullTailModel(
        threshold=u,
        shape=shape,
        scale=math.exp(log_scale),
        covariance=jacobian @ covariance @ jacobian,
        n_null=null.size,
        n_exceedances=excesses.size,
        confidence_level=float(confidence_level),
        log_likelihood=log_likelihood,
        null_statistics=null,
        tail_fraction=tail_fraction,
        companion=companion,
    )


def tail_significance(null_statistics, observed, **kwargs):
    """Global significance of ``observed`` from a tail model of ``null_statistics``.

    Parameters
    ----------
    null_statistics : array-like of shape (n_null,)
        Test statistics of background-only pseudo-experiments.
    observed : float or array-like
        Observed test statistic(s).
    **kwargs
        Passed to :func:`fit_null_tail`.

    Returns
    -------
    z, z_low, z_high : ndarray
        Shaped like ``observed``; see :meth:`NullTailModel.significance`.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.stats import tail_significance
    >>> null = np.random.default_rng(2).exponential(size=500)
    >>> z, z_low, z_high = tail_significance(null, 3.0)
    >>> bool(z_low <= z <= z_high)
    True
    """
    return fit_null_tail(null_statistics, **kwargs).significance(observed)
