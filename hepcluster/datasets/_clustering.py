"""Anti-kT reclustering of particle lists into the two leading jets of each event (FastJet).

Shared by the LHC Olympics reader (:func:`~hepcluster.datasets.read_lhco`) and the Pythia8
generator (:func:`~hepcluster.datasets.generate_pythia_events`), so that both produce the same
:class:`~hepcluster.datasets.EventTable`. Whole chunks of events are clustered at once in C++
through FastJet's awkward-array interface (M. Cacciari, G. P. Salam, G. Soyez,
arXiv:1111.6097); the bookkeeping around it (selecting the two leading jets, gathering,
sorting and truncating their constituents) is vectorised numpy.
"""

import logging
from typing import NamedTuple

import numpy as np

from ..jets import dijet_mass, four_momentum_kinematics, tau21
from ._event_table import EventTable

logger = logging.getLogger(__name__)


class DijetClustering(NamedTuple):
    """The two leading anti-kT jets of a chunk of events.

    Attributes
    ----------
    keep : ndarray of shape (n_events,), dtype bool
        Events with at least two jets passing the cuts; all other arrays describe only these.
    constituents : ndarray of shape (n_kept, 2, P, 3)
        ``(pT, η, φ)`` of the constituents of the leading and sub-leading jet, sorted by
        decreasing pT, truncated to P and zero padded; the values are those given as input.
    jet_p4 : ndarray of shape (n_kept, 2, 4)
        ``(px, py, pz, E)`` of the two jets from all their constituents (E-scheme sums).
    n_jets : ndarray of shape (n_events,)
        Number of jets passing the cuts in every event (kept or not).
    n_constituents_truncated : int
        Constituents of the kept jets dropped because a jet had more than P of them.
    n_jets_truncated : int
        Kept jets that had more than P constituents.
    pt_truncated : float
        Scalar pT sum (GeV) of the dropped constituents; their share of the kept jets'
        constituent pT is ``pt_truncated / (pt_truncated + constituents[..., 0].sum())``.
    """

    keep: np.ndarray
    constituents: np.ndarray
    jet_p4: np.ndarray
    n_jets: np.ndarray
    n_constituents_truncated: int
    n_jets_truncated: int
    pt_truncated: float = 0.0


def massless_four_momenta(pt, eta, phi):
    """``(px, py, pz, E)`` of massless particles given as ``(pT, η, φ)``."""
    return pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)


def padded_to_flat(particles):
    """Ragged particle lists from a zero-padded (n_events, n_slots, 3) array.

    Parameters
    ----------
    particles : ndarray of shape (n_events, n_slots, 3)
        ``(pT, η, φ)``; slots with pT = 0 are padding and may sit anywhere.

    Returns
    -------
    pt, eta, phi : ndarray of shape (n_particles,)
        Real particles of all events, event after event.
    counts : ndarray of shape (n_events,)
        Number of particles of each event.
    """
    real = particles[:, :, 0] > 0
    flat = particles[real]
    return flat[:, 0], flat[:, 1], flat[:, 2], real.sum(axis=1)


def cluster_jets(pt, eta, phi, counts, *, jet_radius, min_jet_pt):
    """Cluster the particle lists of many events with anti-kT in one FastJet call.

    Parameters
    ----------
    pt, eta, phi : ndarray of shape (n_particles,)
        Particles of all events, event after event, as massless ``(pT [GeV], η, φ)``.
    counts : ndarray of shape (n_events,)
        Number of particles of each event.
    jet_radius : float
        Anti-kT radius R.
    min_jet_pt : float
        Jets with pT below this (GeV) are not jets (FastJet's ``inclusive_jets(ptmin)``).

    Returns
    -------
    jets : awkward.Array of shape (n_events, var)
        Records ``px, py, pz, E`` of the jets of every event, by decreasing pT.
    constituent_index : awkward.Array of shape (n_events, var, var)
        For every jet, the indices of its constituents within its event's particles.
    """
    import awkward as ak
    import fastjet

    px, py, pz, energy = massless_four_momenta(
        np.asarray(pt, dtype=np.float64),
        np.asarray(eta, dtype=np.float64),
        np.asarray(phi, dtype=np.float64),
    )
    particles = ak.unflatten(
        ak.zip({"px": px, "py": py, "pz": pz, "E": energy}), np.asarray(counts, dtype=np.int64)
    )
    definition = fastjet.JetDefinition(fastjet.antikt_algorithm, float(jet_radius))
    sequence = fastjet.ClusterSequence(particles, definition)
    jets = sequence.inclusive_jets(min_pt=float(min_jet_pt))
    constituent_index = sequence.constituent_index(min_pt=float(min_jet_pt))
    order = ak.argsort(np.hypot(jets.px, jets.py), axis=1, ascending=False, stable=True)
    return jets[order], constituent_index[order]


def gather_constituents(pt, eta, phi, counts, event, indices, n_constituents):
    """Constituents of selected jets as a zero-padded array sorted by decreasing pT.

    Parameters
    ----------
    pt, eta, phi, counts : ndarray
        The particles as given to :func:`cluster_jets`.
    event : ndarray of shape (n_jets,)
        Event of every selected jet.
    indices : awkward.Array of shape (n_jets, var)
        Constituent indices of every selected jet within its event.
    n_constituents : int
        Constituent slots P; the hardest P constituents are kept.

    Returns
    -------
    constituents : ndarray of shape (n_jets, P, 3)
        Input ``(pT, η, φ)`` values of the constituents.
    n_truncated : int
        Constituents dropped beyond P.
    n_jets_truncated : int
        Jets with more than P constituents.
    """
    constituents, n_truncated, n_jets_truncated, _ = _gather(
        pt, eta, phi, counts, event, indices, n_constituents
    )
    return constituents, n_truncated, n_jets_truncated


def _gather(pt, eta, phi, counts, event, indices, n_constituents):
    """:func:`gather_constituents` and the scalar pT sum of the dropped constituents."""
    import awkward as ak

    n_jets = len(event)
    per_jet = ak.to_numpy(ak.num(indices, axis=1)).astype(np.int64)
    local = ak.to_numpy(ak.flatten(indices, axis=None)).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    group = np.repeat(np.arange(n_jets), per_jet)
    source = starts[np.asarray(event, dtype=np.int64)][group] + local
    order = np.lexsort((-pt[source], group))
    group, source = group[order], source[order]
    group_start = np.concatenate([[0], np.cumsum(per_jet)[:-1]]).astype(np.int64)
    rank = np.arange(group.shape[0]) - group_start[group]
    stored = rank < n_constituents
    constituents = np.zeros((n_jets, n_constituents, 3))
    rows, slots, picked = group[stored], rank[stored], source[stored]
    constituents[rows, slots, 0] = pt[picked]
    constituents[rows, slots, 1] = eta[picked]
    constituents[rows, slots, 2] = phi[picked]
    excess = np.maximum(per_jet - n_constituents, 0)
    pt_truncated = float(pt[source[~stored]].sum())
    return constituents, int(excess.sum()), int(np.count_nonzero(excess)), pt_truncated


def jet_p4_array(jets):
    """``(px, py, pz, E)`` of an awkward array of jet records as an (..., 4) ndarray."""
    import awkward as ak

    return np.stack([ak.to_numpy(jets[name]) for name in ("px", "py", "pz", "E")], axis=-1)


def cluster_dijets(
    pt, eta, phi, counts, *, jet_radius, n_constituents, min_jet_pt, max_jet_eta=None
):
    """Cluster particle lists with anti-kT and keep the two leading jets of each event.

    Parameters
    ----------
    pt, eta, phi : ndarray of shape (n_particles,)
        Particles of all events, event after event, as massless ``(pT [GeV], η, φ)``.
    counts : ndarray of shape (n_events,)
        Number of particles of each event.
    jet_radius : float
        Anti-kT radius R.
    n_constituents : int
        Constituent slots P kept per jet (the hardest ones).
    min_jet_pt : float
        Jets with pT below this (GeV) are not jets (FastJet's ``inclusive_jets(ptmin)``).
    max_jet_eta : float, optional
        Jets with |η| at or above this are discarded before choosing the two leading ones.

    Returns
    -------
    DijetClustering
    """
    import awkward as ak

    pt = np.asarray(pt, dtype=np.float64)
    eta = np.asarray(eta, dtype=np.float64)
    phi = np.asarray(phi, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.int64)
    jets, constituent_index = cluster_jets(
        pt, eta, phi, counts, jet_radius=jet_radius, min_jet_pt=min_jet_pt
    )
    if max_jet_eta is not None:
        jet_eta = np.arcsinh(jets.pz / np.maximum(np.hypot(jets.px, jets.py), 1e-300))
        central = abs(jet_eta) < max_jet_eta
        jets, constituent_index = jets[central], constituent_index[central]
    n_jets = ak.to_numpy(ak.num(jets)).astype(np.int64)
    keep = n_jets >= 2
    n_kept = int(keep.sum())
    kept_jets = ak.to_regular(jets[keep][:, :2], axis=1)
    jet_p4 = jet_p4_array(kept_jets).reshape(n_kept, 2, 4)
    indices = ak.flatten(constituent_index[keep][:, :2], axis=1)
    event = np.repeat(np.flatnonzero(keep), 2)
    constituents, n_truncated, n_jets_truncated, pt_truncated = _gather(
        pt, eta, phi, counts, event, indices, n_constituents
    )
    return DijetClustering(
        keep=keep,
        constituents=constituents.reshape(n_kept, 2, n_constituents, 3),
        jet_p4=jet_p4,
        n_jets=n_jets,
        n_constituents_truncated=n_truncated,
        n_jets_truncated=n_jets_truncated,
        pt_truncated=pt_truncated,
    )


def dijet_columns(clustering, *, jet_radius):
    """The per-event and per-jet arrays of an :class:`EventTable` from a clustering.

    Jet kinematics and m_jj come from the full jets (all constituents); τ21 from the
    stored (at most P) constituents, as :meth:`EventTable.from_constituents` computes it.

    Parameters
    ----------
    clustering : DijetClustering
    jet_radius : float
        R0 of the N-subjettiness normalisation.

    Returns
    -------
    dict
        ``constituents, mjj, jet_pt, jet_eta, jet_phi, jet_mass, tau21``.
    """
    constituents = clustering.constituents
    n_kept, _, n_slots, _ = constituents.shape
    kinematics = four_momentum_kinematics(clustering.jet_p4)
    if n_kept:
        jet_tau21 = tau21(constituents.reshape(2 * n_kept, n_slots, 3), R0=jet_radius)
    else:
        jet_tau21 = np.zeros(0)
    return {
        "constituents": constituents.astype(np.float32),
        "mjj": dijet_mass(clustering.jet_p4[:, 0], clustering.jet_p4[:, 1]),
        "jet_pt": kinematics.pt,
        "jet_eta": kinematics.eta,
        "jet_phi": kinematics.phi,
        "jet_mass": kinematics.mass,
        "tau21": jet_tau21.reshape(n_kept, 2),
    }


def concatenate_columns(parts, n_constituents):
    """Concatenate the dicts of :func:`dijet_columns` of several chunks."""
    if not parts:
        empty = {
            "constituents": np.zeros((0, 2, n_constituents, 3), np.float32),
            "mjj": np.zeros(0),
        }
        empty.update(
            {name: np.zeros((0, 2)) for name in ("jet_pt", "jet_eta", "jet_phi", "jet_mass")}
        )
        empty["tau21"] = np.zeros((0, 2))
        return empty
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def event_table_from_columns(columns, *, is_signal, event_id, weight, metadata):
    """Build an :class:`EventTable` from :func:`dijet_columns` output and event labels."""
    return EventTable(
        **columns, is_signal=is_signal, event_id=event_id, weight=weight, metadata=metadata
    )
