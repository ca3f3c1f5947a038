"""hepcluster.plotting: ax handling, returned axes, labels with units, legends."""

import subprocess
import sys

import numpy as np
import pytest

from hepcluster.datasets import make_dijet_events
from hepcluster.plotting import (
    plot_cluster_spectra,
    plot_jet_observable,
    plot_mjj,
    plot_scan,
    plot_signal_vs_background,
    plot_standardized_spectra,
)
from hepcluster.plotting._scanning import _toy_scan

plt = pytest.importorskip(
    "matplotlib.pyplot", reason='needs matplotlib: pip install "hepcluster[plot]"'
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def events():
    return make_dijet_events(300, 60, n_constituents=20, random_state=0)


def _legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def _has_unit(label):
    return "[" in label or "/" in label or "dimensionless" in label


def test_standardized_spectra_draw_one_line_per_cluster_and_the_threshold():
    scan = _toy_scan()
    ax = plot_standardized_spectra(scan)
    lines = ax.get_lines()
    assert len(lines) == 3 + 1  # three clusters and θ
    threshold = [line for line in lines if line.get_label().startswith(r"$\theta")]
    np.testing.assert_array_equal(threshold[0].get_ydata(), [2.0, 2.0])
    for line in lines[:-1]:
        # each cluster line is one row of z, drawn at the bin centres
        assert any(np.allclose(line.get_ydata(), z) for z in scan.standardized_spectra[0])
    np.testing.assert_allclose(lines[0].get_xdata(), [3200.0, 3600.0, 4000.0, 4400.0])
    assert _legend_texts(ax) == ["other clusters", "signal-rich clusters", r"$\theta = 2$"]


def test_cluster_spectra_draw_one_step_per_cluster_with_their_values():
    scan = _toy_scan()
    ax = plot_cluster_spectra(scan)
    assert len(ax.patches) == 3
    drawn = sorted(tuple(np.round(p.get_data().values, 12)) for p in ax.patches)
    expected = sorted(tuple(np.round(row, 12)) for row in scan.normalized_spectra[0])
    assert drawn == expected
    counts = plot_cluster_spectra(scan, normalized=False)
    assert counts.get_yscale() == "log"
    assert counts.get_ylabel() == "jets / bin"


def test_signal_vs_background_draws_estimate_band_and_observed_points():
    scan = _toy_scan()
    ax = plot_signal_vs_background(scan)
    line, band = ax.patches[:2]
    np.testing.assert_allclose(line.get_data().values, scan.background_estimate[0])
    # the band is the background estimate's variance: s² times the Σw² of the other clusters
    sigma = np.sqrt((9.0 / 27.0) ** 2 * scan.cluster_spectra[0, :2].sum(axis=0))
    np.testing.assert_allclose(band.get_data().values, scan.background_estimate[0] + sigma)
    np.testing.assert_allclose(band.get_data().baseline, scan.background_estimate[0] - sigma)
    points = ax.containers[0]
    np.testing.assert_allclose(points.lines[0].get_ydata(), scan.signal_rich_spectrum[0])
    assert _legend_texts(ax) == ["background estimate", "background ±1σ", "signal-rich clusters"]
    assert "2.50σ" in ax.get_title()


def test_plot_scan_takes_a_sequence_of_axes_and_returns_it():
    _, given = plt.subplots(1, 3)
    panels = plot_scan(_toy_scan(), ax=given)
    assert list(panels) == list(given)
    assert [bool(axis.get_lines() or axis.patches) for axis in panels] == [True] * 3
    with pytest.raises(ValueError, match="3 panel"):
        plot_scan(_toy_scan(), ax=given[:2])


@pytest.mark.parametrize(
    "draw",
    [
        lambda ev, ax: plot_mjj(ev, ax=ax),
        lambda ev, ax: plot_jet_observable(ev, observable="jet_mass", ax=ax),
        lambda ev, ax: plot_jet_observable(ev, observable="tau21", ax=ax),
        lambda ev, ax: plot_cluster_spectra(_toy_scan(), ax=ax),
        lambda ev, ax: plot_standardized_spectra(_toy_scan(), ax=ax),
        lambda ev, ax: plot_signal_vs_background(_toy_scan(), ax=ax),
    ],
)
def test_every_function_draws_on_the_given_axes_with_units_and_a_legend(events, draw):
    _, ax = plt.subplots()
    assert draw(events, ax) is ax
    assert _has_unit(ax.get_xlabel()), ax.get_xlabel()
    assert _has_unit(ax.get_ylabel()), ax.get_ylabel()
    assert ax.get_legend() is not None
    assert len(_legend_texts(ax)) >= 2


def test_mjj_histograms_hold_the_weighted_counts(events):
    ax = plot_mjj(events, bins=np.linspace(2500.0, 7000.0, 10))
    background, signal = ax.patches
    expected, _ = np.histogram(
        events.mjj[~events.is_signal],
        bins=np.linspace(2500.0, 7000.0, 10),
        weights=events.weight[~events.is_signal],
    )
    # a step histogram's polygon: its upper vertices are the bin contents
    heights = background.get_xy()[1:-1:2, 1]
    np.testing.assert_allclose(heights, expected)
    assert _legend_texts(ax) == [f"QCD ({300})", f"signal ({60})"]
    assert signal.get_edgecolor()[:3] != background.get_edgecolor()[:3]


def test_plotting_imports_no_package_above_it():
    code = (
        "import sys, hepcluster.plotting\n"
        "bad = [m for m in sys.modules if m.split('.')[:2] in ("
        "['hepcluster','scanning'], ['hepcluster','fits'], ['hepcluster','calibration'],"
        "['hepcluster','ucluster'], ['hepcluster','cli'])]\n"
        "print(bad)\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert output.stdout.strip() == "[]", output.stderr


def test_several_improvements_on_one_axes_share_one_legend_entry_per_kind():
    from hepcluster.calibration import CalibrationResult
    from hepcluster.plotting import plot_significance_improvement

    rng = np.random.default_rng(0)

    def result(name, shift):
        injected = np.stack([rng.normal(shift * k, 0.2, 20) for k in (1.0, 2.0, 3.0)])
        return CalibrationResult(
            null_statistics=rng.normal(size=200),
            signal_injections=np.array([100, 200, 300]),
            injected_statistics=injected,
            n_background=10_000,
            name=name,
        )

    reference = result("fit", 0.5)
    _, ax = plt.subplots()
    for name, shift in (("a", 1.0), ("b", 1.5)):
        plot_significance_improvement(result(name, shift), reference, ax=ax)
    labels = _legend_texts(ax)
    assert len(labels) == len(set(labels))
    assert {"a / fit", "b / fit", "no improvement", "computed (68 % interval)"} <= set(labels)
    assert labels.index("b / fit") < labels.index("computed (68 % interval)")
    assert ax.get_title() == "methods over fit"
