"""Tests of hepcluster.jets: kinematics against `vector`, N-subjettiness against FastJet."""

import numba
import numpy as np
import pytest

from hepcluster.jets import (
    JetKinematics,
    as_constituent_array,
    dijet_mass,
    four_momentum_kinematics,
    jet_four_momenta,
    jet_kinematics,
    nsubjettiness,
    tau21,
)
from hepcluster.jets._nsubjettiness import exclusive_kt_axes_kernel

N_RANDOM_JETS = 300
MAX_CONSTITUENTS = 80


# --- independent reference computations --------------------------------------------------------


def _wrap(phi):
    """Map azimuths into (−π, π]."""
    return np.pi - np.mod(np.pi - phi, 2.0 * np.pi)


def _massless_p4(pt, eta, phi):
    return np.stack(
        [pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)], axis=-1
    )


def _rapidity_phi(p4):
    """Rapidity and azimuth of four-vectors (…, 4), plain numpy."""
    px, py, pz, e = np.moveaxis(np.asarray(p4, dtype=float), -1, 0)
    return 0.5 * np.log((e + pz) / (e - pz)), np.arctan2(py, px)


def _tau_numpy(pt, eta, phi, axes_p4, beta=1.0, R0=1.0):
    """τ_N of one jet from its real constituents and axis four-vectors (Thaler–Van Tilburg)."""
    axis_y, axis_phi = _rapidity_phi(axes_p4)
    dphi = np.abs(phi[:, None] - axis_phi[None, :])
    dphi = np.where(dphi > np.pi, 2.0 * np.pi - dphi, dphi)
    dr2 = (eta[:, None] - axis_y[None, :]) ** 2 + dphi**2
    return np.sum(pt * np.min(dr2, axis=1) ** (beta / 2.0)) / (np.sum(pt) * R0**beta)


def _fastjet_exclusive_axes(pt, eta, phi, n_subjets):
    """Exclusive-kT axes of one jet from FastJet itself, as (n_subjets, 4) four-momenta."""
    fastjet = pytest.importorskip("fastjet")
    particles = [fastjet.PseudoJet(*map(float, p)) for p in _massless_p4(pt, eta, phi)]
    sequence = fastjet.ClusterSequence(
        particles, fastjet.JetDefinition(fastjet.kt_algorithm, 1000.0)
    )
    return np.array([[j.px(), j.py(), j.pz(), j.E()] for j in sequence.exclusive_jets(n_subjets)])


def _sorted_by_energy(p4):
    return p4[np.argsort(-p4[:, 3])]


# --- data -------------------------------------------------------------------------------------


def _make_jets(rng, n_jets, max_constituents):
    """Jets resembling real ones: 1–3 hard prongs with collinear sprays, plus soft wide radiation.

    Returns the (n_jets, max_constituents, 3) array with constituents in random order and
    padding rows at random positions, and the number of real constituents of each jet.
    """
    jets = np.zeros((n_jets, max_constituents, 3))
    multiplicity = rng.integers(1, max_constituents + 1, size=n_jets)
    for j, n in enumerate(multiplicity):
        eta0 = rng.uniform(-2.5, 2.5)
        # A quarter of the jets sit on the φ = ±π seam to exercise the wrap-around.
        phi0 = (
            rng.choice([np.pi, -np.pi]) + rng.normal(0.0, 0.1)
            if j % 4 == 0
            else rng.uniform(-np.pi, np.pi)
        )
        n_prongs = rng.integers(1, 4)
        prong_eta = eta0 + rng.normal(0.0, 0.25, size=n_prongs)
        prong_phi = phi0 + rng.normal(0.0, 0.25, size=n_prongs)
        prong_pt = rng.uniform(100.0, 800.0, size=n_prongs)
        which = rng.integers(0, n_prongs, size=n)
        soft = rng.random(n) < 0.3
        radius = np.where(soft, rng.uniform(0.0, 0.8, size=n), rng.exponential(0.04, size=n))
        angle = rng.uniform(0.0, 2.0 * np.pi, size=n)
        eta = np.where(soft, eta0, prong_eta[which]) + radius * np.cos(angle)
        phi = np.where(soft, phi0, prong_phi[which]) + radius * np.sin(angle)
        pt = np.where(
            soft,
            rng.exponential(2.0, size=n),
            prong_pt[which] * rng.exponential(1.0, size=n) / max(n, 1) * 3.0,
        )
        pt = np.maximum(pt, 0.05)
        slots = rng.choice(max_constituents, size=n, replace=False)
        jets[j, slots] = np.stack([pt, eta, _wrap(phi)], axis=-1)
    return jets, multiplicity


@pytest.fixture(scope="module")
def random_jets():
    jets, multiplicity = _make_jets(
        np.random.default_rng(20240229), N_RANDOM_JETS, MAX_CONSTITUENTS
    )
    return jets, multiplicity


def _real(jet):
    mask = jet[:, 0] > 0.0
    return jet[mask, 0], jet[mask, 1], jet[mask, 2]


# --- constituent arrays -----------------------------------------------------------------------


def test_constituent_matrix_and_3d_layout_give_identical_results(random_jets):
    jets, _ = random_jets
    matrix = jets.reshape(len(jets), -1)
    np.testing.assert_array_equal(as_constituent_array(matrix), jets)
    np.testing.assert_array_equal(jet_four_momenta(matrix), jet_four_momenta(jets))
    np.testing.assert_array_equal(nsubjettiness(matrix, 2), nsubjettiness(jets, 2))
    np.testing.assert_array_equal(tau21(matrix), tau21(jets))


def test_as_constituent_array_returns_c_contiguous_float64():
    X = np.asfortranarray(np.arange(12, dtype=np.int32).reshape(2, 6))
    out = as_constituent_array(X)
    assert out.dtype == np.float64
    assert out.flags.c_contiguous
    assert out.shape == (2, 2, 3)


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.zeros((4, 7)), "not a multiple of 3"),
        (np.zeros((4, 5, 2)), "last axis of length 2"),
        (np.zeros(9), "ndim=1"),
        (np.zeros((2, 3, 3, 3)), "ndim=4"),
        (np.array([[1.0, 0.0, np.nan]]), "NaN or infinity"),
        (np.array([[1.0, np.inf, 0.0]]), "NaN or infinity"),
        (np.array([[-1.0, 0.0, 0.0]]), "negative pT"),
        (np.array([["a", "b", "c"]]), "numeric"),
    ],
)
def test_bad_constituents_raise_value_error_naming_the_problem(X, message):
    with pytest.raises(ValueError, match=message):
        as_constituent_array(X)
    with pytest.raises(ValueError, match=message):
        tau21(X)
    with pytest.raises(ValueError, match=message):
        jet_kinematics(X)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_subjets": 0}, "n_subjets"),
        ({"n_subjets": 1.5}, "n_subjets"),
        ({"n_subjets": 2, "beta": 0.0}, "beta"),
        ({"n_subjets": 2, "R0": -1.0}, "R0"),
        ({"n_subjets": 2, "beta": np.nan}, "beta"),
    ],
)
def test_bad_nsubjettiness_parameters_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nsubjettiness(np.zeros((1, 6)), **kwargs)


# --- kinematics -------------------------------------------------------------------------------


def test_jet_kinematics_match_vector_sum_of_massless_constituents(random_jets):
    ak = pytest.importorskip("awkward", reason='needs awkward: pip install "hepcluster[generate]"')
    vector = pytest.importorskip(
        "vector", reason='needs vector: pip install "hepcluster[generate]"'
    )
    jets, multiplicity = random_jets
    real = [_real(jet) for jet in jets]
    constituents = vector.zip(
        {
            "pt": ak.Array([r[0] for r in real]),
            "eta": ak.Array([r[1] for r in real]),
            "phi": ak.Array([r[2] for r in real]),
            "mass": ak.Array([np.zeros_like(r[0]) for r in real]),
        }
    )
    expected = ak.sum(constituents, axis=1)
    scale = np.asarray(expected.t)
    assert (~(multiplicity >= 2)).any()

    # Components are compared in units of the jet energy: px or py of a jet near φ = ±π/2 or 0
    # cancel between constituents, so only their absolute error relative to E is meaningful.
    p4 = jet_four_momenta(jets)
    for column, name in enumerate(["x", "y", "z", "t"]):
        np.testing.assert_allclose(
            p4[:, column] / scale,
            np.asarray(getattr(expected, name)) / scale,
            rtol=1e-10,
            atol=1e-12,
        )
    kin = jet_kinematics(jets)
    assert isinstance(kin, JetKinematics)
    np.testing.assert_allclose(kin.pt, np.asarray(expected.pt), rtol=1e-10)
    np.testing.assert_allclose(kin.eta, np.asarray(expected.eta), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(kin.phi, np.asarray(expected.phi), rtol=1e-10, atol=1e-10)
    several = multiplicity >= 2
    np.testing.assert_allclose(kin.mass[several], np.asarray(expected.mass)[several], rtol=1e-10)
    # A one-constituent jet is massless: sqrt(E² − p²) is pure rounding there (vector even
    # returns a signed square root), so only its size relative to E is checked.
    np.testing.assert_array_less(kin.mass[~several] / scale[~several], 1e-6)


def test_four_momentum_kinematics_wraps_phi_and_handles_beam_vectors():
    p4 = np.array(
        [
            [-1.0, 0.0, 0.0, 1.0],  # φ = π, never −π
            [0.0, 0.0, 5.0, 5.0],  # along +z
            [0.0, 0.0, -5.0, 5.0],  # along −z
            [0.0, 0.0, 0.0, 0.0],  # null vector
            [3.0, 4.0, 0.0, 1.0],  # space-like: mass clipped at 0
        ]
    )
    kin = four_momentum_kinematics(p4)
    np.testing.assert_array_equal(kin.phi, [np.pi, 0.0, 0.0, 0.0, np.arctan2(4.0, 3.0)])
    np.testing.assert_array_equal(kin.eta, [0.0, np.inf, -np.inf, 0.0, 0.0])
    np.testing.assert_array_equal(kin.mass, [0.0, 0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(kin.pt, [1.0, 0.0, 0.0, 0.0, 5.0])


def test_four_momentum_kinematics_keeps_leading_shape():
    p4 = np.tile([1.0, 2.0, 3.0, 10.0], (2, 5, 1))
    kin = four_momentum_kinematics(p4)
    assert kin.mass.shape == (2, 5)
    np.testing.assert_allclose(kin.mass, np.sqrt(100.0 - 14.0), rtol=1e-14)


def test_empty_jet_has_zero_four_momentum():
    np.testing.assert_array_equal(jet_four_momenta(np.zeros((2, 9))), np.zeros((2, 4)))


def test_dijet_mass_matches_hand_computation():
    # Two massless 1 TeV jets back to back at η = ±1: m² = 2 pT² (cosh Δη + 1).
    jet1 = _massless_p4(1000.0, 1.0, 0.3)[None, :]
    jet2 = _massless_p4(1000.0, -1.0, 0.3 - np.pi)[None, :]
    expected = np.sqrt(2.0 * 1000.0**2 * (np.cosh(2.0) + 1.0))
    np.testing.assert_allclose(dijet_mass(jet1, jet2), [expected], rtol=1e-12)
    # Massive jets at rest in the transverse plane: m = E1 + E2.
    rest = np.array([[0.0, 0.0, 0.0, 80.0]])
    np.testing.assert_allclose(dijet_mass(rest, rest), [160.0], rtol=1e-14)


def test_dijet_mass_matches_vector(random_jets):
    vector = pytest.importorskip(
        "vector", reason='needs vector: pip install "hepcluster[generate]"'
    )
    jets, _ = random_jets
    p4 = jet_four_momenta(jets)
    jet1, jet2 = p4[0::2], p4[1::2]

    def to_vector(q):
        return vector.array({"px": q[:, 0], "py": q[:, 1], "pz": q[:, 2], "E": q[:, 3]})

    expected = (to_vector(jet1) + to_vector(jet2)).mass
    np.testing.assert_allclose(dijet_mass(jet1, jet2), expected, rtol=1e-10)


def test_dijet_mass_rejects_wrong_shapes():
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 4\)"):
        dijet_mass(np.zeros((3, 3)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="do not broadcast"):
        dijet_mass(np.zeros((3, 4)), np.zeros((2, 4)))


# --- exclusive-kT axes and N-subjettiness against FastJet -------------------------------------


def test_exclusive_kt_axes_match_fastjet(random_jets):
    jets, multiplicity = random_jets
    for n_subjets in (1, 2, 3):
        axes = exclusive_kt_axes_kernel(jets, n_subjets)
        for jet, ours, n in zip(jets, axes, multiplicity, strict=True):
            if n < n_subjets:
                continue
            expected = _fastjet_exclusive_axes(*_real(jet), n_subjets)
            np.testing.assert_allclose(
                _sorted_by_energy(ours),
                _sorted_by_energy(expected),
                rtol=1e-9,
                atol=1e-9 * expected[:, 3].sum(),
            )


# β < 1 is left out: ΔR^β amplifies the rounding (~1e-16) of the rapidity of an axis made of a
# single constituent, whose distance to that constituent is exactly zero only in exact arithmetic.
@pytest.mark.parametrize(("beta", "R0"), [(1.0, 1.0), (2.0, 0.8), (1.5, 1.2)])
def test_nsubjettiness_matches_fastjet_axes_and_numpy_formula(random_jets, beta, R0):
    jets, multiplicity = random_jets
    taus = {n: nsubjettiness(jets, n, beta=beta, R0=R0) for n in (1, 2, 3)}
    for index, (jet, n) in enumerate(zip(jets, multiplicity, strict=True)):
        pt, eta, phi = _real(jet)
        for n_subjets, tau in taus.items():
            if n <= n_subjets:
                assert tau[index] == 0.0
                continue
            axes = _fastjet_exclusive_axes(pt, eta, phi, n_subjets)
            expected = _tau_numpy(pt, eta, phi, axes, beta=beta, R0=R0)
            np.testing.assert_allclose(tau[index], expected, rtol=1e-6, atol=1e-12)


def test_tau21_matches_fastjet_ratio(random_jets):
    jets, multiplicity = random_jets
    ratio = tau21(jets)
    for index, (jet, n) in enumerate(zip(jets, multiplicity, strict=True)):
        if n < 3:
            continue  # τ2 = 0 there; checked by the hand cases
        pt, eta, phi = _real(jet)
        tau1 = _tau_numpy(pt, eta, phi, _fastjet_exclusive_axes(pt, eta, phi, 1))
        tau2 = _tau_numpy(pt, eta, phi, _fastjet_exclusive_axes(pt, eta, phi, 2))
        np.testing.assert_allclose(ratio[index], tau2 / tau1, rtol=1e-6)


def test_tau21_equals_ratio_of_nsubjettiness(random_jets):
    jets, multiplicity = random_jets
    several = multiplicity >= 2  # τ1 > 0
    expected = nsubjettiness(jets[several], 2) / nsubjettiness(jets[several], 1)
    np.testing.assert_array_equal(tau21(jets)[several], expected)


# --- hand cases and invariances ---------------------------------------------------------------


def test_two_constituent_jet_has_zero_tau2_and_tau21():
    jet = np.array([[300.0, 0.1, 0.2, 100.0, 0.4, -0.1]])
    assert nsubjettiness(jet, 2)[0] == 0.0
    assert nsubjettiness(jet, 1)[0] > 0.0
    assert tau21(jet)[0] == 0.0


def test_one_constituent_jet_has_zero_tau1_and_tau21():
    jet = np.array([[0.0, 0.0, 0.0, 250.0, -1.3, 3.0, 0.0, 0.0, 0.0]])
    assert nsubjettiness(jet, 1)[0] == 0.0
    assert tau21(jet)[0] == 0.0


def test_two_prong_jet_tau1_matches_analytic_value():
    # Equal-pT prongs at Δη = 0.4: the axis sits at y = 0.2 by symmetry, so τ1 = ΔR/2 = 0.2.
    jet = np.array([[100.0, -0.2, 1.0, 100.0, 0.2, 1.0]])
    np.testing.assert_allclose(nsubjettiness(jet, 1), [0.2], rtol=1e-12)
    np.testing.assert_allclose(nsubjettiness(jet, 1, beta=2.0, R0=0.5), [0.16], rtol=1e-12)


def test_jet_without_constituents_gives_nan():
    jets = np.zeros((3, 12))
    jets[1, :3] = [50.0, 0.0, 0.0]
    jets[1, 6:9] = [20.0, 0.3, 0.1]
    assert np.isnan(nsubjettiness(jets, 1)[[0, 2]]).all()
    assert np.isnan(tau21(jets)[[0, 2]]).all()
    assert np.isfinite(tau21(jets)[1])


def test_no_jets_give_empty_results():
    assert nsubjettiness(np.zeros((0, 30)), 2).shape == (0,)
    assert tau21(np.zeros((0, 10, 3))).shape == (0,)


def test_nsubjettiness_invariant_under_permutation_and_padding(random_jets):
    jets, _ = random_jets
    rng = np.random.default_rng(7)
    shuffled = np.zeros((len(jets), MAX_CONSTITUENTS + 25, 3))
    for j, jet in enumerate(jets):
        slots = np.sort(rng.choice(shuffled.shape[1], size=MAX_CONSTITUENTS, replace=False))
        shuffled[j, slots] = jet[rng.permutation(MAX_CONSTITUENTS)]
    for n_subjets in (1, 2, 3):
        np.testing.assert_allclose(
            nsubjettiness(shuffled, n_subjets), nsubjettiness(jets, n_subjets), rtol=1e-12
        )


def test_nsubjettiness_invariant_under_boost_in_eta(random_jets):
    jets, _ = random_jets
    boosted = jets.copy()
    boosted[:, :, 1] += np.where(jets[:, :, 0] > 0.0, 0.7, 0.0)
    for n_subjets in (1, 2, 3):
        np.testing.assert_allclose(
            nsubjettiness(boosted, n_subjets), nsubjettiness(jets, n_subjets), rtol=1e-9
        )


def test_nsubjettiness_invariant_under_rotation_in_phi(random_jets):
    jets, _ = random_jets
    rotated = jets.copy()
    rotated[:, :, 2] += 2.0
    wrapped = rotated.copy()
    wrapped[:, :, 2] = _wrap(rotated[:, :, 2])
    for n_subjets in (1, 2, 3):
        reference = nsubjettiness(jets, n_subjets)
        np.testing.assert_allclose(nsubjettiness(wrapped, n_subjets), reference, rtol=1e-9)
        # φ outside (−π, π] is wrapped internally.
        np.testing.assert_allclose(nsubjettiness(rotated, n_subjets), reference, rtol=1e-9)


def test_nsubjettiness_independent_of_number_of_threads(random_jets):
    jets, _ = random_jets
    many = np.concatenate([jets] * 4)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        serial = tau21(many)
        numba.set_num_threads(threads)
        parallel = tau21(many)
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(serial, parallel)


def test_tau21_is_small_for_two_prong_jets_and_large_for_one_prong_jets():
    rng = np.random.default_rng(3)
    n = 40

    def spray(eta, phi, pt, size):
        return np.stack(
            [
                rng.exponential(pt / size, size),
                eta + rng.normal(0.0, 0.02, size),
                phi + rng.normal(0.0, 0.02, size),
            ],
            axis=-1,
        )

    two_prong = np.concatenate([spray(0.0, 0.0, 300.0, n // 2), spray(0.4, 0.2, 300.0, n // 2)])
    one_prong = np.concatenate([spray(0.0, 0.0, 550.0, n // 2), spray(0.4, 0.2, 10.0, n // 2)])
    ratio = tau21(np.stack([two_prong, one_prong]))
    assert ratio[0] < 0.25 < ratio[1]


# --- fjcontrib Nsubjettiness through fastjet (backend="fastjet") ------------------------------


@pytest.mark.parametrize(("beta", "R0"), [(1.0, 1.0), (2.0, 0.8), (1.5, 1.2)])
def test_fastjet_backend_matches_numba_kernel_on_random_jets(random_jets, beta, R0):
    pytest.importorskip("fastjet")
    jets, _ = random_jets
    for n_subjets in (1, 2, 3):
        np.testing.assert_allclose(
            nsubjettiness(jets, n_subjets, beta=beta, R0=R0, backend="fastjet"),
            nsubjettiness(jets, n_subjets, beta=beta, R0=R0),
            rtol=1e-10,
            atol=1e-14,
        )
    np.testing.assert_allclose(
        tau21(jets, beta=beta, R0=R0, backend="fastjet"),
        tau21(jets, beta=beta, R0=R0),
        rtol=1e-10,
        atol=1e-14,
    )


def test_fastjet_backend_matches_numba_kernel_on_synthetic_jets():
    pytest.importorskip("fastjet")
    from hepcluster.datasets import make_jets

    X, _ = make_jets(100, classes=("W", "Z", "top", "QCD"), random_state=0)
    np.testing.assert_allclose(tau21(X, backend="fastjet"), tau21(X), rtol=1e-10, atol=1e-14)


def test_fastjet_backend_matches_numba_kernel_on_pythia_jets():
    pytest.importorskip("fastjet")
    pytest.importorskip("pythia8mc", reason='needs pythia8mc: pip install "hepcluster[generate]"')
    from hepcluster.datasets import generate_pythia_jets

    X, _ = generate_pythia_jets(8, classes=("W", "QCD"), chunk_size=8, random_state=1)
    for n_subjets in (1, 2, 3):
        np.testing.assert_allclose(
            nsubjettiness(X, n_subjets, backend="fastjet"),
            nsubjettiness(X, n_subjets),
            rtol=1e-10,
            atol=1e-14,
        )


def test_fastjet_backend_edge_cases_follow_the_kernel():
    pytest.importorskip("fastjet")
    jets = np.zeros((4, 3, 3))
    jets[1, 0] = [50.0, 0.2, 0.1]  # one constituent
    jets[2, :2] = [[50.0, 0.2, 0.1], [30.0, -0.1, 0.3]]  # two constituents
    jets[3] = [[100.0, 0.0, 0.0], [100.0, 0.4, 0.0], [10.0, 0.1, 0.1]]
    for n_subjets in (1, 2):
        np.testing.assert_allclose(
            nsubjettiness(jets, n_subjets, backend="fastjet"),
            nsubjettiness(jets, n_subjets),
            rtol=1e-12,
        )  # NaN for the empty jet in both
    assert nsubjettiness(np.zeros((0, 9)), 2, backend="fastjet").shape == (0,)
    np.testing.assert_array_equal(
        np.isnan(tau21(jets, backend="fastjet")), [True, False, False, False]
    )


def test_unknown_backend_raises_value_error():
    with pytest.raises(ValueError, match="backend must be one of"):
        nsubjettiness(np.ones((1, 3)), 1, backend="cuda")
