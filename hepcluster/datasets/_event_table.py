"""EventTable: the two leading jets of dijet events with their constituents and summaries."""

import json
import logging
import numbers
import os
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from ..jets import (
    as_constituent_array,
    dijet_mass,
    four_momentum_kinematics,
    jet_four_momenta,
    tau21,
)
from ..stats import SQRT_S

logger = logging.getLogger(__name__)

_PER_EVENT_FIELDS = ("mjj", "is_signal", "event_id", "weight")
_PER_JET_FIELDS = ("jet_pt", "jet_eta", "jet_phi", "jet_mass", "tau21")
# Version 2 adds Fletcher-32 checksums to the datasets; version 1 files read the same.
_FORMAT_VERSION = 2

# SQRT_S (hepcluster.stats, 13 TeV): no particle of a collision carries more energy, so the
# readers treat a constituent with pT > SQRT_S or pT cosh η > SQRT_S (which covers |η| > 10
# for any pT above 1.2 GeV) as impossible, i.e. a damaged file.
MAX_ABS_PHI = 2 * np.pi
"""Largest ``|φ|`` a reader accepts: φ is an angle in (−π, π]; beyond one turn is damage."""

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# Codes of invalid constituent values, with their metadata keys and explanations.
_NOT_FINITE, _NEGATIVE_PT, _ABOVE_SQRT_S, _PHI_RANGE = 1, 2, 3, 4
INVALID_KEYS = {
    _NOT_FINITE: "non_finite",
    _NEGATIVE_PT: "negative_pt",
    _ABOVE_SQRT_S: "energy_above_sqrt_s",
    _PHI_RANGE: "phi_out_of_range",
}
"""Keys under which readers count (in ``metadata["invalid_counts"]``) what they dropped."""
FEATURES = ("pT", "η", "φ")
"""Names of the three constituent features, in the order of the constituent matrix."""
# Rows checked at a time by invalid_constituents, which bounds its scratch memory.
_CHECK_BLOCK = 4096


@dataclass(eq=False)
class EventTable:
    """Dijet events: the two leading jets, their constituents and event-level summaries.

    Every array has the events along its first axis, so an ``EventTable`` can be indexed,
    subset and concatenated like one array. Build one with :meth:`from_constituents`
    (which computes every summary from the constituents), a generator such as
    :func:`~hepcluster.datasets.make_dijet_events`, or a reader such as
    :func:`~hepcluster.datasets.read_lhco`.

    Parameters
    ----------
    constituents : ndarray of shape (n_events, 2, P, 3)
        Constituents ``(pT [GeV], η, φ)`` of the leading and sub-leading jet, sorted by
        decreasing pT and zero padded (pT = 0 marks padding). Stored as float32.
    mjj : ndarray of shape (n_events,)
        Dijet invariant mass in GeV.
    jet_pt, jet_eta, jet_phi, jet_mass : ndarray of shape (n_events, 2)
        Kinematics of the two jets (GeV, pseudorapidity, radians, GeV); jet 0 has the
        larger pT.
    tau21 : ndarray of shape (n_events, 2)
        N-subjettiness ratio τ2/τ1 of each jet.
    is_signal : ndarray of shape (n_events,), dtype bool
        Truth label, used only by metrics, idealised variants and plots.
    event_id : ndarray of shape (n_events,), dtype int64
        Identifier that follows the event through subsetting and concatenation.
    weight : ndarray of shape (n_events,)
        Event weight (1 for unweighted samples; generator weights for biased samples).
    metadata : dict
        Provenance: generator or source file, parameters, counts of events cut or dropped.
        Kept in the form JSON stores (dicts with string keys, lists, strings, numbers,
        booleans, ``None``): tuples, numpy scalars and arrays and paths are converted on
        construction, so that :meth:`to_hdf5` and :meth:`read_hdf5` round-trip it exactly.

    See Also
    --------
    hepcluster.datasets.make_dijet_events : Fast synthetic events.
    hepcluster.datasets.read_lhco : LHC Olympics 2020 R&D events.

    Examples
    --------
    >>> from hepcluster.datasets import make_dijet_events
    >>> events = make_dijet_events(200, 20, random_state=0)
    >>> len(events), events.constituents.shape
    (220, (220, 2, 100, 3))
    >>> X, mjj, event_id = events.jets()
    >>> X.shape, mjj.shape
    ((440, 300), (440,))
    >>> signal = events[events.is_signal]
    >>> len(signal)
    20
    """

    constituents: np.ndarray
    mjj: np.ndarray
    jet_pt: np.ndarray
    jet_eta: np.ndarray
    jet_phi: np.ndarray
    jet_mass: np.ndarray
    tau21: np.ndarray
    is_signal: np.ndarray
    event_id: np.ndarray
    weight: np.ndarray
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self.constituents = np.ascontiguousarray(self.constituents, dtype=np.float32)
        shape = self.constituents.shape
        if len(shape) != 4 or (shape[1], shape[3]) != (2, 3):
            raise ValueError(
                "constituents must have shape (n_events, 2, n_constituents, 3), "
                f"got {self.constituents.shape}."
            )
        n_events = self.constituents.shape[0]
        self.mjj = np.asarray(self.mjj, dtype=np.float64)
        self.is_signal = np.asarray(self.is_signal, dtype=bool)
        self.event_id = np.asarray(self.event_id, dtype=np.int64)
        self.weight = np.asarray(self.weight, dtype=np.float64)
        for name in _PER_EVENT_FIELDS:
            if getattr(self, name).shape != (n_events,):
                raise ValueError(
                    f"{name} must have shape ({n_events},), got {getattr(self, name).shape}."
                )
        for name in _PER_JET_FIELDS:
            setattr(self, name, np.asarray(getattr(self, name), dtype=np.float64))
            if getattr(self, name).shape != (n_events, 2):
                raise ValueError(
                    f"{name} must have shape ({n_events}, 2), got {getattr(self, name).shape}."
                )
        if not np.all(np.isfinite(self.mjj)):
            raise ValueError("mjj contains NaN or infinite values.")
        self.metadata = plain_metadata(self.metadata)

    @classmethod
    def from_constituents(
        cls,
        constituents,
        *,
        is_signal=None,
        event_id=None,
        weight=None,
        jet_radius=1.0,
        metadata=None,
    ):
        """Build an event table from the constituents of two jets per event.

        Jet kinematics, masses, τ21 and m_jj are computed from the (massless)
        constituents; the two jets of each event are ordered by decreasing pT and the
        constituents of each jet by decreasing pT.

        Parameters
        ----------
        constituents : array-like of shape (n_events, 2, P, 3)
            ``(pT, η, φ)`` of the constituents of the two jets, zero padded.
        is_signal : array-like of shape (n_events,), default=None
            Truth labels; ``None`` means all background.
        event_id : array-like of shape (n_events,), default=None
            Event identifiers; ``None`` numbers the events from 0.
        weight : array-like of shape (n_events,), default=None
            Event weights; ``None`` means 1.
        jet_radius : float, default=1.0
            Jet radius R, the R0 of the N-subjettiness normalisation.
        metadata : dict, default=None
            Provenance stored with the table.

        Returns
        -------
        EventTable

        Raises
        ------
        ValueError
            On a wrong shape, NaN or negative pT, or a jet without constituents.
        """
        constituents = np.asarray(constituents, dtype=np.float64)
        if constituents.ndim != 4 or constituents.shape[1] != 2 or constituents.shape[3] != 3:
            raise ValueError(
                "constituents must have shape (n_events, 2, n_constituents, 3), "
                f"got {constituents.shape}."
            )
        n_events, _, n_slots, _ = constituents.shape
        if n_events == 0:
            raise ValueError("constituents describe no event (n_events = 0).")
        flat = as_constituent_array(constituents.reshape(2 * n_events, n_slots, 3))
        empty = ~np.any(flat[:, :, 0] > 0, axis=1)
        if np.any(empty):
            raise ValueError(
                f"{int(empty.sum())} jet(s) have no constituent with pT > 0; "
                "remove events whose jets are empty before building an EventTable."
            )
        flat = _sort_constituents_by_pt(flat)
        p4 = jet_four_momenta(flat).reshape(n_events, 2, 4)
        kinematics = four_momentum_kinematics(p4)
        order = np.argsort(-kinematics.pt, axis=1, kind="stable")
        rows = np.arange(n_events)[:, None]
        p4 = p4[rows, order]
        flat = flat.reshape(n_events, 2, n_slots, 3)[rows, order]
        kinematics = four_momentum_kinematics(p4)
        jet_tau21 = tau21(flat.reshape(2 * n_events, n_slots, 3), R0=jet_radius)
        return cls(
            constituents=flat,
            mjj=dijet_mass(p4[:, 0], p4[:, 1]),
            jet_pt=kinematics.pt,
            jet_eta=kinematics.eta,
            jet_phi=kinematics.phi,
            jet_mass=kinematics.mass,
            tau21=jet_tau21.reshape(n_events, 2),
            is_signal=np.zeros(n_events, bool) if is_signal is None else is_signal,
            event_id=np.arange(n_events) if event_id is None else event_id,
            weight=np.ones(n_events) if weight is None else weight,
            metadata={} if metadata is None else metadata,
        )

    def __len__(self):
        return self.constituents.shape[0]

    @property
    def n_events(self):
        """Number of events."""
        return len(self)

    @property
    def n_constituents(self):
        """Number of constituent slots P per jet."""
        return self.constituents.shape[2]

    @property
    def n_signal(self):
        """Number of events labelled as signal."""
        return int(self.is_signal.sum())

    def __getitem__(self, index):
        """Select events with a slice, an integer array or a boolean mask."""
        if isinstance(index, (int, np.integer)):
            index = [index]
        index = np.asarray(index) if not isinstance(index, slice) else index
        if isinstance(index, np.ndarray) and index.dtype == bool and index.shape != (len(self),):
            raise IndexError(
                f"boolean mask has shape {index.shape}, the table has {len(self)} events."
            )
        values = {
            f.name: getattr(self, f.name)[index] for f in fields(self) if f.name != "metadata"
        }
        return type(self)(**values, metadata=self.metadata)

    def jets(self):
        """Jets as the constituent matrix with the m_jj of their event.

        The two jets of event ``i`` are rows ``2i`` (leading) and ``2i + 1``.

        Returns
        -------
        X : ndarray of shape (2 * n_events, 3 * P), float32
            Constituent matrix ``(pT_1, η_1, φ_1, pT_2, …)`` of every jet.
        mjj : ndarray of shape (2 * n_events,)
            m_jj of each jet's event, the resonant observable of Cluster Scanning.
        event_id : ndarray of shape (2 * n_events,)
            Event of each jet, so that jets can be traced back and resampled together.
        """
        X = self.constituents.reshape(2 * len(self), 3 * self.n_constituents)
        return X, np.repeat(self.mjj, 2), np.repeat(self.event_id, 2)

    @property
    def jet_weight(self):
        """Event weight of each jet, in the order of :meth:`jets`."""
        return np.repeat(self.weight, 2)

    @property
    def jet_is_signal(self):
        """Truth label of each jet's event, in the order of :meth:`jets`."""
        return np.repeat(self.is_signal, 2)

    def to_dataframe(self):
        """Event-level quantities as a :class:`pandas.DataFrame` (no constituents).

        Returns
        -------
        pandas.DataFrame
            Columns ``event_id, mjj, weight, is_signal`` and ``jet_pt_1, jet_pt_2, …``.
        """
        import pandas as pd

        columns = {name: getattr(self, name) for name in ("event_id", "mjj", "weight")}
        columns["is_signal"] = self.is_signal
        for name in _PER_JET_FIELDS:
            for jet in range(2):
                columns[f"{name}_{jet + 1}"] = getattr(self, name)[:, jet]
        return pd.DataFrame(columns)

    @classmethod
    def concatenate(cls, tables):
        """Concatenate event tables with the same number of constituent slots.

        Parameters
        ----------
        tables : sequence of EventTable

        Returns
        -------
        EventTable
            Events of all tables in order; ``metadata`` lists the parts' metadata.
        """
        tables = list(tables)
        if not tables:
            raise ValueError("concatenate needs at least one EventTable.")
        slots = {table.n_constituents for table in tables}
        if len(slots) > 1:
            raise ValueError(
                f"cannot concatenate tables with different numbers of constituents {slots}; "
                "truncate or pad them to the same P first."
            )
        values = {
            f.name: np.concatenate([getattr(t, f.name) for t in tables])
            for f in fields(cls)
            if f.name != "metadata"
        }
        return cls(**values, metadata={"parts": [t.metadata for t in tables]})

    def to_hdf5(self, path):
        """Write the table to an HDF5 file (readable with :meth:`read_hdf5`).

        Every array is stored with a Fletcher-32 checksum, so that a damaged file is
        detected when it is read back; ``metadata`` is stored as JSON.

        Parameters
        ----------
        path : str or path-like

        Raises
        ------
        ValueError
            If ``metadata`` holds a value JSON cannot store exactly (an object other
            than a dict with string keys, list, string, number, boolean or ``None``).
        """
        import h5py

        metadata = _metadata_json(self.metadata)
        with h5py.File(path, "w") as file:
            file.attrs["hepcluster_event_table"] = _FORMAT_VERSION
            file.attrs["metadata"] = metadata
            for f in fields(self):
                if f.name == "metadata":
                    continue
                data = getattr(self, f.name)
                options = {"fletcher32": True, "chunks": True}
                if data.size > 1:
                    options.update(compression="gzip", compression_opts=4, shuffle=True)
                file.create_dataset(f.name, data=data, **(options if data.size else {}))

    @classmethod
    def read_hdf5(cls, path):
        """Read a table written by :meth:`to_hdf5`.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        EventTable

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        ValueError
            With the path and the cause in one line, if the file is not a readable HDF5
            file (truncated, damaged, another format), was not written by :meth:`to_hdf5`
            (or by a newer version), lacks a dataset, fails a checksum, or holds values
            no event table has (NaN, negative pT, a constituent above √s = 13 TeV,
            arrays of inconsistent shapes).
        """
        path = Path(path)
        with open_hdf5(path, "event table file") as file:
            version = file.attrs.get("hepcluster_event_table")
            if version is None:
                raise ValueError(
                    f"{os.fspath(path)} is not an EventTable file written by hepcluster "
                    f"(no 'hepcluster_event_table' attribute; it holds {sorted(file.keys())})."
                )
            if int(version) > _FORMAT_VERSION:
                raise ValueError(
                    f"{os.fspath(path)} is an EventTable file of format {int(version)}, newer "
                    f"than this hepcluster reads ({_FORMAT_VERSION}); update hepcluster."
                )
            names = [f.name for f in fields(cls) if f.name != "metadata"]
            missing = [name for name in names if name not in file]
            if missing:
                raise ValueError(
                    f"{os.fspath(path)} has no dataset {', '.join(map(repr, missing))} "
                    f"(found: {sorted(file.keys())}); it is not a complete EventTable file."
                )
            values = {name: read_dataset(file, name, path) for name in names}
            try:
                metadata = json.loads(file.attrs["metadata"])
            except (KeyError, OSError, ValueError) as err:
                raise ValueError(
                    f"{os.fspath(path)}: the metadata attribute cannot be read (damaged "
                    f"file?): {one_line(err)}"
                ) from err
        try:
            table = cls(**values, metadata=metadata)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{os.fspath(path)} is not a valid event table: {err}") from err
        bad_jet, column, code = invalid_constituents(
            table.constituents.reshape(2 * len(table), table.n_constituents, 3)
        )
        if bad_jet.any():
            jet = int(np.flatnonzero(bad_jet)[0])
            event = jet // 2
            slot, feature = divmod(int(column[jet]), 3)
            raise ValueError(
                f"{os.fspath(path)}: event {event} (event_id {table.event_id[event]}), jet "
                f"{jet % 2}, constituent {slot} {FEATURES[feature]} "
                f"{describe_invalid(table.constituents[event, jet % 2], column[jet], code[jet])}"
                f"; {int(bad_jet.sum())} jet(s) hold invalid constituents (damaged file?)."
            )
        return table

    @classmethod
    def read(cls, path, **kwargs):
        """Read an event table, choosing the reader by the suffix of ``path``.

        ``.root`` files go to :func:`~hepcluster.datasets.read_root`, ``.parquet`` and
        ``.pq`` files to :func:`~hepcluster.datasets.read_parquet` (both take ``kwargs``),
        anything else to :meth:`read_hdf5`.

        Parameters
        ----------
        path : str or path-like
        **kwargs
            Options of the ROOT and parquet readers (``n_constituents``, ``invalid``, …).

        Returns
        -------
        EventTable
        """
        suffix = Path(path).suffix.lower()
        if suffix == ".root":
            from ._root import read_root

            return read_root(path, **kwargs)
        if suffix in (".parquet", ".pq"):
            from ._parquet import read_parquet

            return read_parquet(path, **kwargs)
        if kwargs:
            raise TypeError(f"read_hdf5 takes no options, got {sorted(kwargs)}.")
        return cls.read_hdf5(path)

    def to_root(self, path, *, tree="events"):
        """Write the table as a ROOT TTree (uproot), readable by :func:`read_root`.

        Parameters
        ----------
        path : str or path-like
        tree : str, default="events"
        """
        from ._root import write_root

        write_root(self, path, tree=tree)

    def to_parquet(self, path):
        """Write the table as a parquet file (pyarrow), readable by :func:`read_parquet`.

        Parameters
        ----------
        path : str or path-like
        """
        from ._parquet import write_parquet

        write_parquet(self, path)

    def __repr__(self):
        return (
            f"EventTable(n_events={len(self)}, n_signal={self.n_signal}, "
            f"n_constituents={self.n_constituents}, "
            f"mjj=[{self.mjj.min(initial=np.inf):.0f}, {self.mjj.max(initial=-np.inf):.0f}] GeV)"
        )


def _sort_constituents_by_pt(constituents):
    if np.all(constituents[:, 1:, 0] <= constituents[:, :-1, 0]):
        return constituents  # generators and readers deliver sorted jets: no copy
    order = np.argsort(-constituents[:, :, 0], axis=1, kind="stable")
    return np.take_along_axis(constituents, order[:, :, None], axis=1)


# --------------------------------------------------------------------------------------------
# Metadata in JSON form, and the checks that the readers of files share
# --------------------------------------------------------------------------------------------


def plain_metadata(value, where="metadata"):
    """``value`` with tuples, numpy values and paths converted to the types JSON stores.

    Conversions are exact (numpy scalars to Python numbers, arrays and tuples to lists,
    paths to strings); any other object is kept as it is and refused by :meth:`to_hdf5`.
    """
    if isinstance(value, dict):
        return {key: plain_metadata(item, f"{where}[{key!r}]") for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_metadata(item, f"{where}[{k}]") for k, item in enumerate(value)]
    if isinstance(value, np.ndarray):
        return plain_metadata(value.tolist(), where)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def _metadata_json(metadata):
    def check(value, where):
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ValueError(
                        f"{where} has the key {key!r} of type {type(key).__name__}; JSON "
                        "keys are strings, so it would not be read back as it is."
                    )
                check(item, f"{where}[{key!r}]")
        elif isinstance(value, list):
            for k, item in enumerate(value):
                check(item, f"{where}[{k}]")
        elif value is not None and not isinstance(value, (str, bool, numbers.Integral, float)):
            raise ValueError(
                f"{where} is a {type(value).__name__}, which an HDF5 file of an event table "
                "cannot store exactly; use a string, number, boolean, list or dict."
            )

    metadata = plain_metadata(metadata)
    check(metadata, "metadata")
    return json.dumps(metadata)


def one_line(err):
    """The cause of an exception in one line (the innermost HDF5 message of a back trace)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    if "End of HDF5 error back trace" in lines:
        end = lines.index("End of HDF5 error back trace")
        causes = [line for line in lines[:end] if not line.startswith("File ")]
        if causes:
            return causes[-1]
    text = lines[0] if len(lines) == 1 else f"{lines[0]} …"
    return text if len(text) <= 300 else text[:299] + "…"


def has_hdf5_signature(path):
    """Whether ``path`` starts with the HDF5 signature (at 0 or a user-block offset)."""
    size = os.path.getsize(path)
    with open(path, "rb") as file:
        offset = 0
        while offset + len(_HDF5_SIGNATURE) <= size:
            file.seek(offset)
            if file.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else 2 * offset
    return False


def unreadable_hdf5(path, err):
    """A one-line ``ValueError`` for an HDF5 library error on opening ``path``."""
    path = os.fspath(path)
    if not has_hdf5_signature(path):
        with open(path, "rb") as file:
            head = file.read(8)
        return ValueError(
            f"{path} is not an HDF5 file (it starts with {head!r}, not the HDF5 signature)."
        )
    return ValueError(
        f"{path} is not a readable HDF5 file (truncated or damaged?): {one_line(err)}"
    )


@contextmanager
def open_hdf5(path, what):
    """Open ``path`` read-only with h5py; missing or unreadable files raise one-line errors.

    ``what`` names the file in the ``FileNotFoundError`` (e.g. ``"hls4ml file"``); a file
    that is not HDF5, truncated or damaged raises ``ValueError`` with the path and cause.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: {os.fspath(path)!r}")
    if path.is_dir():
        raise ValueError(f"{os.fspath(path)} is a directory, not an HDF5 {what}.")
    try:
        file = h5py.File(path, "r")
    except OSError as err:
        raise unreadable_hdf5(path, err) from err
    with file:
        yield file


def read_dataset(file, name, path, selection=()):
    """``file[name][selection]``; a read error (damage, failed checksum) is a ``ValueError``."""
    try:
        return file[name][selection]
    except (OSError, KeyError, RuntimeError) as err:
        raise ValueError(
            f"{os.fspath(path)}: dataset {name!r} cannot be read (damaged file?): {one_line(err)}"
        ) from err


def invalid_constituents(particles):
    """Find constituents whose ``(pT, η, φ)`` no collision produces.

    A value is invalid when it is NaN or infinite (in any slot), when pT is negative or
    above √s, when a real constituent (pT > 0) has an energy ``pT cosh η`` above √s
    (:data:`SQRT_S`), or ``|φ| >`` :data:`MAX_ABS_PHI`. Padding slots (pT = 0) may hold any
    finite η and φ.

    Parameters
    ----------
    particles : ndarray of shape (n, P, 3)
        ``(pT [GeV], η, φ)`` of each row's constituents.

    Returns
    -------
    bad : ndarray of shape (n,), dtype bool
        Rows holding an invalid value.
    column : ndarray of shape (n,), dtype int64
        Flat index ``3 · slot + feature`` (feature 0, 1, 2 = pT, η, φ) of the first invalid
        value of each bad row (0 for good rows).
    code : ndarray of shape (n,), dtype int8
        What is wrong with it, a key of :data:`INVALID_KEYS` (0 for good rows).
    """
    n_rows, n_slots, _ = particles.shape
    bad = np.zeros(n_rows, dtype=bool)
    column = np.zeros(n_rows, dtype=np.int64)
    code = np.zeros(n_rows, dtype=np.int8)
    with np.errstate(all="ignore"):
        for first in range(0, n_rows, _CHECK_BLOCK):
            block = particles[first : first + _CHECK_BLOCK]
            pt, eta, phi = block[..., 0], block[..., 1], block[..., 2]
            codes = np.zeros(block.shape, dtype=np.int8)
            real = pt > 0
            codes[..., 0] = np.select(
                [~np.isfinite(pt), pt < 0, pt > SQRT_S], [_NOT_FINITE, _NEGATIVE_PT, _ABOVE_SQRT_S]
            )
            codes[..., 1] = np.select(
                [~np.isfinite(eta), real & (pt <= SQRT_S) & (pt * np.cosh(eta) > SQRT_S)],
                [_NOT_FINITE, _ABOVE_SQRT_S],
            )
            codes[..., 2] = np.select(
                [~np.isfinite(phi), real & (np.abs(phi) > MAX_ABS_PHI)], [_NOT_FINITE, _PHI_RANGE]
            )
            flat = codes.reshape(block.shape[0], 3 * n_slots)
            rows = slice(first, first + block.shape[0])
            bad[rows] = flat.any(axis=1)
            column[rows] = np.argmax(flat != 0, axis=1)
            code[rows] = np.take_along_axis(flat, column[rows, None], axis=1)[:, 0]
    return bad, column, code


def describe_invalid(constituents, column, code):
    """``"= -5: negative pT (…)"``: the value at flat ``column`` of one row and its fault.

    Parameters
    ----------
    constituents : ndarray of shape (P, 3)
        The row's ``(pT, η, φ)``.
    column, code : int
        As returned by :func:`invalid_constituents`.
    """
    slot, feature = divmod(int(column), 3)
    pt, eta, _ = (float(v) for v in constituents[slot])
    value = float(constituents[slot, feature])
    if code == _NOT_FINITE:
        reason = "not finite"
    elif code == _NEGATIVE_PT:
        reason = "negative pT (pT = 0 marks padding)"
    elif code == _ABOVE_SQRT_S and feature == 0:
        reason = f"pT above √s = {SQRT_S / 1000:g} TeV (damaged file?)"
    elif code == _ABOVE_SQRT_S:
        with np.errstate(over="ignore"):
            energy = pt * np.cosh(eta)
        reason = (
            f"with pT = {pt:.6g} GeV the energy pT·cosh η = {energy:.4g} GeV is above "
            f"√s = {SQRT_S / 1000:g} TeV (damaged file?)"
        )
    else:
        reason = "|φ| above 2π (damaged file?)"
    return f"= {value:.6g}: {reason}"


def count_invalid(code, bad):
    """Counts of bad rows by the key of their first invalid value."""
    counts = np.bincount(code[bad], minlength=len(INVALID_KEYS) + 1)
    return {key: int(counts[c]) for c, key in INVALID_KEYS.items() if counts[c]}
