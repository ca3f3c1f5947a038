import logging

import fastjet
import h5py
import numpy as np
import pandas as pd
import pytest

from hepcluster.datasets import (
    EventTable,
    _lhco,
    make_dijet_events,
    make_jets,
    read_hls4ml,
    read_lhco,
    write_hls4ml,
    write_lhco,
)

N_DIJET = 240
N_SIGNAL = 40
N_ONE_JET = 5  # events holding the constituents of a single jet
N_EMPTY = 1  # an all-zero row
N_CONSTITUENTS = 30  # fewer slots than many jets have constituents: truncation is exercised
JET_RADIUS = 1.0
MIN_JET_PT = 20.0


# --------------------------------------------------------------------------------------------
# A small LHCO-format file with realistic two-jet events, a few one-jet events and an empty one
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lhco_particles():
    """(n_events, 700, 3) particles in shuffled slot order, truth labels, one-jet rows."""
    rng = np.random.default_rng(7)
    events = make_dijet_events(N_DIJET, N_SIGNAL, random_state=3)
    n_events = N_DIJET + N_SIGNAL + N_ONE_JET + N_EMPTY
    particles = np.zeros((n_events, _lhco.LHCO_N_PARTICLES, 3))
    labels = np.zeros(n_events)
    rows = rng.permutation(n_events)  # signal, one-jet and empty events spread over the file
    for k, event in enumerate(range(N_DIJET + N_SIGNAL)):
        both = events.constituents[event].reshape(-1, 3).astype(np.float64)
        both = both[both[:, 0] > 0]
        slots = rng.permutation(both.shape[0])
        particles[rows[k], : both.shape[0]] = both[slots]
        labels[rows[k]] = events.is_signal[event]
    for k in range(N_ONE_JET):
        jet = events.constituents[k, 0].astype(np.float64)
        jet = jet[jet[:, 0] > 0]
        particles[rows[N_DIJET + N_SIGNAL + k], : jet.shape[0]] = jet
    return particles, labels, rows[N_DIJET + N_SIGNAL :]


@pytest.fixture(scope="module")
def lhco_file(tmp_path_factory, lhco_particles):
    particles, labels, _ = lhco_particles
    path = tmp_path_factory.mktemp("lhco") / "events_anomalydetection.h5"
    write_lhco(path, particles, labels=labels)
    return path


def _reference_dijets(particles, jet_radius, min_jet_pt):
    """Event by event with FastJet's PseudoJet interface: the two leading jets or None."""
    definition = fastjet.JetDefinition(fastjet.antikt_algorithm, jet_radius)
    results = []
    for event in particles:
        real = np.flatnonzero(event[:, 0] > 0)
        pseudojets = []
        for index in real:
            pt, eta, phi = event[index]
            pseudojet = fastjet.PseudoJet(
                pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)
            )
            pseudojet.set_user_index(int(index))
            pseudojets.append(pseudojet)
        sequence = fastjet.ClusterSequence(pseudojets, definition)
        jets = fastjet.sorted_by_pt(sequence.inclusive_jets(min_jet_pt))
        if len(jets) < 2:
            results.append(None)
            continue
        leading = jets[:2]
        results.append(
            {
                "pt": [jet.pt() for jet in leading],
                "mass": [jet.m() for jet in leading],
                "eta": [jet.eta() for jet in leading],
                "mjj": (leading[0] + leading[1]).m(),
                "constituents": [[c.user_index() for c in jet.constituents()] for jet in leading],
            }
        )
    return results


@pytest.fixture(scope="module")
def lhco_table(lhco_file):
    return read_lhco(lhco_file, n_constituents=N_CONSTITUENTS, chunksize=1000)


def test_read_lhco_matches_event_by_event_pseudojet_clustering(lhco_table, lhco_particles):
    particles, labels, _ = lhco_particles
    reference = _reference_dijets(particles, JET_RADIUS, MIN_JET_PT)
    kept = np.array([r is not None for r in reference])
    np.testing.assert_array_equal(lhco_table.event_id, np.flatnonzero(kept))
    np.testing.assert_array_equal(lhco_table.is_signal, labels[kept] == 1)
    expected = [r for r in reference if r is not None]
    # The file holds float64 and both computations start from the same float64 values, so
    # kinematics agree to rounding; masses get an absolute tolerance for nearly massless jets.
    np.testing.assert_allclose(lhco_table.mjj, [r["mjj"] for r in expected], rtol=1e-9)
    np.testing.assert_allclose(lhco_table.jet_pt, [r["pt"] for r in expected], rtol=1e-9)
    np.testing.assert_allclose(lhco_table.jet_eta, [r["eta"] for r in expected], rtol=1e-9)
    np.testing.assert_allclose(
        lhco_table.jet_mass, [r["mass"] for r in expected], rtol=1e-6, atol=1e-4
    )
    n_truncated = 0
    pt_truncated = pt_total = 0.0
    for row, (event, ref) in enumerate(zip(np.flatnonzero(kept), expected, strict=True)):
        for jet in range(2):
            members = particles[event, ref["constituents"][jet]]
            members = members[np.argsort(-members[:, 0], kind="stable")]
            n_truncated += max(members.shape[0] - N_CONSTITUENTS, 0)
            pt_truncated += members[N_CONSTITUENTS:, 0].sum()
            pt_total += members[:, 0].sum()
            members = members[:N_CONSTITUENTS].astype(np.float32)
            stored = lhco_table.constituents[row, jet]
            np.testing.assert_array_equal(stored[: members.shape[0]], members)
            assert not np.any(stored[members.shape[0] :])
    assert n_truncated > 0
    assert lhco_table.metadata["n_constituents_truncated"] == n_truncated
    np.testing.assert_allclose(
        lhco_table.metadata["pt_fraction_truncated"], pt_truncated / pt_total, rtol=1e-6
    )
    assert lhco_table.metadata["n_dropped_invalid"] == 0


def test_read_lhco_counts_events_cut_for_fewer_than_two_jets(lhco_file, lhco_particles, caplog):
    _, _, one_jet_rows = lhco_particles
    with caplog.at_level(logging.INFO, logger="hepcluster.datasets._lhco"):
        table = read_lhco(lhco_file, n_constituents=N_CONSTITUENTS)
    n_total = N_DIJET + N_SIGNAL + N_ONE_JET + N_EMPTY
    n_cut = table.metadata["n_cut_fewer_than_two_jets"]
    assert not np.isin(one_jet_rows, table.event_id).any()
    assert n_cut >= N_ONE_JET + N_EMPTY
    assert table.metadata["n_read"] == n_total
    assert len(table) == n_total - n_cut
    assert f"cut {n_cut} with fewer than two jets" in caplog.text


def test_read_lhco_kinematics_are_consistent_with_the_event_table(lhco_table):
    assert isinstance(lhco_table, EventTable)
    assert lhco_table.constituents.shape == (len(lhco_table), 2, N_CONSTITUENTS, 3)
    assert np.all(lhco_table.jet_pt[:, 0] >= lhco_table.jet_pt[:, 1])
    pt = lhco_table.constituents[:, :, :, 0]
    assert np.all(np.diff(pt, axis=2) <= 0)
    # τ21 with exclusive-kT axes can slightly exceed 1 for diffuse jets.
    assert np.all(np.isfinite(lhco_table.tau21) & (lhco_table.tau21 >= 0))
    np.testing.assert_array_equal(lhco_table.weight, 1.0)


def _assert_tables_equal(a, b):
    for name in (
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
    ):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_read_lhco_chunking_gives_identical_results(lhco_file, lhco_table):
    chunked = read_lhco(lhco_file, n_constituents=N_CONSTITUENTS, chunksize=37)
    _assert_tables_equal(chunked, lhco_table)
    assert (
        chunked.metadata["n_cut_fewer_than_two_jets"]
        == (lhco_table.metadata["n_cut_fewer_than_two_jets"])
    )
    assert (
        chunked.metadata["n_constituents_truncated"]
        == (lhco_table.metadata["n_constituents_truncated"])
    )


def test_read_lhco_start_and_n_events_select_rows(lhco_file, lhco_table):
    part = read_lhco(
        lhco_file, start=50, n_events=100, n_constituents=N_CONSTITUENTS, chunksize=30
    )
    assert part.metadata["n_read"] == 100
    in_range = (lhco_table.event_id >= 50) & (lhco_table.event_id < 150)
    _assert_tables_equal(part, lhco_table[in_range])
    tail = read_lhco(lhco_file, start=270, n_events=1000, n_constituents=N_CONSTITUENTS)
    assert tail.metadata["n_read"] == N_DIJET + N_SIGNAL + N_ONE_JET + N_EMPTY - 270


def test_read_lhco_reads_the_fixed_format(tmp_path, lhco_particles, lhco_table):
    particles, labels, _ = lhco_particles
    path = tmp_path / "fixed.h5"
    write_lhco(path, particles, labels, format="fixed")
    table = read_lhco(path, n_constituents=N_CONSTITUENTS, chunksize=100)
    _assert_tables_equal(table, lhco_table)


def test_read_lhco_cache_round_trip_skips_reclustering(tmp_path, lhco_file, monkeypatch):
    cache = tmp_path / "cache.h5"
    first = read_lhco(lhco_file, n_constituents=N_CONSTITUENTS, cache=cache)
    assert cache.exists()
    assert first.metadata["from_cache"] is False

    def no_clustering(*args, **kwargs):
        raise AssertionError("the cached table should have been used")

    monkeypatch.setattr(_lhco, "cluster_dijets", no_clustering)
    second = read_lhco(lhco_file, n_constituents=N_CONSTITUENTS, cache=cache)
    assert second.metadata["from_cache"] is True
    assert second.metadata["cache_key"] == first.metadata["cache_key"]
    _assert_tables_equal(second, first)


def test_read_lhco_cache_is_rebuilt_for_other_parameters_or_source(tmp_path, lhco_particles):
    particles, labels, _ = lhco_particles
    source = tmp_path / "events.h5"
    write_lhco(source, particles[:60], labels[:60])
    cache = tmp_path / "cache.h5"
    first = read_lhco(source, n_constituents=20, cache=cache)
    other = read_lhco(source, n_constituents=25, cache=cache)
    assert other.metadata["from_cache"] is False
    assert other.n_constituents == 25
    assert read_lhco(source, n_constituents=25, cache=cache).metadata["from_cache"] is True
    # A rewritten source (other content, size and modification time) invalidates the cache.
    write_lhco(source, particles[:80], labels[:80])
    rebuilt = read_lhco(source, n_constituents=25, cache=cache)
    assert rebuilt.metadata["from_cache"] is False
    assert rebuilt.metadata["n_read"] == 80
    assert first.metadata["cache_key"] != rebuilt.metadata["cache_key"]


def test_read_lhco_refuses_to_overwrite_a_foreign_cache_file(tmp_path, lhco_file):
    cache = tmp_path / "not_a_cache.h5"
    with h5py.File(cache, "w") as file:
        file.create_dataset("precious", data=np.arange(3))
    with pytest.raises(ValueError, match="not an event table"):
        read_lhco(lhco_file, cache=cache)


def test_read_lhco_black_box_layout_has_no_labels(tmp_path, lhco_particles, lhco_table):
    particles, _, _ = lhco_particles
    path = tmp_path / "black_box.h5"
    write_lhco(path, particles)
    assert pd.read_hdf(path, "df", start=0, stop=1).shape == (1, 2100)
    table = read_lhco(path, n_constituents=N_CONSTITUENTS)
    assert not table.is_signal.any()
    assert "black-box" in table.metadata["labels"]
    np.testing.assert_array_equal(table.mjj, lhco_table.mjj)


def test_read_lhco_label_column_none_ignores_labels(lhco_file):
    table = read_lhco(lhco_file, n_events=50, label_column=None)
    assert not table.is_signal.any()
    assert "ignored" in table.metadata["labels"]


def test_write_lhco_uses_the_published_layout(tmp_path):
    particles = np.zeros((3, 4, 3))
    particles[:, :2, 0] = [[100.0, 50.0], [80.0, 0.0], [60.0, 30.0]]
    particles[:, :2, 1] = 0.5
    path = tmp_path / "small.h5"
    write_lhco(path, particles, labels=[0, 1, 0])
    frame = pd.read_hdf(path, "df")
    assert list(frame.columns) == list(range(2101))
    np.testing.assert_array_equal(frame[2100].to_numpy(), [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(frame.to_numpy()[:, 0:6:3], particles[:, :2, 0])
    assert not frame.to_numpy()[:, 12:2100].any()


def test_write_lhco_rejects_more_than_700_particles(tmp_path):
    with pytest.raises(ValueError, match="at most 700"):
        write_lhco(tmp_path / "x.h5", np.ones((1, 701, 3)))


def test_read_lhco_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nowhere.h5"
    with pytest.raises(FileNotFoundError, match=r"nowhere\.h5"):
        read_lhco(missing)


def test_read_lhco_wrong_number_of_columns(tmp_path):
    path = tmp_path / "wrong.h5"
    pd.DataFrame(np.ones((4, 2000))).to_hdf(path, key="df", format="table")
    with pytest.raises(ValueError, match=r"2100.*2101"):
        read_lhco(path)


def test_read_lhco_rejects_nan(tmp_path, lhco_particles):
    values = np.zeros((5, 2101))
    values[:, :2100] = lhco_particles[0][:5].reshape(5, -1)
    values[3, 7] = np.nan
    path = tmp_path / "nan.h5"
    pd.DataFrame(values).to_hdf(path, key="df", format="table")
    with pytest.raises(
        ValueError, match=r"nan\.h5: row 3, particle 2 η \(column 7\) = nan: not finite"
    ):
        read_lhco(path)


def test_read_lhco_no_event_left_raises(tmp_path, lhco_particles):
    one_jet = np.zeros((3, 700, 3))
    one_jet[:, 0] = [300.0, 0.1, 0.2]
    path = tmp_path / "one_jet.h5"
    write_lhco(path, one_jet)
    with pytest.raises(ValueError, match="no event"):
        read_lhco(path)


def test_read_lhco_start_beyond_the_file(lhco_file):
    with pytest.raises(ValueError, match="beyond"):
        read_lhco(lhco_file, start=10_000)


# --------------------------------------------------------------------------------------------
# hls4ml
# --------------------------------------------------------------------------------------------

HLS4ML_LABELS = np.array(["g", "q", "W", "Z", "top"], dtype=object)


@pytest.fixture(scope="module")
def hls4ml_jets():
    X, _ = make_jets(8, classes=("QCD", "QCD", "W", "Z", "top"), n_constituents=40, random_state=2)
    y = np.repeat(HLS4ML_LABELS, 8)
    # Shuffle the constituent slots of every jet: the reader must sort them by pT.
    rng = np.random.default_rng(0)
    constituents = X.reshape(len(X), 40, 3)
    constituents = np.stack([jet[rng.permutation(40)] for jet in constituents])
    return constituents, y


@pytest.fixture
def hls4ml_file(tmp_path, hls4ml_jets):
    path = tmp_path / "jets.h5"
    write_hls4ml(path, *hls4ml_jets)
    return path


def _expected_matrix(constituents, n_slots):
    out = np.zeros((constituents.shape[0], n_slots, 3), dtype=np.float32)
    for row, jet in enumerate(constituents):
        jet = jet[jet[:, 0] > 0]
        jet = jet[np.argsort(-jet[:, 0], kind="stable")][:n_slots]
        out[row, : jet.shape[0]] = jet
    return out.reshape(len(out), 3 * n_slots)


def test_read_hls4ml_returns_sorted_constituent_matrix_and_classes(hls4ml_file, hls4ml_jets):
    constituents, y = hls4ml_jets
    X, labels = read_hls4ml(hls4ml_file)
    assert X.shape == (40, 120)
    np.testing.assert_array_equal(labels, y)
    np.testing.assert_allclose(X, _expected_matrix(constituents, 40), rtol=1e-6)


def test_read_hls4ml_filters_classes_and_resizes(hls4ml_file, hls4ml_jets):
    constituents, y = hls4ml_jets
    X, labels = read_hls4ml(hls4ml_file, classes=("W", "top"), n_constituents=10)
    keep = np.isin(y, ["W", "top"])
    np.testing.assert_array_equal(labels, y[keep])
    np.testing.assert_allclose(X, _expected_matrix(constituents[keep], 10), rtol=1e-6)
    X_wide, _ = read_hls4ml(hls4ml_file, n_constituents=50)
    assert X_wide.shape == (40, 150)
    assert not X_wide[:, 120:].any()


def test_read_hls4ml_concatenates_files(hls4ml_file):
    X, labels = read_hls4ml([hls4ml_file, hls4ml_file], classes=["Z"])
    assert X.shape[0] == 16
    assert set(labels) == {"Z"}


def _permute_features(path):
    with h5py.File(path, "r+") as file:
        names = file["particleFeatureNames"][()]
        values = file["jetConstituentList"][()]
        jet_names = file["jetFeatureNames"][()]
        jets = file["jets"][()]
        order = np.random.default_rng(1).permutation(len(names))
        jet_order = np.random.default_rng(2).permutation(len(jet_names))
        for name in ("particleFeatureNames", "jetConstituentList", "jetFeatureNames", "jets"):
            del file[name]
        file["particleFeatureNames"] = names[order]
        file["jetConstituentList"] = values[:, :, order]
        file["jetFeatureNames"] = jet_names[jet_order]
        file["jets"] = jets[:, jet_order]
        return names[order]


def test_read_hls4ml_looks_features_up_by_name(hls4ml_file):
    X, labels = read_hls4ml(hls4ml_file)
    permuted = _permute_features(hls4ml_file)
    assert list(permuted[:3]) != [b"j1_px", b"j1_py", b"j1_pz"]
    X_permuted, labels_permuted = read_hls4ml(hls4ml_file)
    np.testing.assert_array_equal(X_permuted, X)
    np.testing.assert_array_equal(labels_permuted, labels)


def test_read_hls4ml_missing_feature_raises(hls4ml_file):
    with h5py.File(hls4ml_file, "r+") as file:
        names = file["particleFeatureNames"][()]
        names[names == b"j1_eta"] = b"j1_something"
        del file["particleFeatureNames"]
        file["particleFeatureNames"] = names
    with pytest.raises(ValueError, match="j1_eta"):
        read_hls4ml(hls4ml_file)


def test_read_hls4ml_missing_dataset_raises(hls4ml_file):
    with h5py.File(hls4ml_file, "r+") as file:
        del file["jets"]
    with pytest.raises(ValueError, match="no dataset 'jets'"):
        read_hls4ml(hls4ml_file)


def test_read_hls4ml_errors(tmp_path, hls4ml_file):
    with pytest.raises(FileNotFoundError, match=r"missing\.h5"):
        read_hls4ml(tmp_path / "missing.h5")
    with pytest.raises(ValueError, match="classes"):
        read_hls4ml(hls4ml_file, classes=("W", "Higgs"))


def test_write_hls4ml_fills_momentum_features(hls4ml_file, hls4ml_jets):
    constituents, _ = hls4ml_jets
    with h5py.File(hls4ml_file, "r") as file:
        names = [name.decode() for name in file["particleFeatureNames"][()]]
        values = file["jetConstituentList"][()]
        jet_names = [name.decode() for name in file["jetFeatureNames"][()]]
        one_hot = file["jets"][()][:, [jet_names.index(n) for n in ("j_w", "j_z", "j_t")]]
    assert values.shape == (40, 40, 16)
    pt, eta, phi = constituents[..., 0], constituents[..., 1], constituents[..., 2]
    np.testing.assert_allclose(values[..., names.index("j1_px")], pt * np.cos(phi), rtol=1e-5)
    np.testing.assert_allclose(values[..., names.index("j1_e")], pt * np.cosh(eta), rtol=1e-5)
    np.testing.assert_array_equal(one_hot.sum(axis=0), [8, 8, 8])


# --------------------------------------------------------------------------------------------
# Hostile files: every reader keeps a value, or names what it refused, or counts what it dropped
# --------------------------------------------------------------------------------------------

N_SMALL = 12  # events of the small hostile LHCO files


def _lhco_values(lhco_particles, n_events=N_SMALL):
    """(n_events, 2101) rows of the LHCO layout: the first events of the fixture file."""
    particles, labels, _ = lhco_particles
    values = np.zeros((n_events, 2101))
    values[:, :2100] = particles[:n_events].reshape(n_events, -1)
    values[:, 2100] = labels[:n_events]
    return values


def _write_values(path, values):
    pd.DataFrame(values).to_hdf(path, key="df", format="table")
    return path


def _first_real_slot(values, row):
    return int(np.flatnonzero(values[row, 0:2100:3] > 0)[0])


def _write_random_bytes(path, fraction, n_bytes=64, seed=0):
    offset = int(fraction * path.stat().st_size)
    with open(path, "r+b") as file:
        file.seek(offset)
        file.write(np.random.default_rng(seed).bytes(n_bytes))


def _truncate(path, fraction=0.5):
    with open(path, "r+b") as file:
        file.truncate(int(fraction * path.stat().st_size))


PNG_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(13) + b"IHDR" + bytes(200)


def test_read_lhco_negative_pt_raises_naming_file_row_and_column(tmp_path, lhco_particles):
    values = _lhco_values(lhco_particles)
    slot = _first_real_slot(values, 4)
    values[4, 3 * slot] = -values[4, 3 * slot]
    path = _write_values(tmp_path / "negative.h5", values)
    with pytest.raises(
        ValueError,
        match=rf"negative\.h5: row 4, particle {slot} pT \(column {3 * slot}\) = -[\d.]+: "
        r"negative pT \(pT = 0 marks padding\)\. 1 event\(s\) in rows \[0, 12\).*"
        r"invalid='drop'",
    ):
        read_lhco(path)


def test_read_lhco_drop_counts_invalid_events_and_keeps_the_others_unchanged(
    tmp_path, lhco_particles, caplog
):
    values = _lhco_values(lhco_particles)
    clean = read_lhco(_write_values(tmp_path / "clean.h5", values), n_constituents=20)
    for row in (2, 7):
        slot = _first_real_slot(values, row)
        values[row, 3 * slot] = -values[row, 3 * slot]
    values[9, 3 * _first_real_slot(values, 9) + 1] = np.inf
    path = _write_values(tmp_path / "invalid.h5", values)
    with caplog.at_level(logging.WARNING, logger="hepcluster.datasets._lhco"):
        table = read_lhco(path, n_constituents=20, invalid="drop", chunksize=5)
    assert table.metadata["n_dropped_invalid"] == 3
    assert table.metadata["invalid_counts"] == {"negative_pt": 2, "non_finite": 1}
    assert "dropped 3 event(s)" in caplog.text
    assert "invalid.h5" in caplog.text
    assert not np.isin([2, 7, 9], table.event_id).any()
    survivors = ~np.isin(clean.event_id, [2, 7, 9])
    _assert_tables_equal(table, clean[survivors])
    metadata = table.metadata
    assert metadata["n_read"] == (
        metadata["n_dropped_invalid"] + metadata["n_cut_fewer_than_two_jets"] + len(table)
    )


@pytest.mark.parametrize(
    ("feature", "value", "message"),
    [
        (0, 2.0e4, r"pT \(column {col}\) = 20000: pT above √s = 13 TeV"),
        (1, 12.0, r"η \(column {col}\) = 12: with pT = [\d.]+ GeV the energy pT·cosh η = "),
        (1, 1.0e300, r"η \(column {col}\) = 1e\+300: with pT = .* above √s = 13 TeV"),
        (2, 7.0, r"φ \(column {col}\) = 7: \|φ\| above 2π"),
    ],
)
def test_read_lhco_impossible_kinematics_are_reported_as_damage(
    tmp_path, lhco_particles, feature, value, message
):
    values = _lhco_values(lhco_particles)
    column = 3 * _first_real_slot(values, 5) + feature
    values[5, column] = value
    path = _write_values(tmp_path / "impossible.h5", values)
    pattern = r"impossible\.h5: row 5, particle \d+ " + message.format(col=column)
    with pytest.raises(ValueError, match=pattern):
        read_lhco(path)
    assert read_lhco(path, invalid="drop").metadata["n_dropped_invalid"] == 1


def test_read_lhco_truth_label_other_than_0_or_1(tmp_path, lhco_particles):
    values = _lhco_values(lhco_particles)
    values[6, 2100] = 0.5
    path = _write_values(tmp_path / "label.h5", values)
    with pytest.raises(
        ValueError, match=r"label\.h5: row 6, truth label \(column 2100\) = 0\.5: not 0"
    ):
        read_lhco(path)
    dropped = read_lhco(path, invalid="drop")
    assert dropped.metadata["invalid_counts"] == {"label_not_0_or_1": 1}


def test_read_lhco_random_bytes_inside_the_file_are_detected(tmp_path, lhco_particles):
    particles, labels, _ = lhco_particles
    path = tmp_path / "random_bytes.h5"
    write_lhco(path, particles[:40], labels[:40])
    _write_random_bytes(path, 0.8)
    with pytest.raises(ValueError, match=r"random_bytes\.h5: row \d+, ") as info:
        read_lhco(path)
    assert "\n" not in str(info.value)
    dropped = read_lhco(path, invalid="drop")
    assert dropped.metadata["n_dropped_invalid"] >= 1
    assert np.all(np.isfinite(dropped.constituents))
    assert np.all(dropped.mjj > 0)


def test_read_lhco_dijet_with_zero_mass_is_reported(tmp_path, lhco_particles, monkeypatch):
    # Valid constituents cannot give m_jj = 0; the check behind them is exercised directly.
    path = _write_values(tmp_path / "zero_mass.h5", _lhco_values(lhco_particles))
    original = _lhco.dijet_columns

    def zero_mass_for_the_second_event(*args, **kwargs):
        columns = original(*args, **kwargs)
        columns["mjj"][1] = 0.0
        return columns

    monkeypatch.setattr(_lhco, "dijet_columns", zero_mass_for_the_second_event)
    with pytest.raises(
        ValueError, match=r"zero_mass\.h5: row \d+: the two leading jets .* m_jj = 0"
    ):
        read_lhco(path)
    table = read_lhco(path, invalid="drop")
    assert table.metadata["invalid_counts"] == {"mjj_not_positive": 1}


def test_read_lhco_truncated_file_is_one_line_naming_path_and_cause(tmp_path, lhco_particles):
    path = _write_values(tmp_path / "truncated.h5", _lhco_values(lhco_particles))
    _truncate(path)
    with pytest.raises(
        ValueError,
        match=r"truncated\.h5 is not a readable HDF5 file \(truncated or damaged\?\): .*"
        r"truncated file",
    ) as info:
        read_lhco(path)
    assert "\n" not in str(info.value)


def test_read_lhco_png_is_not_an_hdf5_file(tmp_path):
    path = tmp_path / "events.png"
    path.write_bytes(PNG_BYTES)
    with pytest.raises(ValueError, match=r"events\.png is not an HDF5 file \(it starts with"):
        read_lhco(path)


def test_read_lhco_hdf5_file_without_a_pandas_table(tmp_path, hls4ml_jets):
    path = tmp_path / "jets.h5"
    write_hls4ml(path, *hls4ml_jets)
    with pytest.raises(
        ValueError, match=r"jets\.h5 holds no pandas table \(found: \['jetConstituentList'"
    ):
        read_lhco(path)
    with pytest.raises(ValueError, match=r"has no table 'events' \(found: \['df'\]\)"):
        read_lhco(_write_values(tmp_path / "df.h5", np.zeros((2, 2101))), key="events")


@pytest.mark.parametrize("damage", ["truncated", "random bytes in the constituents"])
def test_read_lhco_damaged_cache_is_rebuilt(tmp_path, lhco_particles, caplog, damage):
    source = _write_values(tmp_path / "events.h5", _lhco_values(lhco_particles))
    cache = tmp_path / "cache.h5"
    first = read_lhco(source, n_constituents=20, cache=cache)
    if damage == "truncated":
        _truncate(cache)
    else:
        with h5py.File(cache, "r") as file:
            chunk = file["constituents"].id.get_chunk_info(0)
        with open(cache, "r+b") as file:
            file.seek(chunk.byte_offset + chunk.size // 2)
            file.write(np.random.default_rng(0).bytes(64))
    with caplog.at_level(logging.WARNING, logger="hepcluster.datasets._lhco"):
        rebuilt = read_lhco(source, n_constituents=20, cache=cache)
    assert rebuilt.metadata["from_cache"] is False
    assert "cache.h5 is damaged" in caplog.text
    assert "rebuilding" in caplog.text
    _assert_tables_equal(rebuilt, first)
    again = read_lhco(source, n_constituents=20, cache=cache)
    assert again.metadata["from_cache"] is True
    _assert_tables_equal(again, first)


def test_read_lhco_cache_of_another_invalid_policy_is_rebuilt(tmp_path, lhco_particles):
    source = _write_values(tmp_path / "events.h5", _lhco_values(lhco_particles))
    cache = tmp_path / "cache.h5"
    read_lhco(source, cache=cache)
    assert read_lhco(source, cache=cache, invalid="drop").metadata["from_cache"] is False


def test_read_lhco_never_overwrites_a_cache_path_that_is_not_hdf5(tmp_path, lhco_particles):
    source = _write_values(tmp_path / "events.h5", _lhco_values(lhco_particles))
    cache = tmp_path / "picture.png"
    cache.write_bytes(PNG_BYTES)
    with pytest.raises(ValueError, match=r"picture\.png' exists but is not an HDF5 file"):
        read_lhco(source, cache=cache)
    assert cache.read_bytes() == PNG_BYTES


# hls4ml ------------------------------------------------------------------------------------


def _set_feature(path, jet, slot, feature, value):
    with h5py.File(path, "r+") as file:
        names = [name.decode() for name in file["particleFeatureNames"][()]]
        values = file["jetConstituentList"][()]
        values[jet, slot, names.index(feature)] = value
        file["jetConstituentList"][...] = values


def _real_slot(hls4ml_jets, jet):
    return int(np.flatnonzero(hls4ml_jets[0][jet, :, 0] > 0)[0])


def test_read_hls4ml_counts_and_logs_truncated_constituents(hls4ml_file, hls4ml_jets, caplog):
    constituents, _ = hls4ml_jets
    with caplog.at_level(logging.INFO, logger="hepcluster.datasets._hls4ml"):
        X, _, metadata = read_hls4ml(hls4ml_file, n_constituents=5, return_metadata=True)
    pt = np.sort(constituents[:, :, 0], axis=1)[:, ::-1]
    n_real = np.count_nonzero(pt, axis=1)
    expected = int(np.maximum(n_real - 5, 0).sum())
    assert metadata["n_constituents_truncated"] == expected > 0
    assert metadata["n_jets_truncated"] == int(np.count_nonzero(n_real > 5))
    np.testing.assert_allclose(
        metadata["pt_fraction_truncated"], pt[:, 5:].sum() / pt.sum(), rtol=1e-5
    )
    np.testing.assert_allclose(X[:, 0::3].sum(), pt[:, :5].sum(), rtol=1e-5)
    assert f"{expected} constituents" in caplog.text
    assert metadata["n_read"] == metadata["n_jets"] == 40
    assert metadata["n_constituents"] == 5


@pytest.mark.parametrize(
    ("feature", "value", "message"),
    [
        ("j1_pt", -5.0, r"j1_pt = -5: negative pT \(pT = 0 marks padding\)"),
        ("j1_pt", np.nan, r"j1_pt = nan: not finite"),
        ("j1_eta", np.nan, r"j1_eta = nan: not finite"),
        ("j1_eta", 11.0, r"j1_eta = 11: with pT = [\d.]+ GeV the energy"),
        ("j1_phi", np.inf, r"j1_phi = inf: not finite"),
    ],
)
def test_read_hls4ml_invalid_constituents_raise_naming_file_jet_and_feature(
    hls4ml_file, hls4ml_jets, feature, value, message
):
    slot = _real_slot(hls4ml_jets, 13)
    _set_feature(hls4ml_file, 13, slot, feature, value)
    with pytest.raises(
        ValueError, match=rf"jets\.h5: jet 13, constituent {slot} {message}.*\. 1 of the 40 jets"
    ):
        read_hls4ml(hls4ml_file)


def test_read_hls4ml_drop_counts_invalid_jets(hls4ml_file, hls4ml_jets, caplog):
    constituents, y = hls4ml_jets
    _set_feature(hls4ml_file, 3, _real_slot(hls4ml_jets, 3), "j1_pt", -1.0)
    _set_feature(hls4ml_file, 21, _real_slot(hls4ml_jets, 21), "j1_eta", np.nan)
    with caplog.at_level(logging.WARNING, logger="hepcluster.datasets._hls4ml"):
        X, labels, metadata = read_hls4ml(hls4ml_file, invalid="drop", return_metadata=True)
    keep = np.ones(40, dtype=bool)
    keep[[3, 21]] = False
    np.testing.assert_array_equal(labels, y[keep])
    np.testing.assert_allclose(X, _expected_matrix(constituents[keep], 40), rtol=1e-6)
    assert metadata["n_dropped_invalid"] == 2
    assert metadata["invalid_counts"] == {"negative_pt": 1, "non_finite": 1}
    assert "dropped 2 jet(s)" in caplog.text
    assert np.all(np.isfinite(X))


def test_read_hls4ml_png_is_not_an_hdf5_file(tmp_path):
    path = tmp_path / "jets.png"
    path.write_bytes(PNG_BYTES)
    with pytest.raises(ValueError, match=r"jets\.png is not an HDF5 file \(it starts with"):
        read_hls4ml(path)


def test_read_hls4ml_truncated_file_names_path_and_cause(hls4ml_file):
    _truncate(hls4ml_file)
    with pytest.raises(
        ValueError, match=r"jets\.h5 is not a readable HDF5 file \(truncated or damaged\?\)"
    ) as info:
        read_hls4ml(hls4ml_file)
    assert "\n" not in str(info.value)


def test_read_hls4ml_names_every_missing_feature(hls4ml_file):
    with h5py.File(hls4ml_file, "r+") as file:
        names = file["particleFeatureNames"][()]
        names[np.isin(names, [b"j1_eta", b"j1_phi"])] = b"j1_renamed"
        del file["particleFeatureNames"]
        file["particleFeatureNames"] = names
    with pytest.raises(
        ValueError,
        match=r"jets\.h5: particleFeatureNames lacks 'j1_eta', 'j1_phi', needed for the "
        r"constituents' \(pT, η, φ\) \(found: \['j1_px'",
    ):
        read_hls4ml(hls4ml_file)


def test_read_hls4ml_missing_constituent_list_names_what_the_file_holds(hls4ml_file):
    with h5py.File(hls4ml_file, "r+") as file:
        del file["jetConstituentList"]
    with pytest.raises(
        ValueError,
        match=r"jets\.h5 has no dataset 'jetConstituentList' \(found: \['jetFeatureNames'",
    ):
        read_hls4ml(hls4ml_file)


# EventTable files --------------------------------------------------------------------------


@pytest.fixture
def small_table():
    return make_dijet_events(30, 5, n_constituents=20, random_state=4)


def test_event_table_metadata_round_trips_exactly(tmp_path, small_table):
    metadata = {
        "seed": np.int64(7),
        "window": (2800.0, np.float64(3400.5)),
        "path": tmp_path / "x",
        "counts": {"n_cut": 3, "nested": [1, 2.5, None, True, "η"]},
        "array": np.array([1.0, 2.0]),
    }
    table = EventTable.from_constituents(small_table.constituents, metadata=metadata)
    assert table.metadata == {
        "seed": 7,
        "window": [2800.0, 3400.5],
        "path": str(tmp_path / "x"),
        "counts": {"n_cut": 3, "nested": [1, 2.5, None, True, "η"]},
        "array": [1.0, 2.0],
    }
    path = tmp_path / "table.h5"
    table.to_hdf5(path)
    back = EventTable.read_hdf5(path)
    assert back.metadata == table.metadata
    assert type(back.metadata["seed"]) is int
    _assert_tables_equal(back, table)


def test_event_table_to_hdf5_refuses_metadata_it_cannot_store(tmp_path, small_table):
    table = small_table[:5]
    table.metadata["model"] = object()
    with pytest.raises(ValueError, match=r"metadata\['model'\] is a object"):
        table.to_hdf5(tmp_path / "table.h5")
    table.metadata = {"bins": {1: "a"}}
    with pytest.raises(ValueError, match=r"metadata\['bins'\] has the key 1"):
        table.to_hdf5(tmp_path / "table.h5")


def test_event_table_read_hdf5_missing_png_and_foreign_files(tmp_path, hls4ml_file):
    with pytest.raises(FileNotFoundError, match=r"nowhere\.h5"):
        EventTable.read_hdf5(tmp_path / "nowhere.h5")
    png = tmp_path / "table.png"
    png.write_bytes(PNG_BYTES)
    with pytest.raises(ValueError, match=r"table\.png is not an HDF5 file"):
        EventTable.read_hdf5(png)
    with pytest.raises(
        ValueError, match=r"jets\.h5 is not an EventTable file written by hepcluster"
    ):
        EventTable.read_hdf5(hls4ml_file)


def test_event_table_read_hdf5_damaged_files(tmp_path, small_table):
    path = tmp_path / "table.h5"
    small_table.to_hdf5(path)
    with h5py.File(path, "r") as file:
        chunk = file["constituents"].id.get_chunk_info(0)
    with open(path, "r+b") as file:
        file.seek(chunk.byte_offset + chunk.size // 2)
        file.write(np.random.default_rng(1).bytes(64))
    with pytest.raises(
        ValueError, match=r"table\.h5: dataset 'constituents' cannot be read \(damaged file\?\)"
    ):
        EventTable.read_hdf5(path)
    small_table.to_hdf5(path)
    _truncate(path)
    with pytest.raises(ValueError, match=r"table\.h5 is not a readable HDF5 file"):
        EventTable.read_hdf5(path)


def test_event_table_read_hdf5_missing_dataset_and_invalid_values(tmp_path, small_table):
    path = tmp_path / "table.h5"
    small_table.to_hdf5(path)
    with h5py.File(path, "r+") as file:
        del file["mjj"]
    with pytest.raises(ValueError, match=r"table\.h5 has no dataset 'mjj' \(found: \["):
        EventTable.read_hdf5(path)
    small_table.to_hdf5(path)
    with h5py.File(path, "r+") as file:
        constituents = file["constituents"][()]
        constituents[6, 1, 2, 0] = np.nan
        del file["constituents"]
        file["constituents"] = constituents
    with pytest.raises(
        ValueError,
        match=r"table\.h5: event 6 \(event_id 6\), jet 1, constituent 2 pT = nan: not finite",
    ):
        EventTable.read_hdf5(path)


# JetImageTransformer on empty jets: accepted (documented all-zero image), counted and logged


def test_jet_image_transformer_logs_the_count_of_empty_jets(caplog):
    from hepcluster.images import JetImageTransformer

    X = np.zeros((4, 9))
    X[0, :3] = [100.0, 0.1, 0.2]
    X[3, :3] = [50.0, -0.1, 0.3]
    with caplog.at_level(logging.WARNING, logger="hepcluster.images"):
        images = JetImageTransformer(n_pixels=8, empty_jets="zero").fit_transform(X)
    assert "2 of 4 jet(s) have no constituent with pT > 0 (first at row 1)" in caplog.text
    np.testing.assert_array_equal(images[1:3], 0.0)
    np.testing.assert_allclose(images[[0, 3]].sum(axis=1), 1.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chunksize": 0}, r"'chunksize' parameter of read_lhco must be an int in the range \[1"),
        ({"start": -1}, r"'start' parameter of read_lhco must be an int in the range \[0"),
        ({"n_events": 0}, r"'n_events' parameter of read_lhco"),
        ({"jet_radius": float("nan")}, r"'jet_radius' parameter of read_lhco"),
        ({"min_jet_pt": -1.0}, r"'min_jet_pt' parameter of read_lhco"),
        ({"invalid": "ignore"}, r"'invalid' parameter of read_lhco must be a str among"),
    ],
)
def test_read_lhco_bad_arguments_name_the_argument(lhco_file, kwargs, message):
    with pytest.raises(ValueError, match=message):
        read_lhco(lhco_file, **kwargs)
