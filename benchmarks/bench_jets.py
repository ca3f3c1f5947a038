"""Throughput of tau21 (numba, exclusive-kT axes) against FastJet + numpy in the same run.

Usage::

    python benchmarks/bench_jets.py [--n-jets 100000] [--multiplicity 60] [--baseline-jets 500]

Jets have a Poisson number of constituents around ``--multiplicity`` (1–3 hard prongs with
collinear sprays plus soft wide radiation) in a zero-padded (n, 3·P) constituent matrix. The
baseline clusters each jet with ``fastjet.ClusterSequence(..., JetDefinition(kt_algorithm,
1000.))`` and evaluates τ1, τ2 with numpy; it runs on a subset and is reported per jet.
"""

import argparse
import time

import numba
import numpy as np

from hepcluster.jets import tau21


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


def tau21_fastjet(matrix):
    import fastjet

    definition = fastjet.JetDefinition(fastjet.kt_algorithm, 1000.0)
    out = np.empty(len(matrix))
    for j, row in enumerate(matrix.reshape(len(matrix), -1, 3)):
        pt, eta, phi = row[row[:, 0] > 0].T
        p4 = np.stack(
            [pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)], axis=-1
        )
        sequence = fastjet.ClusterSequence(
            [fastjet.PseudoJet(*map(float, p)) for p in p4], definition
        )
        taus = []
        for n in (1, 2):
            if len(pt) <= n:
                taus.append(0.0)
                continue
            axes = np.array([[a.rap(), a.phi()] for a in sequence.exclusive_jets(n)])
            dphi = np.abs(np.mod(phi[:, None] - axes[None, :, 1] + np.pi, 2 * np.pi) - np.pi)
            dr = np.sqrt((eta[:, None] - axes[None, :, 0]) ** 2 + dphi**2).min(axis=1)
            taus.append(np.sum(pt * dr) / np.sum(pt))
        out[j] = taus[1] / taus[0] if taus[0] > 0 else 0.0
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jets", type=int, default=100_000)
    parser.add_argument("--multiplicity", type=float, default=60.0)
    parser.add_argument("--width", type=int, default=150, help="padded constituents per jet")
    parser.add_argument("--baseline-jets", type=int, default=500)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    matrix = make_jets(rng, args.n_jets, args.multiplicity, args.width)
    n_real = (matrix[:, 0::3] > 0).sum(axis=1)
    print(
        f"{args.n_jets} jets, {n_real.mean():.1f} constituents on average "
        f"(matrix width {matrix.shape[1]}), numba threads: {numba.get_num_threads()}"
    )

    start = time.perf_counter()
    tau21(matrix[:10])
    print(f"first call (compilation or cache load): {time.perf_counter() - start:.2f} s")

    start = time.perf_counter()
    ours = tau21(matrix)
    elapsed = time.perf_counter() - start
    print(f"hepcluster tau21: {elapsed:.3f} s, {args.n_jets / elapsed:,.0f} jets/s")

    try:
        import fastjet  # noqa: F401
    except ImportError:
        print("fastjet not installed: no baseline")
        return
    subset = matrix[: args.baseline_jets]
    start = time.perf_counter()
    reference = tau21_fastjet(subset)
    baseline = (time.perf_counter() - start) / len(subset)
    print(f"fastjet + numpy tau21: {1 / baseline:,.0f} jets/s (on {len(subset)} jets)")
    print(f"speed ratio: {baseline * args.n_jets / elapsed:.0f}x")
    print(f"max |difference| on the subset: {np.max(np.abs(ours[: len(subset)] - reference)):.2e}")


if __name__ == "__main__":
    main()
