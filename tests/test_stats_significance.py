"""Local and global significances from hepcluster.stats against scipy and brute-force counts."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from hepcluster.stats import (
    STATISTICS,
    empirical_p_value,
    global_significance,
    local_significance,
    max_local_significance,
)


def test_statistics_are_the_three_documented_ones():
    assert STATISTICS == ("poisson", "poisson-midp", "gaussian")


def test_poisson_local_significance_matches_scipy_for_integer_counts():
    observed = np.arange(101.0, 160.0)
    expected = np.full(observed.size, 100.0)
    reference = scipy_stats.norm.isf(scipy_stats.poisson.sf(observed - 1, expected))
    np.testing.assert_allclose(local_significance(observed, expected), reference, rtol=1e-9)


def test_max_local_significance_is_the_largest_bin_or_zero():
    rng = np.random.default_rng(0)
    expected = np.full((5, 16), 50.0)
    observed = rng.poisson(expected).astype(float)
    z = local_significance(observed, expected)
    np.testing.assert_array_equal(max_local_significance(observed, expected), z.max(axis=1))
    assert max_local_significance([10.0, 20.0], [30.0, 30.0]) == 0.0


def test_empirical_p_value_counts_null_values_at_least_as_large():
    rng = np.random.default_rng(1)
    null = rng.normal(size=200).round(1)  # ties
    observed = np.array([-1.0, 0.0, 0.3, 2.0, 10.0])
    p, bound = empirical_p_value(null, observed)
    at_least = np.array([np.sum(null >= t) for t in observed])
    expected = np.where(at_least == 0, 1.0 / null.size, at_least / null.size)
    np.testing.assert_allclose(p, expected)
    np.testing.assert_array_equal(bound, at_least == 0)
    mid, _ = empirical_p_value(null, observed, mid_p=True)
    brute = [(np.sum(null > t) + 0.5 * np.sum(null == t)) / null.size for t in observed]
    np.testing.assert_allclose(mid[at_least > 0], np.array(brute)[at_least > 0])


def test_global_significance_is_the_normal_quantile_of_the_p_value():
    null = np.arange(1000.0)
    z, bound = global_significance(null, [900.0, 5000.0])
    assert z[0] == pytest.approx(scipy_stats.norm.isf(100 / 1000))
    assert z[1] == pytest.approx(scipy_stats.norm.isf(1 / 1000))
    assert bound.tolist() == [False, True]
