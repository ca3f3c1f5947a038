import itertools
import warnings

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats
from sklearn.exceptions import ConvergenceWarning

from hepcluster import DijetFitBackground
from hepcluster.datasets import sample_dijet_spectrum
from hepcluster.fits import bin_integrals, dijet_function
from hepcluster.fits._likelihood import DijetDeviance, poisson_deviance, poisson_nll
from hepcluster.stats import CLUSTER_SCANNING_BINS

EDGES = np.linspace(3000.0, 4600.0, 17)
CENTRES = 0.5 * (EDGES[1:] + EDGES[:-1])
TRUE_PARAMS = (20.0, 10.0, 5.0, 0.3)
WIDE_EDGES = np.linspace(2500.0, 7000.0, 17)  # the small-sample toys of the benchmark
FIT_RTOL = 1e-5
"""Precision of pinned fit results: MIGRAD's end point moves by ~1e-6 with BLAS rounding."""


def _fit_counts(counts, edges=EDGES, **kwargs):
    centres = 0.5 * (edges[1:] + edges[:-1])
    return DijetFitBackground(bins=tuple(edges), **kwargs).fit(None, centres, sample_weight=counts)


def _theta(params):
    """(log p0, p1, …), the parameters the likelihood is minimised in."""
    return np.concatenate([[np.log(params[0])], params[1:]])


def _quad_counts(edges, params):
    """Bin integrals by adaptive quadrature, independent of the Gauss–Legendre nodes."""
    return np.array(
        [
            integrate.quad(lambda m: dijet_function(m, params), low, high, epsrel=1e-12)[0]
            for low, high in itertools.pairwise(edges)
        ]
    )


def _scipy_nll(counts, expected):
    """−Σ log Poisson(n_b | μ_b) with scipy (integer counts)."""
    return -float(np.sum(stats.poisson.logpmf(counts, expected)))


def test_dijet_function_has_the_documented_form():
    x = 3500.0 / 13000.0
    expected = 2.0 * (1 - x) ** 9.0 / x ** (4.0 + 0.5 * np.log(x) + 0.1 * np.log(x) ** 2)
    assert dijet_function(3500.0, (2.0, 9.0, 4.0, 0.5, 0.1)) == pytest.approx(expected)
    assert dijet_function(3500.0, (2.0, 9.0, 4.0)) == pytest.approx(2.0 * (1 - x) ** 9 / x**4)
    with pytest.raises(ValueError, match="3, 4 or 5"):
        dijet_function(3500.0, (1.0, 2.0))


def test_bin_integrals_match_numerical_quadrature():
    np.testing.assert_allclose(
        bin_integrals(EDGES, TRUE_PARAMS, 13000.0), _quad_counts(EDGES, TRUE_PARAMS), rtol=1e-10
    )


def test_poisson_nll_and_deviance_match_scipy_up_to_constants():
    rng = np.random.default_rng(10)
    expected = rng.uniform(0.5, 50.0, 20)
    counts = rng.poisson(expected).astype(float)
    log_factorials = special.gammaln(counts + 1.0).sum()
    assert poisson_nll(counts, expected) == pytest.approx(
        _scipy_nll(counts, expected) - log_factorials, rel=1e-12
    )
    saturated = _scipy_nll(counts, counts)  # the model μ_b = n_b
    assert poisson_deviance(counts, expected) == pytest.approx(
        2.0 * (_scipy_nll(counts, expected) - saturated), rel=1e-12
    )


@pytest.mark.parametrize("n_params", [3, 4])
def test_the_minimised_deviance_is_the_poisson_nll_at_fitted_and_perturbed_parameters(
    n_params,
):
    rng = np.random.default_rng(11)
    counts = rng.poisson(bin_integrals(EDGES, TRUE_PARAMS, 13000.0)).astype(float)
    fit = _fit_counts(counts, n_params=n_params)
    theta_hat = _theta(fit.params_)
    # nll_ is Σ[μ − n log μ], scipy's −Σ log P(n | μ) without the constant Σ log n!
    log_factorials = special.gammaln(counts + 1.0).sum()
    hand_at_fit = _scipy_nll(counts, _quad_counts(EDGES, fit.params_))
    assert fit.nll_ == pytest.approx(hand_at_fit - log_factorials, rel=1e-9)
    # the function Minuit minimises: ½ deviance = NLL + a θ-independent constant
    cost = DijetDeviance(counts, EDGES, 13000.0, n_params)
    assert fit.chi2_ == pytest.approx(cost.deviance(theta_hat), rel=1e-9)
    constant = 0.5 * cost.deviance(theta_hat) - hand_at_fit
    for _ in range(5):
        theta = theta_hat + rng.normal(0.0, 0.01, n_params) * np.maximum(np.abs(theta_hat), 1)
        params = np.concatenate([[np.exp(theta[0])], theta[1:]])
        hand = _scipy_nll(counts, _quad_counts(EDGES, params))
        assert 0.5 * cost.deviance(theta) - hand == pytest.approx(constant, abs=1e-6)
        assert hand > hand_at_fit


@pytest.mark.parametrize(
    ("n_params", "counts_kind"), [(3, "integer"), (4, "integer"), (4, "weighted")]
)
def test_fitted_parameters_are_the_minimum_of_a_hand_written_nll(n_params, counts_kind):
    rng = np.random.default_rng(12)
    counts = rng.poisson(bin_integrals(EDGES, TRUE_PARAMS, 13000.0)).astype(float)
    if counts_kind == "weighted":  # bootstrap-like non-integer counts
        counts = counts * rng.uniform(0.8, 1.2, counts.size)
    fit = _fit_counts(counts, n_params=n_params)
    assert fit.converged_

    def nll(theta):  # real counts: −Σ [n log μ − μ − log Γ(n + 1)]
        mu = bin_integrals(EDGES, np.concatenate([[np.exp(theta[0])], theta[1:]]), 13000.0)
        return float(np.sum(mu - counts * np.log(mu) + special.gammaln(counts + 1.0)))

    theta_hat = _theta(fit.params_)
    for method in ("Nelder-Mead", "BFGS"):
        improved = optimize.minimize(
            nll,
            theta_hat,
            method=method,
            options={"maxiter": 4000, "xatol": 1e-10}
            if method == "Nelder-Mead"
            else {"gtol": 1e-8},
        )
        assert nll(theta_hat) - improved.fun < 1e-3


def test_covariance_is_the_inverse_hessian_of_the_nll():
    rng = np.random.default_rng(13)
    counts = rng.poisson(bin_integrals(EDGES, TRUE_PARAMS, 13000.0)).astype(float)
    fit = _fit_counts(counts, n_params=3)
    theta_hat = _theta(fit.params_)

    def nll(theta):
        params = np.concatenate([[np.exp(theta[0])], theta[1:]])
        return poisson_nll(counts, bin_integrals(EDGES, params, 13000.0))

    # central second differences, steps of about a tenth of each standard error
    steps = 0.1 * np.sqrt(np.diag(fit.covariance_))
    hessian = np.empty((3, 3))
    for i, j in itertools.product(range(3), repeat=2):
        shift_i, shift_j = np.eye(3)[i] * steps[i], np.eye(3)[j] * steps[j]
        hessian[i, j] = (
            nll(theta_hat + shift_i + shift_j)
            - nll(theta_hat + shift_i - shift_j)
            - nll(theta_hat - shift_i + shift_j)
            + nll(theta_hat - shift_i - shift_j)
        ) / (4.0 * steps[i] * steps[j])
    np.testing.assert_allclose(fit.covariance_, np.linalg.inv(hessian), rtol=0.02)
    np.testing.assert_allclose(
        fit.param_errors_[0], fit.params_[0] * np.sqrt(fit.covariance_[0, 0]), rtol=1e-12
    )


def test_fit_recovers_known_parameters_of_a_sampled_spectrum():
    rng = np.random.default_rng(0)
    expected = bin_integrals(EDGES, TRUE_PARAMS, 13000.0)
    pulls = []
    for _ in range(60):
        fit = _fit_counts(rng.poisson(expected).astype(float))
        assert fit.converged_
        # p0 is fitted as log p0 (the spectrum constrains it only together with p1–p3)
        errors = np.concatenate([[fit.param_errors_[0] / fit.params_[0]], fit.param_errors_[1:]])
        pulls.append((_theta(fit.params_) - _theta(TRUE_PARAMS)) / errors)
    pulls = np.asarray(pulls)
    assert np.all(np.abs(pulls.mean(axis=0)) < 0.5)
    assert np.all(np.abs(pulls) < 5.0)
    assert np.all((pulls.std(axis=0) > 0.7) & (pulls.std(axis=0) < 1.3))


def test_deviance_of_good_fits_follows_its_degrees_of_freedom():
    rng = np.random.default_rng(14)
    expected = bin_integrals(EDGES, TRUE_PARAMS, 13000.0)
    chi2 = [_fit_counts(rng.poisson(expected).astype(float)).chi2_ for _ in range(60)]
    # Poisson deviance ~ χ²(ndf = 12): mean 12, SD √24 ≈ 4.9, so the mean of 60 is 12 ± 0.6
    assert np.mean(chi2) == pytest.approx(12.0, abs=2.0)


@pytest.mark.parametrize("n_params", [3, 4, 5])
def test_fit_describes_its_own_function_exactly(n_params):
    truth = (20.0, 10.0, 5.0, 0.3, 0.02)[:n_params]
    counts = bin_integrals(EDGES, truth, 13000.0)
    fit = _fit_counts(counts, n_params=n_params)
    np.testing.assert_allclose(fit.expected_counts(), counts, rtol=1e-5)
    assert fit.converged_
    assert fit.chi2_ < 1e-3  # MIGRAD stops once the EDM is below 2·10⁻⁴
    assert fit.ndf_ == 16 - n_params
    assert fit.chi2_ndf_ == pytest.approx(fit.chi2_ / fit.ndf_)


def test_unbinned_fit_with_weights_equals_repeated_events():
    rng = np.random.default_rng(1)
    mjj = 3000.0 + rng.exponential(400.0, 20_000)
    weight = rng.poisson(1.0, mjj.size)
    weighted = DijetFitBackground().fit(None, mjj, sample_weight=weight)
    repeated = DijetFitBackground().fit(None, np.repeat(mjj, weight))
    np.testing.assert_allclose(weighted.params_, repeated.params_, rtol=1e-8)
    assert weighted.n_outside_ == int(((mjj >= 4600.0) * (weight >= 0)).sum())


def test_the_fit_is_deterministic():
    rng = np.random.default_rng(15)
    counts = rng.poisson(bin_integrals(EDGES, TRUE_PARAMS, 13000.0)).astype(float)
    first, second = _fit_counts(counts), _fit_counts(counts)
    np.testing.assert_array_equal(first.params_, second.params_)


def test_test_statistic_is_small_without_and_large_with_a_bump():
    rng = np.random.default_rng(2)
    expected = bin_integrals(EDGES, TRUE_PARAMS, 13000.0)
    background = rng.poisson(expected).astype(float)
    assert _fit_counts(background).test_statistic(None, CENTRES, sample_weight=background) < 3.5
    bump = background.copy()
    bump[5] += 6.0 * np.sqrt(expected[5])
    fit = _fit_counts(bump)
    assert fit.test_statistic(None, CENTRES, sample_weight=bump) > 3.0
    assert np.argmax(fit.local_significance(None, CENTRES, sample_weight=bump)) == 5


def test_signal_plus_background_fit_finds_the_injected_gaussian():
    rng = np.random.default_rng(3)
    expected = bin_integrals(EDGES, TRUE_PARAMS, 13000.0, signal=(40_000.0, 3500.0, 150.0))
    counts = rng.poisson(expected).astype(float)
    fit = _fit_counts(counts, signal="gaussian")
    assert fit.converged_
    amplitude, mean, width = fit.signal_params_
    assert mean == pytest.approx(3500.0, rel=0.03)
    assert amplitude == pytest.approx(40_000.0, rel=0.25)
    assert width == pytest.approx(150.0, rel=0.3)
    # the injected values lie within a few standard errors
    pulls = (fit.signal_params_ - (40_000.0, 3500.0, 150.0)) / fit.signal_param_errors_
    assert np.all(np.abs(pulls) < 4.0)


def test_statistics_are_shared_with_cluster_scanning():
    rng = np.random.default_rng(4)
    counts = rng.poisson(bin_integrals(EDGES, TRUE_PARAMS, 13000.0)).astype(float)
    fit = _fit_counts(counts, statistic="gaussian")
    z = (counts - fit.expected_counts()) / np.sqrt(fit.expected_counts())
    assert fit.test_statistic(None, CENTRES, sample_weight=counts) == pytest.approx(
        max(z.max(), 0.0)
    )


@pytest.mark.parametrize(
    ("n_events", "edges"),
    [
        pytest.param(1500, WIDE_EDGES, id="1500-wide"),
        pytest.param(2000, WIDE_EDGES, id="2000-wide"),
        pytest.param(5000, WIDE_EDGES, id="5000-wide"),
        pytest.param(1500, np.asarray(CLUSTER_SCANNING_BINS), id="1500-default-bins"),
        pytest.param(2000, np.asarray(CLUSTER_SCANNING_BINS), id="2000-default-bins"),
    ],
)
def test_small_sample_fits_never_diverge_silently(n_events, edges):
    # 2.5–7 TeV toys where least squares let p0 run to 0 or ∞ while reporting success
    # (benchmarks/bench_dijet_fit.py runs 300 toys per case)
    n_toys = 25
    not_converged = 0
    centres = 0.5 * (edges[1:] + edges[:-1])
    for seed in range(n_toys):
        mjj = sample_dijet_spectrum(n_events, (2500.0, 7000.0), random_state=seed)
        counts = np.histogram(mjj, edges)[0].astype(float)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            fit = _fit_counts(counts, edges)
        score = fit.test_statistic(None, centres, sample_weight=counts)
        assert np.isfinite(score)
        assert bool(caught) == (not fit.converged_)
        if not fit.converged_:
            not_converged += 1
            continue
        assert np.isfinite(fit.params_[0])
        assert fit.params_[0] > 0
        assert np.all(np.isfinite(fit.expected_counts()))
        assert fit.chi2_ndf_ < 4.0
        assert score < 6.0
    assert not_converged <= 0.05 * n_toys


@pytest.mark.parametrize(
    "counts",
    [
        np.eye(16)[3] * 5.0,  # one non-empty bin
        np.eye(16)[5] * 1e6 + np.eye(16)[12],  # a huge spike
    ],
    ids=["one-bin", "spike"],
)
def test_an_impossible_fit_warns_is_not_converged_and_its_statistic_is_finite(counts):
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        fit = _fit_counts(counts)
    assert not fit.converged_
    assert fit.n_starts_used_ == 5
    assert "start" in fit.fit_message_
    score = fit.test_statistic(None, CENTRES, sample_weight=counts)
    assert np.isfinite(score)
    assert score >= 0.0


def test_n_starts_bounds_the_starting_points_tried():
    with pytest.warns(ConvergenceWarning):
        fit = _fit_counts(np.eye(16)[3] * 5.0, n_starts=2)
    assert fit.n_starts_used_ == 2
    assert fit.fit_message_.count("|") == 1


def test_a_fit_stopped_by_its_call_limit_warns():
    rng = np.random.default_rng(16)
    counts = rng.poisson(bin_integrals(EDGES, TRUE_PARAMS, 13000.0)).astype(float)
    with pytest.warns(ConvergenceWarning, match="call limit"):
        fit = _fit_counts(counts, max_calls=3, n_starts=1)
    assert not fit.converged_


def test_bins_without_background_cannot_be_tested_and_give_zero():
    rng = np.random.default_rng(17)
    counts = rng.poisson(bin_integrals(EDGES, TRUE_PARAMS, 13000.0)).astype(int)
    fit = _fit_counts(counts.astype(float))
    assert fit.n_untestable_bins_ == 0
    assert not fit.untestable_bins_.any()
    # a runaway background that falls by hundreds of decades: it underflows to 0 in
    # the upper bins, where the data would have an infinite significance
    fit.params_ = np.array([1.0, 8000.0, 1435.0, 0.0])
    expected = fit.expected_counts()
    assert 0 < np.sum(expected == 0.0) < counts.size
    counts = np.full(16, 3)
    counts[0] = 95  # expected ≈ 78.5
    z = fit.local_significance(None, CENTRES, sample_weight=counts)
    assert np.all(np.isfinite(z))
    np.testing.assert_array_equal(z[expected == 0.0], 0.0)
    # the first bin is an ordinary one: Z = Φ⁻¹(1 − P(X ≥ n | μ)) by scipy (if an excess)
    reference = stats.norm.isf(stats.poisson.sf(counts[0] - 1, expected[0]))
    assert z[0] == pytest.approx(max(reference, 0.0), rel=1e-6)
    assert np.isfinite(fit.test_statistic(None, CENTRES, sample_weight=counts))


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="Negative"):
        DijetFitBackground().fit(None, np.array([3100.0, -1.0]))
    with pytest.raises(ValueError, match="NaN"):
        DijetFitBackground().fit(None, np.array([3100.0, np.nan]))
    with pytest.raises(ValueError, match="no events inside"):
        DijetFitBackground().fit(None, np.full(10, 6000.0))
    with pytest.raises(ValueError, match="x_scale"):
        DijetFitBackground(bins=(3000.0, 14000.0, 15000.0)).fit(None, np.full(3, 3500.0))
    with pytest.raises(ValueError, match="free parameters"):
        DijetFitBackground(bins=(3000.0, 3100.0, 3200.0)).fit(None, np.full(3, 3050.0))
    with pytest.raises(ValueError, match="n_starts"):
        DijetFitBackground(n_starts=0).fit(None, np.full(3, 3050.0))
    with pytest.raises(ValueError, match="finite, strictly increasing"):
        DijetFitBackground(bins=(3000.0, np.inf)).fit(None, np.full(3, 3050.0))
    with pytest.raises(ValueError, match="requires y"):
        DijetFitBackground().fit(None, None)


def test_x_must_have_one_row_per_event():
    mjj = np.full(10, 3050.0)
    with pytest.raises(ValueError, match="10 m_jj values"):
        DijetFitBackground().fit(np.ones((9, 2)), mjj)
    with pytest.raises(ValueError, match="one row per event"):
        DijetFitBackground().fit(np.ones(10), mjj)


def test_the_values_of_x_are_not_used():
    rng = np.random.default_rng(20)
    mjj = sample_dijet_spectrum(5000, (3000.0, 4600.0), random_state=20)
    X = rng.normal(size=(mjj.size, 3))
    X[::7, 1] = np.nan
    without = DijetFitBackground(n_params=3).fit(None, mjj)
    with_x = DijetFitBackground(n_params=3).fit(X, mjj)
    np.testing.assert_array_equal(with_x.params_, without.params_)
    assert with_x.n_features_in_ == 3
    assert not hasattr(without, "n_features_in_")
    assert with_x.test_statistic(X, mjj) == without.test_statistic(None, mjj)
    assert with_x.score(X, mjj) == without.score(None, mjj)
    with pytest.raises(ValueError, match="features"):
        with_x.score(X[:, :2], mjj)


def test_events_are_the_sample_unit():
    assert DijetFitBackground.sample_unit == "event"


def test_mjj_is_read_from_y_only():
    mjj = sample_dijet_spectrum(2000, (3000.0, 4600.0), random_state=21)
    assert "mjj_column" not in DijetFitBackground().get_params()
    with pytest.raises(ValueError, match="requires y"):
        DijetFitBackground(n_params=3).fit(mjj.reshape(-1, 1))
    fitted = DijetFitBackground(n_params=3).fit(None, mjj)
    for method in (fitted.test_statistic, fitted.score, fitted.local_significance):
        with pytest.raises(ValueError, match="requires y"):
            method(mjj.reshape(-1, 1))


def test_a_fitted_fit_keeps_its_minuit_for_minos_and_pickles():
    import pickle

    import joblib
    from iminuit import Minuit
    from sklearn.base import clone

    mjj = sample_dijet_spectrum(20_000, (3000.0, 4600.0), random_state=23)
    fit = DijetFitBackground(n_params=4).fit(None, mjj)
    assert isinstance(fit.minuit_, Minuit)
    assert fit.minuit_.fmin.is_valid
    # the deviance at the kept minimum is the fit's χ²
    assert fit.minuit_.fval == pytest.approx(fit.chi2_, rel=1e-9, abs=1e-9)
    again = pickle.loads(pickle.dumps(fit))
    np.testing.assert_array_equal(again.params_, fit.params_)
    assert again.minuit_.fval == fit.minuit_.fval
    assert again.test_statistic(None, mjj) == fit.test_statistic(None, mjj)
    assert "minuit_" not in clone(fit).__dict__
    assert joblib.hash(clone(fit)) == joblib.hash(DijetFitBackground(n_params=4))
    # MINOS afterwards, on the unpickled copy too: in the whitened coordinates the
    # parabolic errors are about 1 and MINOS agrees with them for this many events
    for minuit in (fit.minuit_, again.minuit_):
        minuit.minos("phi1")
        error = minuit.merrors["phi1"]
        assert error.is_valid
        assert -error.lower == pytest.approx(minuit.errors["phi1"], rel=0.2)
        assert error.upper == pytest.approx(minuit.errors["phi1"], rel=0.2)


def test_minos_gives_the_interval_of_a_fitted_signal_yield():
    rng = np.random.default_rng(24)
    background = sample_dijet_spectrum(40_000, (3000.0, 4600.0), random_state=24)
    mjj = np.concatenate([background, rng.normal(3500.0, 100.0, 800)])
    fit = DijetFitBackground(n_params=4, signal="gaussian").fit(None, mjj)
    fit.minuit_.minos("yield")
    error = fit.minuit_.merrors["yield"]
    assert error.is_valid
    assert fit.minuit_.values["yield"] == pytest.approx(fit.signal_params_[0])
    assert error.lower < 0 < error.upper
    assert fit.signal_params_[0] + error.lower > 0  # the injection is seen


def test_the_last_bin_edge_is_excluded():
    mjj = sample_dijet_spectrum(5000, (3000.0, 4600.0), random_state=22)
    on_edges = np.concatenate([mjj, [3000.0, 4600.0, 4600.0]])
    fit = DijetFitBackground(n_params=3).fit(None, on_edges)
    assert fit.n_outside_ == 2  # the two events at 4600 GeV, the upper edge
    assert fit.observed_counts_.sum() == mjj.size + 1
    np.testing.assert_array_equal(
        fit.observed_counts_, np.histogram(on_edges[on_edges < 4600.0], EDGES)[0]
    )


def test_integer_bins_span_all_positive_masses():
    mjj = sample_dijet_spectrum(5000, (3000.0, 4600.0), random_state=23)
    fit = DijetFitBackground(n_params=3, bins=10).fit(None, mjj)
    assert fit.n_outside_ == 0
    assert fit.observed_counts_.sum() == mjj.size
    assert fit.bins_[0] == mjj.min()
    assert fit.bins_[-1] == pytest.approx(mjj.max(), rel=1e-15)


def _brute_force_log_likelihood(fit, mjj, weight):
    """Σ_i w_i log p(m_i): p the fitted density (adaptive quadrature), bin-averaged."""
    edges = fit.bins_
    model = fit.density
    if fit.signal_params_ is not None:
        amplitude, mean, width = fit.signal_params_

        def model(m):
            return fit.density(m) + amplitude * stats.norm.pdf(m, mean, width)

    integrals = [
        integrate.quad(model, low, high, epsrel=1e-12)[0]
        for low, high in itertools.pairwise(edges)
    ]
    total = sum(integrals)
    value = 0.0
    for m, w in zip(mjj, weight, strict=True):
        for b, (low, high) in enumerate(itertools.pairwise(edges)):
            if low <= m < high:
                value += w * np.log(integrals[b] / (total * (high - low)))
    return value


@pytest.mark.parametrize("signal", [None, "gaussian"])
def test_score_is_the_binned_log_likelihood_of_the_events(signal):
    rng = np.random.default_rng(24)
    mjj = sample_dijet_spectrum(3000, (2900.0, 4700.0), random_state=24)
    mjj = np.concatenate([mjj, rng.normal(3500.0, 100.0, 300)])
    weight = rng.uniform(0.5, 1.5, mjj.size)
    fit = DijetFitBackground(n_params=3, signal=signal).fit(None, mjj, sample_weight=weight)
    held_out = sample_dijet_spectrum(500, (2900.0, 4700.0), random_state=25)
    for data, w in ((mjj, weight), (held_out, np.ones(held_out.size))):
        assert fit.score(None, data, sample_weight=w) == pytest.approx(
            _brute_force_log_likelihood(fit, data, w), rel=1e-9
        )


def test_score_prefers_the_better_description_of_held_out_data():
    mjj = sample_dijet_spectrum(20_000, (3000.0, 4600.0), random_state=26)
    held_out = sample_dijet_spectrum(20_000, (3000.0, 4600.0), random_state=27)
    good = DijetFitBackground(n_params=4).fit(None, mjj)
    flat = DijetFitBackground(n_params=3).fit(None, np.linspace(3000.0, 4599.0, 20_000))
    assert good.score(None, held_out) > flat.score(None, held_out)
    # the test statistic of the flat fit is huge: score and test statistic disagree
    assert flat.test_statistic(None, held_out) > good.test_statistic(None, held_out)


def test_score_is_minus_infinity_where_events_have_no_expected_events():
    fit = _fit_counts(bin_integrals(EDGES, TRUE_PARAMS, 13000.0), n_params=3)
    fit.params_ = np.array([1.0, 8000.0, 1435.0])  # underflows to 0 in the upper bins
    assert fit.score(None, CENTRES) == -np.inf
    assert fit.score(None, CENTRES[:2]) > -np.inf


def test_test_statistic_ignores_truth_labels():
    counts = np.random.default_rng(28).poisson(bin_integrals(EDGES, TRUE_PARAMS, 13000.0))
    fit = _fit_counts(counts.astype(float))
    is_signal = np.zeros(CENTRES.size, dtype=bool)
    assert fit.test_statistic(None, CENTRES, sample_weight=counts, is_signal=is_signal) == (
        fit.test_statistic(None, CENTRES, sample_weight=counts)
    )


def test_numbers_are_pinned_before_and_after_the_move_to_stats():
    # Values of the revision before m_jj became y and the binning moved to
    # hepcluster.stats (old: fit(mjj.reshape(-1, 1)), score = MLS), to the fit's precision:
    # MIGRAD stops within its tolerance of the minimum, and where BLAS rounds otherwise
    # (OpenBLAS picks its kernels by CPU: the starting values and the reparametrisation
    # use lstsq and Cholesky) the end point moves by ~1e-6 relative; a change of the
    # likelihood, the binning or the statistic moves these numbers by far more.
    mjj = sample_dijet_spectrum(50_000, (3000.0, 4600.0), random_state=0)
    fit = DijetFitBackground(n_params=4).fit(None, mjj)
    assert fit.test_statistic(None, mjj) == pytest.approx(1.5414367294049656, rel=FIT_RTOL)
    assert fit.chi2_ == pytest.approx(6.4041018585458005, rel=FIT_RTOL)
    np.testing.assert_allclose(
        fit.params_,
        [1.4174752532245568e-22, -30.56632222882636, 47.416288272479456, 10.408839923269557],
        rtol=FIT_RTOL,
    )
    weight = np.random.default_rng(3).uniform(0.5, 1.5, mjj.size)
    fit = DijetFitBackground(n_params=5, statistic="poisson-midp")
    fit.fit(None, mjj, sample_weight=weight)
    statistic = fit.test_statistic(None, mjj, sample_weight=weight)
    assert statistic == pytest.approx(1.7633090277537558, rel=FIT_RTOL)
    assert fit.chi2_ == pytest.approx(6.246940621753765, rel=FIT_RTOL)
