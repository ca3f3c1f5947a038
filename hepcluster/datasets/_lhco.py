"""Reader and writer of the LHC Olympics 2020 R&D HDF5 layout (arXiv:2101.08320)."""

import hashlib
import json
import logging
import numbers
import os
from pathlib import Path

import numpy as np

from ..utils import progress
from ._clustering import (
    cluster_dijets,
    concatenate_columns,
    dijet_columns,
    event_table_from_columns,
    padded_to_flat,
)
from ._event_table import EventTable

logger = logging.getLogger(__name__)

LHCO_N_PARTICLES = 700
"""Particle slots per event of the LHC Olympics 2020 files: 700 × (pT, η, φ)."""

_N_PARTICLE_COLUMNS = 3 * LHCO_N_PARTICLES
# Bumped whenever the derived event table changes, so that old caches are rebuilt.
_READER_VERSION = 1
# Rows written per append when writing the table format (bounds the memory of write_lhco).
_WRITE_CHUNK = 20_000


def write_lhco(path, particles, labels=None, *, key="df", format="table"):
    """Write particles in the layout of the LHC Olympics 2020 R&D HDF5 files.

    One row per event with 2100 columns ``pT_1, η_1, φ_1, …, pT_700, η_700, φ_700``
    (zero padded) and, when ``labels`` are given, a 2101st column with the truth label
    (1 = signal); the columns are named by the integers 0 … 2100 as in the published files.
    Use it to produce small files for tests, or to export generated events
    (:func:`generate_pythia_events` with ``lhco_path``).

    Parameters
    ----------
    path : str or path-like
        HDF5 file to create; an existing file is overwritten.
    particles : array-like of shape (n_events, n_particles, 3)
        ``(pT [GeV], η, φ)`` of the particles of each event, ``n_particles ≤ 700``;
        rows with pT = 0 are padding.
    labels : array-like of shape (n_events,), default=None
        Truth labels (1 = signal, 0 = background). ``None`` writes the 2100-column
        "black-box" layout without labels.
    key : str, default="df"
        Key of the table in the file (the published files use ``"df"``).
    format : {"table", "fixed"}, default="table"
        pandas/PyTables storage format; both can be read back in chunks by
        :func:`read_lhco`.

    Raises
    ------
    ValueError
        If ``particles`` has the wrong shape, more than 700 particles, non-finite
        values, or ``labels`` has the wrong length or values other than 0 and 1.

    See Also
    --------
    read_lhco : Read such a file into an :class:`EventTable`.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from hepcluster.datasets import write_lhco
    >>> particles = np.zeros((2, 3, 3))
    >>> particles[:, :, 0] = [[500.0, 400.0, 10.0], [300.0, 250.0, 0.0]]
    >>> path = os.path.join(tempfile.mkdtemp(), "events.h5")
    >>> write_lhco(path, particles, labels=[0, 1])
    >>> import pandas as pd
    >>> pd.read_hdf(path, "df").shape
    (2, 2101)
    """
    import pandas as pd

    if format not in ("table", "fixed"):
        raise ValueError(f"format must be 'table' or 'fixed', got {format!r}.")
    particles = np.asarray(particles)
    if particles.ndim != 3 or particles.shape[2] != 3:
        raise ValueError(
            f"particles must have shape (n_events, n_particles, 3), got {particles.shape}."
        )
    n_events, n_particles, _ = particles.shape
    if n_events == 0 or n_particles == 0:
        raise ValueError(f"particles describe no event or no particle: {particles.shape}.")
    if n_particles > LHCO_N_PARTICLES:
        raise ValueError(
            f"the LHCO layout holds at most {LHCO_N_PARTICLES} particles per event, got "
            f"{n_particles}; keep the hardest {LHCO_N_PARTICLES} first."
        )
    if not np.all(np.isfinite(particles)):
        raise ValueError("particles contain NaN or infinite values.")
    if labels is not None:
        labels = np.asarray(labels, dtype=np.float64).ravel()
        if labels.shape != (n_events,):
            raise ValueError(f"labels must have shape ({n_events},), got {labels.shape}.")
        if not np.all(np.isin(labels, (0.0, 1.0))):
            raise ValueError("labels must be 0 (background) or 1 (signal).")
    columns = pd.RangeIndex(_N_PARTICLE_COLUMNS + (labels is not None))

    def frame(start, stop):
        # float64 rows built block by block, so that memory stays bounded for large inputs.
        values = np.zeros((stop - start, len(columns)))
        values[:, : 3 * n_particles] = particles[start:stop].reshape(stop - start, -1)
        if labels is not None:
            values[:, -1] = labels[start:stop]
        return pd.DataFrame(values, columns=columns, index=pd.RangeIndex(start, stop))

    with pd.HDFStore(path, mode="w") as store:
        if format == "fixed":
            store.put(key, frame(0, n_events), format="fixed", track_times=False)
            return
        for start in range(0, n_events, _WRITE_CHUNK):
            store.append(key, frame(start, min(start + _WRITE_CHUNK, n_events)), format="table")


def read_lhco(
    path,
    *,
    n_events=None,
    start=0,
    chunksize=100_000,
    n_constituents=100,
    jet_radius=1.0,
    min_jet_pt=20.0,
    cache=None,
    label_column="auto",
    key=None,
):
    """Read an LHC Olympics 2020 R&D HDF5 file into an event table of the two leading jets.

    The file holds one event per row: 700 particles × ``(pT, η, φ)`` zero padded, plus the
    truth label (1 = signal) in a 2101st column except in the "black-box" files. Rows are
    read in chunks; the particles of every event are clustered with anti-kT of radius
    ``jet_radius`` (FastJet, massless particles built from ``(pT, η, φ)``), and the two jets
    of highest pT with their constituents form the event. Events with fewer than two jets
    above ``min_jet_pt`` are cut; the count is logged and stored in the metadata.

    Parameters
    ----------
    path : str or path-like
        The HDF5 file, e.g. ``events_anomalydetection_v2.h5``, in pandas/PyTables
        ``"table"`` or ``"fixed"`` format.
    n_events : int, default=None
        Number of rows (events before cuts) to read; ``None`` reads to the end of the file.
    start : int, default=0
        First row to read.
    chunksize : int, default=100_000
        Rows read and clustered at a time (a chunk of 10⁵ rows takes ~1.7 GB as float64).
        The result does not depend on it.
    n_constituents : int, default=100
        Constituent slots P kept per jet (the hardest ones); the number of constituents
        dropped is stored in ``metadata["n_constituents_truncated"]``.
    jet_radius : float, default=1.0
        Anti-kT radius R (1.0 in the LHCO R&D studies).
    min_jet_pt : float, default=20.0
        Minimum jet pT in GeV: anti-kT clusters below it are not counted as jets. The
        two leading jets of LHCO events are far above it (the sample has a 1.2 TeV
        trigger); it only decides which nearly empty events are cut.
    cache : str or path-like, default=None
        HDF5 file in which the derived event table is kept (:meth:`EventTable.to_hdf5`).
        When it exists and was made from the same source file (path, size, modification
        time) with the same parameters it is read instead of reclustering; otherwise the
        table is rebuilt and the cache written.
    label_column : "auto", None or column label, default="auto"
        Where the truth label is: ``"auto"`` takes the last column of a 2101-column file
        and no label from a 2100-column file; ``None`` ignores any label; otherwise the
        label of the truth column (the other 2100 columns are the particles, in order).
    key : str, default=None
        Key of the table in the file; ``None`` takes the only key of the file (or ``"df"``).

    Returns
    -------
    EventTable
        ``event_id`` is the row number in the file, ``weight`` is 1, ``is_signal`` the truth
        label (all ``False`` without labels: ``metadata["labels"]`` says which). Jet
        kinematics and m_jj are those of the full anti-kT jets (all constituents); τ21 is
        computed from the P stored constituents. ``metadata`` holds ``n_read`` (rows read),
        ``n_cut_fewer_than_two_jets``, ``n_constituents_truncated``,
        ``n_jets_truncated``, the parameters, the source file and ``cache_key``;
        ``metadata["from_cache"]`` is ``True`` when the table was read from ``cache``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the table does not have 2100 or 2101 columns, contains NaN or infinite values,
        ``start`` lies beyond the end of the file, no event is left after the cut, a
        parameter is invalid, or ``cache`` is an existing file that is not an event table.

    See Also
    --------
    write_lhco : Write particles in this layout.
    EventTable : The returned table.

    Notes
    -----
    The LHC Olympics 2020 R&D data set (G. Kasieczka et al., arXiv:2101.08320) has 10⁶ QCD
    dijet events and 10⁵ W′ → X Y, X → qq̄, Y → qq̄ events (m_W′ = 3.5 TeV,
    m_X = 500 GeV, m_Y = 100 GeV); Cluster Scanning (arXiv:2402.17714) and UCluster
    (arXiv:2010.07106) recluster it with anti-kT R = 1.0 as done here.

    References
    ----------
    .. [1] G. Kasieczka et al., "The LHC Olympics 2020: a community challenge for anomaly
       detection in high energy physics", Rep. Prog. Phys. 84 (2021) 124201,
       arXiv:2101.08320.
    .. [2] M. Cacciari, G. P. Salam, G. Soyez, "FastJet user manual", Eur. Phys. J. C 72
       (2012) 1896, arXiv:1111.6097.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from hepcluster.datasets import make_dijet_events, read_lhco, write_lhco
    >>> events = make_dijet_events(20, 5, random_state=0)
    >>> particles = events.constituents.reshape(len(events), -1, 3)
    >>> path = os.path.join(tempfile.mkdtemp(), "events.h5")
    >>> write_lhco(path, particles, labels=events.is_signal)
    >>> table = read_lhco(path)
    >>> len(table), table.n_signal, table.metadata["n_read"]
    (25, 5, 25)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"LHCO file not found: {os.fspath(path)!r}")
    _check_int("start", start, minimum=0)
    _check_int("chunksize", chunksize, minimum=1)
    _check_int("n_constituents", n_constituents, minimum=1)
    if n_events is not None:
        _check_int("n_events", n_events, minimum=1)
    _check_positive("jet_radius", jet_radius)
    if not np.isfinite(min_jet_pt) or min_jet_pt < 0:
        raise ValueError(f"min_jet_pt must be a non-negative pT in GeV, got {min_jet_pt!r}.")
    parameters = {
        "n_events": n_events,
        "start": start,
        "n_constituents": n_constituents,
        "jet_radius": float(jet_radius),
        "min_jet_pt": float(min_jet_pt),
        "label_column": label_column if label_column in ("auto", None) else str(label_column),
        "key": key,
    }
    cache_key = _cache_key(path, parameters)
    if cache is not None:
        cached = _read_cache(Path(cache), cache_key)
        if cached is not None:
            return cached

    import pandas as pd

    with pd.HDFStore(path, mode="r") as store:
        key = _resolve_key(store, key, path)
        storer = store.get_storer(key)
        n_rows = int(storer.nrows if storer.is_table else storer.shape[0])
        columns = store.select(key, start=0, stop=1).columns
        particle_columns, label_position, labels_note = _layout(columns, label_column, path)
        if start >= n_rows:
            raise ValueError(f"start={start} is beyond the {n_rows} rows of {path}.")
        stop = n_rows if n_events is None else min(start + n_events, n_rows)
        bounds = list(range(start, stop, chunksize))
        parts, is_signal, event_id = [], [], []
        n_truncated = n_jets_truncated = 0
        for chunk_start in progress(bounds, desc="read_lhco", unit="chunk"):
            chunk_stop = min(chunk_start + chunksize, stop)
            values = store.select(key, start=chunk_start, stop=chunk_stop).to_numpy()
            values = values.astype(np.float64, copy=False)
            bad = ~np.all(np.isfinite(values), axis=1)
            if np.any(bad):
                rows = chunk_start + np.flatnonzero(bad)
                raise ValueError(
                    f"{path} contains NaN or infinite values in {bad.sum()} row(s) of "
                    f"rows [{chunk_start}, {chunk_stop}), first at row {rows[0]}."
                )
            particles = values[:, particle_columns].reshape(-1, LHCO_N_PARTICLES, 3)
            clustering = cluster_dijets(
                *padded_to_flat(particles),
                jet_radius=jet_radius,
                n_constituents=n_constituents,
                min_jet_pt=min_jet_pt,
            )
            parts.append(dijet_columns(clustering, jet_radius=jet_radius))
            n_truncated += clustering.n_constituents_truncated
            n_jets_truncated += clustering.n_jets_truncated
            event_id.append(chunk_start + np.flatnonzero(clustering.keep))
            if label_position is None:
                is_signal.append(np.zeros(int(clustering.keep.sum()), dtype=bool))
            else:
                is_signal.append(_labels(values[clustering.keep, label_position], path))

    n_read = stop - start
    event_id = np.concatenate(event_id)
    n_cut = n_read - event_id.shape[0]
    logger.info(
        "read_lhco: read %d events from %s; cut %d with fewer than two jets "
        "(anti-kT R=%g, pT > %g GeV); %d constituents beyond %d per jet dropped.",
        n_read,
        path,
        n_cut,
        jet_radius,
        min_jet_pt,
        n_truncated,
        n_constituents,
    )
    if event_id.shape[0] == 0:
        raise ValueError(
            f"no event of rows [{start}, {stop}) of {path} has two jets with pT > "
            f"{min_jet_pt} GeV (anti-kT R={jet_radius})."
        )
    metadata = {
        "source": "LHC Olympics 2020 R&D HDF5",
        "path": os.fspath(path.resolve()),
        "n_read": n_read,
        "n_cut_fewer_than_two_jets": n_cut,
        "n_constituents_truncated": n_truncated,
        "n_jets_truncated": n_jets_truncated,
        "labels": labels_note,
        "jet_algorithm": "anti-kt",
        **parameters,
        "key": key,
        "cache_key": cache_key,
        "from_cache": False,
    }
    table = event_table_from_columns(
        concatenate_columns(parts, n_constituents),
        is_signal=np.concatenate(is_signal),
        event_id=event_id,
        weight=np.ones(event_id.shape[0]),
        metadata=metadata,
    )
    if cache is not None:
        _write_cache(table, Path(cache))
    return table


def _check_int(name, value, minimum):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")


def _check_positive(name, value):
    if not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}.")


def _resolve_key(store, key, path):
    keys = [name.lstrip("/") for name in store.keys(include="pandas")]
    if key is None:
        if len(keys) == 1:
            return keys[0]
        if "df" in keys:
            return "df"
        raise ValueError(f"{path} holds several tables {keys}; choose one with key=.")
    if key.lstrip("/") not in keys:
        raise ValueError(f"{path} has no table {key!r}; it holds {keys}.")
    return key.lstrip("/")


def _layout(columns, label_column, path):
    """Positions of the particle columns and of the label column, and a note on labels."""
    n_columns = len(columns)
    if n_columns not in (_N_PARTICLE_COLUMNS, _N_PARTICLE_COLUMNS + 1):
        raise ValueError(
            f"{path} has {n_columns} columns; an LHCO R&D file has 2100 (700 particles × "
            "(pT, η, φ), black box) or 2101 (plus the truth label) columns."
        )
    if label_column is None or (label_column == "auto" and n_columns == _N_PARTICLE_COLUMNS):
        why = "labels ignored (label_column=None)" if label_column is None else "black-box file"
        note = f"none ({why}, {n_columns} columns): is_signal is all False"
        return slice(0, _N_PARTICLE_COLUMNS), None, note
    if label_column == "auto":
        position = _N_PARTICLE_COLUMNS
    else:
        matches = np.flatnonzero(np.asarray(columns == label_column))
        if matches.shape[0] != 1:
            raise ValueError(f"label_column {label_column!r} is not a column of {path}.")
        if n_columns != _N_PARTICLE_COLUMNS + 1:
            raise ValueError(
                f"{path} has {n_columns} columns; with label_column={label_column!r} it "
                "needs 2101 (2100 particle columns and the label)."
            )
        position = int(matches[0])
    if position == _N_PARTICLE_COLUMNS:  # the usual layout: a view, no copy of the chunk
        particle_columns = slice(0, _N_PARTICLE_COLUMNS)
    else:
        particle_columns = np.delete(np.arange(n_columns), position)
    return particle_columns, position, f"truth label from column {columns[position]}"


def _labels(values, path):
    if not np.all(np.isin(values, (0.0, 1.0))):
        raise ValueError(f"the truth labels of {path} must be 0 or 1.")
    return values == 1.0


def _cache_key(path, parameters):
    stat = path.stat()
    source = {
        "path": os.fspath(path.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "reader_version": _READER_VERSION,
        **parameters,
    }
    text = json.dumps(source, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _read_cache(cache, cache_key):
    """The cached table if ``cache`` exists and matches ``cache_key``, else ``None``."""
    if not cache.exists():
        return None
    import h5py

    with h5py.File(cache, "r") as file:
        if "hepcluster_event_table" not in file.attrs:
            raise ValueError(
                f"cache {os.fspath(cache)!r} exists but is not an event table written by "
                "hepcluster; choose another path."
            )
        metadata = json.loads(file.attrs["metadata"])
    if metadata.get("cache_key") != cache_key:
        logger.info(
            "read_lhco: cache %s was made from another file or other parameters; rebuilding.",
            cache,
        )
        return None
    table = EventTable.read_hdf5(cache)
    table.metadata["from_cache"] = True
    logger.info("read_lhco: read %d events from cache %s.", len(table), cache)
    return table


def _write_cache(table, cache):
    partial = cache.with_name(cache.name + ".partial")
    table.to_hdf5(partial)
    os.replace(partial, cache)
    logger.info("read_lhco: wrote cache %s.", cache)
