"""The shared m_jj binning: default edges, bin_index and histogram against brute-force loops."""

import numpy as np
import pytest

from hepcluster import stats
from hepcluster.stats import CLUSTER_SCANNING_BINS, bin_index, histogram


def brute_force_index(value, edges):
    for i in range(len(edges) - 1):
        if edges[i] <= value < edges[i + 1]:
            return i
    return -1


def brute_force_histogram(values, edges, weights):
    counts = [0.0] * (len(edges) - 1)
    for value, weight in zip(values, weights, strict=True):
        i = brute_force_index(value, edges)
        if i >= 0:
            counts[i] += weight
    return np.array(counts)


@pytest.fixture
def values_on_and_off_edges():
    rng = np.random.default_rng(0)
    edges = np.array(CLUSTER_SCANNING_BINS)
    values = np.concatenate(
        [rng.uniform(2900.0, 4700.0, 500), edges, [-1.0, 0.0, 1e9, np.nextafter(4600.0, 0.0)]]
    )
    return rng.permutation(values), edges


def test_default_bins_are_16_bins_of_100_gev_over_3_to_4_6_tev():
    assert isinstance(CLUSTER_SCANNING_BINS, tuple)
    assert len(CLUSTER_SCANNING_BINS) == 17
    assert CLUSTER_SCANNING_BINS[0] == 3000.0
    assert CLUSTER_SCANNING_BINS[-1] == 4600.0
    np.testing.assert_allclose(np.diff(CLUSTER_SCANNING_BINS), 100.0, rtol=1e-12)
    assert all(type(edge) is float for edge in CLUSTER_SCANNING_BINS)


def test_bin_index_matches_a_brute_force_loop(values_on_and_off_edges):
    values, edges = values_on_and_off_edges
    expected = [brute_force_index(value, edges) for value in values]
    assert bin_index(values, edges).tolist() == expected


def test_histogram_matches_a_brute_force_loop(values_on_and_off_edges):
    values, edges = values_on_and_off_edges
    weights = np.random.default_rng(1).uniform(0.0, 3.0, values.size)
    np.testing.assert_allclose(
        histogram(values, edges, weights=weights), brute_force_histogram(values, edges, weights)
    )
    np.testing.assert_array_equal(
        histogram(values, edges), brute_force_histogram(values, edges, np.ones(values.size))
    )


def test_the_last_edge_is_excluded_and_the_first_included():
    edges = [3000.0, 3100.0, 3200.0]
    assert bin_index([3000.0, 3100.0, 3200.0], edges).tolist() == [0, 1, -1]
    assert histogram([3000.0, 3100.0, 3200.0], edges).tolist() == [1.0, 1.0]
    # numpy.histogram includes the last edge: the one difference
    assert np.histogram([3200.0], edges)[0].tolist() == [0, 1]


def test_histogram_agrees_with_numpy_away_from_the_last_edge():
    rng = np.random.default_rng(2)
    values = rng.uniform(2800.0, 4800.0, 10_000)
    weights = rng.poisson(1.0, values.size).astype(float)
    np.testing.assert_array_equal(
        histogram(values, CLUSTER_SCANNING_BINS, weights=weights),
        np.histogram(values, CLUSTER_SCANNING_BINS, weights=weights)[0],
    )


def test_nan_belongs_to_no_bin():
    assert bin_index([np.nan, 3050.0], [3000.0, 3100.0]).tolist() == [-1, 0]
    assert histogram([np.nan, 3050.0], [3000.0, 3100.0]).tolist() == [1.0]


def test_bin_index_keeps_the_shape_of_its_input_and_returns_integers():
    index = bin_index(np.full((2, 3), 3050.0), CLUSTER_SCANNING_BINS)
    assert index.shape == (2, 3)
    assert np.issubdtype(index.dtype, np.integer)
    assert bin_index(3050.0, CLUSTER_SCANNING_BINS).shape == ()


def test_histogram_of_no_values_is_zeros_of_float():
    counts = histogram([], CLUSTER_SCANNING_BINS)
    assert counts.dtype == np.float64
    assert counts.tolist() == [0.0] * 16


@pytest.mark.parametrize(
    ("edges", "match"),
    [
        pytest.param([3000.0], "at least two", id="one-edge"),
        pytest.param([], "at least two", id="no-edge"),
        pytest.param([[3000.0, 3100.0]], "one-dimensional", id="2-d"),
        pytest.param([3000.0, np.inf], "finite", id="infinite"),
        pytest.param([3000.0, np.nan, 3200.0], "finite", id="nan"),
        pytest.param([3000.0, 3000.0, 3100.0], "strictly increasing", id="repeated"),
        pytest.param([3100.0, 3000.0], "strictly increasing", id="decreasing"),
    ],
)
def test_invalid_edges_raise_a_clear_error(edges, match):
    with pytest.raises(ValueError, match=match):
        bin_index([3050.0], edges)
    with pytest.raises(ValueError, match=match):
        histogram([3050.0], edges)


def test_weights_must_have_the_shape_of_the_values():
    with pytest.raises(ValueError, match="shape"):
        histogram([3050.0, 3150.0], CLUSTER_SCANNING_BINS, weights=[1.0])


def test_old_import_paths_are_the_stats_functions():
    from hepcluster import calibration, fits, scanning

    assert scanning.local_significance is stats.local_significance
    assert scanning.max_local_significance is stats.max_local_significance
    assert calibration.empirical_p_value is stats.empirical_p_value
    assert calibration.global_significance is stats.global_significance
    assert fits.dijet_function is stats.dijet_function
    assert fits.SQRT_S == stats.SQRT_S == 13000.0


def test_stats_exports_what_all_lists():
    for name in stats.__all__:
        assert hasattr(stats, name), name
