"""Plain-numpy twin of the numba jet shower, the reference of tests/test_jet_shower.py.

It draws the distributions of ``hepcluster.datasets._jet_shower.shower_constituents`` with
numpy, vectorised over jets, from the same constants.
"""

import numpy as np

from hepcluster.datasets._jet_shower import (
    _COLLINEAR_POWER,
    _FRAGMENTATION_SHAPE,
    _MAX_OFFSET_RATIO,
    _MULTIPLICITY,
    _SOFT_PARTICLE_FRACTION,
    _SOFT_PT_FRACTION,
    _max_multiplicity,
)


def shower_constituents_numpy(rng, positions, prong_pt, prong_mass, n_constituents, jet_radius):
    """Plain-numpy twin of ``shower_constituents``, vectorised over jets (reference).

    The same distributions, drawn from one stream shared by all jets in a different order:
    the output differs from ``shower_constituents`` number by number, not in law.
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
