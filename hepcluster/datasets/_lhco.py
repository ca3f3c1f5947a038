"""Reader and writer of the LHC Olympics 2020 R&D HDF5 layout (arXiv:2101.08320)."""

import hashlib
import json
import logging
import os
from numbers import Real
from pathlib import Path

import numpy as np

from ..utils import progress
from ..utils._validation import (
    COUNT,
    PATH,
    POSITIVE,
    POSITIVE_COUNT,
    Interval,
    StrOptions,
    validate,
)
from ._clustering import (
    cluster_dijets,
    concatenate_columns,
    dijet_columns,
    event_table_from_columns,
    padded_to_flat,
)
from ._event_table import (
    FEATURES,
    EventTable,
    count_invalid,
    describe_invalid,
    has_hdf5_signature,
    invalid_constituents,
    one_line,
    open_hdf5,
)

logger = logging.getLogger(__name__)

LHCO_N_PARTICLES = 700
"""Particle slots per event of the LHC Olympics 2020 files: 700 × (pT, η, φ)."""

_N_PARTICLE_COLUMNS = 3 * LHCO_N_PARTICLES
# Bumped whenever the derived event table changes, so that old caches are rebuilt.
_READER_VERSION = 2
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


@validate(
    {
        "path": PATH,
        "n_events": [POSITIVE_COUNT, None],
        "start": [COUNT],
        "chunksize": [POSITIVE_COUNT],
        "n_constituents": [POSITIVE_COUNT],
        "jet_radius": [POSITIVE],
        "min_jet_pt": [Interval(Real, 0, None, closed="left")],
        "key": [str, None],
        "invalid": [StrOptions({"raise", "drop"})],
    }
)
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
    invalid="raise",
):
    """Read an LHC Olympics 2020 R&D HDF5 file into an event table of the two leading jets.

    The file holds one event per row: 700 particles × ``(pT, η, φ)`` zero padded, plus the
    truth label (1 = signal) in a 2101st column except in the "black-box" files. Rows are
    read in chunks; the particles of every event are clustered with anti-kT of radius
    ``jet_radius`` (FastJet, massless particles built from ``(pT, η, φ)``), and the two jets
    of highest pT with their constituents form the event. Events with fewer than two jets
    above ``min_jet_pt`` are cut; the count is logged and stored in the metadata.

    Every value is checked before clustering: NaN or infinity, a negative pT, a particle
    that no 13 TeV collision produces (pT or energy pT·cosh η above √s = 13 TeV, which
    covers ``|η| > 10`` for pT above 1.2 GeV, or ``|φ| > 2π``), or a truth label other than 0 or 1
    are errors naming the file, the row and the column — or, with ``invalid="drop"``,
    the events holding them are dropped, counted and logged. So is an event whose two
    jets come out with m_jj ≤ 0. Padding is pT = 0 only. Rows, particles and columns are
    numbered from 0 as in the file (particle k is columns 3k, 3k + 1, 3k + 2).

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
        time) with the same parameters it is read instead of reclustering; otherwise, or
        when it is damaged (truncated, failing its checksums), the table is rebuilt, the
        cache rewritten and the reason logged. A file there that is not HDF5, or an HDF5
        file that is not an event table, is never overwritten (``ValueError``).
    label_column : "auto", None or column label, default="auto"
        Where the truth label is: ``"auto"`` takes the last column of a 2101-column file
        and no label from a 2100-column file; ``None`` ignores any label; otherwise the
        label of the truth column (the other 2100 columns are the particles, in order).
    key : str, default=None
        Key of the table in the file; ``None`` takes the only key of the file (or ``"df"``).
    invalid : {"raise", "drop"}, default="raise"
        What to do with events holding invalid values (see above): ``"raise"`` a
        ``ValueError`` at the first one; ``"drop"`` them, with their number in
        ``metadata["n_dropped_invalid"]``, by kind (the first invalid value of each event)
        in ``metadata["invalid_counts"]``, and a warning in the log.

    Returns
    -------
    EventTable
        ``event_id`` is the row number in the file, ``weight`` is 1, ``is_signal`` the truth
        label (all ``False`` without labels: ``metadata["labels"]`` says which). Jet
        kinematics and m_jj are those of the full anti-kT jets (all constituents); τ21 is
        computed from the P stored constituents. ``metadata`` holds ``n_read`` (rows read),
        ``n_dropped_invalid`` and ``invalid_counts`` (``{"negative_pt": 2, …}``, empty
        unless ``invalid="drop"``), ``n_cut_fewer_than_two_jets``,
        ``n_constituents_truncated``, ``n_jets_truncated``, ``pt_fraction_truncated`` (the
        share of the kept jets' scalar constituent pT sum that was truncated), the
        parameters, the source file and ``cache_key``; ``metadata["from_cache"]`` is
        ``True`` when the table was read from ``cache``. ``n_read`` is the sum of the
        dropped, the cut and the returned events.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        Always with the path and the cause in one line (the library error is chained):
        if the file is not HDF5, is truncated or damaged, holds no pandas table or not the
        one named by ``key``, its table does not have 2100 or 2101 columns, it holds an
        invalid value and ``invalid="raise"`` (the message names row and column, e.g.
        ``row 3, particle 2 pT (column 6) = -12.5: negative pT``), ``start`` lies beyond
        the end of the file, no event is left after the cut, a parameter is invalid, or
        ``cache`` is an existing file that is not an event table.

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

    A negative pT is an error unless such events are dropped (and counted):

    >>> particles[3, 0, 0] = -particles[3, 0, 0]
    >>> write_lhco(path, particles, labels=events.is_signal)
    >>> read_lhco(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: ...events.h5: row 3, particle 0 pT (column 0) = -...: negative pT ...
    >>> table = read_lhco(path, invalid="drop")
    >>> len(table), table.metadata["invalid_counts"]
    (24, {'negative_pt': 1})
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"LHCO file not found: {os.fspath(path)!r}")
    parameters = {
        "n_events": n_events,
        "start": start,
        "n_constituents": n_constituents,
        "jet_radius": float(jet_radius),
        "min_jet_pt": float(min_jet_pt),
        "label_column": label_column if label_column in ("auto", None) else str(label_column),
        "key": key,
        "invalid": invalid,
    }
    with open_hdf5(path, "LHCO file") as file:  # one-line errors for damaged files
        found = sorted(file.keys())
    cache_key = _cache_key(path, parameters)
    if cache is not None:
        cached = _read_cache(Path(cache), cache_key)
        if cached is not None:
            return cached

    import pandas as pd

    store = _pandas_call(path, "cannot be opened by pandas", pd.HDFStore, path, mode="r")
    with store:
        key = _resolve_key(store, key, path, found)
        storer = _pandas_call(path, f"table {key!r} cannot be read", store.get_storer, key)
        n_rows = int(storer.nrows if storer.is_table else storer.shape[0])
        if start >= n_rows:
            raise ValueError(f"start={start} is beyond the {n_rows} rows of {path}.")
        columns = _select(store, key, 0, 1, path).columns
        particle_columns, label_position, labels_note = _layout(columns, label_column, path)
        stop = n_rows if n_events is None else min(start + n_events, n_rows)
        bounds = list(range(start, stop, chunksize))
        parts, is_signal, event_id = [], [], []
        counts = _Counts()
        for chunk_start in progress(bounds, desc="read_lhco", unit="chunk"):
            chunk_stop = min(chunk_start + chunksize, stop)
            values = _numeric(_select(store, key, chunk_start, chunk_stop, path), path, key)
            chunk = _Chunk(path, chunk_start, columns, particle_columns, label_position, invalid)
            particles, rows, labels = chunk.valid_rows(values, counts)
            clustering = cluster_dijets(
                *padded_to_flat(particles),
                jet_radius=jet_radius,
                n_constituents=n_constituents,
                min_jet_pt=min_jet_pt,
            )
            counts.add_truncation(clustering)
            dijets = dijet_columns(clustering, jet_radius=jet_radius)
            kept = chunk.valid_dijets(dijets, rows[clustering.keep], counts)
            parts.append({name: column[kept] for name, column in dijets.items()})
            event_id.append(chunk_start + rows[clustering.keep][kept])
            is_signal.append(labels[clustering.keep][kept])

    n_read = stop - start
    event_id = np.concatenate(event_id)
    n_cut = n_read - counts.n_dropped_invalid - event_id.shape[0]
    logger.info(
        "read_lhco: read %d events from %s; cut %d with fewer than two jets "
        "(anti-kT R=%g, pT > %g GeV); %d constituents beyond %d per jet (%.3g%% of the "
        "jets' constituent pT) dropped from %d jets.",
        n_read,
        path,
        n_cut,
        jet_radius,
        min_jet_pt,
        counts.n_truncated,
        n_constituents,
        100 * counts.pt_fraction_truncated,
        counts.n_jets_truncated,
    )
    if counts.n_dropped_invalid:
        logger.warning(
            "read_lhco: dropped %d event(s) of %s with invalid values (invalid='drop'): %s.",
            counts.n_dropped_invalid,
            path,
            counts.invalid,
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
        "n_dropped_invalid": counts.n_dropped_invalid,
        "invalid_counts": counts.invalid,
        "n_cut_fewer_than_two_jets": n_cut,
        "n_constituents_truncated": counts.n_truncated,
        "n_jets_truncated": counts.n_jets_truncated,
        "pt_fraction_truncated": counts.pt_fraction_truncated,
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


class _Counts:
    """What read_lhco dropped, summed over chunks."""

    def __init__(self):
        self.invalid = {}
        self.n_truncated = self.n_jets_truncated = 0
        self.pt_truncated = self.pt_stored = 0.0

    @property
    def n_dropped_invalid(self):
        return sum(self.invalid.values())

    @property
    def pt_fraction_truncated(self):
        total = self.pt_truncated + self.pt_stored
        return self.pt_truncated / total if total > 0 else 0.0

    def add_invalid(self, counts):
        for name, count in counts.items():
            self.invalid[name] = self.invalid.get(name, 0) + count

    def add_truncation(self, clustering):
        self.n_truncated += clustering.n_constituents_truncated
        self.n_jets_truncated += clustering.n_jets_truncated
        self.pt_truncated += clustering.pt_truncated
        self.pt_stored += float(clustering.constituents[..., 0].sum())


class _Chunk:
    """Checks of the rows of one chunk of an LHCO file, raising or dropping what is invalid."""

    def __init__(self, path, first_row, columns, particle_columns, label_position, invalid):
        self.path = path
        self.first_row = first_row
        self.columns = columns
        self.particle_columns = np.arange(len(columns))[particle_columns]
        self.label_position = label_position
        self.invalid = invalid

    def valid_rows(self, values, counts):
        """Particles (n, 700, 3), row numbers within the chunk and labels of the valid rows."""
        particles = values[:, self.particle_columns].reshape(-1, LHCO_N_PARTICLES, 3)
        bad, column, code = invalid_constituents(particles)
        if self.label_position is None:
            labels = np.zeros(values.shape[0], dtype=bool)
            bad_label = np.zeros(values.shape[0], dtype=bool)
        else:
            label_values = values[:, self.label_position]
            labels = label_values == 1.0
            bad_label = ~bad & ~np.isin(label_values, (0.0, 1.0))
        if not (bad.any() or bad_label.any()):
            return particles, np.arange(values.shape[0]), labels
        found = count_invalid(code, bad)
        if bad_label.any():
            found["label_not_0_or_1"] = int(bad_label.sum())
        if self.invalid == "raise":
            rows = np.flatnonzero(bad | bad_label)
            row = int(rows[0])
            if bad[row]:
                slot, feature = divmod(int(column[row]), 3)
                position = self.particle_columns[column[row]]
                where = (
                    f"particle {slot} {FEATURES[feature]} (column "
                    f"{self.columns[position]}) "
                    f"{describe_invalid(particles[row], column[row], code[row])}"
                )
            else:
                value = values[row, self.label_position]
                where = (
                    f"truth label (column {self.columns[self.label_position]}) = {value:.6g}: "
                    "not 0 (background) or 1 (signal)"
                )
            raise ValueError(
                f"{self.path}: row {self.first_row + row}, {where}. {rows.shape[0]} event(s) "
                f"in rows [{self.first_row}, {self.first_row + values.shape[0]}) have invalid "
                f"values ({_format_counts(found)}); read_lhco(..., invalid='drop') drops and "
                "counts such events."
            )
        counts.add_invalid(found)
        good = ~(bad | bad_label)
        return particles[good], np.flatnonzero(good), labels[good]

    def valid_dijets(self, dijets, rows, counts):
        """Mask of the clustered events whose two jets have a finite, positive m_jj."""
        valid = (
            np.isfinite(dijets["mjj"])
            & (dijets["mjj"] > 0)
            & np.all(np.isfinite(dijets["jet_pt"]), axis=1)
        )
        if valid.all():
            return valid
        if self.invalid == "raise":
            event = int(np.flatnonzero(~valid)[0])
            raise ValueError(
                f"{self.path}: row {self.first_row + rows[event]}: the two leading jets "
                f"(pT {dijets['jet_pt'][event, 0]:.6g} and {dijets['jet_pt'][event, 1]:.6g} "
                f"GeV) have m_jj = {dijets['mjj'][event]:.6g} GeV, which two separate jets "
                f"cannot have (damaged file?); {int((~valid).sum())} such event(s) in this "
                "chunk; read_lhco(..., invalid='drop') drops and counts them."
            )
        counts.add_invalid({"mjj_not_positive": int((~valid).sum())})
        return valid


def _numeric(frame, path, key):
    try:
        return frame.to_numpy().astype(np.float64, copy=False)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{path}: table {key!r} holds non-numeric values ({one_line(err)}); an LHCO R&D "
            "table holds floats only."
        ) from err


def _format_counts(counts):
    return ", ".join(f"{name}: {count}" for name, count in counts.items())


def _pandas_call(path, what, function, *args, **kwargs):
    """``function(*args, **kwargs)`` with pandas/PyTables errors as one-line ``ValueError``."""
    try:
        return function(*args, **kwargs)
    except Exception as err:  # PyTables raises many types, with 20-line HDF5 back traces
        raise ValueError(f"{path}: {what} (damaged file?): {one_line(err)}") from err


def _select(store, key, start, stop, path):
    frame = _pandas_call(
        path,
        f"rows [{start}, {stop}) of table {key!r} cannot be read",
        store.select,
        key,
        start=start,
        stop=stop,
    )
    if frame.shape[0] != stop - start:
        raise ValueError(
            f"{path}: rows [{start}, {stop}) of table {key!r} gave {frame.shape[0]} rows "
            "(damaged file?)."
        )
    return frame


def _resolve_key(store, key, path, found):
    keys = [name.lstrip("/") for name in store.keys(include="pandas")]
    if not keys:
        raise ValueError(
            f"{path} holds no pandas table (found: {found}); an LHCO R&D file holds one "
            "table, 'df', with 2100 or 2101 columns."
        )
    if key is None:
        if len(keys) == 1:
            return keys[0]
        if "df" in keys:
            return "df"
        raise ValueError(f"{path} holds several tables {keys}; choose one with key=.")
    if key.lstrip("/") not in keys:
        raise ValueError(f"{path} has no table {key!r} (found: {keys}).")
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
    """The cached table if ``cache`` exists and matches ``cache_key``, else ``None``.

    A cache made from another file or with other parameters, or one that is damaged
    (an HDF5 file that cannot be read back), is rebuilt; a file that is not HDF5, or an
    HDF5 file that is not an event table, is never overwritten.
    """
    if not cache.exists():
        return None
    if cache.is_dir() or not has_hdf5_signature(cache):
        raise ValueError(
            f"cache {os.fspath(cache)!r} exists but is not an HDF5 file; it is not "
            "overwritten: choose another path."
        )
    import h5py

    try:
        with h5py.File(cache, "r") as file:
            written = "hepcluster_event_table" in file.attrs
            metadata = json.loads(file.attrs["metadata"]) if written else {}
    except (OSError, KeyError, ValueError) as err:
        logger.warning("read_lhco: cache %s is damaged (%s); rebuilding it.", cache, one_line(err))
        return None
    if not written:
        raise ValueError(
            f"cache {os.fspath(cache)!r} exists but is not an event table written by "
            "hepcluster; it is not overwritten: choose another path."
        )
    if metadata.get("cache_key") != cache_key:
        logger.info(
            "read_lhco: cache %s was made from another file or other parameters; rebuilding.",
            cache,
        )
        return None
    try:
        table = EventTable.read_hdf5(cache)
    except ValueError as err:
        logger.warning("read_lhco: cache %s is damaged (%s); rebuilding it.", cache, err)
        return None
    table.metadata["from_cache"] = True
    logger.info("read_lhco: read %d events from cache %s.", len(table), cache)
    return table


def _write_cache(table, cache):
    partial = cache.with_name(cache.name + ".partial")
    table.to_hdf5(partial)
    os.replace(partial, cache)
    logger.info("read_lhco: wrote cache %s.", cache)
