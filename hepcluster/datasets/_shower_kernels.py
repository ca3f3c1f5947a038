"""numba kernel of :func:`hepcluster.datasets._jet_shower.shower_constituents`.

One jet at a time, in parallel over blocks of jets. Each jet draws its random numbers from
numba's generator freshly seeded with that jet's own seed (``np.random.seed`` inside the
parallel loop seeds the generator of the thread running it), so a jet's constituents depend
only on its inputs and its seed: the output is the same whatever the number of threads.
numba seeds with 32 bits (``np.random.seed`` takes a uint32), and the kernel leaves each
thread's numba generator in the state of the last jet it showered.

Its plain-numpy twin lives in the tests (``tests/_shower_numpy.py``): the same
distributions drawn in a different order (its jets share one vectorised stream).
"""

# numba has no numpy.random.Generator: its kernels draw from the legacy numpy.random API.
# ruff: noqa: NPY002

import math

import numpy as np
from numba import njit, prange

# Jets per parallel work item (the per-jet workspace is allocated once per item).
_BLOCK = 64


@njit(cache=True)
def _shower_jet(
    seed,
    positions,
    prong_pt,
    prong_mass,
    jet_radius,
    max_multiplicity,
    parameters,
    out,
    leaf,
    x,
    pt,
    dx,
    dy,
    keys,
    kept,
    cumulative,
    seed_prong,
    leaf_pt,
    leaf_sum,
    leaf_max,
    mean_x,
    mean_y,
    variance,
    scale,
):
    """Constituents of one jet, written into the zeroed ``out`` of shape (P, 3)."""
    (
        fragmentation_shape,
        collinear_power,
        max_offset_ratio,
        soft_pt_low,
        soft_pt_high,
        soft_particle_fraction,
        multiplicity_a,
        multiplicity_b,
        multiplicity_per_prong,
    ) = parameters
    np.random.seed(seed)
    n_leaves = prong_pt.shape[0]
    soft = n_leaves
    n_groups = n_leaves + 1

    jet_pt = 0.0
    weight_sum = 0.0
    n_active = 0
    for k in range(n_leaves):
        jet_pt += prong_pt[k]
        if prong_pt[k] > 0.0:
            seed_prong[n_active] = k
            n_active += 1
            weight_sum += math.sqrt(prong_pt[k])
    if n_active == 0:
        return  # no prong: an empty jet
    running = 0.0
    for k in range(n_leaves):
        running += math.sqrt(prong_pt[k]) / weight_sum
        cumulative[k] = running

    mean_multiplicity = (
        multiplicity_a + multiplicity_b * math.log(max(jet_pt, 100.0) / 100.0)
    ) * (1.0 + multiplicity_per_prong * (n_active - 1))
    multiplicity = min(max(np.random.poisson(mean_multiplicity), n_active + 2), max_multiplicity)
    soft_fraction = np.random.uniform(soft_pt_low, soft_pt_high)

    # Leaf of each particle (the first ones seed every active prong, the others go to a
    # prong with probability ∝ sqrt(pT) or, a fraction of them, to soft radiation), its
    # momentum fraction and its raw offset: a unit Gaussian for prongs, a point uniform in
    # azimuth and in radius ∈ [0, R] for soft radiation.
    for k in range(n_groups):
        leaf_sum[k] = 0.0
        leaf_max[k] = 0.0
        mean_x[k] = 0.0
        mean_y[k] = 0.0
        variance[k] = 0.0
    for i in range(multiplicity):
        if i < n_active:
            k = seed_prong[i]
        else:
            u = np.random.random()
            k = 0
            for j in range(n_leaves):
                if u > cumulative[j]:
                    k += 1
            k = min(k, n_leaves - 1)
            if np.random.random() < soft_particle_fraction:
                k = soft
        leaf[i] = k
        x[i] = np.random.gamma(fragmentation_shape) + 1e-6
        leaf_sum[k] += x[i]
        if k == soft:
            radius = np.random.uniform(0.0, jet_radius)
            azimuth = np.random.uniform(-math.pi, math.pi)
            dx[i] = radius * math.cos(azimuth)
            dy[i] = radius * math.sin(azimuth)
        else:
            dx[i] = np.random.normal()
            dy[i] = np.random.normal()

    # Momenta: fractions normalised per leaf; the soft leaf carries soft_fraction of the jet.
    for k in range(n_leaves):
        leaf_pt[k] = prong_pt[k] * (1.0 - soft_fraction)
    leaf_pt[soft] = soft_fraction * jet_pt
    for i in range(multiplicity):
        k = leaf[i]
        x[i] /= leaf_sum[k]
        pt[i] = x[i] * leaf_pt[k]
        if x[i] > leaf_max[k]:
            leaf_max[k] = x[i]

    # Prong offsets: harder particles closer to the axis, recentred on the pT-weighted mean
    # and rescaled so that the prong's mass is m_k: m_k² ≈ p_k² Σ_i x_i |δ_i − δ̄|².
    for i in range(multiplicity):
        k = leaf[i]
        if k == soft:
            continue
        relative_x = max(x[i] / max(leaf_max[k], 1e-12), 1e-12)
        spread = min(relative_x**-collinear_power, max_offset_ratio)
        dx[i] *= spread
        dy[i] *= spread
        mean_x[k] += x[i] * dx[i]
        mean_y[k] += x[i] * dy[i]
    for i in range(multiplicity):
        k = leaf[i]
        if k == soft:
            continue
        dx[i] -= mean_x[k]
        dy[i] -= mean_y[k]
        variance[k] += x[i] * (dx[i] * dx[i] + dy[i] * dy[i])
    for k in range(n_leaves):
        scale[k] = 0.0
        if variance[k] > 0.0 and prong_pt[k] > 0.0:
            scale[k] = prong_mass[k] / prong_pt[k] / math.sqrt(variance[k])
    for i in range(multiplicity):
        k = leaf[i]
        if k == soft:
            continue
        dx[i] = dx[i] * scale[k] + positions[k, 0]
        dy[i] = dy[i] * scale[k] + positions[k, 1]

    # Keep the particles inside the jet, the hardest first.
    n_kept = 0
    for i in range(multiplicity):
        if pt[i] > 0.0 and math.hypot(dx[i], dy[i]) < jet_radius:
            keys[n_kept] = -pt[i]
            kept[n_kept] = i
            n_kept += 1
    order = np.argsort(keys[:n_kept], kind="mergesort")
    for j in range(min(n_kept, out.shape[0])):
        i = kept[order[j]]
        out[j, 0] = pt[i]
        out[j, 1] = dx[i]
        out[j, 2] = dy[i]


@njit(cache=True, parallel=True)
def shower_kernel(
    seeds,
    positions,
    prong_pt,
    prong_mass,
    n_constituents,
    jet_radius,
    max_multiplicity,
    parameters,
):
    """Constituents ``(pT, Δη, Δφ)`` of every jet, sorted by decreasing pT and zero padded.

    Parameters
    ----------
    seeds : ndarray of shape (n,), uint32
        Seed of each jet's random stream.
    positions : ndarray of shape (n, L, 2)
    prong_pt, prong_mass : ndarray of shape (n, L)
        Leaf prongs of each jet (:func:`~._jet_shower.prong_structure`); pT = 0 marks an
        unused prong.
    n_constituents : int
        Slots P of the output.
    jet_radius : float
        Particles at ΔR ≥ ``jet_radius`` from the jet axis are dropped.
    max_multiplicity : int
        Largest number of particles drawn per jet.
    parameters : tuple of float
        Fragmentation shape, collinear power, largest offset ratio, soft pT fraction range
        (low, high), soft particle fraction and the three multiplicity coefficients.

    Returns
    -------
    ndarray of shape (n, P, 3)
    """
    n_jets, n_leaves = prong_pt.shape
    out = np.zeros((n_jets, n_constituents, 3))
    n_blocks = (n_jets + _BLOCK - 1) // _BLOCK
    for block in prange(n_blocks):
        leaf = np.empty(max_multiplicity, dtype=np.int64)
        x = np.empty(max_multiplicity)
        pt = np.empty(max_multiplicity)
        dx = np.empty(max_multiplicity)
        dy = np.empty(max_multiplicity)
        keys = np.empty(max_multiplicity)
        kept = np.empty(max_multiplicity, dtype=np.int64)
        cumulative = np.empty(n_leaves)
        seed_prong = np.empty(n_leaves, dtype=np.int64)
        leaf_pt = np.empty(n_leaves + 1)
        leaf_sum = np.empty(n_leaves + 1)
        leaf_max = np.empty(n_leaves + 1)
        mean_x = np.empty(n_leaves + 1)
        mean_y = np.empty(n_leaves + 1)
        variance = np.empty(n_leaves + 1)
        scale = np.empty(n_leaves)
        for jet in range(block * _BLOCK, min((block + 1) * _BLOCK, n_jets)):
            _shower_jet(
                seeds[jet], positions[jet], prong_pt[jet], prong_mass[jet], jet_radius,
                max_multiplicity, parameters, out[jet],
                leaf, x, pt, dx, dy, keys, kept, cumulative, seed_prong,
                leaf_pt, leaf_sum, leaf_max, mean_x, mean_y, variance, scale,
            )  # fmt: skip
    return out
