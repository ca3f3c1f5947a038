"""Extended binned Poisson likelihood of the dijet function, minimised with iminuit.

The arithmetic of :class:`~hepcluster.fits.DijetFitBackground`: bin integrals, the
Poisson deviance, starting values and the multi-start MIGRAD + HESSE minimisation.
Functions take and return arrays; the estimator only stores what they return.
"""

import itertools
from dataclasses import dataclass

import numpy as np
from iminuit import Minuit
from scipy import special

from ..stats import dijet_function

# Starting values of (p1, p2, p3, p4), typical of LHC dijet spectra at 13 TeV
# (CMS, PRD 91 (2015) 052009; ATLAS, PRD 96 (2017) 052004).
TYPICAL_START = (10.0, 5.0, 0.0, 0.0)
# Gauss–Legendre nodes per bin for the bin integrals of the fitted function.
N_NODES = 8
_NODES, _NODE_WEIGHTS = np.polynomial.legendre.leggauss(N_NODES)
# Limits of the relative width σ/mean of the optional Gaussian signal.
SIGNAL_WIDTH_LIMITS = (0.02, 0.15)
# Starting relative width of the Gaussian signal.
SIGNAL_WIDTH_START = 0.06
# Value returned where the function over- or underflows: far above any real deviance,
# so that MIGRAD's line search steps back, and finite, so that no NaN enters Minuit.
_HUGE = 1e300
# |log p0| at most this: p0 = e^{log p0} must stay a float64 (e^709.8 overflows), with
# room for the rest of the function, e^{log f − log p0}, not to underflow. On a narrow x
# range with few events the likelihood minimum may lie at |log p0| of a thousand or more,
# along a nearly flat valley; the fit then ends at this limit.
LOG_P0_LIMIT = 600.0
# Seed of the jittered starting points: the fit is deterministic.
_JITTER_SEED = 20240227


def bin_integrals(edges, params, x_scale, *, signal=None):
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

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.fits import bin_integrals
    >>> counts = bin_integrals(np.array([3000.0, 3100.0, 3200.0]), (1.0, 10.0, 5.0), 13000.0)
    >>> counts.shape, bool(counts[0] > counts[1] > 0)
    ((2,), True)
    """
    edges = np.asarray(edges, dtype=np.float64)
    nodes, node_weights = _NODES, _NODE_WEIGHTS
    low, high = edges[:-1, None], edges[1:, None]
    half = 0.5 * (high - low)
    mjj = low + half * (nodes[None, :] + 1.0)
    counts = (dijet_function(mjj, params, x_scale=x_scale) * node_weights).sum(axis=1)
    counts = counts * half[:, 0]
    if signal is not None:
        amplitude, mean, width = signal
        counts = counts + amplitude * np.diff(special.ndtr((edges - mean) / width))
    return counts


def poisson_nll(observed, expected):
    """Extended binned Poisson negative log-likelihood Σ_b [μ_b − n_b log μ_b].

    The θ-independent term Σ_b log n_b! is left out, so ``n_b`` may be non-integer
    (weighted or bootstrapped counts).

    Parameters
    ----------
    observed : array-like of shape (n_bins,)
        Counts n_b ≥ 0.
    expected : array-like of shape (n_bins,)
        Expected counts μ_b ≥ 0.

    Returns
    -------
    float
        +inf where some μ_b = 0 < n_b.

    Examples
    --------
    >>> from hepcluster.fits._likelihood import poisson_nll
    >>> float(poisson_nll([2.0, 0.0], [2.0, 1.0]))  # doctest: +ELLIPSIS
    1.613...
    """
    observed = np.asarray(observed, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return float(np.sum(expected - special.xlogy(observed, expected)))


def poisson_deviance(observed, expected):
    """Poisson deviance ("Poisson χ²") 2 Σ_b [μ_b − n_b + n_b log(n_b / μ_b)].

    Twice the negative log-likelihood ratio of the fit to the saturated model; it differs
    from 2 · :func:`poisson_nll` by a constant, so both have the same minimum, and at the
    minimum it is a goodness-of-fit statistic with about n_bins − n_params degrees of
    freedom (S. Baker, R. D. Cousins, Nucl. Instrum. Meth. 221 (1984) 437).

    Parameters
    ----------
    observed : array-like of shape (n_bins,)
        Counts n_b ≥ 0, possibly non-integer.
    expected : array-like of shape (n_bins,)
        Expected counts μ_b ≥ 0.

    Returns
    -------
    float
        ≥ 0; +inf where some μ_b = 0 < n_b.

    Examples
    --------
    >>> from hepcluster.fits._likelihood import poisson_deviance
    >>> poisson_deviance([3.0, 5.0], [3.0, 5.0])
    0.0
    """
    observed = np.asarray(observed, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    with np.errstate(divide="ignore"):
        terms = (
            expected
            - observed
            + special.xlogy(observed, observed)
            - special.xlogy(observed, expected)
        )
    return float(2.0 * np.sum(terms))


def log_linear_start(counts, edges, x_scale, n_params):
    """Starting values (log p0, p1, …) from a weighted linear fit of the log density.

    log f(x) = log p0 + p1 log(1 − x) − p2 log x − p3 log² x − p4 log³ x is linear in
    (log p0, p1, …), so a weighted linear least-squares fit to log(N_b / Δm_b) at the bin
    centres gives starting values close to the optimum. Falls back to typical values
    (normalised to the total count) when fewer non-empty bins than parameters are
    available.

    Parameters
    ----------
    counts : ndarray of shape (n_bins,)
    edges : ndarray of shape (n_bins + 1,)
    x_scale : float
    n_params : {3, 4, 5}

    Returns
    -------
    ndarray of shape (n_params,)
    """
    filled = counts > 0
    if filled.sum() < n_params:
        return typical_start(counts, edges, x_scale, n_params)
    centres = 0.5 * (edges[1:] + edges[:-1])
    x = centres[filled] / x_scale
    basis = _log_basis(x, n_params)
    target = np.log(counts[filled] / np.diff(edges)[filled])
    weight = np.sqrt(counts[filled])  # σ(log N) ≈ 1/√N
    solution, *_ = np.linalg.lstsq(basis * weight[:, None], target * weight, rcond=None)
    if not np.all(np.isfinite(solution)):
        return typical_start(counts, edges, x_scale, n_params)
    return solution


def typical_start(counts, edges, x_scale, n_params):
    """Typical (p1, p2, …) = (10, 5, 0, 0) with log p0 normalised to the total count."""
    start = np.array([0.0, *TYPICAL_START[: n_params - 1]])
    shape = bin_integrals(edges, (1.0, *start[1:]), x_scale)
    start[0] = np.log(max(float(counts.sum()), 1e-300) / shape.sum())
    return start


def _log_basis(x, n_params):
    """Columns 1, log(1 − x), −log x, −log² x, −log³ x of log f(x) = basis · θ."""
    log_x = np.log(x)
    columns = [np.ones_like(x), np.log1p(-x), -log_x, -(log_x**2), -(log_x**3)]
    return np.stack(columns[:n_params], axis=-1)


class DijetDeviance:
    """Poisson deviance of binned counts as a function of the dijet parameters.

    ``deviance(theta)`` takes θ = (log p0, p1, …[, yield, mean, relative width]);
    calling the object takes the internal coordinates φ that Minuit moves in, with
    θ_bkg = θ_ref + T φ_bkg: an affine map that makes the Fisher information of the
    background parameters the identity at θ_ref. The function is unchanged (log f is
    linear in θ_bkg), but MIGRAD no longer fights the near-degeneracy of log p0, p1, p2,
    … over a narrow range of x. Signal parameters are not transformed (they have limits).

    Parameters
    ----------
    counts : ndarray of shape (n_bins,)
    edges : ndarray of shape (n_bins + 1,)
    x_scale : float
    n_params : {3, 4, 5}
    signal : bool
        Whether θ ends with a Gaussian signal (yield, mean, σ/mean).
    """

    errordef = Minuit.LEAST_SQUARES  # a deviance: Δ = 1 is one standard deviation

    def __init__(self, counts, edges, x_scale, n_params, signal=False):
        self.counts = np.asarray(counts, dtype=np.float64)
        self.edges = np.asarray(edges, dtype=np.float64)
        self.n_params = int(n_params)
        self.x_scale = float(x_scale)
        self.signal = bool(signal)
        nodes, node_weights = _NODES, _NODE_WEIGHTS
        low, high = self.edges[:-1, None], self.edges[1:, None]
        half = 0.5 * (high - low)
        x = (low + half * (nodes[None, :] + 1.0)) / x_scale
        self._basis = _log_basis(x, self.n_params)  # (n_bins, n_nodes, n_params)
        self._log_weight = np.log(half * node_weights[None, :])
        self._saturated = special.xlogy(self.counts, self.counts) - self.counts
        self._last = None
        self.theta_ref = np.zeros(self.n_params)
        self.transform = np.eye(self.n_params)
        self._inverse = np.eye(self.n_params)

    @property
    def n_free(self):
        """Number of free parameters."""
        return self.n_params + (3 if self.signal else 0)

    # -- coordinates -----------------------------------------------------------------
    def set_reference(self, theta_ref):
        """Centre the internal coordinates at θ_ref, whitened by its Fisher information.

        θ_bkg − θ_ref = T φ_bkg with Tᵀ F T = 1, F the Fisher information of the
        background parameters at θ_ref. T is built from the Cholesky factor of F with the
        parameters in reverse order, so that log p0 depends on φ_0 alone and its limits
        are limits of φ_0.
        """
        theta_ref = np.asarray(theta_ref, dtype=np.float64)
        self.theta_ref = theta_ref[: self.n_params].copy()
        log_bkg, log_shares = self._log_background(self.theta_ref)
        with np.errstate(over="ignore", invalid="ignore"):
            bkg = np.exp(log_bkg)
            weight = bkg
            if self.signal:
                mu = bkg + self._signal(theta_ref[self.n_params :])[0]
                weight = np.divide(bkg**2, mu, out=np.zeros_like(mu), where=mu > 0)
            # dμ_b/dθ = μ_b,bkg d_b, d_b = Σ_k s_bk B_bk; F = Σ_b μ_b,bkg² / μ_b d_b d_bᵀ
            direction = np.einsum("bk,bkp->bp", np.exp(log_shares), self._basis)
            fisher = (direction * weight[:, None]).T @ direction
        transform = None
        if np.all(np.isfinite(fisher)):
            reverse = fisher[::-1, ::-1]
            reverse = reverse + 1e-12 * np.trace(reverse) * np.eye(self.n_params)
            try:
                lower = np.linalg.cholesky(reverse)
                transform = np.linalg.inv(lower).T[::-1, ::-1]
            except np.linalg.LinAlgError:
                transform = None
        if transform is None or not np.all(np.isfinite(transform)):
            diagonal = np.diag(fisher) if np.all(np.isfinite(fisher)) else np.ones(self.n_params)
            transform = np.diag(1.0 / np.sqrt(np.where(diagonal > 0, diagonal, 1.0)))
        self.transform = transform
        self._inverse = np.linalg.inv(transform)
        self._last = None

    def log_p0_limits(self, limit):
        """Limits of φ_0 that keep |log p0| ≤ ``limit``."""
        scale = self.transform[0, 0]
        bounds = sorted(
            ((-limit - self.theta_ref[0]) / scale, (limit - self.theta_ref[0]) / scale)
        )
        return float(bounds[0]), float(bounds[1])

    def to_internal(self, theta):
        """φ from θ."""
        theta = np.asarray(theta, dtype=np.float64)
        phi = self._inverse @ (theta[: self.n_params] - self.theta_ref)
        return np.concatenate([phi, theta[self.n_params :]])

    def to_theta(self, phi):
        """θ from φ."""
        phi = np.asarray(phi, dtype=np.float64)
        theta = self.theta_ref + self.transform @ phi[: self.n_params]
        return np.concatenate([theta, phi[self.n_params :]])

    def covariance_to_theta(self, covariance):
        """Covariance of θ from the covariance of φ (the map is affine)."""
        jacobian = np.eye(self.n_free)
        jacobian[: self.n_params, : self.n_params] = self.transform
        return jacobian @ covariance @ jacobian.T

    # -- model -----------------------------------------------------------------------
    def _log_background(self, theta_bkg):
        """Background log μ_b and log node shares log s_bk, free of underflow."""
        with np.errstate(over="ignore", invalid="ignore"):
            log_terms = self._basis @ theta_bkg + self._log_weight
            # log-sum-exp over the nodes of each bin (scipy's is slow for 16 × 8 values)
            peak = log_terms.max(axis=1)
            peak = np.where(np.isfinite(peak), peak, 0.0)
            log_mu = np.log(np.exp(log_terms - peak[:, None]).sum(axis=1)) + peak
            return log_mu, log_terms - log_mu[:, None]

    def _signal(self, signal_theta):
        """Gaussian counts per bin and their derivatives w.r.t. (yield, mean, σ/mean)."""
        amplitude, mean, relative = signal_theta
        width = relative * mean
        z = (self.edges - mean) / width
        cdf = special.ndtr(z)
        pdf = np.exp(-0.5 * z**2) / np.sqrt(2.0 * np.pi)
        fraction = np.diff(cdf)
        d_mean = np.diff(pdf * (-self.edges / (relative * mean**2)))
        d_relative = np.diff(pdf * (-z / relative))
        return amplitude * fraction, np.stack(
            [fraction, amplitude * d_mean, amplitude * d_relative], axis=1
        )

    def deviance_and_gradient(self, theta):
        """Deviance and its gradient with respect to θ."""
        theta = np.asarray(theta, dtype=np.float64)
        log_bkg, log_shares = self._log_background(theta[: self.n_params])
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            bkg = np.exp(log_bkg)
            if self.signal:
                sig, d_sig = self._signal(theta[self.n_params :])
                mu = bkg + sig
                log_mu = np.logaddexp(log_bkg, np.log(np.maximum(sig, 0.0)))
            else:
                mu, log_mu = bkg, log_bkg
            value = 2.0 * np.sum(mu + self._saturated - self.counts * log_mu)
            if not np.isfinite(value):
                return _HUGE, np.zeros(theta.size)
            # d(deviance)/dμ_b = 2 (1 − n_b/μ_b); dμ_b,bkg/dθ = μ_b,bkg Σ_k s_bk B_bk
            residual = 2.0 * (mu - self.counts)  # times 1/μ_b, folded in below
            bkg_share = np.exp(log_bkg - log_mu)
            direction = np.einsum("bk,bkp->bp", np.exp(log_shares), self._basis)
            gradient = (residual * bkg_share) @ direction
            if self.signal:
                ratio = np.divide(residual, mu, out=np.full_like(mu, 2.0), where=mu > 0)
                gradient = np.concatenate([gradient, ratio @ d_sig])
        if not np.all(np.isfinite(gradient)):
            return _HUGE, np.zeros(theta.size)
        return float(value), gradient

    def deviance(self, theta):
        """Deviance 2 Σ_b [μ_b − n_b + n_b log(n_b/μ_b)] at θ."""
        return self.deviance_and_gradient(theta)[0]

    def _at_internal(self, phi):
        # Minuit asks for the value and the gradient at the same point one after the
        # other: both come from one evaluation, kept for the next call.
        phi = np.asarray(phi, dtype=np.float64)
        if self._last is None or not np.array_equal(self._last[0], phi):
            self._last = (phi.copy(), *self.deviance_and_gradient(self.to_theta(phi)))
        return self._last[1], self._last[2]

    def __call__(self, phi):
        return self._at_internal(phi)[0]

    def grad(self, phi):
        """Gradient with respect to the internal coordinates φ."""
        gradient = self._at_internal(phi)[1]
        out = gradient.copy()
        out[: self.n_params] = self.transform.T @ gradient[: self.n_params]
        return out


@dataclass
class FitOutcome:
    """Result of :func:`minimise_deviance`."""

    theta: np.ndarray  # (log p0, p1, …[, yield, mean, σ/mean])
    covariance: np.ndarray  # of theta, from HESSE; NaN where unavailable
    deviance: float
    edm: float
    converged: bool
    n_starts: int
    n_calls: int
    message: str
    at_limit: tuple  # names of the parameters at one of their limits
    minuit: Minuit = None  # the kept fit, in the internal coordinates (see DijetDeviance)


def _diagnose(minuit, cost):
    """Whether MIGRAD and HESSE found a minimum with a finite likelihood, and why not."""
    fmin = minuit.fmin
    reasons = []
    if not fmin.is_valid:
        if fmin.is_above_max_edm:
            reasons.append(f"EDM {fmin.edm:.3g} above tolerance {fmin.edm_goal:.3g}")
        if fmin.has_reached_call_limit:
            reasons.append("call limit reached")
        if not reasons:
            reasons.append("invalid minimum")
    if fmin.is_valid and not fmin.has_accurate_covar:
        reasons.append("covariance not accurate")
    theta = cost.to_theta(np.asarray(minuit.values))
    if not np.all(np.isfinite(theta)) or not np.isfinite(fmin.fval) or fmin.fval >= _HUGE:
        reasons.append("non-finite parameters or likelihood")
    return not reasons, reasons


def _representable(theta, cost):
    """Reasons why θ gives no finite p0 > 0 and finite expected counts (empty: it does)."""
    with np.errstate(over="ignore", invalid="ignore"):
        p0 = np.exp(theta[0])
        expected = bin_integrals(cost.edges, (p0, *theta[1 : cost.n_params]), cost.x_scale)
    if np.isfinite(p0) and p0 > 0 and np.all(np.isfinite(expected)):
        return []
    return ["p0 or expected counts not finite and positive"]


def _at_limit(param):
    """Whether a parameter sits at one of its limits (within 10⁻⁴ of their distance)."""
    if not param.has_limits:
        return False
    low, high = param.lower_limit, param.upper_limit
    tolerance = 1e-4 * (high - low) if np.isfinite(high - low) else 1e-8
    return bool(min(param.value - low, high - param.value) <= tolerance)


def _starts(cost, counts, edges, x_scale, max_calls, calls):
    """Starting points θ, in order: log-linear, 3-parameter extended, typical, jittered.

    Likelihood evaluations spent on finding a start are appended to ``calls``.
    """
    n_params = cost.n_params
    yield "log-linear least-squares start", log_linear_start(counts, edges, x_scale, n_params)
    if n_params > 3:
        reduced = minimise_deviance(
            counts, edges, x_scale, 3, signal_start=None, n_starts=2, max_calls=max_calls
        )
        calls.append(reduced.n_calls)
        theta = np.concatenate([reduced.theta[:3], np.zeros(n_params - 3)])
        if np.all(np.isfinite(theta)):
            yield "3-parameter solution extended with zeros", theta
    yield "typical values (10, 5, 0, 0)", typical_start(counts, edges, x_scale, n_params)
    rng = np.random.default_rng(_JITTER_SEED)
    for attempt in itertools.count(1):
        yield f"jittered start {attempt}", rng.normal(0.0, 1.0, n_params)


def minimise_deviance(
    counts, edges, x_scale, n_params, *, signal_start=None, n_starts=5, max_calls=None
):
    """Minimise the Poisson deviance of the dijet function (MIGRAD, then HESSE).

    Starts from the log-linear least-squares solution; if that does not give a converged
    fit, tries further starting points in turn: the 3-parameter solution extended with
    zeros (4 and 5 parameters), typical values (10, 5, 0, 0), then starts jittered around
    the best point so far with a fixed seed, each with MIGRAD strategy 2 after a Simplex
    pass. The first converged fit is kept; if none converges, the one with the lowest
    deviance is returned with ``converged=False``.

    A fit is converged when MIGRAD finds a valid minimum (EDM below tolerance, call limit
    not reached), HESSE an accurate covariance, and the parameters give a finite p0 > 0
    and finite expected counts. A valid minimum beyond |log p0| = ``LOG_P0_LIMIT``, where
    p0 is not a double-precision number, is refitted with |log p0| limited, and that fit
    (at the limit, its deviance increase reported in the message) must be valid in turn.
    A fit without any minimum (the parameters run away) is never refitted at the limit,
    so it is never converged.

    Parameters
    ----------
    counts : ndarray of shape (n_bins,)
        Observed (possibly weighted) counts.
    edges : ndarray of shape (n_bins + 1,)
        Bin edges in GeV.
    x_scale : float
        x = m_jj / x_scale.
    n_params : {3, 4, 5}
        Parameters of the dijet function.
    signal_start : (float, float, float) or None
        Start (yield, mean, σ/mean) of a Gaussian signal fitted on top, or None.
    n_starts : int, default=5
        Maximum number of starting points.
    max_calls : int or None, default=None
        Maximum number of function calls of each MIGRAD run (None: iminuit's default).

    Returns
    -------
    FitOutcome
    """
    signal = signal_start is not None
    signal_start = [] if signal_start is None else list(signal_start)
    cost = DijetDeviance(counts, edges, x_scale, n_params, signal=signal)
    run = _Migrad(cost, counts, edges, max_calls)
    best = None
    calls = []
    tried = 0
    messages = []
    starts = _starts(cost, counts, edges, x_scale, max_calls, calls)
    for tried, (label, theta_start) in enumerate(starts, start=1):
        if label.startswith("jittered"):
            # around the best point so far, in whitened units (about 1σ per direction)
            phi_start = np.array(best[1].values)
            phi_start[:n_params] += theta_start
        else:
            theta_full = np.concatenate([theta_start, signal_start])
            if tried == 1:
                cost.set_reference(theta_full)
            phi_start = cost.to_internal(theta_full)
        minuit = run(phi_start, careful=tried > 1)
        calls.append(minuit.nfcn)
        converged, reasons = _diagnose(minuit, cost)
        notes = []
        theta = cost.to_theta(np.asarray(minuit.values))
        if converged and abs(theta[0]) > LOG_P0_LIMIT:
            free_deviance = minuit.fmin.fval
            minuit = run(np.asarray(minuit.values), careful=True, limit_log_p0=True)
            calls.append(minuit.nfcn)
            converged, reasons = _diagnose(minuit, cost)
            loss = minuit.fmin.fval - free_deviance
            notes.append(
                f"minimum at log p0 = {theta[0]:.4g}, refitted with |log p0| ≤ "
                f"{LOG_P0_LIMIT:g}: deviance {loss:+.3g}"
            )
            theta = cost.to_theta(np.asarray(minuit.values))
        if converged:
            reasons = _representable(theta, cost)
            converged = not reasons
        at_limit = _names_at_limit(minuit)
        if at_limit:
            notes.append("at a limit: " + ", ".join(at_limit))
        status = "converged" if converged else "; ".join(reasons)
        messages.append(f"{label}: {status}" + "".join(f" ({note})" for note in notes))
        fval = minuit.fmin.fval if np.isfinite(minuit.fmin.fval) else np.inf
        if best is None or (converged, -fval) > (best[0], -best[1].fmin.fval):
            best = (converged, minuit)
        if converged or tried >= n_starts:
            break
    converged, minuit = best
    theta = cost.to_theta(np.asarray(minuit.values))
    if minuit.covariance is not None and minuit.fmin.has_covariance:
        covariance = cost.covariance_to_theta(np.asarray(minuit.covariance))
    else:
        covariance = np.full((cost.n_free, cost.n_free), np.nan)
    return FitOutcome(
        theta=theta,
        covariance=covariance,
        deviance=float(cost.deviance(theta)),
        edm=float(minuit.fmin.edm),
        converged=bool(converged),
        n_starts=tried,
        n_calls=int(sum(calls)),
        message=" | ".join(messages),
        at_limit=_names_at_limit(minuit),
        minuit=minuit,
    )


def _names_at_limit(minuit):
    names = {"phi0": "log p0"}
    return tuple(names.get(p.name, p.name) for p in minuit.params if _at_limit(p))


class _Migrad:
    """One MIGRAD (+ HESSE) run of the deviance from a point in internal coordinates."""

    def __init__(self, cost, counts, edges, max_calls):
        self.cost = cost
        self.max_calls = max_calls
        self.names = [f"phi{i}" for i in range(cost.n_params)]
        self.errors = [1.0] * cost.n_params  # whitened: about 1σ each
        self.limits = {}
        if cost.signal:
            total = float(counts.sum())
            self.names += ["yield", "mean", "relative_width"]
            self.errors += [max(np.sqrt(total), 1.0), float(np.diff(edges).mean()), 0.01]
            self.limits = {
                "yield": (0.0, total),
                "mean": (float(edges[0]), float(edges[-1])),
                "relative_width": SIGNAL_WIDTH_LIMITS,
            }

    def __call__(self, phi_start, *, careful, limit_log_p0=False):
        phi_start = np.array(phi_start, dtype=np.float64)
        limits = dict(self.limits)
        if limit_log_p0:
            low, high = self.cost.log_p0_limits(LOG_P0_LIMIT)
            margin = 1e-3 * (high - low)
            phi_start[0] = np.clip(phi_start[0], low + margin, high - margin)
            limits["phi0"] = (low, high)
        for name, (low, high) in limits.items():
            index = self.names.index(name)
            phi_start[index] = np.clip(phi_start[index], low, high)
        minuit = Minuit(self.cost, phi_start, grad=self.cost.grad, name=self.names)
        minuit.print_level = 0
        minuit.errors = self.errors
        for name, bounds in limits.items():
            minuit.limits[name] = bounds
        if careful:
            minuit.strategy = 2
            minuit.simplex(ncall=self.max_calls)
        minuit.migrad(ncall=self.max_calls)
        if minuit.fmin.is_valid:
            minuit.hesse()
        return minuit
