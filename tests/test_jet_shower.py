"""The numba jet shower against its plain-numpy twin, and its reproducibility."""

import numba
import numpy as np
import pytest
from _shower_numpy import shower_constituents_numpy
from scipy import stats

from hepcluster.datasets import make_dijet_events
from hepcluster.datasets._jet_shower import (
    prong_structure,
    qcd_jet_masses,
    shower_constituents,
)
from hepcluster.jets import jet_kinematics, tau21

# (prongs, jet pT range, jet mass, intermediate mass, R, P) of the compared samples: QCD jets
# of the dijet generator, W and top jets of make_jets.
_SAMPLES = {
    "QCD": (1, (1000.0, 2500.0), None, None, 1.0, 100),
    "W": (2, (900.0, 1100.0), 80.4, None, 0.8, 100),
    "top": (3, (900.0, 1100.0), 172.8, 80.4, 0.8, 100),
}


def _prongs(name, n, seed):
    n_prongs, pt_range, mass, sub_mass, jet_radius, n_constituents = _SAMPLES[name]
    rng = np.random.default_rng(seed)
    pt = rng.uniform(*pt_range, n)
    mass = qcd_jet_masses(rng, pt) if mass is None else np.full(n, mass)
    sub_mass = None if sub_mass is None else np.full(n, sub_mass)
    return prong_structure(rng, pt, mass, n_prongs, sub_mass), n_constituents, jet_radius


def _observables(constituents, prong_pt, jet_radius):
    pt = constituents[..., 0]
    kinematics = jet_kinematics(constituents)
    return {
        "mass": kinematics.mass,
        "multiplicity": (pt > 0).sum(axis=1),
        "leading pT fraction": pt[:, 0] / pt.sum(axis=1),
        "pT kept": pt.sum(axis=1) / prong_pt.sum(axis=1),
        "tau21": tau21(constituents, R0=jet_radius),
    }


@pytest.mark.parametrize(("name", "n_jets"), [("QCD", 20_000), ("W", 10_000), ("top", 10_000)])
def test_numba_shower_has_the_distributions_of_the_numpy_reference(name, n_jets):
    (positions, prong_pt, prong_mass), n_constituents, jet_radius = _prongs(name, n_jets, 0)
    args = (positions, prong_pt, prong_mass, n_constituents, jet_radius)
    fast = shower_constituents(np.random.default_rng(1), *args)
    reference = shower_constituents_numpy(np.random.default_rng(2), *args)
    fast_observables = _observables(fast, prong_pt, jet_radius)
    reference_observables = _observables(reference, prong_pt, jet_radius)
    for key, values in fast_observables.items():
        expected = reference_observables[key]
        pvalue = stats.ks_2samp(values, expected, method="asymp").pvalue
        assert pvalue > 1e-3, f"{name} {key}: KS p-value {pvalue:.2g}"
        # means agree within 4 standard errors of their difference
        error = np.hypot(values.std(), expected.std()) / np.sqrt(n_jets)
        assert abs(values.mean() - expected.mean()) < 4.0 * error, f"{name} {key}"


def test_shower_output_contract():
    (positions, prong_pt, prong_mass), _, _ = _prongs("top", 2000, 3)
    for n_constituents, jet_radius in [(100, 0.8), (7, 0.4)]:
        jets = shower_constituents(
            np.random.default_rng(4), positions, prong_pt, prong_mass, n_constituents, jet_radius
        )
        assert jets.shape == (2000, n_constituents, 3)
        assert jets.dtype == np.float64
        pt = jets[..., 0]
        assert np.all(pt >= 0)
        assert np.all(pt[:, 0] > 0)
        assert np.all(np.diff(pt, axis=1) <= 0)
        assert np.all(jets[pt == 0] == 0.0)  # zero padding
        assert np.all(np.hypot(jets[..., 1], jets[..., 2]) < jet_radius)
        assert np.all(pt.sum(axis=1) <= prong_pt.sum(axis=1) * (1 + 1e-12))


def test_shower_keeps_the_jet_pt_when_nothing_is_dropped():
    (positions, prong_pt, prong_mass), _, _ = _prongs("W", 500, 5)
    rng = np.random.default_rng(6)
    jets = shower_constituents(rng, positions, prong_pt, prong_mass, 200, 50.0)
    kept = jets[..., 0].sum(axis=1) / prong_pt.sum(axis=1)
    # all of it, but for the rare jet without soft particles, which lacks its soft pT share
    assert np.all((kept > 1.0 - 0.005) & (kept < 1.0 + 1e-12))
    assert np.mean(np.abs(kept - 1.0) < 1e-12) > 0.98


def test_shower_depends_only_on_the_random_state_not_on_the_threads():
    (positions, prong_pt, prong_mass), n_constituents, jet_radius = _prongs("W", 3000, 7)
    args = (positions, prong_pt, prong_mass, n_constituents, jet_radius)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        serial = shower_constituents(np.random.default_rng(8), *args)
        serial_events = make_dijet_events(60, 20, random_state=9)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        parallel = shower_constituents(np.random.default_rng(8), *args)
        parallel_events = make_dijet_events(60, 20, random_state=9)
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(serial, parallel)
    np.testing.assert_array_equal(serial_events.constituents, parallel_events.constituents)
    other = shower_constituents(np.random.default_rng(10), *args)
    assert not np.array_equal(serial[:, 0], other[:, 0])
