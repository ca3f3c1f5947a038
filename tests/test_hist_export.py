"""hist.Hist views (UHI PlottableHistogram) and DataFrame tables of the result objects."""

import numpy as np
import pytest

from hepcluster import ClusterScanner, DijetFitBackground
from hepcluster.calibration import CalibrationResult, compare_methods
from hepcluster.datasets import sample_dijet_spectrum
from hepcluster.fits._likelihood import bin_integrals

hist = pytest.importorskip("hist")
plottable = pytest.importorskip("uhi.typing.plottable")


@pytest.fixture(scope="module")
def scan():
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(size=(4000, 3)), rng.normal(4.0, 0.3, size=(300, 3))])
    mjj = np.concatenate([rng.uniform(3000.0, 3800.0, 4000), rng.normal(3500.0, 40.0, 300)])
    scanner = ClusterScanner(
        n_clusters=8, bins=np.linspace(3000.0, 3800.0, 9), n_ensemble=2, random_state=0
    )
    return scanner.fit(X, mjj).scan(X, mjj)


@pytest.fixture(scope="module")
def fit():
    mjj = sample_dijet_spectrum(40_000, (3000.0, 4600.0), random_state=2)
    return DijetFitBackground(n_params=4).fit(None, mjj)


def assert_mjj_axis(axis, edges):
    assert axis.name == "mjj"
    assert axis.label == "m_jj [GeV]"
    np.testing.assert_array_equal(axis.edges, edges)
    assert not axis.traits.underflow
    assert not axis.traits.overflow


def test_scan_spectra_round_trip_to_hist_with_poisson_variances(scan):
    assert scan.n_selected[1] > 0
    clusters = scan.to_hist("clusters", member=1)
    assert isinstance(clusters, plottable.PlottableHistogram)
    assert clusters.axes.name == ("cluster", "mjj")
    assert_mjj_axis(clusters.axes["mjj"], scan.bins)
    np.testing.assert_array_equal(clusters.values(), scan.cluster_spectra[1])
    np.testing.assert_array_equal(clusters.variances(), scan.cluster_spectra[1])
    rich = scan.to_hist("signal_rich", member=1)
    np.testing.assert_array_equal(rich.values(), scan.signal_rich_spectrum[1])
    np.testing.assert_array_equal(rich.variances(), scan.signal_rich_spectrum[1])
    # the selected clusters' 2-D histogram summed over clusters is the signal-rich one
    selected = clusters.values()[scan.selected[1]].sum(axis=0)
    np.testing.assert_allclose(selected, rich.values(), rtol=1e-12)


def test_background_hist_variance_is_the_scaled_poor_cluster_count(scan):
    member = 1
    background = scan.to_hist("background", member=member)
    np.testing.assert_array_equal(background.values(), scan.background_estimate[member])
    poor = scan.cluster_spectra[member][~scan.selected[member]].sum(axis=0)
    scale = scan.signal_rich_spectrum[member].sum() / poor.sum()
    np.testing.assert_allclose(background.values(), scale * poor, rtol=1e-12)
    np.testing.assert_allclose(background.variances(), scale**2 * poor, rtol=1e-12)
    with pytest.raises(ValueError, match="spectrum must be"):
        scan.to_hist("everything")


def test_weighted_scan_hists_carry_the_sum_of_squared_weights(tmp_path):
    """Σw² per cluster and bin, against a brute-force loop over the jets' labels."""
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(size=(3000, 3)), rng.normal(4.0, 0.3, size=(300, 3))])
    mjj = np.concatenate([rng.uniform(3000.0, 3800.0, 3000), rng.normal(3500.0, 40.0, 300)])
    weight = rng.gamma(2.0, 0.5, size=mjj.size)
    bins = np.linspace(3000.0, 3800.0, 9)
    scanner = ClusterScanner(n_clusters=8, bins=bins, n_ensemble=2, random_state=0)
    result = scanner.fit(X, mjj, sample_weight=weight).scan(X, mjj, sample_weight=weight)
    member = 1
    labels = scanner.predict_ensemble(X)[member]
    expected = np.zeros((8, bins.size - 1))
    for label, value, w in zip(labels, mjj, weight, strict=True):
        b = np.searchsorted(bins, value, side="right") - 1
        if 0 <= b < bins.size - 1:
            expected[label, b] += w * w
    clusters = result.to_hist("clusters", member=member)
    np.testing.assert_allclose(clusters.variances(), expected, rtol=1e-12)
    assert not np.allclose(clusters.variances(), clusters.values())
    selected = result.selected[member]
    rich = result.to_hist("signal_rich", member=member)
    np.testing.assert_allclose(rich.variances(), expected[selected].sum(axis=0), rtol=1e-12)
    poor = result.cluster_spectra[member][~selected].sum()
    scale = result.signal_rich_spectrum[member].sum() / poor
    background = result.to_hist("background", member=member)
    np.testing.assert_allclose(
        background.variances(), scale**2 * expected[~selected].sum(axis=0), rtol=1e-12
    )
    again = type(result).load(result.save(tmp_path / "scan.npz"))
    np.testing.assert_array_equal(again.cluster_sumw2, result.cluster_sumw2)


def test_fit_hist_holds_expected_counts_and_propagated_fit_variances(fit):
    h = fit.to_hist()
    assert isinstance(h, plottable.PlottableHistogram)
    assert_mjj_axis(h.axes[0], fit.bins_)
    np.testing.assert_allclose(h.values(), fit.expected_counts(), rtol=1e-12)
    # independent check: the spread of the expected counts over parameters drawn from
    # the HESSE covariance (linear regime: the fit has 40k events)
    rng = np.random.default_rng(0)
    theta = np.concatenate([[np.log(fit.params_[0])], fit.params_[1:]])
    draws = rng.multivariate_normal(theta, fit.covariance_, size=4000)
    counts = np.array(
        [
            bin_integrals(fit.bins_, np.concatenate([[np.exp(t[0])], t[1:]]), fit._scale())
            for t in draws
        ]
    )
    np.testing.assert_allclose(h.variances(), counts.var(axis=0), rtol=0.1)
    edges = np.linspace(3000.0, 4600.0, 5)
    np.testing.assert_allclose(fit.to_hist(edges).values(), fit.expected_counts(edges))


def test_calibration_hist_counts_every_valid_pseudo_experiment():
    rng = np.random.default_rng(3)
    null = rng.normal(size=500)
    injected = rng.normal(2.0, 1.0, size=(2, 31))
    result = CalibrationResult(null, [100, 200], injected, n_background=1e4)
    h = result.to_hist(bins=25)
    assert isinstance(h, plottable.PlottableHistogram)
    expected, edges = np.histogram(null, bins=25)
    np.testing.assert_array_equal(h.values(), expected)
    np.testing.assert_array_equal(h.variances(), expected)
    np.testing.assert_allclose(h.axes[0].edges, edges)
    level = result.to_hist(bins=[-10.0, 0.0, 10.0], level=1)
    np.testing.assert_array_equal(
        level.values(), np.histogram(injected[1], bins=[-10.0, 0.0, 10.0])[0]
    )


def test_mplhep_histplot_draws_the_hists_without_conversion(scan, fit):
    mplhep = pytest.importorskip("mplhep")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots()
    mplhep.histplot(scan.to_hist("signal_rich"), ax=ax, histtype="errorbar", label="data")
    mplhep.histplot(scan.to_hist("background"), ax=ax, label="background")
    mplhep.histplot(fit.to_hist(), ax=ax, label="fit")
    null = CalibrationResult(np.random.default_rng(0).normal(size=100), [], [], 1e4)
    mplhep.histplot(null.to_hist(), ax=ax)
    assert len(ax.get_legend_handles_labels()[1]) == 3
    plt.close(figure)


def test_result_tables_export_to_dataframes_and_csv(scan, tmp_path):
    pd = pytest.importorskip("pandas")
    table = scan.to_dataframe()
    assert len(table) == scan.n_members * (scan.bins.size - 1)
    np.testing.assert_array_equal(
        table["signal_rich"].to_numpy(), scan.signal_rich_spectrum.ravel()
    )
    np.testing.assert_array_equal(table.loc[table.member == 1, "mjj_low"], scan.bins[:-1])
    table.to_csv(tmp_path / "scan.csv", index=False)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "scan.csv"), table)

    rng = np.random.default_rng(0)

    def method(name, shift):
        injected = [rng.normal(shift * k, 1.0, 21) for k in (1, 2, 3)]
        return CalibrationResult(rng.normal(size=500), [100, 200, 300], injected, 1e4, name)

    methods = {"scan": method("scan", 1.5), "dijet_fit": method("fit", 0.5)}
    calibration = methods["scan"].to_dataframe(methods["dijet_fit"])
    summary = methods["scan"].summary(methods["dijet_fit"])
    assert list(calibration.columns) == list(summary[0])
    # None (undetermined) becomes NaN in the frame; everything else is the summary's
    pd.testing.assert_frame_equal(calibration, pd.DataFrame(summary).fillna(np.nan))
    comparison = compare_methods(methods)
    frame = comparison.to_dataframe()
    rows = comparison.summary()["rows"]
    assert list(frame["n_signal"]) == [row["n_signal"] for row in rows]
    assert list(frame["z_scan_median_value"]) == [row["z_scan"]["median"]["value"] for row in rows]
    assert "significance_improvement_scan_kind" in frame.columns
