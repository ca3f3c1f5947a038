"""Per-particle inputs of UCluster's networks and the targets of its auxiliary tasks.

Pure numpy: everything the Keras models see is computed here from the constituent matrix
(pT, η, φ per constituent, zero padded), so that it can be tested without TensorFlow.

- Jets (classification): per particle Δη, Δφ, log pT, log E, log(pT/pT_jet),
  log(E/E_jet), ΔR relative to the jet axis, the kNN coordinates (Δη, Δφ) and the mask of
  real particles; the target is the jet mass in 20 bins of 10–200 GeV (optionally the
  soft-drop groomed mass, :data:`TARGET_MASSES`).
- Events (segmentation): the same seven features relative to the axis of the jet each
  particle belongs to plus the index of that jet, coordinates in the frame of the leading
  jet (so the two back-to-back jets never share neighbours), four global event features
  (log m_J1, log m_J2, τ21 of both jets) and, per particle, the mass of its jet in 20 bins
  of 10–1000 GeV.

References
----------
V. Mikuni, F. Canelli, "Unsupervised clustering for collider physics", Phys. Rev. D 103
(2021) 092007, arXiv:2010.07106, §2–4.
"""

from typing import NamedTuple

import numpy as np

from ..jets import (
    as_constituent_array,
    four_momentum_kinematics,
    jet_four_momenta,
    softdrop_mass,
    tau21,
)

__all__ = [
    "EVENT_MASS_BINS",
    "JET_MASS_BINS",
    "N_EVENT_FEATURES",
    "N_GLOBAL_FEATURES",
    "N_JET_FEATURES",
    "TARGET_MASSES",
    "FeatureMoments",
    "NetworkInputs",
    "check_constituent_matrix",
    "check_event_layout",
    "event_inputs",
    "event_mass_targets",
    "event_matrix",
    "feature_scaling",
    "jet_inputs",
    "jet_mass_targets",
    "mass_bin_targets",
]

JET_MASS_BINS = (10.0, 200.0, 20)
"""Auxiliary target of the jet task: jet mass in 20 bins of 10–200 GeV (arXiv:2010.07106, §3)."""

EVENT_MASS_BINS = (10.0, 1000.0, 20)
"""Auxiliary target of the event task: mass of each particle's jet, 20 bins of 10–1000 GeV (§4)."""

TARGET_MASSES = ("ungroomed", "softdrop")
"""Jet masses the auxiliary targets can be built from: the mass of all constituents (the
paper's target) or the soft-drop groomed mass with z_cut = 0.1, β = 0, R0 = 0.8 (A. J.
Larkoski, S. Marzani, G. Soyez, J. Thaler, JHEP 05 (2014) 146, arXiv:1402.2657), which
removes soft wide-angle radiation (underlying event, initial-state radiation) from the jet."""

N_JET_FEATURES = 7
"""Δη, Δφ, log pT, log E, log(pT/pT_jet), log(E/E_jet), ΔR."""

N_EVENT_FEATURES = N_JET_FEATURES + 1
"""The jet features plus the index (0 leading, 1 sub-leading) of the particle's jet."""

N_GLOBAL_FEATURES = 4
"""log m_J1, log m_J2, τ21 of the leading and of the sub-leading jet."""

# Jet masses below this value (GeV) are clipped before the logarithm of the global features.
_MIN_LOG_MASS = 1.0


class NetworkInputs(NamedTuple):
    """Arrays fed to an ABCNet: features, kNN coordinates, mask and global features.

    Attributes
    ----------
    features : ndarray of shape (n, P, n_features), float32
        Per-particle features, zero for padding.
    coordinates : ndarray of shape (n, P, 2), float32
        Coordinates of the first k-nearest-neighbour search.
    mask : ndarray of shape (n, P), float32
        1 for real particles, 0 for padding.
    globals : ndarray of shape (n, 4), float32, or None
        Global event features (event task only).
    """

    features: np.ndarray
    coordinates: np.ndarray
    mask: np.ndarray
    globals: np.ndarray | None = None

    def as_dict(self):
        """The arrays keyed by the names of the Keras model inputs."""
        inputs = {"features": self.features, "coordinates": self.coordinates, "mask": self.mask}
        if self.globals is not None:
            inputs["globals"] = self.globals
        return inputs

    def __len__(self):
        return self.features.shape[0]

    def take(self, index):
        """The inputs of a subset of the samples."""
        return NetworkInputs(
            self.features[index],
            self.coordinates[index],
            self.mask[index],
            None if self.globals is None else self.globals[index],
        )


def check_constituent_matrix(X, *, n_jets_per_sample=1, where="X"):
    """Validate a (2-D) constituent matrix and return it as (n, n_jets, P, 3) float64.

    Parameters
    ----------
    X : array-like of shape (n, n_jets_per_sample · 3 · P)
        Constituent matrix: ``(pT_1, η_1, φ_1, pT_2, …)`` of each jet, jets side by side.
    n_jets_per_sample : int, default=1
        1 for jets, 2 for dijet events.
    where : str, default="X"
        Name used in error messages.

    Returns
    -------
    ndarray of shape (n, n_jets_per_sample, P, 3)

    Raises
    ------
    ValueError
        On a width that is not a multiple of ``3 · n_jets_per_sample``, NaN or infinity,
        a negative pT, or a jet without any constituent.
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{where} must be a 2-D constituent matrix, got shape {X.shape}.")
    width = X.shape[1]
    unit = 3 * n_jets_per_sample
    if width == 0 or width % unit != 0:
        what = "(pT, eta, phi) per constituent" + (
            f" for each of {n_jets_per_sample} jets" if n_jets_per_sample > 1 else ""
        )
        raise ValueError(
            f"{where} must have a multiple of {unit} columns ({what}); got {width} columns."
        )
    n_slots = width // unit
    pt = X[:, 0::3]
    if np.issubdtype(pt.dtype, np.number) and np.any(pt < 0):
        raise ValueError(
            f"Negative values in data passed as {where}: the pT of a constituent (every "
            "third column) must be >= 0, pT = 0 marks padding."
        )
    constituents = as_constituent_array(X.reshape(X.shape[0] * n_jets_per_sample, 3 * n_slots))
    empty = ~np.any(constituents[:, :, 0] > 0.0, axis=1)
    if np.any(empty):
        rows = np.flatnonzero(empty) // n_jets_per_sample
        raise ValueError(
            f"{where} contains {int(empty.sum())} jet(s) without any constituent (all pT = 0, "
            f"all padding), e.g. in row {int(rows[0])}; remove them before fitting or "
            "transforming."
        )
    return constituents.reshape(X.shape[0], n_jets_per_sample, n_slots, 3)


def _wrap(phi):
    return np.mod(phi + np.pi, 2.0 * np.pi) - np.pi


def _relative_features(constituents):
    """Seven per-particle features relative to each jet's axis, and (Δη, Δφ).

    ``constituents`` has shape (m, P, 3); returns features (m, P, 7), mask (m, P), the
    jet kinematics and the jet energy.
    """
    p4 = jet_four_momenta(constituents)
    jet = four_momentum_kinematics(p4)
    pt = constituents[:, :, 0]
    real = pt > 0.0
    eta = constituents[:, :, 1]
    d_eta = eta - jet.eta[:, None]
    d_phi = _wrap(constituents[:, :, 2] - jet.phi[:, None])
    safe_pt = np.where(real, pt, 1.0)
    energy = safe_pt * np.cosh(eta)
    log_pt = np.log(safe_pt)
    log_e = np.log(energy)
    features = np.stack(
        [
            d_eta,
            d_phi,
            log_pt,
            log_e,
            log_pt - np.log(jet.pt)[:, None],
            log_e - np.log(p4[:, 3])[:, None],
            np.hypot(d_eta, d_phi),
        ],
        axis=-1,
    )
    features[~real] = 0.0
    return features, real, jet


def jet_inputs(X):
    """Network inputs of the jet (classification) task.

    Parameters
    ----------
    X : array-like of shape (n_jets, 3 · P)
        Constituent matrix ``(pT_1, η_1, φ_1, pT_2, …)``, zero padded.

    Returns
    -------
    NetworkInputs
        ``features`` (n_jets, P, 7): Δη, Δφ, log pT, log E, log(pT/pT_jet), log(E/E_jet)
        and ΔR with respect to the jet axis (pT in GeV); ``coordinates`` (Δη, Δφ);
        ``mask``; no global features.

    Raises
    ------
    ValueError
        See :func:`check_constituent_matrix`.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.ucluster._features import jet_inputs
    >>> X = np.array([[300.0, 0.1, 0.0, 100.0, -0.1, 0.0, 0.0, 0.0, 0.0]])
    >>> inputs = jet_inputs(X)
    >>> inputs.features.shape, inputs.mask.tolist()
    ((1, 3, 7), [[1.0, 1.0, 0.0]])
    >>> inputs.features[0, :2, 6].round(3)  # ΔR to the jet axis
    array([0.05, 0.15], dtype=float32)
    """
    constituents = check_constituent_matrix(X)[:, 0]
    features, real, _ = _relative_features(constituents)
    return NetworkInputs(
        features=features.astype(np.float32),
        coordinates=np.ascontiguousarray(features[:, :, :2], dtype=np.float32),
        mask=real.astype(np.float32),
    )


def check_event_layout(eta, phi, jet_radius=1.0):
    """Raise when the two "jets" of most rows overlap: a jet matrix read as events.

    The event task reads each row as the constituents of two jets side by side. A jet
    constituent matrix of 6·P columns has the same width, read as its hardest P
    constituents and the next P; both halves then point along the same jet axis, while
    two anti-kT jets of radius R are at least about R apart.

    Parameters
    ----------
    eta, phi : ndarray of shape (n_events, 2)
        Axes of the leading and sub-leading jet of each event.
    jet_radius : float, default=1.0

    Raises
    ------
    ValueError
        If more than half of the events have ΔR(J1, J2) < ``jet_radius`` / 2.
    """
    d_phi = _wrap(phi[:, 0] - phi[:, 1])
    distance = np.hypot(eta[:, 0] - eta[:, 1], d_phi)
    overlapping = distance < 0.5 * jet_radius
    if len(distance) and overlapping.mean() > 0.5:
        raise ValueError(
            f"X does not look like dijet events: in {overlapping.mean():.0%} of the rows "
            "the two halves (read as the leading and the sub-leading jet) are closer than "
            f"ΔR = {0.5 * jet_radius:g} (median {np.median(distance):.2f}), as the hardest "
            "and the softer constituents of one jet would be. task='events' needs "
            "(n_events, 2·3·P) with two jets side by side; a jet constituent matrix "
            "(n_jets, 3·P) needs task='jets'."
        )


def event_inputs(X, *, jet_radius=1.0):
    """Network inputs of the event (segmentation) task.

    Parameters
    ----------
    X : array-like of shape (n_events, 2 · 3 · P)
        The constituent matrices of the leading and of the sub-leading jet side by side,
        e.g. ``events.constituents.reshape(n_events, -1)`` of an
        :class:`~hepcluster.datasets.EventTable` (see
        :func:`event_matrix`).
    jet_radius : float, default=1.0
        R0 of the N-subjettiness normalisation of τ21.

    Returns
    -------
    NetworkInputs
        ``features`` (n_events, 2P, 8): the seven jet features relative to the axis of the
        particle's own jet and the index of that jet; ``coordinates`` (η − η_J1,
        Δφ to J1), in which the two jets are far apart; ``mask``; ``globals`` (n_events, 4):
        log m_J1, log m_J2 (GeV, clipped at 1 GeV), τ21 of both jets.

    Raises
    ------
    ValueError
        See :func:`check_constituent_matrix` and :func:`check_event_layout`.
    """
    constituents = check_constituent_matrix(X, n_jets_per_sample=2)
    n_events, _, n_slots, _ = constituents.shape
    flat = constituents.reshape(2 * n_events, n_slots, 3)
    features, real, jet = _relative_features(flat)
    check_event_layout(jet.eta.reshape(n_events, 2), jet.phi.reshape(n_events, 2), jet_radius)
    jet_index = np.broadcast_to(
        np.repeat(np.tile([0.0, 1.0], n_events), n_slots).reshape(2 * n_events, n_slots, 1),
        (2 * n_events, n_slots, 1),
    )
    features = np.concatenate([features, np.where(real[..., None], jet_index, 0.0)], axis=-1)
    features = features.reshape(n_events, 2 * n_slots, N_EVENT_FEATURES)
    real = real.reshape(n_events, 2 * n_slots)
    lead_eta = jet.eta.reshape(n_events, 2)[:, 0]
    lead_phi = jet.phi.reshape(n_events, 2)[:, 0]
    eta = flat[:, :, 1].reshape(n_events, 2 * n_slots)
    phi = flat[:, :, 2].reshape(n_events, 2 * n_slots)
    coordinates = np.stack([eta - lead_eta[:, None], _wrap(phi - lead_phi[:, None])], axis=-1)
    coordinates[~real] = 0.0
    mass = jet.mass.reshape(n_events, 2)
    jet_tau21 = np.nan_to_num(tau21(flat, R0=jet_radius), nan=0.0).reshape(n_events, 2)
    global_features = np.concatenate([np.log(np.maximum(mass, _MIN_LOG_MASS)), jet_tau21], axis=1)
    return NetworkInputs(
        features=features.astype(np.float32),
        coordinates=coordinates.astype(np.float32),
        mask=real.astype(np.float32),
        globals=global_features.astype(np.float32),
    )


class FeatureMoments:
    """Running mean and SD of the particle and global features over chunks of data.

    :meth:`add` takes the packed inputs of a chunk
    (:class:`~hepcluster.ucluster._packing.PackedSamples`, real particles only); :meth:`scaling`
    gives what :func:`feature_scaling` gives on all chunks at once (sums in float64).
    """

    def __init__(self):
        self._sums = {}

    def _add(self, name, values):
        values = np.asarray(values, dtype=np.float64)
        count, total, squares = self._sums.get(name, (0, 0.0, 0.0))
        self._sums[name] = (
            count + len(values),
            total + values.sum(axis=0),
            squares + np.square(values).sum(axis=0),
        )

    def add(self, packed):
        """Accumulate the features of one chunk of packed samples."""
        self._add("particles", packed.features)
        if packed.globals is not None:
            self._add("globals", packed.globals)

    def scaling(self):
        """``(particles, globals)``: (mean, scale) lists as in :func:`feature_scaling`."""

        def moments(name):
            if name not in self._sums:
                return None
            count, total, squares = self._sums[name]
            mean = total / max(count, 1)
            scale = np.sqrt(np.maximum(squares / max(count, 1) - mean**2, 0.0))
            scale = np.where(scale > 1e-6, scale, 1.0)
            return mean.tolist(), scale.tolist()

        return moments("particles"), moments("globals")


def feature_scaling(inputs):
    """Mean and standard deviation of the particle and global features of a data set.

    Parameters
    ----------
    inputs : NetworkInputs

    Returns
    -------
    particles : (list of float, list of float)
        Mean and scale of each particle feature over the real particles.
    globals : (list of float, list of float) or None
        The same for the global features.

    Notes
    -----
    A scale below 10⁻⁶ (a constant feature) is replaced by 1.
    """

    def moments(values):
        values = np.asarray(values, dtype=np.float64)
        mean = values.mean(axis=0)
        scale = values.std(axis=0)
        scale = np.where(scale > 1e-6, scale, 1.0)
        return mean.tolist(), scale.tolist()

    particles = moments(inputs.features[inputs.mask > 0])
    global_moments = None if inputs.globals is None else moments(inputs.globals)
    return particles, global_moments


def mass_bin_targets(mass, bins=JET_MASS_BINS):
    """Index of the mass bin of each value: the auxiliary classification target.

    Parameters
    ----------
    mass : array-like
        Masses in GeV.
    bins : (float, float, int), default=(10.0, 200.0, 20)
        ``(low, high, n_bins)`` of equal-width bins; masses below ``low`` go to the first
        bin and masses at or above ``high`` to the last one.

    Returns
    -------
    ndarray of int64, same shape as ``mass``

    Examples
    --------
    >>> from hepcluster.ucluster._features import mass_bin_targets
    >>> mass_bin_targets([0.0, 15.0, 80.4, 91.2, 172.8, 500.0]).tolist()
    [0, 0, 7, 8, 17, 19]
    """
    low, high, n_bins = bins
    mass = np.asarray(mass, dtype=np.float64)
    index = np.floor((mass - low) / (high - low) * n_bins)
    return np.clip(np.nan_to_num(index, nan=0.0), 0, n_bins - 1).astype(np.int64)


def _jet_masses(constituents, mass):
    """Masses (GeV) of jets (m, P, 3): ungroomed or soft-drop groomed."""
    if mass not in TARGET_MASSES:
        raise ValueError(f"mass must be one of {TARGET_MASSES}, got {mass!r}.")
    if mass == "softdrop":
        return softdrop_mass(constituents)
    return four_momentum_kinematics(jet_four_momenta(constituents)).mass


def jet_mass_targets(X, bins=JET_MASS_BINS, mass="ungroomed"):
    """Jet-mass bin of each jet of a constituent matrix (the jet task's target).

    Parameters
    ----------
    X : array-like of shape (n_jets, 3 · P)
    bins : (float, float, int), default=(10.0, 200.0, 20)
    mass : {"ungroomed", "softdrop"}, default="ungroomed"
        The mass of all constituents (the paper's target) or the soft-drop groomed mass
        (z_cut = 0.1, β = 0, R0 = 0.8; :func:`hepcluster.jets.softdrop_mass`).

    Returns
    -------
    ndarray of shape (n_jets,), int64

    Examples
    --------
    A soft wide-angle particle raises the mass of a two-prong jet by 11 GeV, one bin;
    soft drop removes it.

    >>> import numpy as np
    >>> from hepcluster.ucluster._features import jet_mass_targets
    >>> X = np.array([[400.0, 0.0, 0.0, 300.0, 0.2, 0.0, 5.0, 0.0, 0.7]])
    >>> jet_mass_targets(X).tolist(), jet_mass_targets(X, mass="softdrop").tolist()
    ([7], [6])
    """
    constituents = check_constituent_matrix(X)[:, 0]
    return mass_bin_targets(_jet_masses(constituents, mass), bins)


def event_mass_targets(X, bins=EVENT_MASS_BINS, mass="ungroomed"):
    """Per particle, the mass bin of the jet it belongs to (the event task's target).

    Parameters
    ----------
    X : array-like of shape (n_events, 2 · 3 · P)
    bins : (float, float, int), default=(10.0, 1000.0, 20)
    mass : {"ungroomed", "softdrop"}, default="ungroomed"
        See :func:`jet_mass_targets`.

    Returns
    -------
    ndarray of shape (n_events, 2P), int64
        Bin index of the particle's jet mass; −1 for padding.
    """
    constituents = check_constituent_matrix(X, n_jets_per_sample=2)
    n_events, _, n_slots, _ = constituents.shape
    flat = constituents.reshape(2 * n_events, n_slots, 3)
    masses = _jet_masses(flat, mass)
    target = np.repeat(mass_bin_targets(masses, bins), n_slots).reshape(2 * n_events, n_slots)
    target[flat[:, :, 0] <= 0.0] = -1
    return target.reshape(n_events, 2 * n_slots)


def event_matrix(events):
    """The constituent matrix of dijet events: both jets side by side.

    Parameters
    ----------
    events : EventTable

    Returns
    -------
    ndarray of shape (n_events, 2 · 3 · P), float32
        ``(pT_1, η_1, φ_1, …)`` of the leading jet, then of the sub-leading jet: the input
        of ``UClusterEmbedding(task="events")``.

    Examples
    --------
    >>> from hepcluster.datasets import make_dijet_events
    >>> from hepcluster.ucluster._features import event_matrix
    >>> event_matrix(make_dijet_events(10, 2, n_constituents=20, random_state=0)).shape
    (12, 120)
    """
    constituents = np.asarray(events.constituents, dtype=np.float32)
    if constituents.ndim != 4 or constituents.shape[1:2] + constituents.shape[3:] != (2, 3):
        raise ValueError(
            f"events.constituents must have shape (n_events, 2, P, 3), got {constituents.shape}."
        )
    return constituents.reshape(constituents.shape[0], -1)
