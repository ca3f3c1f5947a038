"""EventTable: the two leading jets of dijet events with their constituents and summaries."""

import logging
from dataclasses import dataclass, field, fields

import numpy as np

from ..jets import (
    as_constituent_array,
    dijet_mass,
    four_momentum_kinematics,
    jet_four_momenta,
    tau21,
)

logger = logging.getLogger(__name__)

_PER_EVENT_FIELDS = ("mjj", "is_signal", "event_id", "weight")
_PER_JET_FIELDS = ("jet_pt", "jet_eta", "jet_phi", "jet_mass", "tau21")
_FORMAT_VERSION = 1


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
        Provenance: generator or source file, parameters, counts of events cut.

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
        self.metadata = dict(self.metadata)

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

        Parameters
        ----------
        path : str or path-like
        """
        import json

        import h5py

        with h5py.File(path, "w") as file:
            file.attrs["hepcluster_event_table"] = _FORMAT_VERSION
            file.attrs["metadata"] = json.dumps(self.metadata, default=str)
            for f in fields(self):
                if f.name == "metadata":
                    continue
                options = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
                data = getattr(self, f.name)
                file.create_dataset(f.name, data=data, **(options if data.size > 1 else {}))

    @classmethod
    def read_hdf5(cls, path):
        """Read a table written by :meth:`to_hdf5`.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        EventTable
        """
        import json

        import h5py

        with h5py.File(path, "r") as file:
            if "hepcluster_event_table" not in file.attrs:
                raise ValueError(f"{path} is not an EventTable file written by hepcluster.")
            values = {f.name: file[f.name][()] for f in fields(cls) if f.name != "metadata"}
            metadata = json.loads(file.attrs["metadata"])
        return cls(**values, metadata=metadata)

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
