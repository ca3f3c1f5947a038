"""DijetFitBackground: the parametric dijet-function fit, the classic resonance search."""

import logging
import warnings
from numbers import Integral, Real

import numpy as np
from scipy import special
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ..scanning._mls import STATISTICS, local_significance
from ._dijet_functions import SQRT_S, dijet_function
from ._likelihood import (
    SIGNAL_WIDTH_START,
    bin_integrals,
    log_linear_start,
    minimise_deviance,
)

logger = logging.getLogger(__name__)

# Cluster Scanning's evaluation region (arXiv:2402.17714): 16 bins of 100 GeV, 3.0–4.6 TeV.
BINS = tuple(float(edge) for edge in np.linspace(3000.0, 4600.0, 17))
# Starting points of the minimisation: the log-linear start and up to four more.
N_STARTS = 5
# Expected counts at or below this (the smallest normal float) cannot be tested.
_MIN_EXPECTED = np.finfo(np.float64).tiny


def _testable(expected):
    """Bins whose background estimate is positive and finite: a local p-value exists."""
    return np.isfinite(expected) & (expected > _MIN_EXPECTED)


class DijetFitBackground(BaseEstimator):
    r"""Background estimate from a likelihood fit of the dijet function to the m_jj spectrum.

    The baseline of resonance searches at the LHC and the reference Cluster Scanning is
    compared with: the binned m_jj spectrum is fitted with

    .. math::

        f(x) = p_0 \frac{(1 - x)^{p_1}}{x^{p_2 + p_3 \ln x + p_4 \ln^2 x}}, \qquad
        x = m_{jj} / \sqrt{s},

    (3, 4 or 5 parameters) by an extended binned Poisson likelihood, with the function
    integrated over each bin, minimised with iminuit (MIGRAD, then HESSE). The test
    statistic is the maximum local significance of the data over the fit.

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
    n_starts : int, default=5
        Maximum number of starting points of the minimisation; the next one is tried only
        when the previous ones did not converge (see Notes).
    max_calls : int or None, default=None
        Maximum number of likelihood evaluations of each MIGRAD run; None uses iminuit's
        default (which grows with the number of parameters).
    mjj_column : int or str, default=0
        Column of ``X`` that holds m_jj: an index, or a column name when ``X`` is a
        DataFrame (e.g. ``EventTable.to_dataframe()`` with ``mjj_column="mjj"``).

    Attributes
    ----------
    params_ : ndarray of shape (n_params,)
        Fitted (p0, …); p0 in events per GeV.
    param_errors_ : ndarray of shape (n_params,)
        Standard errors from HESSE; the error of p0 is propagated from that of log p0.
    covariance_ : ndarray of shape (n_free, n_free)
        HESSE covariance of (log p0, p1, …[, yield, mean, width/mean]).
    signal_params_ : ndarray of shape (3,) or None
        Fitted (yield, mean, width) of the Gaussian signal, mean and width in GeV.
    signal_param_errors_ : ndarray of shape (3,) or None
        Their standard errors.
    converged_ : bool
        Whether the fit converged: a valid MIGRAD minimum (EDM below tolerance, call
        limit not reached) with an accurate HESSE covariance, finite parameters, p0 > 0
        and finite expected counts.
    fit_message_ : str
        What happened at each starting point that was tried.
    n_starts_used_ : int
        Number of starting points tried.
    n_calls_ : int
        Likelihood evaluations, over all starting points.
    at_limit_ : tuple of str
        Parameters of the kept fit that sit at one of their limits (``"log p0"``,
        ``"yield"``, ``"mean"``, ``"relative_width"``); their errors are unreliable.
    edm_ : float
        Estimated distance to the minimum of the kept fit.
    nll_ : float
        Σ_b [μ_b − n_b log μ_b] at the fitted parameters (the extended binned Poisson
        negative log-likelihood without the constant Σ_b log n_b!).
    chi2_ : float
        Poisson deviance ("Poisson χ²") 2 Σ_b [μ_b − n_b + n_b log(n_b/μ_b)] at the
        fitted parameters, the minimised quantity.
    ndf_ : int
        Degrees of freedom: number of bins minus free parameters.
    chi2_ndf_ : float
        ``chi2_ / ndf_``.
    untestable_bins_ : ndarray of shape (n_bins,), bool
        Bins whose fitted background is not positive and finite (see Notes).
    n_untestable_bins_ : int
        Their number.
    bins_ : ndarray of shape (n_bins + 1,)
        Bin edges in use.
    observed_counts_ : ndarray of shape (n_bins,)
        Weighted histogram that was fitted.
    n_outside_ : int
        Samples outside the bins (not fitted; reported, never dropped silently).
    n_features_in_ : int
        Number of columns of ``X``.

    See Also
    --------
    hepcluster.fits.dijet_function : The function that is fitted.
    hepcluster.ClusterScanner : The data-driven alternative.

    Notes
    -----
    **Likelihood.** With n_b the (possibly weighted, non-integer) counts and
    μ_b(θ) = ∫_b f the bin integrals (Gauss–Legendre, 8 nodes per bin), the fit
    minimises the Poisson deviance

    .. math::

        D(\theta) = 2 \sum_b \left[\mu_b(\theta) - n_b
                    + n_b \ln \frac{n_b}{\mu_b(\theta)}\right],

    which is twice the extended binned negative log-likelihood
    Σ_b [μ_b − n_b ln μ_b] up to a θ-independent constant; at the minimum it is a
    goodness-of-fit statistic with about n_bins − n_free degrees of freedom (Baker and
    Cousins). p0 enters as log p0, and Minuit moves in coordinates that whiten the
    Fisher information of (log p0, p1, …) at the start (log f is linear in them), which
    removes their strong correlations without changing the function.

    **The range of p0.** With few events on a narrow x range the minimum of the 4- and
    5-parameter functions may lie far along a nearly flat valley, at ``|log p0|`` of a
    thousand or more (p1, p2, … of hundreds), where p0 is no double-precision number.
    Such a minimum is refitted with ``|log p0|`` ≤ 600: the fit ends at the limit (listed in
    ``at_limit_``; the deviance it costs is in ``fit_message_``, typically a few tenths
    to a few units), describes the spectrum about as well, and its parameter errors are
    unreliable. Parameters that run away without any minimum are not refitted: that fit
    did not converge.

    **Starts.** The first start is a weighted linear least-squares fit of log(N_b/Δm_b).
    If it does not converge, up to ``n_starts`` − 1 further starts are tried in turn
    (the 3-parameter fit extended with zeros, typical values (10, 5, 0, 0), then starts
    jittered around the best point so far with a fixed seed, each after a Simplex pass,
    with MIGRAD strategy 2); the first converged fit is kept, otherwise the one with the
    lowest deviance. The fit is deterministic.

    **Diagnostics.** A fit that did not converge issues a
    :class:`~sklearn.exceptions.ConvergenceWarning` and has ``converged_ = False``; its
    parameters are the best found and should not be trusted.

    **Untestable bins.** The local significance of a bin needs a positive background: a
    bin whose fitted expected count is not positive and finite (e.g. underflows to 0 in a
    runaway fit) cannot be tested and gets Z = 0; such bins are counted in
    ``n_untestable_bins_``. :meth:`local_significance` and :meth:`score` are therefore
    always finite.

    References
    ----------
    CMS Collaboration, Phys. Rev. D 91 (2015) 052009; ATLAS Collaboration,
    Phys. Rev. D 96 (2017) 052004 (dijet functions and their likelihood fits);
    I. Oleksiyuk et al., arXiv:2402.17714, §3.1.2 and App. A; S. Baker, R. D. Cousins,
    Nucl. Instrum. Meth. 221 (1984) 437 (the Poisson χ²); F. James, M. Roos, Comput.
    Phys. Commun. 10 (1975) 343 (MINUIT).

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster import DijetFitBackground
    >>> from hepcluster.datasets import sample_dijet_spectrum
    >>> mjj = sample_dijet_spectrum(50_000, (3000.0, 4600.0), random_state=0)
    >>> fit = DijetFitBackground(n_params=4).fit(mjj.reshape(-1, 1))
    >>> fit.converged_, fit.ndf_
    (True, 12)
    >>> bool(fit.chi2_ndf_ < 3.0)
    True
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
        "n_starts": [Interval(Integral, 1, None, closed="left")],
        "max_calls": [Interval(Integral, 1, None, closed="left"), None],
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
        n_starts=N_STARTS,
        max_calls=None,
        mjj_column=0,
    ):
        self.n_params = n_params
        self.bins = bins
        self.sqrt_s = sqrt_s
        self.x_scale = x_scale
        self.signal = signal
        self.statistic = statistic
        self.n_starts = n_starts
        self.max_calls = max_calls
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
        """Fit the dijet function to the weighted m_jj histogram by maximum likelihood.

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
        edges = self.bins_
        signal_start = None
        if self.signal == "gaussian":
            theta = log_linear_start(counts, edges, scale, self.n_params)
            shape = bin_integrals(edges, (np.exp(theta[0]), *theta[1:]), scale)
            centres = 0.5 * (edges[1:] + edges[:-1])
            ratio = np.divide(counts, shape, out=np.zeros_like(counts), where=shape > 0)
            signal_start = (
                0.01 * counts.sum(),
                float(centres[np.argmax(ratio)]),
                SIGNAL_WIDTH_START,
            )
        outcome = minimise_deviance(
            counts,
            edges,
            scale,
            self.n_params,
            signal_start=signal_start,
            n_starts=self.n_starts,
            max_calls=self.max_calls,
        )
        self._store(outcome, counts, n_bins - n_free)
        if not self.converged_:
            warnings.warn(
                f"the dijet fit did not converge after {outcome.n_starts} start(s) "
                f"({outcome.message}); its parameters are the best found and "
                "converged_ is False.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _store(self, outcome, counts, ndf):
        theta = outcome.theta
        n = self.n_params
        with np.errstate(over="ignore", invalid="ignore"):  # a runaway fit: huge p0
            self.params_ = np.concatenate([[np.exp(theta[0])], theta[1:n]])
            errors = np.sqrt(np.clip(np.diag(outcome.covariance), 0.0, None))
            self.param_errors_ = errors[:n].copy()
            self.param_errors_[0] = self.params_[0] * errors[0]  # σ(p0) = p0 σ(log p0)
        self.covariance_ = outcome.covariance
        self.signal_params_ = None
        self.signal_param_errors_ = None
        if self.signal == "gaussian":
            amplitude, mean, relative = theta[n:]
            self.signal_params_ = np.array([amplitude, mean, relative * mean])
            cov = outcome.covariance[n:, n:]
            # width = (σ/mean) · mean: first-order propagation
            gradient = np.array([relative, mean])
            width_variance = gradient @ cov[np.ix_([1, 2], [1, 2])] @ gradient
            self.signal_param_errors_ = np.sqrt(
                np.clip([cov[0, 0], cov[1, 1], width_variance], 0.0, None)
            )
        self.converged_ = outcome.converged
        self.fit_message_ = outcome.message
        self.n_starts_used_ = outcome.n_starts
        self.n_calls_ = outcome.n_calls
        self.at_limit_ = outcome.at_limit
        self.edm_ = outcome.edm
        self.chi2_ = outcome.deviance
        # Σ[μ − n log μ] = ½ deviance − Σ[n log n − n], free of p0's overflow
        self.nll_ = 0.5 * self.chi2_ - float(np.sum(special.xlogy(counts, counts) - counts))
        self.ndf_ = int(ndf)
        self.chi2_ndf_ = self.chi2_ / self.ndf_
        self.untestable_bins_ = ~_testable(self.expected_counts())
        self.n_untestable_bins_ = int(self.untestable_bins_.sum())
        if self.n_untestable_bins_:
            logger.info(
                "%d bin(s) without a positive background estimate cannot be tested (Z = 0)",
                self.n_untestable_bins_,
            )

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
        with np.errstate(over="ignore", invalid="ignore"):  # p0 = ∞ of a failed fit
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
        """Significance of the excess of the data over the fitted background in every bin.

        Bins without a positive, finite background estimate (``untestable_bins_``) get
        Z = 0, so the result is always finite.

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
        expected = self.expected_counts()
        testable = _testable(expected)
        z = np.zeros(counts.size)
        z[testable] = local_significance(counts[testable], expected[testable], self.statistic)
        return z

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
            MLS ≥ 0 (higher means more anomalous), always finite.
        """
        return float(self.local_significance(X, sample_weight).max(initial=0.0))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.input_tags.positive_only = True
        return tags
