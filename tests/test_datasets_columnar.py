"""ROOT (uproot) and parquet (pyarrow, awkward) event files: layout, checks, counted cuts."""

from dataclasses import fields

import numpy as np
import pytest

from hepcluster.datasets import EventTable, make_dijet_events, read_parquet, read_root

uproot = pytest.importorskip("uproot")
ak = pytest.importorskip("awkward")
pytest.importorskip("pyarrow")

ARRAYS = [f.name for f in fields(EventTable) if f.name != "metadata"]


@pytest.fixture(scope="module")
def events():
    return make_dijet_events(300, 40, random_state=3)


def assert_same_events(read, original):
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(read, name), getattr(original, name), err_msg=name)


def branches(table, *, drop=(), records=False):
    """The layout written by hand with awkward: jagged lists of the real constituents."""
    columns = {"mjj": table.mjj, "is_signal": table.is_signal, "event_id": table.event_id}
    columns["weight"] = table.weight
    for name in ("jet_pt", "jet_eta", "jet_phi", "jet_mass", "tau21"):
        columns[name] = getattr(table, name)
    for jet in range(2):
        particles = table.constituents[:, jet]
        real = particles[:, :, 0] != 0  # a damaged (negative) pT is written too
        counts = real.sum(axis=1)
        lists = {
            feature: ak.unflatten(particles[:, :, k][real], counts)
            for k, feature in enumerate(("pt", "eta", "phi"))
        }
        if records:
            columns[f"jet{jet + 1}_constituents"] = ak.zip(lists)
        else:
            for feature, values in lists.items():
                columns[f"jet{jet + 1}_constituents_{feature}"] = values
    return {name: value for name, value in columns.items() if name not in drop}


def write_ttree(path, columns):
    with uproot.recreate(path) as file:
        types = {
            name: value.type
            if isinstance(value, ak.Array)
            else (value.dtype, value.shape[1:])
            if value.ndim > 1
            else value.dtype
            for name, value in columns.items()
        }
        file.mktree("events", types).extend(columns)


@pytest.mark.parametrize("suffix", ["root", "parquet"])
def test_to_file_and_read_round_trip_exactly_for_any_chunksize(events, tmp_path, suffix):
    path = tmp_path / f"events.{suffix}"
    getattr(events, f"to_{suffix}")(path)
    for chunksize in (1000, 37):
        table = EventTable.read(path, chunksize=chunksize)
        assert_same_events(table, events)
        assert table.metadata["file_metadata"] == events.metadata
        assert table.metadata["n_read"] == len(events)
    part = EventTable.read(path, start=50, n_events=100, chunksize=33)
    assert_same_events(part, events[50:150])


def test_hand_written_ttree_reads_as_the_hdf5_copy(events, tmp_path):
    write_ttree(tmp_path / "events.root", branches(events))
    events.to_hdf5(tmp_path / "events.h5")
    from_root = read_root(tmp_path / "events.root", n_constituents=events.n_constituents)
    assert_same_events(from_root, EventTable.read(tmp_path / "events.h5"))
    assert from_root.metadata["file_metadata"] is None


def test_rntuple_and_awkward_parquet_with_records_read_the_same(events, tmp_path):
    columns = branches(events, records=True)
    with uproot.recreate(tmp_path / "events.root") as file:
        file["events"] = columns  # uproot 5.7 writes an RNTuple with fields jet1_constituents.pt
    ak.to_parquet(ak.Array(columns), tmp_path / "events.parquet")
    for path in (tmp_path / "events.root", tmp_path / "events.parquet"):
        assert_same_events(EventTable.read(path, n_constituents=events.n_constituents), events)


def test_unsorted_long_jets_are_sorted_and_truncation_is_counted(tmp_path):
    table = make_dijet_events(50, 0, random_state=1)
    columns = branches(table)
    reverse = {name: value[:, ::-1] for name, value in columns.items() if "_constituents_" in name}
    write_ttree(tmp_path / "events.root", {**columns, **reverse})
    full = read_root(tmp_path / "events.root")
    counts = (table.constituents[..., 0] > 0).sum(axis=2)
    assert full.n_constituents == counts.max()
    np.testing.assert_array_equal(full.constituents, table.constituents[:, :, : counts.max()])
    short = read_root(tmp_path / "events.root", n_constituents=10)
    assert short.metadata["n_constituents_truncated"] == int(np.clip(counts - 10, 0, None).sum())
    assert short.metadata["n_jets_truncated"] == int((counts > 10).sum())
    np.testing.assert_array_equal(short.constituents, table.constituents[:, :, :10])


def test_summaries_absent_are_computed_from_the_constituents(events, tmp_path):
    summaries = ("mjj", "jet_pt", "jet_eta", "jet_phi", "jet_mass", "tau21")
    ak.to_parquet(ak.Array(branches(events, drop=summaries)), tmp_path / "bare.parquet")
    table = read_parquet(tmp_path / "bare.parquet", n_constituents=events.n_constituents)
    expected = EventTable.from_constituents(
        events.constituents, is_signal=events.is_signal, event_id=events.event_id
    )
    np.testing.assert_allclose(table.mjj, expected.mjj, rtol=1e-12)
    np.testing.assert_allclose(table.tau21, expected.tau21, rtol=1e-12)
    assert table.metadata["summaries"] == "computed from the constituents"


@pytest.mark.parametrize("suffix", ["root", "parquet"])
def test_missing_branch_is_a_one_line_error_naming_it(events, tmp_path, suffix):
    path = tmp_path / f"missing.{suffix}"
    columns = branches(events, drop=("jet2_constituents_phi",))
    if suffix == "root":
        write_ttree(path, columns)
    else:
        ak.to_parquet(ak.Array(columns), path)
    with pytest.raises(ValueError, match="no branch 'jet2_constituents_phi'") as info:
        EventTable.read(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)
    partial = branches(events, drop=("jet_mass",))
    write_ttree(tmp_path / "partial.root", partial)
    with pytest.raises(ValueError, match="no branch 'jet_mass'"):
        read_root(tmp_path / "partial.root")


@pytest.mark.parametrize("suffix", ["root", "parquet"])
def test_invalid_values_name_file_entry_and_branch_or_are_dropped_and_counted(
    events, tmp_path, suffix
):
    bad = events[:100]
    constituents = bad.constituents.copy()
    constituents[7, 1, 2, 0] = -3.0  # negative pT
    constituents[20, 0, 0, 1] = np.nan
    damaged = EventTable(
        **{name: getattr(bad, name) for name in ARRAYS if name != "constituents"},
        constituents=constituents,
    )
    mjj = damaged.mjj.copy()
    mjj[30] = np.inf
    damaged.mjj = mjj
    path = tmp_path / f"bad.{suffix}"
    columns = branches(damaged)
    columns["mjj"][30] = np.inf
    if suffix == "root":
        write_ttree(path, columns)
    else:
        ak.to_parquet(ak.Array(columns), path)
    with pytest.raises(ValueError, match=r"entry 7, branch 'jet2_constituents_pt' \[2\]") as info:
        EventTable.read(path, chunksize=50)
    assert "negative pT" in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match=r"entry 30, branch 'mjj' = inf"):
        EventTable.read(path, start=25)
    table = EventTable.read(path, invalid="drop", chunksize=50)
    assert table.metadata["invalid_counts"] == {
        "negative_pt": 1,
        "non_finite": 2,
    }
    assert table.metadata["n_read"] == 100
    assert len(table) == 97
    assert 7 not in table.event_id
    assert 30 not in table.event_id


def test_an_event_with_an_empty_jet_is_cut_and_counted(events, tmp_path):
    columns = branches(events[:20])
    for feature in ("pt", "eta", "phi"):
        values = ak.to_list(columns[f"jet2_constituents_{feature}"])
        values[4] = []
        columns[f"jet2_constituents_{feature}"] = ak.Array(values)
    write_ttree(tmp_path / "cut.root", columns)
    table = read_root(tmp_path / "cut.root")
    assert table.metadata["n_cut_fewer_than_two_jets"] == 1
    assert len(table) == 19


def test_lists_of_different_lengths_are_an_error(events, tmp_path):
    columns = branches(events[:10])
    eta = ak.to_list(columns["jet1_constituents_eta"])
    eta[3] = eta[3][:-1]
    columns["jet1_constituents_eta"] = ak.Array(eta)
    ak.to_parquet(ak.Array(columns), tmp_path / "ragged.parquet")
    with pytest.raises(ValueError, match="entry 3, branch 'jet1_constituents_eta' holds"):
        read_parquet(tmp_path / "ragged.parquet")


@pytest.mark.parametrize("suffix", ["root", "parquet"])
def test_damaged_and_foreign_files_are_one_line_errors(events, tmp_path, suffix):
    path = tmp_path / f"events.{suffix}"
    getattr(events, f"to_{suffix}")(path)
    written = [path]
    if suffix == "root":
        # written by uproot itself: the tree's branch list sits at the end of the file
        written.append(tmp_path / "by_uproot.root")
        with uproot.recreate(written[-1]) as file:
            file["events"] = branches(events)
    # cut at several places: uproot reads the keys, the branch list and the baskets lazily
    truncated = []
    for source in written:
        data = source.read_bytes()
        for percent in (25, 50, 75, 90):
            truncated.append(tmp_path / f"truncated{percent}_{source.name}")
            truncated[-1].write_bytes(data[: len(data) * percent // 100])
    events.to_hdf5(tmp_path / "events.h5")
    foreign = tmp_path / f"foreign.{suffix}"
    foreign.write_bytes((tmp_path / "events.h5").read_bytes())
    for bad in (*truncated, foreign):
        with pytest.raises(ValueError, match=r"damaged|not a") as info:
            EventTable.read(bad)
        message = str(info.value)
        assert message.startswith(str(bad))
        assert "\n" not in message
    with pytest.raises(FileNotFoundError):
        EventTable.read(tmp_path / f"nothing.{suffix}")


def test_corrupted_baskets_of_a_root_file_are_a_one_line_error(events, tmp_path):
    path = tmp_path / "events.root"
    events.to_root(path)
    data = bytearray(path.read_bytes())
    middle = len(data) // 3
    data[middle : middle + 2000] = b"\x00" * 2000
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"damaged|invalid") as info:
        EventTable.read(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_scan_of_root_and_parquet_copies_gives_the_hdf5_mls(tmp_path):
    from hepcluster import ClusterScanner, JetImageTransformer

    table = make_dijet_events(1500, 150, mjj_range=(2950.0, 3800.0), random_state=5)
    table.to_hdf5(tmp_path / "events.h5")
    write_ttree(tmp_path / "events.root", branches(table))
    ak.to_parquet(ak.Array(branches(table)), tmp_path / "events.parquet")

    def mls(path):
        events = EventTable.read(path)
        X, mjj, _ = events.jets()
        images = JetImageTransformer(n_pixels=16, sparse_output=True).fit_transform(X)
        scanner = ClusterScanner(
            n_clusters=6,
            n_ensemble=2,
            bins=np.linspace(3000.0, 3800.0, 9),
            train_window=(3000.0, 3400.0),
            random_state=0,
        )
        return scanner.fit(images, mjj).scan(images, mjj).statistic

    reference = mls(tmp_path / "events.h5")
    assert reference > 0  # a scan that selects clusters, not a trivial 0 == 0
    assert mls(tmp_path / "events.root") == reference
    assert mls(tmp_path / "events.parquet") == reference


def test_cli_scan_reads_root_and_parquet_files_and_rejects_a_damaged_one(tmp_path, capsys):
    import json

    from hepcluster.cli import main

    table = make_dijet_events(1500, 150, mjj_range=(2950.0, 3800.0), random_state=2)
    table.to_hdf5(tmp_path / "events.h5")
    table.to_root(tmp_path / "events.root")
    table.to_parquet(tmp_path / "events.parquet")
    options = ["--no-plots", "--n-clusters", "6", "--n-ensemble", "1"]
    options += ["--region", "3000", "3800", "--n-bins", "8"]
    statistics = []
    for name in ("events.h5", "events.root", "events.parquet"):
        out = tmp_path / name.replace(".", "_")
        assert main(["-q", "scan", str(tmp_path / name), "--output", str(out), *options]) == 0
        statistics.append(json.loads((out / "scan.json").read_text())["statistic"])
    assert statistics[1] == statistics[0]
    assert statistics[2] == statistics[0]
    damaged = tmp_path / "damaged.root"
    damaged.write_bytes((tmp_path / "events.root").read_bytes()[:5000])
    capsys.readouterr()
    args = ["-q", "scan", str(damaged), "--output", str(tmp_path / "bad"), *options]
    assert main(args) == 2
    error = capsys.readouterr().err.strip()
    assert str(damaged) in error
    assert len(error.splitlines()) == 1
