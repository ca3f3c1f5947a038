"""Fast synthetic dijet events and boosted jets (numpy and numba)."""

import logging

import numpy as np
from sklearn.utils import check_random_state

from ..stats import dijet_function
from ..utils import progress
from ..utils._validation import COUNT, POSITIVE, POSITIVE_COUNT, validate
from ._defaults import JET_CLASSES, M_RESONANCE, M_X, M_Y, N_CONSTITUENTS
from ._event_table import EventTable
from ._jet_shower import prong_structure, qcd_jet_masses, shower_constituents

logger = logging.getLogger(__name__)

BACKGROUND_DIJET_PARAMS = (1.0, 10.0, 5.0, 0.0)
"""4-parameter dijet function (x = m_jj/13 TeV) that the background m_jj follows."""

JET_MASSES = {"W": 80.4, "Z": 91.2, "top": 172.8}
"""Masses in GeV of the boosted resonances of :func:`make_jets` (PDG values)."""

_JET_PRONGS = {"QCD": 1, "W": 2, "Z": 2, "top": 3}
# Relative jet-mass resolution of resonance jets (detector smearing and radiation).
_MASS_RESOLUTION = 0.05
# Largest |y*| = |Δy|/2 of the dijet pair and largest rapidity of a jet axis.
_MAX_Y_STAR = 1.3
_MAX_JET_RAPIDITY = 2.5


def as_generator(random_state):
    """A :class:`numpy.random.Generator` from anything scikit-learn accepts as random_state.

    Parameters
    ----------
    random_state : None, int, numpy.random.RandomState or numpy.random.Generator

    Returns
    -------
    numpy.random.Generator
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    return np.random.default_rng(seed)


@validate(
    {
        "n": [COUNT],
        "mjj_range": [tuple, list, np.ndarray],
        "params": ["array-like"],
        "random_state": ["random_state"],
    }
)
def sample_dijet_spectrum(n, mjj_range, *, params=BACKGROUND_DIJET_PARAMS, random_state=None):
    """Draw m_jj values from a dijet function by inverting its cumulative integral.

    Parameters
    ----------
    n : int
        Number of values.
    mjj_range : (float, float)
        Lower and upper m_jj in GeV.
    params : sequence of float, default=BACKGROUND_DIJET_PARAMS
        Dijet-function parameters (x = m_jj / 13 TeV).
    random_state : int, RandomState, Generator or None

    Returns
    -------
    ndarray of shape (n,)

    Examples
    --------
    >>> from hepcluster.datasets import sample_dijet_spectrum
    >>> mjj = sample_dijet_spectrum(1000, (2500.0, 6000.0), random_state=0)
    >>> bool(mjj.min() >= 2500.0 and mjj.max() <= 6000.0)
    True
    """
    rng = as_generator(random_state)
    low, high = mjj_range
    grid = np.geomspace(low, high, 8193)
    density = dijet_function(grid, params)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(grid))])
    cdf /= cdf[-1]
    return np.interp(rng.random(n), cdf, grid)


def _dijet_pt(mjj, mass_1, mass_2, y_star):
    """PT of a back-to-back pair with invariant mass mjj and rapidity difference 2y*."""
    cosh = np.cosh(2.0 * y_star)
    pt = mjj / (2.0 * np.cosh(y_star))
    for _ in range(8):  # Newton on m² = m1² + m2² + 2 (mT1 mT2 cosh Δy + pT²)
        mt_1, mt_2 = np.hypot(pt, mass_1), np.hypot(pt, mass_2)
        residual = mass_1**2 + mass_2**2 + 2.0 * (mt_1 * mt_2 * cosh + pt**2) - mjj**2
        slope = 2.0 * cosh * pt * (mt_2 / mt_1 + mt_1 / mt_2) + 4.0 * pt
        pt = np.maximum(pt - residual / slope, 1.0)
    return pt


def _place_jets(rng, local_constituents, rapidity, phi, out=None):
    """Move constituents given relative to the jet axis to absolute (η, φ ∈ (−π, π])."""
    placed = np.empty_like(local_constituents) if out is None else out
    pt = local_constituents[..., 0]
    real = pt > 0
    placed[..., 0] = pt
    placed[..., 1] = np.where(real, local_constituents[..., 1] + rapidity[:, None], 0.0)
    angle = local_constituents[..., 2] + phi[:, None]
    angle -= 2.0 * np.pi * np.ceil((angle - np.pi) / (2.0 * np.pi))
    placed[..., 2] = np.where(real, angle, 0.0)
    return placed


def _make_jets_of(rng, pt, mass, n_prongs, n_constituents, jet_radius, sub_mass=None):
    positions, prong_pt, prong_mass = prong_structure(rng, pt, mass, n_prongs, sub_mass)
    return shower_constituents(rng, positions, prong_pt, prong_mass, n_constituents, jet_radius)


def _dijet_sample(
    rng, mjj, masses, prongs, n_constituents, jet_radius, *, isotropic, out=None, bar=None
):
    """Constituents (n, 2, P, 3) of back-to-back jet pairs with the given targets.

    ``bar`` (a progress bar in jets), if given, advances by n after each of the two jets.
    """
    n = mjj.shape[0]
    constituents = np.empty((n, 2, n_constituents, 3)) if out is None else out
    if isotropic:  # s-channel resonance: cos θ* uniform
        cos_max = np.tanh(_MAX_Y_STAR)
        y_star = np.arctanh(rng.uniform(-cos_max, cos_max, n))
    else:  # t-channel QCD: dσ/dχ flat in χ = exp(|Δy|)
        chi = rng.uniform(1.0, np.exp(2.0 * _MAX_Y_STAR), n)
        y_star = 0.5 * np.log(chi) * rng.choice([-1.0, 1.0], n)
    y_boost = rng.normal(0.0, 0.6, n)
    y_boost = np.clip(
        y_boost, -(_MAX_JET_RAPIDITY - np.abs(y_star)), _MAX_JET_RAPIDITY - np.abs(y_star)
    )
    pt = _dijet_pt(mjj, masses[0], masses[1], y_star)
    phi = rng.uniform(-np.pi, np.pi, n)
    for jet, (rapidity, azimuth) in enumerate(
        [(y_boost + y_star, phi), (y_boost - y_star, np.angle(np.exp(1j * (phi + np.pi))))]
    ):
        local = _make_jets_of(rng, pt, masses[jet], prongs[jet], n_constituents, jet_radius)
        _place_jets(rng, local, rapidity, azimuth, out=constituents[:, jet])
        if bar is not None:
            bar.update(n)
    return constituents


@validate(
    {
        "n_background": [COUNT],
        "n_signal": [COUNT],
        "m_resonance": [POSITIVE],
        "m_x": [POSITIVE],
        "m_y": [POSITIVE],
        "n_constituents": [POSITIVE_COUNT],
        "mjj_range": [tuple, list, np.ndarray],
        "signal_width": [POSITIVE],
        "jet_radius": [POSITIVE],
        "random_state": ["random_state"],
    }
)
def make_dijet_events(
    n_background,
    n_signal,
    *,
    m_resonance=M_RESONANCE,
    m_x=M_X,
    m_y=M_Y,
    n_constituents=N_CONSTITUENTS,
    mjj_range=(2500.0, 7000.0),
    signal_width=0.06,
    jet_radius=1.0,
    random_state=None,
):
    """Generate synthetic QCD dijet events and a W′ → X Y → (qq)(qq) resonance signal.

    A fast stand-in for the LHC Olympics 2020 R&D data set (arXiv:2101.08320) with the
    features the clustering methods rely on: a falling m_jj spectrum for QCD, whose jets
    are one-prong with a broad Sudakov-like mass distribution that grows with pT; a
    resonance at ``m_resonance`` whose jets are two-prong with masses ``m_x`` and ``m_y``.

    Parameters
    ----------
    n_background : int
        Number of QCD dijet events.
    n_signal : int
        Number of signal events.
    m_resonance : float, default=3500.0
        Mass of the W′ in GeV.
    m_x, m_y : float, default=500.0, 100.0
        Masses of the two daughters in GeV; each decays to two quarks (two-prong jets).
    n_constituents : int, default=100
        Constituent slots P per jet; the softest particles beyond P are dropped.
    mjj_range : (float, float), default=(2500.0, 7000.0)
        Range of the background m_jj, drawn from the 4-parameter dijet function
        with :data:`BACKGROUND_DIJET_PARAMS`.
    signal_width : float, default=0.06
        Relative Gaussian width of the signal m_jj peak.
    jet_radius : float, default=1.0
        Jet radius R; particles farther from the axis are lost.
    random_state : int, RandomState instance, Generator or None, default=None
        Seed for reproducible events.

    Returns
    -------
    EventTable
        Background events first (event ids ``0 … n_background − 1``), then signal.

    Notes
    -----
    Jets are built from prongs placed with small-angle two-body kinematics,
    M² ≈ m₁²/z + m₂²/(1 − z) + z(1 − z) pT² θ², and sprayed into constituents with
    Gamma-distributed momentum fractions; jet masses, τ21 and m_jj are then computed
    from the constituents exactly as for real data.

    Examples
    --------
    >>> from hepcluster.datasets import make_dijet_events
    >>> events = make_dijet_events(1000, 100, random_state=0)
    >>> events
    EventTable(n_events=1100, n_signal=100, n_constituents=100, mjj=[...] GeV)
    """
    if n_background + n_signal == 0:
        raise ValueError("n_background + n_signal must be positive.")
    low, high = mjj_range
    if not 0 < low < high:
        raise ValueError(f"mjj_range must satisfy 0 < low < high, got {mjj_range}.")
    if m_x + m_y >= m_resonance:
        raise ValueError(f"m_x + m_y = {m_x + m_y} GeV must be below m_resonance.")
    rng = as_generator(random_state)
    n_events = n_background + n_signal
    # Progress in jets: two jets showered per event, then two jets measured (kinematics, τ21).
    bar = progress(total=4 * n_events, desc="make_dijet_events", unit="jet")
    constituents = np.empty((n_events, 2, n_constituents, 3))
    background, signal = constituents[:n_background], constituents[n_background:]
    if n_background:
        mjj = sample_dijet_spectrum(n_background, mjj_range, random_state=rng)
        pt_guess = mjj / 2.0
        masses = [qcd_jet_masses(rng, pt_guess), qcd_jet_masses(rng, pt_guess)]
        _dijet_sample(
            rng,
            mjj,
            masses,
            (1, 1),
            n_constituents,
            jet_radius,
            isotropic=False,
            out=background,
            bar=bar,
        )
    if n_signal:
        mjj = rng.normal(m_resonance, signal_width * m_resonance, n_signal)
        mjj = np.maximum(mjj, m_x + m_y + 1.0)
        masses = [
            m_x * (1.0 + _MASS_RESOLUTION * rng.standard_normal(n_signal)),
            m_y * (1.0 + _MASS_RESOLUTION * rng.standard_normal(n_signal)),
        ]
        _dijet_sample(
            rng,
            mjj,
            masses,
            (2, 2),
            n_constituents,
            jet_radius,
            isotropic=True,
            out=signal,
            bar=bar,
        )
    is_signal = np.repeat([False, True], [n_background, n_signal])
    metadata = {
        "generator": "hepcluster.datasets.make_dijet_events",
        "n_background": n_background,
        "n_signal": n_signal,
        "m_resonance": m_resonance,
        "m_x": m_x,
        "m_y": m_y,
        "mjj_range": list(mjj_range),
        "jet_radius": jet_radius,
    }
    with bar:
        table = EventTable.from_constituents(
            constituents, is_signal=is_signal, jet_radius=jet_radius, metadata=metadata
        )
        bar.update(2 * n_events)
    return table


@validate(
    {
        "n_per_class": [POSITIVE_COUNT],
        "classes": ["array-like"],
        "pt": [POSITIVE],
        "n_constituents": [POSITIVE_COUNT],
        "jet_radius": [POSITIVE],
        "return_jet_mass": ["boolean"],
        "random_state": ["random_state"],
    }
)
def make_jets(
    n_per_class,
    *,
    classes=JET_CLASSES,
    pt=1000.0,
    n_constituents=N_CONSTITUENTS,
    jet_radius=0.8,
    return_jet_mass=False,
    random_state=None,
):
    """Generate boosted W, Z, top and QCD jets for unsupervised multiclass classification.

    Resembles the hls4ml LHC jet data set used by UCluster (arXiv:2010.07106): jets of
    pT ≈ ``pt`` with R = 0.8, two prongs for W (80.4 GeV) and Z (91.2 GeV), three for top
    (172.8 GeV, t → bW), one broad prong for QCD.

    Parameters
    ----------
    n_per_class : int
        Number of jets of each class.
    classes : sequence of {"W", "Z", "top", "QCD"}, default=("W", "Z", "top")
        Classes to generate, in the order of the output.
    pt : float, default=1000.0
        Central jet pT in GeV; each jet's pT is uniform in [0.9, 1.1] × pt.
    n_constituents : int, default=100
        Constituent slots P per jet.
    jet_radius : float, default=0.8
        Jet radius R.
    return_jet_mass : bool, default=False
        Also return the jet masses computed from the constituents.
    random_state : int, RandomState instance, Generator or None, default=None
        Seed for reproducible jets.

    Returns
    -------
    X : ndarray of shape (n_per_class * n_classes, 3 * n_constituents)
        Constituent matrix ``(pT_1, η_1, φ_1, …)``, constituents sorted by decreasing pT.
    y : ndarray of shape (n_per_class * n_classes,), dtype object
        Class name of each jet.
    jet_mass : ndarray of shape (n_per_class * n_classes,)
        Only when ``return_jet_mass=True``.

    Examples
    --------
    >>> from hepcluster.datasets import make_jets
    >>> X, y = make_jets(10, random_state=0)
    >>> X.shape, sorted(set(y))
    ((30, 300), ['W', 'Z', 'top'])
    """
    from ..jets import jet_kinematics

    unknown = set(classes) - set(_JET_PRONGS)
    if unknown or len(classes) == 0:
        raise ValueError(f"classes must be taken from {sorted(_JET_PRONGS)}, got {classes!r}.")
    rng = as_generator(random_state)
    blocks = []
    for name in progress(classes, desc="make_jets", unit="class"):
        jet_pt = rng.uniform(0.9 * pt, 1.1 * pt, n_per_class)
        if name == "QCD":
            mass = qcd_jet_masses(rng, jet_pt)
            sub_mass = None
        else:
            mass = JET_MASSES[name] * (1.0 + _MASS_RESOLUTION * rng.standard_normal(n_per_class))
            sub_mass = JET_MASSES["W"] * (
                1.0 + _MASS_RESOLUTION * rng.standard_normal(n_per_class)
            )
        local = _make_jets_of(
            rng, jet_pt, mass, _JET_PRONGS[name], n_constituents, jet_radius, sub_mass
        )
        eta = rng.uniform(-2.0, 2.0, n_per_class)
        phi = rng.uniform(-np.pi, np.pi, n_per_class)
        blocks.append(_place_jets(rng, local, eta, phi))
    constituents = np.concatenate(blocks)
    X = constituents.reshape(constituents.shape[0], -1)
    y = np.repeat(np.asarray(classes, dtype=object), n_per_class)
    if return_jet_mass:
        return X, y, jet_kinematics(constituents).mass
    return X, y
