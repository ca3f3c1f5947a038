import numpy as np
import pytest
from scipy import integrate, stats

from hepcluster.datasets import (
    BACKGROUND_DIJET_PARAMS,
    JET_MASSES,
    EventTable,
    make_dijet_events,
    make_jets,
    sample_dijet_spectrum,
)
from hepcluster.jets import jet_kinematics, nsubjettiness, tau21
from hepcluster.stats import dijet_function


@pytest.fixture(scope="module")
def events():
    return make_dijet_events(6000, 3000, random_state=1)


def _histogram_mode(values, bins, value_range):
    counts, edges = np.histogram(values, bins=bins, range=value_range)
    return 0.5 * (edges[np.argmax(counts)] + edges[np.argmax(counts) + 1])


def test_signal_jet_masses_peak_at_the_daughter_masses(events):
    signal = events[events.is_signal]
    heavy = signal.jet_mass.max(axis=1)
    light = signal.jet_mass.min(axis=1)
    assert abs(_histogram_mode(heavy, 70, (0, 700)) - 500.0) < 0.1 * 500.0
    assert abs(_histogram_mode(light, 50, (0, 250)) - 100.0) < 0.1 * 100.0


def test_qcd_jet_masses_do_not_peak_at_the_signal_masses(events):
    background = events[~events.is_signal]
    mode = _histogram_mode(background.jet_mass.ravel(), 50, (0, 250))
    assert abs(mode - 100.0) > 0.1 * 100.0
    assert abs(mode - 500.0) > 0.1 * 500.0
    # broad: the central 80 % spans more than a factor 3 in mass
    low, high = np.percentile(background.jet_mass, [10, 90])
    assert high / low > 3.0


def test_signal_jets_are_more_two_prong_than_qcd(events):
    assert events.tau21[events.is_signal].mean() < events.tau21[~events.is_signal].mean() - 0.1


def test_signal_mjj_peaks_at_the_resonance_mass(events):
    mode = _histogram_mode(events.mjj[events.is_signal], 40, (2500, 4500))
    assert abs(mode - 3500.0) < 0.05 * 3500.0


def test_background_mjj_falls_over_the_search_range():
    background = make_dijet_events(4000, 0, mjj_range=(2500.0, 6000.0), random_state=2)
    counts, _ = np.histogram(background.mjj, bins=[2500, 3000, 3500, 4000, 4500, 5000, 6000])
    assert np.all(np.diff(counts) < 0)
    assert background.mjj.min() > 2300.0


def test_spectrum_sampler_follows_the_dijet_function():
    low, high = 2500.0, 6000.0
    norm = integrate.quad(lambda m: dijet_function(m, BACKGROUND_DIJET_PARAMS), low, high)[0]

    def cdf(values):
        return (
            np.array(
                [
                    integrate.quad(lambda m: dijet_function(m, BACKGROUND_DIJET_PARAMS), low, v)[0]
                    for v in np.atleast_1d(values)
                ]
            )
            / norm
        )

    sample = sample_dijet_spectrum(3000, (low, high), random_state=3)
    assert stats.kstest(sample, cdf).pvalue > 0.01


def test_constituent_mjj_follows_the_generated_spectrum():
    background = make_dijet_events(3000, 0, mjj_range=(3000.0, 4000.0), random_state=4)
    # jets lose only soft particles outside R: m_jj within a few per cent of the target range
    assert np.mean((background.mjj > 2900.0) & (background.mjj < 4050.0)) > 0.97


def test_same_random_state_gives_identical_events():
    first = make_dijet_events(50, 10, random_state=7)
    second = make_dijet_events(50, 10, random_state=7)
    other = make_dijet_events(50, 10, random_state=8)
    np.testing.assert_array_equal(first.constituents, second.constituents)
    np.testing.assert_array_equal(first.mjj, second.mjj)
    assert not np.array_equal(first.mjj, other.mjj)


def test_event_summaries_agree_with_the_constituents(events):
    part = events[:200]
    kinematics = jet_kinematics(part.constituents.reshape(400, -1, 3))
    np.testing.assert_allclose(kinematics.mass.reshape(200, 2), part.jet_mass, rtol=1e-4)
    np.testing.assert_allclose(kinematics.pt.reshape(200, 2), part.jet_pt, rtol=1e-5)
    assert np.all(part.jet_pt[:, 0] >= part.jet_pt[:, 1])
    np.testing.assert_allclose(
        tau21(part.constituents.reshape(400, -1, 3)).reshape(200, 2), part.tau21, rtol=1e-4
    )
    pt = part.constituents[..., 0]
    assert np.all(np.diff(pt, axis=2) <= 0)
    assert np.all(np.abs(part.constituents[..., 2]) <= np.pi)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_constituents": 0}, "n_constituents"),
        ({"n_constituents": -3}, "n_constituents"),
        ({"m_x": float("nan")}, "m_x"),
        ({"m_x": 3000.0, "m_y": 600.0}, "m_resonance"),
        ({"mjj_range": (5000.0, 3000.0)}, "mjj_range"),
    ],
)
def test_bad_generator_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_dijet_events(10, 1, random_state=0, **kwargs)


def test_no_events_requested_raises():
    with pytest.raises(ValueError, match="positive"):
        make_dijet_events(0, 0)


def test_make_jets_masses_peak_at_the_boson_and_top_masses():
    X, y, mass = make_jets(
        1500, classes=("W", "Z", "top", "QCD"), return_jet_mass=True, random_state=5
    )
    assert X.shape == (6000, 300)
    for name in ("W", "Z", "top"):
        mode = _histogram_mode(mass[y == name], 60, (0, 300))
        assert abs(mode - JET_MASSES[name]) < 0.1 * JET_MASSES[name]
    qcd_mode = _histogram_mode(mass[y == "QCD"], 60, (0, 300))
    assert all(abs(qcd_mode - m) > 0.1 * m for m in JET_MASSES.values())


def test_make_jets_have_the_right_number_of_prongs():
    X, y = make_jets(800, classes=("W", "top", "QCD"), random_state=6)
    jets = X.reshape(len(X), -1, 3)
    tau_1, tau_2, tau_3 = (nsubjettiness(jets, n, R0=0.8) for n in (1, 2, 3))
    ratio_21 = tau_2 / tau_1
    ratio_32 = tau_3 / tau_2
    assert ratio_21[y == "W"].mean() < ratio_21[y == "QCD"].mean() - 0.1
    assert ratio_32[y == "top"].mean() < ratio_32[y == "W"].mean()


def test_make_jets_rejects_unknown_classes():
    with pytest.raises(ValueError, match="classes"):
        make_jets(5, classes=("W", "Higgs"))


def test_event_table_jets_keep_events_together(events):
    X, mjj, event_id = events.jets()
    assert X.shape == (2 * len(events), 3 * events.n_constituents)
    np.testing.assert_array_equal(X[1].reshape(-1, 3), events.constituents[0, 1])
    np.testing.assert_array_equal(mjj[::2], events.mjj)
    np.testing.assert_array_equal(event_id[1::2], events.event_id)
    np.testing.assert_array_equal(events.jet_is_signal[::2], events.is_signal)


def test_event_table_subsetting_and_concatenation_round_trip(events):
    first, second = events[:100], events[100:250]
    joined = EventTable.concatenate([first, second])
    assert len(joined) == 250
    np.testing.assert_array_equal(joined.constituents, events[:250].constituents)
    np.testing.assert_array_equal(joined.event_id, events.event_id[:250])
    mask = events.mjj > 3500.0
    assert len(events[mask]) == int(mask.sum())
    assert len(events[np.array([3, 1, 4])]) == 3
    with pytest.raises(IndexError, match="mask"):
        events[np.ones(3, bool)]


def test_event_table_hdf5_round_trip_is_exact(events, tmp_path):
    part = events[:300]
    part.weight[:] = np.linspace(0.5, 2.0, len(part))
    path = tmp_path / "events.h5"
    part.to_hdf5(path)
    back = EventTable.read_hdf5(path)
    for name in ("constituents", "mjj", "jet_mass", "tau21", "is_signal", "event_id", "weight"):
        np.testing.assert_array_equal(getattr(back, name), getattr(part, name))
    assert back.metadata["generator"] == part.metadata["generator"]


def test_event_table_rejects_empty_jets_and_bad_shapes():
    constituents = np.zeros((2, 2, 5, 3))
    constituents[:, :, 0, 0] = 100.0
    constituents[1, 1, 0, 0] = 0.0
    with pytest.raises(ValueError, match="no constituent"):
        EventTable.from_constituents(constituents)
    with pytest.raises(ValueError, match="shape"):
        EventTable.from_constituents(np.zeros((2, 3, 5, 3)))
    constituents[1, 1, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        EventTable.from_constituents(constituents)


def test_event_table_dataframe_has_event_level_columns(events):
    frame = events[:10].to_dataframe()
    assert list(frame.columns[:4]) == ["event_id", "mjj", "weight", "is_signal"]
    assert "tau21_2" in frame.columns
    assert len(frame) == 10


@pytest.mark.parametrize(
    ("function", "args", "kwargs", "message"),
    [
        (
            make_dijet_events,
            (10, -1),
            {},
            r"'n_signal' parameter of make_dijet_events .* \[0, inf\)",
        ),
        (make_dijet_events, (10.5, 1), {}, r"'n_background' parameter of make_dijet_events"),
        (make_dijet_events, (10, 1), {"jet_radius": 0.0}, r"'jet_radius' parameter"),
        (make_dijet_events, (10, 1), {"m_y": float("inf")}, r"'m_y' parameter"),
        (make_jets, (0,), {}, r"'n_per_class' parameter of make_jets .* \[1, inf\)"),
        (make_jets, (5,), {"pt": -1.0}, r"'pt' parameter of make_jets"),
        (sample_dijet_spectrum, (-2, (1.0, 2.0)), {}, r"'n' parameter of sample_dijet_spectrum"),
    ],
)
def test_invalid_arguments_name_argument_and_function(function, args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        function(*args, **kwargs)


def test_generators_show_a_progress_bar_when_asked(capsys):
    import hepcluster

    with hepcluster.config_context(progress_bar=True):
        make_dijet_events(20, 5, random_state=0)
        make_jets(3, random_state=0)
    err = capsys.readouterr().err
    assert "make_dijet_events" in err
    assert "100/100" in err
    assert "make_jets" in err


def test_progress_bar_does_not_change_the_events():
    import hepcluster

    with hepcluster.config_context(progress_bar=True):
        shown = make_dijet_events(30, 5, random_state=1)
    with hepcluster.config_context(progress_bar=False):
        hidden = make_dijet_events(30, 5, random_state=1)
    np.testing.assert_array_equal(shown.constituents, hidden.constituents)
    np.testing.assert_array_equal(shown.mjj, hidden.mjj)


def test_a_bool_is_refused_where_a_count_is_expected():
    with pytest.raises(ValueError, match=r"'n_signal' parameter of make_dijet_events .* bool"):
        make_dijet_events(100, True)
