"""Soft drop: against a plain-Python twin, fjcontrib's SoftDrop and analytic jets."""

import numpy as np
import pytest

from hepcluster.datasets import make_jets
from hepcluster.jets import jet_four_momenta, jet_kinematics, softdrop, softdrop_mass


@pytest.fixture(scope="module")
def random_jets():
    X, _ = make_jets(15, n_constituents=25, random_state=3)
    X = np.hstack([X, np.zeros((len(X), 9))])  # padding at the end
    X[2, 3:6] = 0.0  # and a hole in the middle of one jet
    return X


def _plain_softdrop(row, z_cut, beta, r0):
    """Cambridge/Aachen by brute force (every pair at every step), then the soft-drop walk."""
    real = row[:, 0] > 0
    pt, eta, phi = row[real].T
    p4 = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)], 1)
    nodes = [(p, None, None) for p in p4]

    def y_phi(p):
        return 0.5 * np.log((p[3] + p[2]) / (p[3] - p[2])), np.arctan2(p[1], p[0])

    def delta_r(p, q):
        (y1, f1), (y2, f2) = y_phi(p), y_phi(q)
        d_phi = abs(f1 - f2)
        return np.hypot(y1 - y2, min(d_phi, 2 * np.pi - d_phi))

    active = list(range(len(nodes)))
    while len(active) > 1:
        pairs = [
            (delta_r(nodes[a][0], nodes[b][0]), a, b) for a in active for b in active if a < b
        ]
        _, a, b = min(pairs)
        nodes.append((nodes[a][0] + nodes[b][0], a, b))
        active = [k for k in active if k not in (a, b)] + [len(nodes) - 1]
    current = len(nodes) - 1
    while nodes[current][1] is not None:
        _, a, b = nodes[current]
        pa, pb = np.hypot(*nodes[a][0][:2]), np.hypot(*nodes[b][0][:2])
        z = min(pa, pb) / (pa + pb)
        if z > z_cut * (delta_r(nodes[a][0], nodes[b][0]) / r0) ** beta:
            break
        current = a if pa >= pb else b
    return nodes[current][0]


@pytest.mark.parametrize(("z_cut", "beta"), [(0.1, 0.0), (0.2, 1.0), (0.05, 2.0)])
def test_softdrop_matches_a_brute_force_cambridge_aachen_twin(random_jets, z_cut, beta):
    rows = random_jets.reshape(len(random_jets), -1, 3)
    expected = np.array([_plain_softdrop(row, z_cut, beta, 0.8) for row in rows])
    np.testing.assert_allclose(
        softdrop(random_jets, z_cut=z_cut, beta=beta), expected, rtol=1e-10, atol=1e-8
    )


@pytest.mark.parametrize(("z_cut", "beta"), [(0.1, 0.0), (0.2, 1.0)])
def test_softdrop_matches_fjcontrib_softdrop(random_jets, z_cut, beta):
    pytest.importorskip("awkward", reason='needs awkward: pip install "hepcluster[generate]"')
    expected = softdrop(random_jets, z_cut=z_cut, beta=beta, backend="fastjet")
    np.testing.assert_allclose(
        softdrop(random_jets, z_cut=z_cut, beta=beta), expected, rtol=1e-10, atol=1e-8
    )


def test_softdrop_without_threshold_keeps_the_whole_jet(random_jets):
    np.testing.assert_allclose(
        softdrop(random_jets, z_cut=0.0), jet_four_momenta(random_jets), rtol=1e-12, atol=1e-9
    )


def test_softdrop_removes_a_soft_wide_angle_particle_and_keeps_two_hard_prongs():
    jet = np.array([[400.0, 0.0, 0.0, 300.0, 0.2, 0.0, 5.0, 0.0, 0.7]])
    pair_mass = np.sqrt(2 * 400.0 * 300.0 * (np.cosh(0.2) - 1.0))
    np.testing.assert_allclose(softdrop_mass(jet), [pair_mass], rtol=1e-12)
    assert jet_kinematics(jet).mass[0] > pair_mass + 5.0


def test_softdrop_of_a_jet_without_symmetric_splitting_is_its_hardest_constituent():
    jet = np.array([[100.0, 0.3, 1.0, 2.0, 0.5, 1.1, 1.0, 0.0, 1.2]])
    hardest = jet_four_momenta(jet[:, :3])
    np.testing.assert_allclose(softdrop(jet), hardest, rtol=1e-12)
    assert softdrop_mass(jet)[0] == pytest.approx(0.0, abs=1e-6)


def test_softdrop_of_an_empty_jet_is_the_zero_four_vector():
    np.testing.assert_array_equal(softdrop(np.zeros((2, 9))), np.zeros((2, 4)))


@pytest.mark.parametrize(
    "kwargs", [{"z_cut": 0.5}, {"z_cut": -0.1}, {"beta": -1.0}, {"R0": 0.0}, {"backend": "x"}]
)
def test_softdrop_rejects_invalid_parameters(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        softdrop(np.ones((1, 3)), **kwargs)
