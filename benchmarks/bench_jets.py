"""Throughput of τ21: the numba kernel against fjcontrib's Nsubjettiness (fastjet), same run.

Usage::

    python benchmarks/bench_jets.py [--n-jets 20000] [--multiplicity 60] [--width 150]

Jets have a Poisson number of constituents around ``--multiplicity`` (1–3 hard prongs with
collinear sprays plus soft wide radiation) in a zero-padded (n, 3·P) constituent matrix.
Both implementations get the same jets and compute the same τ21 (exclusive-kT axes,
β = 1, R0 = 1):

- ``tau21(X)``: the numba kernel, parallel over jets, with all numba threads and with one;
- ``tau21(X, backend="fastjet")``: one vectorised ``fastjet.ClusterSequence`` over all jets
  and ``ClusterSequence.njettiness(axes_definition="KT_Axes",
  measure_definition="NormalizedMeasure")`` (single-threaded C++), timed with and
  without the conversion of the constituents to awkward four-momenta.

Each timing is the best of ``--repeat`` runs after a warm-up (numba compilation or cache
load, FastJet banner). Prints jets/s, the speed ratios and the largest difference.
"""

import argparse
import time

import numba
import numpy as np

from hepcluster.jets import as_constituent_array, tau21


def make_jets(rng, n_jets, multiplicity, width):
    jets = np.zeros((n_jets, width, 3))
    counts = np.clip(rng.poisson(multiplicity, size=n_jets), 1, width)
    for j, n in enumerate(counts):
        eta0, phi0 = rng.uniform(-2.5, 2.5), rng.uniform(-np.pi, np.pi)
        n_prongs = rng.integers(1, 4)
        prong_eta = eta0 + rng.normal(0.0, 0.25, size=n_prongs)
        prong_phi = phi0 + rng.normal(0.0, 0.25, size=n_prongs)
        which = rng.integers(0, n_prongs, size=n)
        soft = rng.random(n) < 0.3
        radius = np.where(soft, rng.uniform(0.0, 0.8, size=n), rng.exponential(0.04, size=n))
        angle = rng.uniform(0.0, 2.0 * np.pi, size=n)
        eta = np.where(soft, eta0, prong_eta[which]) + radius * np.cos(angle)
        phi = np.where(soft, phi0, prong_phi[which]) + radius * np.sin(angle)
        pt = np.where(soft, rng.exponential(2.0, size=n), rng.exponential(20.0, size=n)) + 0.1
        order = np.argsort(-pt)
        jets[j, :n] = np.stack([pt, eta, np.pi - np.mod(np.pi - phi, 2.0 * np.pi)], axis=-1)[order]
    return jets.reshape(n_jets, -1)


def best_time(function, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return result, min(times)


def fastjet_call_only(matrix):
    """The njettiness call alone, on particles already converted to awkward four-vectors."""
    import awkward as ak
    import fastjet

    X = as_constituent_array(matrix)
    real = X[:, :, 0] > 0
    pt, eta, phi = X[real].T
    particles = ak.unflatten(
        ak.zip(
            {
                "px": pt * np.cos(phi),
                "py": pt * np.sin(phi),
                "pz": pt * np.sinh(eta),
                "E": pt * np.cosh(eta),
            }
        ),
        real.sum(axis=1),
    )

    def run():
        sequence = fastjet.ClusterSequence(
            particles, fastjet.JetDefinition(fastjet.kt_algorithm, 1000.0)
        )
        return sequence.njettiness(
            measure_definition="NormalizedMeasure", axes_definition="KT_Axes", njets=[1, 2],
            beta=1.0, R0=1.0,
        )  # fmt: skip

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jets", type=int, default=20_000)
    parser.add_argument("--multiplicity", type=float, default=60.0)
    parser.add_argument("--width", type=int, default=150, help="padded constituents per jet")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    matrix = make_jets(rng, args.n_jets, args.multiplicity, args.width)
    n_real = (matrix[:, 0::3] > 0).sum(axis=1)
    threads = numba.get_num_threads()
    print(
        f"{args.n_jets} jets, {n_real.mean():.1f} constituents on average "
        f"(matrix width {matrix.shape[1]}), numba threads: {threads}"
    )
    tau21(matrix[:10])
    tau21(matrix[:10], backend="fastjet")  # prints FastJet's banner once

    ours, t_numba = best_time(lambda: tau21(matrix), args.repeat)
    numba.set_num_threads(1)
    _, t_numba_1 = best_time(lambda: tau21(matrix), args.repeat)
    numba.set_num_threads(threads)
    reference, t_fastjet = best_time(lambda: tau21(matrix, backend="fastjet"), args.repeat)
    _, t_call = best_time(fastjet_call_only(matrix), args.repeat)

    n = args.n_jets
    rows = [
        (f"numba kernel, {threads} threads", t_numba),
        ("numba kernel, 1 thread", t_numba_1),
        ('fastjet njettiness (tau21(..., backend="fastjet"))', t_fastjet),
        ("fastjet njettiness, call only (no conversion)", t_call),
    ]
    for name, seconds in rows:
        print(f"{name:<52s} {seconds:8.3f} s  {n / seconds:12,.0f} jets/s")
    print(f"numba ({threads} threads) / fastjet speed ratio: {t_fastjet / t_numba:.1f}x")
    print(f"numba (1 thread) / fastjet speed ratio:  {t_fastjet / t_numba_1:.1f}x")
    print(f"numba (1 thread) / fastjet call only:    {t_call / t_numba_1:.1f}x")
    difference = np.abs(ours - reference)
    print(
        f"max |difference| {np.nanmax(difference):.2e}, "
        f"max relative {np.nanmax(difference / np.maximum(np.abs(reference), 1e-300)):.2e}"
    )


if __name__ == "__main__":
    main()
