"""DijetFitBackground: the parametric dijet-function fit, the classic resonance search."""

import logging
import warnings
from numbers import Integral, Real

import numpy as np
from scipy import special
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import (
    check_array,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ..stats import (
    CLUSTER_SCANNING_BINS,
    SQRT_S,
    STATISTICS,
    check_bin_edges,
    dijet_function,
    histogram,
    local_significance,
)
from ..utils._sklearn_compat import (
    Interval,
    StrOptions,
    check_sample_weight,
    fit_context,
    num_samples,
)
from ._likelihood import (
    SIGNAL_WIDTH_START,
    bin_integrals,
    log_linear_start,
    minimise_deviance,
)

logger = logging.getLogger(__name__)

# Starting points of the minimisation: the log-linear start and up to four more.
N_STARTS = 5
# Expected counts at or below this (the smallest normal float) cannot be tested.
_MIN_EXPECTED = np.finfo(np.float64).tiny


def _n_columns(X):
    """Columns of a two-dimensional X (array, DataFrame, sparse matrix, nested lists)."""
    shape = getattr(X, "shape", None)
    if shape is None:
        try:
            shape = np.asarray(X).shape
        except ValueError as error:  # ragged nested lists
            raise TypeError(f"X of type {type(X).__name__} has no regular shape") from error
    if len(shape) != 2:
        raise TypeError(f"X has {len(shape)} dimension(s), expected 2")
    return int(shape[1])


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
    statistic (:meth:`test_statistic`) is the maximum local significance of the data over
    the fit.

    m_jj is the target: ``fit(X, y)`` with ``y`` the m_jj of each event in GeV and ``X``
    None or any array with one row per event (its values are not used), as for every
    search method (``sample_unit = "event"``).

    Parameters
    ----------
    n_params : {3, 4, 5}, default=4
        Number of parameters of the dijet function.
    bins : int or array-like of float, default=CLUSTER_SCANNING_BINS
        Bin edges in GeV (default: 16 bins of 100 GeV over 3000–4600 GeV,
        :data:`hepcluster.stats.CLUSTER_SCANNING_BINS`); bin i holds
        ``edges[i] <= m_jj < edges[i + 1]``, the last edge excluded (see
        :func:`hepcluster.stats.histogram`). An int gives that many equal bins over the
        range of the positive m_jj values (the largest one included).
    sqrt_s : float, default=13000.0
        Centre-of-mass energy in GeV.
    x_scale : "sqrt_s" or float, default="sqrt_s"
        Scale of x: √s (Cluster Scanning, ATLAS/CMS) or e.g. 1000 GeV (UCluster).
    signal : {None, "gaussian"}, default=None
        Fit a Gaussian signal (free yield ≥ 0, mean inside the bins, width 2–15 % of the
        mean) on top of the background.
    statistic : {"poisson", "poisson-midp", "gaussian"}, default="poisson"
        Local significance used by :meth:`local_significance` and
        :meth:`test_statistic`, the same as :class:`~hepcluster.ClusterScanner`'s.
    n_starts : int, default=5
        Maximum number of starting points of the minimisation; the next one is tried only
        when the previous ones did not converge (see Notes).
    max_calls : int or None, default=None
        Maximum number of likelihood evaluations of each MIGRAD run; None uses iminuit's
        default (which grows with the number of parameters).

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
    minuit_ : iminuit.Minuit
        The kept fit itself (MIGRAD and HESSE done), for MINOS or a profile scan
        afterwards: ``fit.minuit_.minos("yield")``, ``fit.minuit_.mnprofile(...)``. Its
        background parameters ``phi0``, ``phi1``, … are the whitened coordinates the
        fit moves in (θ_bkg = θ_ref + T φ, see Notes), the signal parameters
        ``yield``, ``mean`` and ``relative_width`` are the physical ones; the function
        is the Poisson deviance (``errordef = 1``).
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
        Number of columns of ``X``; only set when ``X`` is not None.

    See Also
    --------
    hepcluster.stats.dijet_function : The function that is fitted.
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
    ``n_untestable_bins_``. :meth:`local_significance` and :meth:`test_statistic` are
    therefore always finite.

    **score and test_statistic.** :meth:`score` follows scikit-learn's meaning for a
    density fit: the binned log-likelihood of the data under the fitted density, higher
    for a better description, so model selection (e.g. ``GridSearchCV`` over
    ``n_params``) prefers the function that describes held-out spectra best.
    :meth:`test_statistic` is the search's statistic, the maximum local significance of
    the data over the fit (higher = more anomalous); calibration
    (:func:`~hepcluster.calibration.run_pseudo_experiments`) calls it, never ``score``.
    Maximising the test statistic would reward the worst background description.

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
    >>> fit = DijetFitBackground(n_params=4).fit(None, mjj)
    >>> fit.converged_, fit.ndf_
    (True, 12)
    >>> bool(fit.chi2_ndf_ < 3.0)
    True
    >>> fit.expected_counts().shape
    (16,)
    >>> round(fit.test_statistic(None, mjj), 2)
    1.54
    >>> three = DijetFitBackground(n_params=3).fit(None, mjj)
    >>> bool(fit.score(None, mjj) > three.score(None, mjj))  # log-likelihood: higher fits better
    True
    """

    sample_unit = "event"
    """One row of X per event; m_jj (y) is all the fit uses."""

    _parameter_constraints: dict = {  # noqa: RUF012 (scikit-learn's convention)
        "n_params": [Interval(Integral, 3, 5, closed="both")],
        "bins": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "sqrt_s": [Interval(Real, 0.0, None, closed="neither")],
        "x_scale": [StrOptions({"sqrt_s"}), Interval(Real, 0.0, None, closed="neither")],
        "signal": [StrOptions({"gaussian"}), None],
        "statistic": [StrOptions(set(STATISTICS))],
        "n_starts": [Interval(Integral, 1, None, closed="left")],
        "max_calls": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        n_params=4,
        *,
        bins=CLUSTER_SCANNING_BINS,
        sqrt_s=SQRT_S,
        x_scale="sqrt_s",
        signal=None,
        statistic="poisson",
        n_starts=N_STARTS,
        max_calls=None,
    ):
        self.n_params = n_params
        self.bins = bins
        self.sqrt_s = sqrt_s
        self.x_scale = x_scale
        self.signal = signal
        self.statistic = statistic
        self.n_starts = n_starts
        self.max_calls = max_calls

    def _scale(self):
        return float(self.sqrt_s if self.x_scale == "sqrt_s" else self.x_scale)

    def _mjj(self, X, y, *, reset):
        """m_jj in GeV from ``y``; X is only checked to hold one row per event."""
        if y is None:
            raise ValueError(
                "DijetFitBackground requires y to be passed, but the target y is None: "
                "pass m_jj in GeV as y (fit(X, y), X = None or one row per event)."
            )
        mjj = column_or_1d(
            check_array(y, ensure_2d=False, dtype=np.float64, input_name="y"), warn=False
        )
        if X is None:
            if reset:
                for name in ("n_features_in_", "feature_names_in_"):
                    self.__dict__.pop(name, None)
        else:
            # Only the rows of X matter (one per event); n_features_in_ is recorded and
            # checked as scikit-learn does, the values are never read.
            try:
                n_features = _n_columns(X)
            except TypeError as error:
                raise ValueError(
                    f"X must be None or hold one row per event (2-D): {error}; m_jj goes in y."
                ) from error
            if n_features == 0:
                raise ValueError(
                    f"Found array with 0 feature(s) (shape=({num_samples(X)}, 0)) while a "
                    "minimum of 1 is required; pass X=None when the events have no features."
                )
            validate_data(self, X, reset=reset, skip_check_array=True)
            n_rows = num_samples(X)
            if n_rows != mjj.size:
                raise ValueError(
                    f"X has {n_rows} rows but y has {mjj.size} m_jj values: X must have one "
                    "row per event (or be None)."
                )
        if np.any(mjj < 0):
            raise ValueError(
                "Negative values in y passed to DijetFitBackground: m_jj must be ≥ 0 GeV."
            )
        return mjj

    def _histogram(self, mjj, sample_weight):
        weight = check_sample_weight(sample_weight, mjj, dtype=np.float64)
        counts = histogram(mjj, self.bins_, weights=weight)
        outside = (mjj < self.bins_[0]) | (mjj >= self.bins_[-1])
        return counts, int(outside.sum())

    def _resolve_bins(self, mjj):
        if isinstance(self.bins, Integral):
            # x = m_jj / x_scale must be positive: equal bins over the positive masses.
            positive = mjj[mjj > 0]
            if positive.size == 0:
                raise ValueError("DijetFitBackground needs positive m_jj values to bin.")
            low, high = float(positive.min()), float(positive.max())
            edges = np.linspace(low, high if high > low else 1.01 * low, self.bins + 1)
            # The last edge is excluded from the bins: move it one ulp up so the largest
            # mass stays inside.
            edges[-1] = np.nextafter(edges[-1], np.inf)
            return edges
        return check_bin_edges(self.bins, name="bins")

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Fit the dijet function to the weighted m_jj histogram by maximum likelihood.

        Parameters
        ----------
        X : None or array-like of shape (n_events, n_features)
            One row per event, or None. Its values are not used (the fit sees only m_jj);
            only its number of rows is checked against ``y``.
        y : array-like of shape (n_events,)
            m_jj of each event in GeV.
        sample_weight : array-like of shape (n_events,), default=None
            Event weights (e.g. bootstrap multiplicities).

        Returns
        -------
        self : DijetFitBackground
        """
        mjj = self._mjj(X, y, reset=True)
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
        self.minuit_ = outcome.minuit
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

    def to_hist(self, bins=None):
        """The expected background counts as a ``hist.Hist`` (needs the ``hist`` extra).

        ``Weight`` storage over an m_jj axis named ``"mjj"`` (label ``"m_jj [GeV]"``):
        the values are :meth:`expected_counts`, the variances those of the fit, propagated
        to first order from the HESSE covariance of (log p0, p1, …),
        Var μ_b = J_b C J_bᵀ with J_b = ∂μ_b/∂θ (∂μ_b/∂ log p0 = μ_b exactly, the other
        derivatives by central differences). A UHI ``PlottableHistogram``:
        ``mplhep.histplot(fit.to_hist())`` draws the fit with its error band.

        Parameters
        ----------
        bins : array-like of float, optional
            Bin edges in GeV; defaults to the fitted ``bins_``.

        Returns
        -------
        hist.Hist

        Raises
        ------
        ImportError
            Without hist: ``pip install "hepcluster[hist]"``.

        Examples
        --------
        >>> import numpy as np, pytest
        >>> _ = pytest.importorskip("hist")
        >>> from hepcluster import DijetFitBackground
        >>> from hepcluster.datasets import sample_dijet_spectrum
        >>> mjj = sample_dijet_spectrum(50_000, (3000.0, 4600.0), random_state=0)
        >>> fit = DijetFitBackground(n_params=4).fit(None, mjj)
        >>> h = fit.to_hist()
        >>> h.axes[0].label, bool(np.allclose(h.values(), fit.expected_counts()))
        ('m_jj [GeV]', True)
        >>> bool(np.all(np.sqrt(h.variances()) < 0.1 * h.values()))  # the fit's errors
        True
        """
        from ..utils._hist import mjj_axis, weighted_hist

        check_is_fitted(self)
        edges = self.bins_ if bins is None else np.asarray(bins, dtype=np.float64)
        values = self.expected_counts(edges)
        n = self.n_params
        theta = np.concatenate([[np.log(self.params_[0])], self.params_[1:]])
        scale = self._scale()

        def counts(point):
            params = np.concatenate([[np.exp(point[0])], point[1:]])
            with np.errstate(over="ignore", invalid="ignore"):
                return bin_integrals(edges, params, scale)

        jacobian = np.empty((values.size, n))
        jacobian[:, 0] = values
        for k in range(1, n):
            step = 1e-5 * max(abs(theta[k]), 1.0)
            up, down = theta.copy(), theta.copy()
            up[k] += step
            down[k] -= step
            jacobian[:, k] = (counts(up) - counts(down)) / (2 * step)
        covariance = self.covariance_[:n, :n]
        variances = np.einsum("bi,ij,bj->b", jacobian, covariance, jacobian)
        return weighted_hist(
            [mjj_axis(edges)],
            values,
            np.clip(variances, 0.0, None),
            name="expected_background",
            label="expected events",
        )

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

    def _counts(self, X, y, sample_weight):
        check_is_fitted(self)
        return self._histogram(self._mjj(X, y, reset=False), sample_weight)[0]

    def local_significance(self, X, y=None, sample_weight=None):
        """Significance of the excess of the data over the fitted background in every bin.

        Bins without a positive, finite background estimate (``untestable_bins_``) get
        Z = 0, so the result is always finite.

        Parameters
        ----------
        X : None or array-like of shape (n_events, n_features)
            One row per event, or None; only its number of rows is used.
        y : array-like of shape (n_events,)
            m_jj in GeV.
        sample_weight : array-like of shape (n_events,), default=None

        Returns
        -------
        ndarray of shape (n_bins,)
        """
        counts = self._counts(X, y, sample_weight)
        expected = self.expected_counts()
        testable = _testable(expected)
        z = np.zeros(counts.size)
        z[testable] = local_significance(
            counts[testable], expected[testable], statistic=self.statistic
        )
        return z

    def test_statistic(self, X, y=None, sample_weight=None, *, is_signal=None):
        """Maximum local significance (MLS) of the data over the fitted background.

        The test statistic of the search (arXiv:2402.17714, §3.1.2), the one calibration
        turns into a global significance.

        Parameters
        ----------
        X : None or array-like of shape (n_events, n_features)
            One row per event, or None; only its number of rows is used.
        y : array-like of shape (n_events,)
            m_jj in GeV.
        sample_weight : array-like of shape (n_events,), default=None
        is_signal : array-like of shape (n_events,), default=None
            Truth labels; ignored (the fit has no idealized variant), accepted so that
            every method has the same test-statistic signature.

        Returns
        -------
        float
            MLS ≥ 0 (higher means more anomalous), always finite.
        """
        return float(self.local_significance(X, y, sample_weight).max(initial=0.0))

    def score(self, X, y=None, sample_weight=None):
        r"""Binned log-likelihood of the m_jj values under the fitted density (nats).

        With n_b the (weighted) counts, μ_b the fitted expected counts (background plus
        the Gaussian signal when one was fitted), Δm_b the bin widths and M = Σ_b μ_b,

        .. math::

            \ell = \sum_b n_b \ln \frac{\mu_b}{M \, \Delta m_b},

        the sum over events of the log of the fitted density, normalised over the bins and
        averaged over each bin. Higher means a better description (scikit-learn's
        convention, as for density estimators); events outside the bins do not count.

        Parameters
        ----------
        X : None or array-like of shape (n_events, n_features)
            One row per event, or None; only its number of rows is used.
        y : array-like of shape (n_events,)
            m_jj in GeV.
        sample_weight : array-like of shape (n_events,), default=None

        Returns
        -------
        float
            ℓ; -inf where a bin with events has no expected events (or the fit gives no
            finite density).
        """
        counts = self._counts(X, y, sample_weight)
        expected = self._expected_total()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            density = expected / (expected.sum() * np.diff(self.bins_))
            value = float(np.sum(special.xlogy(counts, density)))
        return value if np.isfinite(value) or value == -np.inf else -np.inf

    def _expected_total(self):
        """Expected counts per fitted bin: background plus the fitted signal, if any."""
        with np.errstate(over="ignore", invalid="ignore"):
            return bin_integrals(
                self.bins_, self.params_, self._scale(), signal=self.signal_params_
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # m_jj is y: required and non-negative (the common checks shift their y up).
        tags.target_tags.required = True
        tags.target_tags.positive_only = True
        # X only carries one row per event: its values (NaN, negative, sparse) are
        # never read.
        tags.input_tags.allow_nan = True
        tags.input_tags.sparse = True
        return tags
