"""Vectorised synthetic jets: hard prongs from two-body splittings plus collinear sprays.

A jet is built from up to three *leaf prongs* (one for QCD, two for W/Z/X/Y, three for top)
placed with the small-angle two-body kinematics

    M² ≈ m₁²/z + m₂²/(1 − z) + z(1 − z) pT² θ²,

so that the jet mass comes out at the requested value; each prong is a spray of
constituents whose own mass is a small QCD-like fraction of its pT, and a little soft
wide-angle radiation fills the jet. The prongs are placed vectorised over jets (numpy), the
sprays by a parallel numba kernel (:mod:`._shower_kernels`).
"""

import numpy as np

from ._shower_kernels import shower_kernel

# Fragmentation: momentum fractions inside a prong ~ Gamma(shape); harder particles sit
# closer to the prong axis with offsets ∝ (x / x_max)^(-_COLLINEAR_POWER).
_FRAGMENTATION_SHAPE = 0.6
_COLLINEAR_POWER = 0.3
_MAX_OFFSET_RATIO = 10.0
# Internal mass of a quark prong, m/pT ~ LogNormal(log(0.035), 0.35), capped below.
_PRONG_MASS_OVER_PT = 0.035
_PRONG_MASS_SPREAD = 0.35
# QCD jets: momentum fraction of the hardest emission and share of M² in the core spread.
_QCD_Z_RANGE = (0.03, 0.5)
_QCD_CORE_SHARE = (0.05, 0.9)
# Soft wide-angle radiation: fraction of the jet pT and of the constituents.
_SOFT_PT_FRACTION = (0.001, 0.005)
_SOFT_PARTICLE_FRACTION = 0.15
# Mean multiplicity: a + b·ln(pT / 100 GeV) for a one-prong jet, +30 % per extra prong.
_MULTIPLICITY = (20.0, 10.0, 0.3)


def qcd_jet_masses(rng, pt):
    """Draw broad one-prong QCD jet masses for jets of transverse momentum ``pt``.

    The Sudakov-shaped distribution is modelled as log(m/pT) ~ Normal(log 0.04, 0.6),
    truncated to 5 GeV < m < 0.3 pT.
    """
    ratio = np.exp(rng.normal(np.log(0.04), 0.6, size=np.shape(pt)))
    return np.clip(ratio * pt, 5.0, 0.3 * np.asarray(pt))


def _split(rng, parent_position, parent_pt, parent_mass, mass_1, mass_2, z):
    """Two-body splitting in the small-angle limit; returns the daughters' axes."""
    theta_squared = (parent_mass**2 - mass_1**2 / z - mass_2**2 / (1.0 - z)) / (
        z * (1.0 - z) * parent_pt**2
    )
    theta = np.sqrt(np.clip(theta_squared, 0.0, None))
    angle = rng.uniform(-np.pi, np.pi, size=parent_pt.shape[0])
    direction = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    # The pT-weighted centroid of the two daughters stays on the parent axis.
    return (
        parent_position + ((1.0 - z) * theta)[:, None] * direction,
        parent_position - (z * theta)[:, None] * direction,
    )


def _prong_mass(rng, prong_pt, parent_mass):
    ratio = np.exp(rng.normal(np.log(_PRONG_MASS_OVER_PT), _PRONG_MASS_SPREAD, prong_pt.shape))
    # Keep the splitting kinematically allowed: a prong stays much lighter than its parent.
    return np.minimum(ratio * prong_pt, 0.15 * parent_mass)


def _two_body(rng, parent_position, parent_pt, parent_mass, z_range, mass_2=None):
    """Split a parent into two prongs; the second may carry a fixed (intermediate) mass."""
    z = rng.uniform(z_range[0], z_range[1], size=parent_pt.shape[0])
    mass_1 = _prong_mass(rng, z * parent_pt, parent_mass)
    if mass_2 is None:
        mass_2 = _prong_mass(rng, (1.0 - z) * parent_pt, parent_mass)
    position_1, position_2 = _split(
        rng, parent_position, parent_pt, parent_mass, mass_1, mass_2, z
    )
    return (position_1, z * parent_pt, mass_1), (position_2, (1.0 - z) * parent_pt, mass_2)


def _qcd_splitting(rng, origin, pt, mass):
    """A one-prong QCD jet: a hard core plus one soft emission at a wider angle.

    The emission's momentum fraction z follows the soft-enhanced ~1/z splitting function
    (log-uniform in [0.03, 0.5]); a fraction r ~ U(0.05, 0.9) of M² comes from the core's
    own spread, the rest from the emission angle. Small z or large r look one-prong
    (high τ21), larger z and small r look two-prong, giving QCD's broad τ21 distribution.
    """
    n = pt.shape[0]
    z = np.exp(rng.uniform(np.log(_QCD_Z_RANGE[0]), np.log(_QCD_Z_RANGE[1]), n))
    core_share = rng.uniform(*_QCD_CORE_SHARE, n)
    core_mass = mass * np.sqrt(core_share * (1.0 - z))
    emission_mass = np.minimum(_prong_mass(rng, z * pt, mass), 0.5 * mass * np.sqrt(z))
    emission_position, core_position = _split(rng, origin, pt, mass, emission_mass, core_mass, z)
    return [(core_position, (1.0 - z) * pt, core_mass), (emission_position, z * pt, emission_mass)]


def prong_structure(rng, pt, mass, n_prongs, sub_mass=None):
    """Positions (η, φ offsets), pTs and internal masses of the leaf prongs of each jet.

    Parameters
    ----------
    rng : numpy.random.Generator
    pt, mass : ndarray of shape (n,)
        Jet transverse momentum and target mass (GeV).
    n_prongs : {1, 2, 3}
        1: one QCD spray of mass ``mass``; 2: a two-body decay; 3: a cascade
        (e.g. t → bW, W → qq̄) where the second daughter has mass ``sub_mass``.
    sub_mass : ndarray of shape (n,), optional
        Intermediate mass of the three-prong cascade (the W in top decays).

    Returns
    -------
    positions : ndarray of shape (n, 3, 2)
    prong_pt : ndarray of shape (n, 3)
        Zero for unused prongs.
    prong_mass : ndarray of shape (n, 3)
    """
    n = pt.shape[0]
    positions = np.zeros((n, 3, 2))
    prong_pt = np.zeros((n, 3))
    prong_mass = np.zeros((n, 3))
    origin = np.zeros((n, 2))
    if n_prongs == 1:
        leaves = _qcd_splitting(rng, origin, pt, mass)
    elif n_prongs == 2:
        # z of a boosted two-body decay, trimmed where the softer prong would leave any jet.
        leaves = list(_two_body(rng, origin, pt, mass, (0.1, 0.9)))
    elif n_prongs == 3:
        if sub_mass is None:
            raise ValueError("a three-prong jet needs the intermediate mass sub_mass.")
        b_quark, intermediate = _two_body(rng, origin, pt, mass, (0.15, 0.6), mass_2=sub_mass)
        leaves = [b_quark, *_two_body(rng, intermediate[0], intermediate[1], sub_mass, (0.1, 0.9))]
    else:
        raise ValueError(f"n_prongs must be 1, 2 or 3, got {n_prongs}.")
    for k, (position, leaf_pt, leaf_mass) in enumerate(leaves):
        positions[:, k] = position
        prong_pt[:, k] = leaf_pt
        prong_mass[:, k] = leaf_mass
    return positions, prong_pt, prong_mass


def _max_multiplicity(n_constituents):
    """Largest number of particles drawn per jet (the softest beyond P are dropped anyway)."""
    return max(int(1.5 * n_constituents), 8)


def shower_constituents(rng, positions, prong_pt, prong_mass, n_constituents, jet_radius):
    """Spray each prong into massless constituents relative to the jet axis.

    Per jet: a Poisson multiplicity (mean a + b·ln(pT / 100 GeV), +30 % per extra prong,
    clipped to [n_prongs + 2, max(1.5 P, 8)]); the first particles seed every prong, the
    others go to a prong with probability ∝ sqrt(prong pT) or, 15 % of them, to soft
    radiation. Momentum fractions ~ Gamma(0.6) are normalised per prong; prong particles
    sit at Gaussian offsets × min((x / x_max)^-0.3, 10), recentred on the prong axis and
    scaled so that the prong has its mass, m_k² ≈ p_k² Σ_i x_i |δ_i − δ̄|²; soft particles
    carry a fraction U(0.001, 0.005) of the jet pT, uniform in azimuth and in radius ∈ [0, R].

    The jets are showered in parallel by a numba kernel; each jet draws from its own random
    stream, seeded from ``rng``, so the output depends only on the state of ``rng``, never
    on the number of threads.

    Parameters
    ----------
    rng : numpy.random.Generator
    positions, prong_pt, prong_mass : ndarray
        Output of :func:`prong_structure`.
    n_constituents : int
        Number of constituent slots P; the softest particles beyond P are dropped.
    jet_radius : float
        Particles farther than this from the jet axis are not part of the jet.

    Returns
    -------
    constituents : ndarray of shape (n, P, 3)
        ``(pT, Δη, Δφ)`` relative to the jet axis, sorted by decreasing pT, zero padded.

    Notes
    -----
    numba seeds its generator with 32 bits, so the per-jet seeds are drawn as 32-bit
    integers.
    """
    n = prong_pt.shape[0]
    seeds = rng.integers(0, 2**32, size=n, dtype=np.uint32)
    parameters = (
        float(_FRAGMENTATION_SHAPE),
        float(_COLLINEAR_POWER),
        float(_MAX_OFFSET_RATIO),
        float(_SOFT_PT_FRACTION[0]),
        float(_SOFT_PT_FRACTION[1]),
        float(_SOFT_PARTICLE_FRACTION),
        *(float(value) for value in _MULTIPLICITY),
    )
    return shower_kernel(
        seeds,
        np.ascontiguousarray(positions, dtype=np.float64),
        np.ascontiguousarray(prong_pt, dtype=np.float64),
        np.ascontiguousarray(prong_mass, dtype=np.float64),
        int(n_constituents),
        float(jet_radius),
        _max_multiplicity(n_constituents),
        parameters,
    )
