import sys

import numpy as np
import pandas as pd
import pytest

from hepcluster.datasets import (
    JET_MASSES,
    LHCO_RD,
    EventTable,
    generate_pythia_events,
    generate_pythia_jets,
    write_pythia_events,
)
from hepcluster.jets import jet_kinematics

pytest.importorskip("pythia8mc", reason='needs pythia8mc: pip install "hepcluster[generate]"')

N_BACKGROUND = 6
N_SIGNAL = 6
CHUNK_SIZE = 4  # several chunks per process, so that seeding per chunk is exercised
EVENT_ARRAYS = (
    "constituents",
    "mjj",
    "jet_pt",
    "jet_eta",
    "jet_phi",
    "jet_mass",
    "tau21",
    "is_signal",
    "event_id",
    "weight",
)


def _generate(n_jobs, random_state=0, **kwargs):
    return generate_pythia_events(
        N_BACKGROUND,
        N_SIGNAL,
        n_constituents=40,
        chunk_size=CHUNK_SIZE,
        n_jobs=n_jobs,
        random_state=random_state,
        **kwargs,
    )


@pytest.fixture(scope="module")
def pythia_events(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pythia")
    lhco_path, path = folder / "pythia_lhco.h5", folder / "pythia_events.h5"
    return _generate(n_jobs=1, lhco_path=lhco_path, path=path), lhco_path, path


def _assert_same_events(a, b):
    for name in EVENT_ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_generate_pythia_events_shapes_labels_and_weights(pythia_events):
    events, _, _ = pythia_events
    assert isinstance(events, EventTable)
    n_events = N_BACKGROUND + N_SIGNAL
    assert events.constituents.shape == (n_events, 2, 40, 3)
    np.testing.assert_array_equal(events.is_signal, np.arange(n_events) >= N_BACKGROUND)
    np.testing.assert_array_equal(events.event_id, np.arange(n_events))
    assert np.all(events.weight > 0)
    np.testing.assert_array_equal(events.weight[events.is_signal], 1.0)
    assert np.all(np.abs(events.jet_eta) < 2.5)
    assert np.all(events.jet_pt[:, 0] >= events.jet_pt[:, 1])
    assert np.all(events.mjj > 0)
    counts = events.metadata["counts"]
    assert counts["background"]["n_tried"] >= N_BACKGROUND
    assert counts["signal"]["n_tried"] >= N_SIGNAL
    assert len(events.metadata["chunk_seeds"]) == 4


def test_generate_pythia_events_same_seed_same_events_whatever_n_jobs(pythia_events):
    events, _, _ = pythia_events
    _assert_same_events(_generate(n_jobs=2), events)


def test_generate_pythia_events_other_seed_other_events(pythia_events):
    events, _, _ = pythia_events
    other = _generate(n_jobs=1, random_state=1)
    assert not np.array_equal(other.mjj, events.mjj)


def test_generate_pythia_events_writes_the_lhco_layout(pythia_events):
    events, lhco_path, _ = pythia_events
    frame = pd.read_hdf(lhco_path, "df")
    assert frame.shape == (len(events), 2101)
    np.testing.assert_array_equal(frame[2100].to_numpy() == 1.0, events.is_signal)
    pt = frame.to_numpy()[:, 0:2100:3]
    assert np.all(np.diff(pt, axis=1) <= 0)  # hardest particles first
    # Both values are the float32 rounding of the same particle pT.
    for row, event_pt in enumerate(pt.astype(np.float32)):
        assert np.all(np.isin(events.constituents[row, :, 0, 0], event_pt))


def test_generate_pythia_events_writes_the_event_table(pythia_events):
    events, _, path = pythia_events
    _assert_same_events(EventTable.read_hdf5(path), events)
    assert EventTable.read_hdf5(path).metadata["chunk_seeds"] == events.metadata["chunk_seeds"]


def test_generate_pythia_events_missing_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pythia8mc", None)
    with pytest.raises(ImportError, match=r'pip install "hepcluster\[generate\]"'):
        generate_pythia_events(2, 2)
    with pytest.raises(ImportError, match=r"hepcluster\[generate\]"):
        generate_pythia_jets(2)


def test_generate_pythia_events_rejects_impossible_masses():
    with pytest.raises(ValueError, match="below m_resonance"):
        generate_pythia_events(1, 1, m_resonance=500.0, m_x=400.0, m_y=200.0)
    with pytest.raises(ValueError, match="n_signal"):
        generate_pythia_events(1, -1)


def test_generate_pythia_jets_shapes_and_reproducibility():
    X, y = generate_pythia_jets(4, classes=("W", "QCD"), chunk_size=2, random_state=3)
    assert X.shape == (8, 300)
    np.testing.assert_array_equal(y, ["W"] * 4 + ["QCD"] * 4)
    kinematics = jet_kinematics(X)
    assert np.all((kinematics.pt > 800.0) & (kinematics.pt < 1100.0))
    pt = X[:, 0::3]
    assert np.all(np.diff(pt, axis=1) <= 0)
    X_again, _ = generate_pythia_jets(4, classes=("W", "QCD"), chunk_size=2, random_state=3)
    np.testing.assert_array_equal(X_again, X)


def test_generate_pythia_jets_rejects_unknown_class():
    with pytest.raises(ValueError, match="classes"):
        generate_pythia_jets(2, classes=("W", "Higgs"))


def _mode(values, low, high, bandwidth):
    """Position of the maximum of a Gaussian kernel density estimate."""
    grid = np.linspace(low, high, 1001)
    density = np.exp(-0.5 * ((grid[:, None] - values[None, :]) / bandwidth) ** 2).sum(axis=1)
    return grid[np.argmax(density)]


@pytest.mark.slow
def test_generate_pythia_events_signal_physics():
    events = generate_pythia_events(300, 300, chunk_size=100, n_jobs=2, random_state=11)
    signal = events.is_signal
    masses = np.sort(events.jet_mass, axis=1)  # [lighter, heavier]
    heavy_peak = _mode(masses[signal, 1], 0.0, 1000.0, 20.0)
    light_peak = _mode(masses[signal, 0], 0.0, 300.0, 8.0)
    assert abs(heavy_peak / 500.0 - 1) < 0.10
    assert abs(light_peak / 100.0 - 1) < 0.10
    mjj_peak = _mode(events.mjj[signal], 2000.0, 5000.0, 50.0)
    assert abs(mjj_peak / 3500.0 - 1) < 0.05
    qcd_tau21 = np.average(events.tau21[~signal].mean(axis=1), weights=events.weight[~signal])
    assert events.tau21[signal].mean() < qcd_tau21 - 0.1


@pytest.mark.slow
def test_generate_pythia_jets_masses_peak_at_the_resonances():
    X, y = generate_pythia_jets(300, classes=("W", "Z", "top"), n_jobs=2, random_state=5)
    assert X.shape == (900, 300)
    kinematics = jet_kinematics(X)
    for name in ("W", "Z", "top"):
        peak = _mode(kinematics.mass[y == name], 40.0, 250.0, 5.0)
        assert abs(peak / JET_MASSES[name] - 1) < 0.10, (name, peak)
    assert np.all(kinematics.pt > 700.0)


# -- samples of any size streamed to one file ---------------------------------------------

_STREAM = dict(
    n_constituents=40,
    chunk_size=CHUNK_SIZE,
    random_state=5,
    pt_hat_bias=False,
    pt_hat_min=1100.0,
    min_leading_jet_pt=1200.0,
)


@pytest.fixture(scope="module")
def streamed_reference():
    return generate_pythia_events(N_BACKGROUND, N_SIGNAL, **_STREAM)


def test_streamed_sample_equals_the_in_memory_one_whatever_the_shards(
    streamed_reference, tmp_path
):
    path = tmp_path / "events.h5"
    first = write_pythia_events(path, N_BACKGROUND, N_SIGNAL, shard="1/2", **_STREAM)
    assert not first["complete"]
    assert not path.exists()
    assert first["n_chunks_done"] == first["n_chunks"] // 2
    second = write_pythia_events(path, N_BACKGROUND, N_SIGNAL, shard=(0, 2), n_jobs=2, **_STREAM)
    assert second["complete"]
    streamed = EventTable.read_hdf5(path)
    _assert_same_events(streamed, streamed_reference)
    assert streamed.metadata == streamed_reference.metadata
    assert not (tmp_path / "events.h5.chunks").exists()


def test_leading_jet_cut_is_applied_and_counted(streamed_reference):
    events = streamed_reference
    assert events.jet_pt[:, 0].min() > 1200.0
    assert np.all(events.weight == 1.0)  # no pT-hat bias: unweighted, as the LHCO sample
    counts = events.metadata["counts"]
    assert events.metadata["n_cut_leading_jet_pt"] == sum(
        part["n_cut_leading_jet_pt"] for part in counts.values()
    )
    assert counts["background"]["n_cut_leading_jet_pt"] > 0
    tried = counts["background"]["n_tried"] - counts["background"]["n_failed"]
    cut = counts["background"]["n_cut_leading_jet_pt"]
    cut += counts["background"]["n_cut_fewer_than_two_jets"]
    assert tried - cut >= N_BACKGROUND  # what was kept, plus what a chunk did not need


def test_killed_generation_resumes_with_the_chunks_it_wrote(
    streamed_reference, tmp_path, monkeypatch
):
    from hepcluster.datasets import _pythia_file

    path = tmp_path / "events.h5"
    write_pythia_events(path, N_BACKGROUND, N_SIGNAL, keep_chunks=True, **_STREAM)
    chunks = sorted((tmp_path / "events.h5.chunks").glob("chunk_*.npz"))
    chunks[-1].unlink()  # as if killed before the last chunk was written
    path.unlink()
    generated = []
    original = _pythia_file.event_chunk

    def counting(*arguments):
        generated.append(arguments[2])  # the chunk's seed
        return original(*arguments)

    monkeypatch.setattr(_pythia_file, "event_chunk", counting)
    status = write_pythia_events(path, N_BACKGROUND, N_SIGNAL, **_STREAM)
    assert status["complete"]
    assert generated == [streamed_reference.metadata["chunk_seeds"][-1]]  # only the lost one
    _assert_same_events(EventTable.read_hdf5(path), streamed_reference)


def test_chunks_of_another_generation_are_refused(tmp_path):
    path = tmp_path / "events.h5"
    write_pythia_events(path, 2 * CHUNK_SIZE, 0, shard="0/2", **_STREAM)
    with pytest.raises(ValueError, match="chunks of another generation"):
        write_pythia_events(path, 2 * CHUNK_SIZE, 0, shard="1/2", **{**_STREAM, "random_state": 6})


def test_lhco_preset_is_the_r_and_d_composition():
    assert LHCO_RD["n_background"] == 1_000_000
    assert LHCO_RD["n_signal"] == 100_000
    assert LHCO_RD["min_leading_jet_pt"] == 1200.0
    assert LHCO_RD["jet_radius"] == 1.0
    with pytest.raises(ValueError, match="preset"):
        write_pythia_events("x.h5", preset="lhco")


def test_a_smaller_sample_is_the_first_chunks_of_a_larger_one():
    options = dict(n_constituents=20, chunk_size=2, random_state=4)
    small = generate_pythia_events(2, 2, **options)
    large = generate_pythia_events(4, 4, **options)
    for process in (False, True):
        first = large[large.is_signal == process][:2]
        np.testing.assert_array_equal(
            small[small.is_signal == process].constituents, first.constituents
        )
