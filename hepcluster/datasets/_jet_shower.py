"""Vectorised synthetic jets: hard prongs from two-body splittings plus collinear sprays.

A jet is built from up to three *leaf prongs* (one for QCD, two for W/Z/X/Y, three for top)
placed with the small-angle two-body kinematics

    M² ≈ m₁²/z + m₂²/(1 − z) + z(1 − z) pT² θ²,

so that the jet mass comes out at the requested value; each prong is a spray of
constituents whose own mass is a small QCD-like fraction of its pT, and a little soft
wide-angle radiation fills the jet. The prongs are placed vectorised over jets (numpy), the
sprays by a parallel numba kernel (:mod:`._shower_kernels`), so 10⁵ events take seconds.
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


def _shower_constituents_numpy(rng, positions, prong_pt, prong_mass, n_constituents, jet_radius):
    """Plain-numpy twin of :func:`shower_constituents`, vectorised over jets (reference).

    The same distributions, drawn from one stream shared by all jets in a different order:
    the output differs from :func:`shower_constituents` number by number, not in law.
    """
    n, n_leaves = prong_pt.shape
    jet_pt = prong_pt.sum(axis=1)
    active = prong_pt > 0
    n_active = active.sum(axis=1)
    a, b, per_prong = _MULTIPLICITY
    mean_multiplicity = (a + b * np.log(np.maximum(jet_pt, 100.0) / 100.0)) * (
        1.0 + per_prong * (n_active - 1)
    )
    max_multiplicity = _max_multiplicity(n_constituents)
    multiplicity = np.clip(rng.poisson(mean_multiplicity), n_active + 2, max_multiplicity)
    n_slots = int(multiplicity.max())

    slot = np.arange(n_slots)[None, :]
    used = slot < multiplicity[:, None]
    # Leaf index per slot: the first slots seed every active prong, the rest are drawn with
    # probability ∝ sqrt(prong pT); a fraction goes to soft radiation (index n_leaves).
    weights = np.sqrt(prong_pt)
    weights /= weights.sum(axis=1, keepdims=True)
    cumulative = np.cumsum(weights, axis=1)
    u = rng.random((n, n_slots))
    leaf = (u[:, :, None] > cumulative[:, None, :]).sum(axis=2)
    leaf = np.minimum(leaf, n_leaves - 1)
    soft = rng.random((n, n_slots)) < _SOFT_PARTICLE_FRACTION
    leaf = np.where(soft, n_leaves, leaf)
    seed_leaf = np.cumsum(active, axis=1) - 1
    for k in range(n_leaves):
        is_seed_slot = active[:, k][:, None] & (slot == seed_leaf[:, k][:, None])
        leaf = np.where(is_seed_slot, k, leaf)
    leaf = np.where(used, leaf, n_leaves + 1)  # unused slots form their own group

    n_groups = n_leaves + 2
    group = np.arange(n)[:, None] * n_groups + leaf

    x = rng.gamma(_FRAGMENTATION_SHAPE, size=(n, n_slots)) + 1e-6
    x = np.where(used, x, 0.0)
    x_sum = np.bincount(group.ravel(), weights=x.ravel(), minlength=n * n_groups)
    x_sum = np.where(x_sum > 0, x_sum, 1.0)
    fraction = x / x_sum[group]

    soft_fraction = rng.uniform(*_SOFT_PT_FRACTION, size=n)
    leaf_pt = np.concatenate(
        [
            prong_pt * (1.0 - soft_fraction)[:, None],
            (soft_fraction * jet_pt)[:, None],
            np.zeros((n, 1)),
        ],
        axis=1,
    )
    pt = fraction * np.take_along_axis(leaf_pt, leaf, axis=1)

    # Offsets inside each prong: harder particles closer to the axis, then rescaled so the
    # prong's own mass is m_k: m_k² ≈ p_k² Σ_i x_i |δ_i − δ̄|² (small angles).
    x_max = np.zeros(n * n_groups)
    np.maximum.at(x_max, group.ravel(), fraction.ravel())
    relative_x = np.maximum(fraction / np.maximum(x_max[group], 1e-12), 1e-12)
    spread = np.minimum(relative_x**-_COLLINEAR_POWER, _MAX_OFFSET_RATIO)
    offsets = rng.normal(size=(n, n_slots, 2)) * spread[:, :, None]
    mean = np.stack(
        [
            np.bincount(
                group.ravel(),
                weights=(fraction * offsets[:, :, c]).ravel(),
                minlength=n * n_groups,
            )
            for c in range(2)
        ],
        axis=1,
    )
    offsets -= mean[group]
    variance = np.bincount(
        group.ravel(),
        weights=(fraction * (offsets**2).sum(axis=2)).ravel(),
        minlength=n * n_groups,
    )
    leaf_mass = np.concatenate([prong_mass, np.zeros((n, 2))], axis=1)
    leaf_prong_pt = np.concatenate([prong_pt, np.ones((n, 2))], axis=1)
    target_width = (leaf_mass / np.where(leaf_prong_pt > 0, leaf_prong_pt, 1.0)).ravel()
    scale = np.where(variance > 0, target_width / np.sqrt(np.where(variance > 0, variance, 1)), 0)
    offsets *= scale[group][:, :, None]
    leaf_position = np.concatenate([positions, np.zeros((n, 2, 2))], axis=1)
    offsets += np.take_along_axis(leaf_position, leaf[:, :, None], axis=1)

    # Soft radiation: uniform in azimuth, radius uniform in [0, R].
    radius = rng.uniform(0.0, jet_radius, size=(n, n_slots))
    azimuth = rng.uniform(-np.pi, np.pi, size=(n, n_slots))
    soft_offsets = np.stack([radius * np.cos(azimuth), radius * np.sin(azimuth)], axis=2)
    is_soft = (leaf == n_leaves)[:, :, None]
    offsets = np.where(is_soft, soft_offsets, offsets)

    contained = np.hypot(offsets[:, :, 0], offsets[:, :, 1]) < jet_radius
    pt = np.where(used & contained, pt, 0.0)
    order = np.argsort(-pt, axis=1, kind="stable")[:, :n_constituents]
    pt = np.take_along_axis(pt, order, axis=1)
    offsets = np.take_along_axis(offsets, order[:, :, None], axis=1)
    constituents = np.zeros((n, n_constituents, 3))
    kept = pt.shape[1]
    constituents[:, :kept, 0] = pt
    constituents[:, :kept, 1:] = np.where((pt > 0)[:, :, None], offsets, 0.0)
    return constituents
