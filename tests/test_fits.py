import itertools
import warnings

import numpy as np
import pytest
from scipy import integrate

from hepcluster import DijetFitBackground
from hepcluster.fits import bin_integrals, dijet_function

EDGES = np.linspace(3000.0, 4600.0, 17)
CENTRES = 0.5 * (EDGES[1:] + EDGES[:-1])
TRUE_PARAMS = (20.0, 10.0, 5.0, 0.3)


def _fit_counts(counts, **kwargs):
    return DijetFitBackground(**kwargs).fit(CENTRES.reshape(-1, 1), sample_weight=counts)


def test_dijet_function_has_the_documented_form():
    x = 3500.0 / 13000.0
    expected = 2.0 * (1 - x) ** 9.0 / x ** (4.0 + 0.5 * np.log(x) + 0.1 * np.log(x) ** 2)
    assert dijet_function(3500.0, (2.0, 9.0, 4.0, 0.5, 0.1)) == pytest.approx(expected)
    assert dijet_function(3500.0, (2.0, 9.0, 4.0)) == pytest.approx(2.0 * (1 - x) ** 9 / x**4)
    with pytest.raises(ValueError, match="3, 4 or 5"):
        dijet_function(3500.0, (1.0, 2.0))


def test_bin_integrals_match_numerical_quadrature():
    expected = [
        integrate.quad(lambda m: dijet_function(m, TRUE_PARAMS), low, high)[0]
        for low, high in itertools.pairwise(EDGES)
    ]
    np.testing.assert_allclose(bin_integrals(EDGES, TRUE_PARAMS, 13000.0), expected, rtol=1e-10)


def test_fit_recovers_known_parameters_of_a_sampled_spectrum():
    rng = np.random.default_rng(0)
    expected = bin_integrals(EDGES, TRUE_PARAMS, 13000.0)
    pulls = []
    for _ in range(40):
        fit = _fit_counts(rng.poisson(expected).astype(float))
        assert fit.success_
        # p0 is fitted as log p0 (the spectrum constrains it only together with p1–p3)
        fitted = np.concatenate([[np.log(fit.params_[0])], fit.params_[1:]])
        truth = np.concatenate([[np.log(TRUE_PARAMS[0])], TRUE_PARAMS[1:]])
        errors = np.concatenate([[fit.param_errors_[0] / fit.params_[0]], fit.param_errors_[1:]])
        pulls.append((fitted - truth) / errors)
    pulls = np.asarray(pulls)
    assert np.all(np.abs(pulls.mean(axis=0)) < 0.5)
    assert np.all(np.abs(pulls) < 5.0)
    assert np.all((pulls.std(axis=0) > 0.5) & (pulls.std(axis=0) < 1.5))


@pytest.mark.parametrize("n_params", [3, 4, 5])
def test_fit_describes_its_own_function_exactly(n_params):
    truth = (20.0, 10.0, 5.0, 0.3, 0.02)[:n_params]
    counts = bin_integrals(EDGES, truth, 13000.0)
    fit = _fit_counts(counts, n_params=n_params)
    np.testing.assert_allclose(fit.expected_counts(), counts, rtol=1e-5)
    assert fit.chi2_ < 1e-6
    assert fit.ndf_ == 16 - n_params


def test_unbinned_fit_with_weights_equals_repeated_events():
    rng = np.random.default_rng(1)
    mjj = rng.uniform(3000.0, 4600.0, 5000) ** 1.0
    mjj = 3000.0 + rng.exponential(400.0, 20_000)
    weight = rng.poisson(1.0, mjj.size)
    weighted = DijetFitBackground().fit(mjj.reshape(-1, 1), sample_weight=weight)
    repeated = DijetFitBackground().fit(np.repeat(mjj, weight).reshape(-1, 1))
    np.testing.assert_allclose(weighted.params_, repeated.params_, rtol=1e-8)
    assert weighted.n_outside_ == int(((mjj > 4600.0) * (weight >= 0)).sum())


def test_score_is_small_without_and_large_with_a_bump():
    rng = np.random.default_rng(2)
    expected = bin_integrals(EDGES, TRUE_PARAMS, 13000.0)
    background = rng.poisson(expected).astype(float)
    assert _fit_counts(background).score(CENTRES.reshape(-1, 1), sample_weight=background) < 3.5
    bump = background.copy()
    bump[5] += 6.0 * np.sqrt(expected[5])
    fit = _fit_counts(bump)
    assert fit.score(CENTRES.reshape(-1, 1), sample_weight=bump) > 3.0
    assert np.argmax(fit.local_significance(CENTRES.reshape(-1, 1), sample_weight=bump)) == 5


def test_signal_plus_background_fit_finds_the_injected_gaussian():
    rng = np.random.default_rng(3)
    expected = bin_integrals(EDGES, TRUE_PARAMS, 13000.0, signal=(40_000.0, 3500.0, 150.0))
    counts = rng.poisson(expected).astype(float)
    fit = _fit_counts(counts, signal="gaussian")
    amplitude, mean, width = fit.signal_params_
    assert mean == pytest.approx(3500.0, rel=0.03)
    assert amplitude == pytest.approx(40_000.0, rel=0.25)
    assert width == pytest.approx(150.0, rel=0.3)


def test_statistics_are_shared_with_cluster_scanning():
    rng = np.random.default_rng(4)
    counts = rng.poisson(bin_integrals(EDGES, TRUE_PARAMS, 13000.0)).astype(float)
    fit = _fit_counts(counts, statistic="gaussian")
    z = (counts - fit.expected_counts()) / np.sqrt(fit.expected_counts())
    assert fit.score(CENTRES.reshape(-1, 1), sample_weight=counts) == pytest.approx(
        max(z.max(), 0.0)
    )


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="only 2 column"):
        DijetFitBackground(mjj_column=2).fit(np.ones((10, 2)))
    with pytest.raises(ValueError, match="Negative"):
        DijetFitBackground().fit(np.array([[3100.0], [-1.0]]))
    with pytest.raises(ValueError, match="NaN"):
        DijetFitBackground().fit(np.array([[3100.0], [np.nan]]))
    with pytest.raises(ValueError, match="no events inside"):
        DijetFitBackground().fit(np.full((10, 1), 6000.0))
    with pytest.raises(ValueError, match="x_scale"):
        DijetFitBackground(bins=(3000.0, 14000.0, 15000.0)).fit(np.full((3, 1), 3500.0))
    with pytest.raises(ValueError, match="free parameters"):
        DijetFitBackground(bins=(3000.0, 3100.0, 3200.0)).fit(np.full((3, 1), 3050.0))


def test_a_failed_fit_warns():
    counts = np.zeros(16)
    counts[3] = 5.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = _fit_counts(counts, max_nfev=2)
    assert not fit.success_
    assert any("did not converge" in str(w.message) for w in caught)


def test_mjj_column_selects_a_dataframe_column():
    from hepcluster.datasets import make_dijet_events

    frame = make_dijet_events(3000, 0, mjj_range=(3000.0, 4600.0), random_state=5).to_dataframe()
    by_name = DijetFitBackground(mjj_column="mjj").fit(frame)
    by_array = DijetFitBackground().fit(frame[["mjj"]].to_numpy())
    np.testing.assert_allclose(by_name.params_, by_array.params_)
    with pytest.raises(ValueError, match="not a column"):
        DijetFitBackground(mjj_column="m_jj").fit(frame)
