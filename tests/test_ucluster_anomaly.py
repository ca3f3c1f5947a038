"""Event-level anomaly detection with UCluster: nearest-cluster background, result object."""

import json
import os

import numpy as np
import pytest

from hepcluster.anomaly import AnomalySearchResult, anomaly_search, nearest_cluster_background
from hepcluster.datasets import make_dijet_events, sample_dijet_spectrum
from hepcluster.fits import DijetFitBackground
from hepcluster.metrics import excess_significance

BINS = np.arange(2600.0, 5001.0, 100.0)
SIGNAL_REGION = (3300.0, 3700.0)
FIT = DijetFitBackground(n_params=4)
"""The paper's background model: the 4-parameter dijet function, x = m_jj / √s."""


def _counts(values, weights=None):
    """Histogram with the last edge excluded, as every search of the package bins."""
    inside = (values >= BINS[0]) & (values < BINS[-1])
    index = np.searchsorted(BINS, values[inside], side="right") - 1
    w = np.ones(inside.sum()) if weights is None else np.asarray(weights)[inside]
    return np.bincount(index, weights=w, minlength=BINS.size - 1)


@pytest.fixture(scope="module")
def spectra():
    """Background split at random into three clusters; 500 signal events in cluster 2."""
    rng = np.random.default_rng(0)
    background = sample_dijet_spectrum(60_000, (2600.0, 5000.0), random_state=1)
    signal = rng.normal(3500.0, 150.0, 500)
    mjj = np.concatenate([background, signal])
    labels = np.concatenate([rng.integers(0, 3, background.size), np.full(500, 2)])
    is_signal = np.repeat([False, True], [background.size, 500])
    # cluster 2 is nearest to cluster 1, cluster 1 to cluster 2, cluster 0 to cluster 1
    centers = np.array([[0.0, 0.0], [1.0, 0.0], [1.3, 0.0]])
    return mjj, labels, is_signal, centers


def test_background_is_the_nearest_clusters_fit_scaled_to_the_sidebands(spectra):
    mjj, labels, _, centers = spectra
    result = nearest_cluster_background(
        labels,
        cluster_centers=centers,
        mjj=mjj,
        bins=BINS,
        background=FIT,
        signal_region=SIGNAL_REGION,
    )
    np.testing.assert_array_equal(result["nearest_cluster"], [1, 2, 1])
    # independent computation for cluster 2: fit cluster 1, scale to cluster 2's sidebands
    members = mjj[labels == 1]
    fit = DijetFitBackground(n_params=4, bins=BINS).fit(members.reshape(-1, 1), members)
    shape = fit.expected_counts()
    counts = _counts(mjj[labels == 2])
    inside = (BINS[:-1] >= SIGNAL_REGION[0]) & (BINS[1:] <= SIGNAL_REGION[1])
    expected = shape * counts[~inside].sum() / shape[~inside].sum()
    np.testing.assert_allclose(result["background"][2], expected, rtol=1e-6)
    np.testing.assert_allclose(result["spectra"][2], counts)
    assert result["excess_significance"][2] == pytest.approx(
        excess_significance(counts[inside], expected[inside]), rel=1e-9
    )
    # 500 signal events over ~5,000 background in the region: a clear excess; cluster 0
    # (background only, shape from a background-only cluster) shows none.
    assert result["excess_significance"][2] > 5.0
    assert result["excess_significance"][0] < 3.0
    np.testing.assert_array_equal(result["fit_params"][2], fit.params_)
    # the shapes agree where they come from a background-only cluster (clusters 0 and 2
    # take cluster 1's; cluster 1 takes cluster 2's, which holds the signal)
    sideband = ~inside
    chi2 = np.sum((counts[sideband] - expected[sideband]) ** 2 / expected[sideband])
    assert result["sideband_chi2_ndf"][2] == pytest.approx(chi2 / (sideband.sum() - 1))
    assert result["sideband_chi2_ndf"][[0, 2]].max() < 3.0


def test_a_scanned_signal_region_finds_the_resonance(spectra):
    mjj, labels, _, centers = spectra
    result = nearest_cluster_background(
        labels, cluster_centers=centers, mjj=mjj, bins=BINS, background=FIT
    )
    first, last = result["signal_region_index"][2]
    assert BINS[first] <= 3500.0 <= BINS[last]
    assert first >= 1
    assert last <= len(BINS) - 2  # a sideband bin on each side
    assert result["excess_significance"][2] > 5.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"signal_region": (3350.0, 3700.0)}, "bin edge"),
        ({"signal_region": (2600.0, 5000.0)}, "no sideband"),
        ({"cluster_centers": [[0.0]]}, "two cluster centres"),
        ({"bins": [1.0, 2.0]}, "three strictly increasing"),
    ],
)
def test_invalid_searches_raise_clear_errors(spectra, kwargs, message):
    mjj, labels, _, centers = spectra
    arguments = {"cluster_centers": centers, "bins": BINS, "background": FIT, **kwargs}
    with pytest.raises(ValueError, match=message):
        nearest_cluster_background(labels, mjj=mjj, **arguments)
    with pytest.raises(ValueError, match="labels must lie"):
        nearest_cluster_background(
            labels + 1, cluster_centers=centers, mjj=mjj, bins=BINS, background=FIT
        )


def _result(spectra):
    mjj, labels, is_signal, centers = spectra
    analysis = nearest_cluster_background(
        labels,
        cluster_centers=centers,
        mjj=mjj,
        bins=BINS,
        background=FIT,
        signal_region=SIGNAL_REGION,
    )
    signal = np.stack([_counts(mjj[(labels == k) & is_signal]) for k in range(3)])
    ratio = np.array(
        [is_signal[labels == k].sum() / (~is_signal[labels == k]).sum() for k in range(3)]
    )
    return AnomalySearchResult(
        bins=BINS,
        cluster_spectra=analysis["spectra"],
        signal_spectra=signal,
        background_estimates=analysis["background"],
        local_significance=analysis["local_significance"],
        nearest_cluster=analysis["nearest_cluster"],
        excess_significance=analysis["excess_significance"],
        signal_region_index=analysis["signal_region_index"],
        selected=analysis["excess_significance"] >= 3.0,
        fit_params=analysis["fit_params"],
        sideband_chi2_ndf=analysis["sideband_chi2_ndf"],
        cluster_centers=centers,
        signal_to_background=ratio,
        inclusive_signal_to_background=is_signal.sum() / (~is_signal).sum(),
        threshold=3.0,
        statistic_name="poisson",
        n_events=mjj.size,
        n_outside=analysis["n_outside"],
        metadata={"note": "test"},
    )


def test_result_round_trips_and_summarises(spectra, tmp_path):
    result = _result(spectra)
    assert result.best_cluster == 2
    np.testing.assert_array_equal(result.selected, [False, False, True])
    assert result.signal_fraction_improvement == pytest.approx(
        result.signal_to_background[2] / result.inclusive_signal_to_background
    )
    assert "selected=[2]" in repr(result)
    result.save(tmp_path / "anomaly.npz")
    loaded = AnomalySearchResult.load(tmp_path / "anomaly.npz")
    for name, value in result.to_dict().items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(getattr(loaded, name), value)
        else:
            assert getattr(loaded, name) == value
    summary = json.loads(json.dumps(result.summary()))
    assert summary["clusters"][2]["selected"] is True
    assert summary["clusters"][2]["signal_region_gev"] == list(SIGNAL_REGION)


def test_result_plots_a_cluster_against_its_background(spectra, plot):
    result = _result(spectra)
    top, bottom = result.plot()
    title = top.get_title()
    assert "cluster 2" in title
    assert "local significance Z = " in title
    assert f"{result.excess_significance[2]:.1f}" in title
    assert "in 3300–3700 GeV" in title
    legend = [text.get_text() for text in top.get_legend().get_texts()]
    assert legend == [
        "cluster 2 (data)",
        "background: fit of cluster 1, scaled to sidebands",
        "signal (truth)",
        "signal region",
    ]
    assert top.get_ylabel() == "events / 100 GeV"
    assert top.get_yscale() == "log"
    # the log range shows every count but not the far tail of the fit (was 1e3 to 1e-11)
    low, high = top.get_ylim()
    counts = result.cluster_spectra[2]
    assert 0.1 <= low <= counts[counts > 0].min()
    assert counts.max() < high <= 100 * counts.max()  # room for the legend
    assert bottom.get_ylabel() == "local significance [σ]"
    assert bottom.get_xlabel() == "$m_{jj}$ [GeV]"
    assert [t.get_text() for t in bottom.get_legend().get_texts()] == ["per-bin local Z"]
    # one Axes: the spectra alone
    _, ax = plot.subplots()
    assert result.plot(cluster=0, ax=ax) is ax
    assert ax.get_title().startswith("cluster 0: local significance")
    with pytest.raises(ValueError, match="one Axes or two"):
        result.plot(ax=plot.subplots(1, 3)[1])


def test_confusion_matrix_has_counts_a_colour_bar_and_the_matched_order(plot):
    from hepcluster.metrics import cluster_accuracy
    from hepcluster.ucluster import plot_confusion_matrix

    y = np.repeat(["W", "Z", "top"], [50, 40, 30])
    labels = np.concatenate([np.full(50, 2), np.full(30, 0), np.full(10, 2), np.full(30, 1)])
    ax = plot_confusion_matrix(y, labels)
    assert ax.get_title() == f"cluster accuracy {cluster_accuracy(y, labels):.2f}"
    assert ax.get_xlabel() == "cluster"
    assert ax.get_ylabel() == "true class"
    # rows: sorted classes (W, Z, top); columns: the clusters matched to them
    assert [t.get_text() for t in ax.get_yticklabels()] == ["W", "Z", "top"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "0", "1"]
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["50", "0", "0", "10", "30", "0", "0", "0", "30"]
    colour_bars = [a for a in ax.figure.axes if a is not ax]
    assert len(colour_bars) == 1
    assert colour_bars[0].get_ylabel() == "samples"


def test_anomaly_search_clusters_events_end_to_end():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    pytest.importorskip("keras", reason='needs TensorFlow: pip install "hepcluster[ucluster]"')
    from hepcluster.ucluster import DeepKMeans, UClusterEmbedding

    events = make_dijet_events(
        3000, 150, n_constituents=6, mjj_range=(2600.0, 5000.0), random_state=3
    )
    model = DeepKMeans(
        UClusterEmbedding(
            task="events", width=0.25, n_neighbors=4, pretrain_epochs=1, batch_size=1024
        ),
        n_clusters=2,
        epochs=1,
        batch_size=1024,
        random_state=0,
    )
    result = anomaly_search(
        events, model=model, bins=np.arange(2600.0, 5001.0, 200.0), background=FIT
    )
    assert result.cluster_spectra.shape == (2, 12)
    assert result.n_events == len(events)
    assert result.cluster_spectra.sum() + result.n_outside == pytest.approx(len(events))
    assert result.signal_spectra.sum() <= events.n_signal
    np.testing.assert_array_equal(result.nearest_cluster, [1, 0])
    assert np.all(np.isfinite(result.signal_to_background))
    assert result.inclusive_signal_to_background == pytest.approx(150 / 3000)
    with pytest.raises(ValueError, match="task='events'"):
        anomaly_search(
            events,
            model=DeepKMeans(
                UClusterEmbedding(width=0.25, pretrain_epochs=1), n_clusters=2, epochs=1
            ).fit(events.jets()[0][:6]),
            bins=BINS,
            background=FIT,
        )


def test_anomaly_search_result_prints_a_table_of_its_clusters(spectra):
    result = _result(spectra)
    text = str(result)
    lines = text.splitlines()
    assert lines[0].startswith("Anomaly search: 3 clusters")
    assert "signal region [GeV]" in lines[2]
    assert len(lines) == 3 + result.n_clusters
    html = result._repr_html_()
    assert html.startswith("<table>")
    assert html.count("<tr>") == 1 + result.n_clusters
