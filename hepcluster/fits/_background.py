"""DijetFitBackground: the parametric dijet-function fit, the classic resonance search."""

import logging
import warnings
from numbers import Integral, Real

import numpy as np
from scipy import optimize
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ..scanning._mls import STATISTICS, local_significance
from ._dijet_functions import SQRT_S, dijet_function

logger = logging.getLogger(__name__)

# Cluster Scanning's evaluation region (arXiv:2402.17714): 16 bins of 100 GeV, 3.0–4.6 TeV.
BINS = tuple(float(edge) for edge in np.linspace(3000.0, 4600.0, 17))
# Starting values of (p1, p2, p3, p4), typical of LHC dijet spectra at 13 TeV.
_START = (10.0, 5.0, 0.0, 0.0)
# Gauss–Legendre nodes per bin for the bin integrals of the fitted function.
_N_NODES = 8


def bin_integrals(edges, params, x_scale, signal=None):
    """Expected counts per bin: the dijet function (plus a Gaussian) integrated over each bin.

    Parameters
    ----------
    edges : ndarray of shape (n_bins + 1,)
        Bin edges in GeV.
    params : sequence of float
        Dijet-function parameters (p0, p1, p2[, p3[, p4]]).
    x_scale : float
        x = m_jj / x_scale.
    signal : (float, float, float), optional
        Gaussian signal (number of events, mean, width) in GeV.

    Returns
    -------
    ndarray of shape (n_bins,)
    """
    nodes, node_weights = np.polynomial.legendre.leggauss(_N_NODES)
    low, high = edges[:-1, None], edges[1:, None]
    half = 0.5 * (high - low)
    mjj = low + half * (nodes[None, :] + 1.0)
    counts = (dijet_function(mjj, params, x_scale=x_scale) * node_weights).sum(axis=1)
    counts = counts * half[:, 0]
    if signal is not None:
        from scipy import stats

        amplitude, mean, width = signal
        cdf = stats.norm.cdf(edges, loc=mean, scale=width)
        counts = counts + amplitude * np.diff(cdf)
    return counts


def _log_linear_start(counts, edges, x_scale, n_params):
    """Starting values from a weighted linear fit of log density at the bin centres.

    log f(x) = log p0 + p1 log(1 − x) − p2 log x − p3 log² x − p4 log³ x is linear in
    (log p0, p1, …), so a weighted linear least-squares fit to log(N_b / Δm_b) gives
    starting values close to the optimum. Falls back to typical values when fewer
    non-empty bins than parameters are available.
    """
    centres = 0.5 * (edges[1:] + edges[:-1])
    filled = counts > 0
    fallback = np.array([0.0, *_START[: n_params - 1]])
    if filled.sum() < n_params:
        shape = bin_integrals(edges, (1.0, *fallback[1:]), x_scale)
        fallback[0] = np.log(max(counts.sum(), 1e-300) / shape.sum())
        return fallback
    x = centres[filled] / x_scale
    log_x = np.log(x)
    basis = np.column_stack(
        [np.ones_like(x), np.log1p(-x), -log_x, -(log_x**2), -(log_x**3)][:n_params]
    )
    target = np.log(counts[filled] / np.diff(edges)[filled])
    weight = np.sqrt(counts[filled])  # σ(log N) ≈ 1/√N
    solution, *_ = np.linalg.lstsq(basis * weight[:, None], target * weight, rcond=None)
    return solution if np.all(np.isfinite(solution)) else fallback


class DijetFitBackground(BaseEstimator):
    r"""Background estimate from a fit of the n-parameter dijet function to the m_jj spectrum.

    The baseline of resonance searches at the LHC and the reference Cluster Scanning is
    compared with: the binned m_jj spectrum is fitted with

    .. math::

        f(x) = p_0 \frac{(1 - x)^{p_1}}{x^{p_2 + p_3 \ln x + p_4 \ln^2 x}}, \qquad
        x = m_{jj} / \sqrt{s},

    (3, 4 or 5 parameters) by variance-weighted least squares (σ_b = √N_b, scipy's
    trust-region-reflective method), with the function integrated over each bin. The
    test statistic is the maximum local significance of the data over the fit.

    Parameters
    ----------
    n_params : {3, 4, 5}, default=4
        Number of parameters of the dijet function.
    bins : int or array-like of float, default=16 bins of 100 GeV over 3000–4600 GeV
        Bin edges in GeV; an int gives that many equal bins over the range of ``X``.
    sqrt_s : float, default=13000.0
        Centre-of-mass energy in GeV.
    x_scale : "sqrt_s" or float, default="sqrt_s"
        Scale of x: √s (Cluster Scanning, ATLAS/CMS) or e.g. 1000 GeV (UCluster).
    signal : {None, "gaussian"}, default=None
        Fit a Gaussian signal (free yield ≥ 0, mean inside the bins, width 2–15 % of the
        mean) on top of the background.
    statistic : {"poisson", "poisson-midp", "gaussian"}, default="poisson"
        Local significance used by :meth:`score`, the same as
        :class:`~hepcluster.ClusterScanner`'s.
    max_nfev : int, default=2000
        Maximum number of function evaluations of the fit.
    mjj_column : int or str, default=0
        Column of ``X`` that holds m_jj: an index, or a column name when ``X`` is a
        DataFrame (e.g. ``EventTable.to_dataframe()`` with ``mjj_column="mjj"``).

    Attributes
    ----------
    params_ : ndarray of shape (n_params,)
        Fitted (p0, …); p0 in events per GeV.
    param_errors_ : ndarray of shape (n_params,)
        Standard errors from the inverse of JᵀJ at the optimum.
    signal_params_ : ndarray of shape (3,) or None
        Fitted (yield, mean, width) of the Gaussian signal.
    bins_ : ndarray of shape (n_bins + 1,)
        Bin edges in use.
    observed_counts_ : ndarray of shape (n_bins,)
        Weighted histogram that was fitted.
    chi2_ : float
        χ² of the fit; ``ndf_`` its degrees of freedom.
    n_outside_ : int
        Samples outside the bins (not fitted; reported, never dropped silently).
    n_features_in_ : int
        Number of columns of ``X``.

    See Also
    --------
    hepcluster.fits.dijet_function : The function that is fitted.
    hepcluster.ClusterScanner : The data-driven alternative.

    References
    ----------
    CMS Collaboration, Phys. Rev. D 91 (2015) 052009; ATLAS Collaboration,
    Phys. Rev. D 96 (2017) 052004 (dijet functions); I. Oleksiyuk et al.,
    arXiv:2402.17714, §3.1.2 and App. A.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster import DijetFitBackground
    >>> from hepcluster.datasets import sample_dijet_spectrum
    >>> mjj = sample_dijet_spectrum(50_000, (3000.0, 4600.0), random_state=0)
    >>> fit = DijetFitBackground(n_params=4).fit(mjj.reshape(-1, 1))
    >>> fit.expected_counts().shape
    (16,)
    >>> bool(fit.score(mjj.reshape(-1, 1)) < 4.0)
    True
    """

    _parameter_constraints: dict = {  # noqa: RUF012 (scikit-learn's convention)
        "n_params": [Interval(Integral, 3, 5, closed="both")],
        "bins": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "sqrt_s": [Interval(Real, 0.0, None, closed="neither")],
        "x_scale": [StrOptions({"sqrt_s"}), Interval(Real, 0.0, None, closed="neither")],
        "signal": [StrOptions({"gaussian"}), None],
        "statistic": [StrOptions(set(STATISTICS))],
        "max_nfev": [Interval(Integral, 1, None, closed="left")],
        "mjj_column": [Interval(Integral, 0, None, closed="left"), str],
    }

    def __init__(
        self,
        n_params=4,
        bins=BINS,
        sqrt_s=SQRT_S,
        x_scale="sqrt_s",
        signal=None,
        statistic="poisson",
        max_nfev=2000,
        mjj_column=0,
    ):
        self.n_params = n_params
        self.bins = bins
        self.sqrt_s = sqrt_s
        self.x_scale = x_scale
        self.signal = signal
        self.statistic = statistic
        self.max_nfev = max_nfev
        self.mjj_column = mjj_column

    def _scale(self):
        return float(self.sqrt_s if self.x_scale == "sqrt_s" else self.x_scale)

    def _mjj(self, X, *, reset):
        X = validate_data(self, X, reset=reset, dtype=np.float64, ensure_min_samples=1)
        column = self.mjj_column
        if isinstance(column, str):
            names = list(getattr(self, "feature_names_in_", []))
            if column not in names:
                raise ValueError(
                    f"mjj_column={column!r} is not a column of X; a column name needs a "
                    f"DataFrame with that column (got columns {names or 'without names'})."
                )
            column = names.index(column)
        if column >= X.shape[1]:
            raise ValueError(
                f"mjj_column={column} but X has only {X.shape[1]} column(s); X must hold "
                "m_jj in GeV (reshape a 1-D array with mjj.reshape(-1, 1))."
            )
        mjj = X[:, column]
        if np.any(mjj < 0):
            raise ValueError(
                "Negative values in data passed to DijetFitBackground: m_jj must be ≥ 0 GeV."
            )
        return mjj

    def _histogram(self, mjj, sample_weight):
        weight = _check_sample_weight(sample_weight, mjj, dtype=np.float64)
        counts, _ = np.histogram(mjj, bins=self.bins_, weights=weight)
        outside = (mjj < self.bins_[0]) | (mjj > self.bins_[-1])
        return counts, int(outside.sum())

    def _resolve_bins(self, mjj):
        if isinstance(self.bins, Integral):
            # x = m_jj / x_scale must be positive: equal bins over the positive masses.
            positive = mjj[mjj > 0]
            if positive.size == 0:
                raise ValueError("DijetFitBackground needs positive m_jj values to bin.")
            low, high = float(positive.min()), float(positive.max())
            return np.linspace(low, high if high > low else 1.01 * low, self.bins + 1)
        bins = np.asarray(self.bins, dtype=np.float64)
        if bins.ndim != 1 or bins.size < 2 or np.any(np.diff(bins) <= 0):
            raise ValueError(
                f"bins must be at least two strictly increasing m_jj edges, got {self.bins!r}."
            )
        return bins

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Fit the dijet function to the weighted m_jj histogram.

        Parameters
        ----------
        X : array-like of shape (n_events, 1)
            m_jj in GeV.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_events,), default=None
            Event weights (e.g. bootstrap multiplicities).

        Returns
        -------
        self : DijetFitBackground
        """
        mjj = self._mjj(X, reset=True)
        self.bins_ = self._resolve_bins(mjj)
        scale = self._scale()
        if self.bins_[0] <= 0 or self.bins_[-1] >= scale:
            raise ValueError(
                f"the bins [{self.bins_[0]:g}, {self.bins_[-1]:g}] GeV must lie inside "
                f"(0, x_scale = {scale:g}) GeV for the dijet function."
            )
        counts, self.n_outside_ = self._histogram(mjj, sample_weight)
        if self.n_outside_:
            logger.info("%d events lie outside the fitted bins", self.n_outside_)
        n_bins = counts.size
        n_free = self.n_params + (3 if self.signal == "gaussian" else 0)
        if counts.sum() <= 0:
            raise ValueError("no events inside the bins: nothing to fit.")
        if n_bins <= n_free:
            raise ValueError(
                f"{n_bins} bins cannot constrain {n_free} free parameters; use more bins."
            )
        self.observed_counts_ = counts
        sigma = np.sqrt(np.maximum(counts, 1.0))
        edges = self.bins_
        centres = 0.5 * (edges[1:] + edges[:-1])

        def unpack_background(theta):
            return np.concatenate([[np.exp(theta[0])], theta[1 : self.n_params]])

        def unpack(theta):
            params = unpack_background(theta)
            signal = None
            if self.signal == "gaussian":
                signal = (theta[-3], theta[-2], theta[-1] * theta[-2])
            return params, signal

        def residuals(theta):
            params, signal = unpack(theta)
            # Trial steps of the optimiser may overflow; a huge residual sends it back.
            with np.errstate(over="ignore", invalid="ignore"):
                expected = bin_integrals(edges, params, scale, signal)
            return np.nan_to_num((counts - expected) / sigma, nan=1e10, posinf=1e10, neginf=-1e10)

        theta0 = list(_log_linear_start(counts, edges, scale, self.n_params))
        shape = bin_integrals(edges, unpack_background(theta0), scale)
        lower = [-np.inf] + [-np.inf] * (self.n_params - 1)
        upper = [np.inf] * self.n_params
        if self.signal == "gaussian":
            theta0 += [0.01 * counts.sum(), centres[np.argmax(counts / shape)], 0.06]
            lower += [0.0, edges[0], 0.02]
            upper += [counts.sum(), edges[-1], 0.15]
        with np.errstate(over="ignore", invalid="ignore"):  # rejected trial steps only
            solution = optimize.least_squares(
                residuals,
                np.asarray(theta0, dtype=np.float64),
                bounds=(lower, upper),
                method="trf",
                x_scale="jac",
                max_nfev=self.max_nfev,
            )
        self.success_ = bool(solution.success) and np.all(np.isfinite(solution.x))
        if not self.success_:
            warnings.warn(
                f"the dijet fit did not converge: {solution.message}",
                ConvergenceWarning,
                stacklevel=2,
            )
        params, signal = unpack(solution.x)
        self.params_ = params
        self.signal_params_ = None if signal is None else np.asarray(signal)
        self.chi2_ = float(np.sum(solution.fun**2))
        self.ndf_ = int(n_bins - n_free)
        self.param_errors_ = self._errors(solution)
        return self

    def _errors(self, solution):
        jacobian = solution.jac
        try:
            covariance = np.linalg.pinv(jacobian.T @ jacobian)
        except np.linalg.LinAlgError:  # pragma: no cover - pinv is robust
            return np.full(self.n_params, np.nan)
        errors = np.sqrt(np.clip(np.diag(covariance), 0.0, None))[: self.n_params].copy()
        with np.errstate(over="ignore"):  # a runaway fit may have an enormous p0
            errors[0] = errors[0] * self.params_[0]  # p0 = exp(θ0)
        return errors

    def expected_counts(self, bins=None):
        """Background counts expected per bin from the fitted function (bin integrals).

        Parameters
        ----------
        bins : array-like of float, optional
            Bin edges in GeV; defaults to the fitted ``bins_``.

        Returns
        -------
        ndarray of shape (n_bins,)
        """
        check_is_fitted(self)
        edges = self.bins_ if bins is None else np.asarray(bins, dtype=np.float64)
        return bin_integrals(edges, self.params_, self._scale())

    def density(self, mjj):
        """Fitted background density dN/dm_jj in events per GeV at the given masses.

        Parameters
        ----------
        mjj : array-like
            m_jj in GeV.

        Returns
        -------
        ndarray
        """
        check_is_fitted(self)
        return dijet_function(mjj, self.params_, x_scale=self._scale())

    def local_significance(self, X, sample_weight=None):
        """Significance of the excess of the data over the fit in every bin.

        Parameters
        ----------
        X : array-like of shape (n_events, 1)
            m_jj in GeV.
        sample_weight : array-like of shape (n_events,), default=None

        Returns
        -------
        ndarray of shape (n_bins,)
        """
        check_is_fitted(self)
        counts, _ = self._histogram(self._mjj(X, reset=False), sample_weight)
        return local_significance(counts, self.expected_counts(), self.statistic)

    def score(self, X, y=None, sample_weight=None):
        """Maximum local significance of the data over the fitted background.

        Parameters
        ----------
        X : array-like of shape (n_events, 1)
            m_jj in GeV.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_events,), default=None

        Returns
        -------
        float
            MLS ≥ 0 (higher means more anomalous).
        """
        return float(self.local_significance(X, sample_weight).max(initial=0.0))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.input_tags.positive_only = True
        return tags
