"""Benchmark jet images and nearest-centroid labelling (arXiv:2402.17714, §3).

Prints speed ratios measured in the same run:

1. Image building, jets/s: ``JetImageTransformer`` (sparse, ``sparse_output=True``, and
   dense ``transform``) against a straightforward numpy implementation of the steps that
   loops over jets (target ≥ 10×), and against a numpy version vectorised over jets.
2. Labelling N jets (default 10⁶) against k = 50 centroids: ``nearest_centroid`` on the
   sparse images against ``MiniBatchKMeans.predict`` on the dense 1600-wide smeared
   images (target ≥ 20×), with a check that the labels are identical.

The dense rows of 10⁶ jets would take 12.8 GB (float64). The dense side therefore keeps
one chunk of dense rows (default 50 000 jets, 640 MB — far larger than any cache, so
``predict`` streams from memory as it would on 10⁶ stored rows) and predicts it
repeatedly until N rows have been labelled; only ``predict`` is timed. The sparse side
labels N jets in one call. Both sides use jets tiled from the same generated sample.

Run: ``python benchmarks/bench_images.py`` (about two minutes on 2 cores);
``--quick`` for a smoke run.
"""

import argparse
import math
import os
import time

import numba
import numpy as np
from sklearn.cluster import MiniBatchKMeans

from hepcluster.datasets import make_dijet_events
from hepcluster.images import JetImageTransformer, gaussian_smearing_matrix, nearest_centroid

N_PIXELS, EXTENT, GAMMA, SIGMA = 40, 0.8, 0.5, 1.0


# --------------------------------------------------------------------------------------
# numpy references of the image steps (arXiv:2402.17714, §3)
# --------------------------------------------------------------------------------------


def wrap(phi):
    return phi - 2 * np.pi * np.ceil((phi - np.pi) / (2 * np.pi))


def smear_matrix():
    return gaussian_smearing_matrix(N_PIXELS, SIGMA)


def numpy_per_jet(X):
    """One jet at a time, as a physicist would first write it."""
    g = smear_matrix()
    out = np.zeros((X.shape[0], N_PIXELS * N_PIXELS))
    for j, row in enumerate(X):
        pt, eta, phi = row.reshape(-1, 3).T
        real = pt > 0
        pt, eta, phi = pt[real], eta[real], phi[real]
        if pt.size == 0:
            continue
        lead = np.argmax(pt)
        eta = eta - eta[lead]
        phi = wrap(phi - phi[lead])
        for _ in range(2):
            eta = eta - np.average(eta, weights=pt)
            phi = wrap(phi - np.average(phi, weights=pt))
        coords = np.stack([eta, phi])
        evals, evecs = np.linalg.eigh((coords * pt) @ coords.T)
        if not np.isclose(evals[0], evals[1]):
            v = evecs[:, 1] if evecs[0, 1] >= 0 else -evecs[:, 1]
            eta, phi = np.array([[v[0], v[1]], [-v[1], v[0]]]) @ coords
        tol = 1e-12 * max(np.abs(eta).max(), np.abs(phi).max())  # snap round-off to axes
        eta = np.where(np.abs(eta) <= tol, 0.0, eta)
        phi = np.where(np.abs(phi) <= tol, 0.0, phi)
        quadrants = [(1, 1), (1, -1), (-1, 1), (-1, -1)]
        sums = [pt[((eta >= 0) == (a > 0)) & ((phi >= 0) == (b > 0))].sum() for a, b in quadrants]
        a, b = quadrants[int(np.argmax(sums))]
        image, _, _ = np.histogram2d(
            a * eta, b * phi, bins=N_PIXELS, range=[[-EXTENT, EXTENT]] * 2, weights=pt
        )
        if image.sum() == 0:
            continue
        image = (image / image.sum()) ** GAMMA
        image = g @ (image / image.sum()) @ g.T
        out[j] = (image / image.sum()).ravel()
    return out


def numpy_vectorised(X):
    """All jets at once with padded (n_jets, P) arrays and dense batch smearing."""
    g = smear_matrix()
    n = X.shape[0]
    pt, eta, phi = X[:, 0::3], X[:, 1::3].copy(), X[:, 2::3].copy()
    rows = np.arange(n)
    lead = np.argmax(pt, axis=1)
    eta -= eta[rows, lead][:, None]
    phi = wrap(phi - phi[rows, lead][:, None])
    total = pt.sum(axis=1, keepdims=True)
    total[total == 0] = 1.0
    for _ in range(2):
        eta -= (pt * eta).sum(axis=1, keepdims=True) / total
        phi = wrap(phi - (pt * phi).sum(axis=1, keepdims=True) / total)
    mee, mpp, mep = (pt * eta**2).sum(1), (pt * phi**2).sum(1), (pt * eta * phi).sum(1)
    theta = 0.5 * np.arctan2(2 * mep, mee - mpp)
    c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
    eta, phi = c * eta + s * phi, -s * eta + c * phi
    tol = 1e-12 * np.maximum(np.abs(eta * (pt > 0)).max(1), np.abs(phi * (pt > 0)).max(1))
    eta = np.where(np.abs(eta) <= tol[:, None], 0.0, eta)
    phi = np.where(np.abs(phi) <= tol[:, None], 0.0, phi)
    quadrant = np.stack(
        [
            (pt * ((eta >= 0) & (phi >= 0))).sum(1),
            (pt * ((eta >= 0) & (phi < 0))).sum(1),
            (pt * ((eta < 0) & (phi >= 0))).sum(1),
            (pt * ((eta < 0) & (phi < 0))).sum(1),
        ]
    ).argmax(axis=0)
    eta *= np.where(quadrant >= 2, -1.0, 1.0)[:, None]
    phi *= np.where(quadrant % 2 == 1, -1.0, 1.0)[:, None]
    scale = N_PIXELS / (2 * EXTENT)
    i_eta = np.floor(eta * scale + N_PIXELS / 2)
    i_phi = np.floor(phi * scale + N_PIXELS / 2)
    inside = (pt > 0) & (i_eta >= 0) & (i_eta < N_PIXELS) & (i_phi >= 0) & (i_phi < N_PIXELS)
    flat = rows[:, None] * N_PIXELS**2 + i_eta * N_PIXELS + i_phi
    images = np.bincount(
        flat[inside].astype(np.int64), weights=pt[inside], minlength=n * N_PIXELS**2
    ).reshape(n, N_PIXELS**2)
    sums = images.sum(axis=1, keepdims=True)
    sums[sums == 0] = 1.0
    images = (images / sums) ** GAMMA
    sums = images.sum(axis=1, keepdims=True)
    sums[sums == 0] = 1.0
    images = (images / sums).reshape(n, N_PIXELS, N_PIXELS)
    images = np.matmul(np.matmul(g, images), g.T).reshape(n, -1)
    sums = images.sum(axis=1, keepdims=True)
    sums[sums == 0] = 1.0
    return images / sums


# --------------------------------------------------------------------------------------


def best_of(function, repeat):
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-events", type=int, default=25_000, help="generated events")
    parser.add_argument("--n-per-jet", type=int, default=2_000, help="jets for the loop ref.")
    parser.add_argument("--n-label", type=int, default=1_000_000, help="jets to label")
    parser.add_argument("--n-clusters", type=int, default=50)
    parser.add_argument("--dense-chunk", type=int, default=50_000, help="dense rows kept")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small sizes, smoke test")
    args = parser.parse_args()
    if args.quick:
        args.n_events, args.n_per_jet, args.n_label, args.dense_chunk = 2_000, 200, 20_000, 5_000

    print(f"cores: {os.cpu_count()}, numba threads: {numba.get_num_threads()}")
    events = make_dijet_events(args.n_events, args.n_events // 20, random_state=0)
    X, _, _ = events.jets()
    X = np.ascontiguousarray(X, dtype=np.float64)
    n_jets = X.shape[0]
    print(f"{n_jets} jets, P = {X.shape[1] // 3} slots, ", end="")
    print(f"{np.count_nonzero(X[:, 0::3]) / n_jets:.1f} constituents per jet on average")

    # ---- 1. images --------------------------------------------------------------------
    transformer = JetImageTransformer().fit(X)
    transformer.transform(X[:100])  # compile (or load the numba cache)
    single = JetImageTransformer(n_jobs=1).fit(X)
    sparse_transformer = JetImageTransformer(sparse_output=True).fit(X)
    sparse_single = JetImageTransformer(n_jobs=1, sparse_output=True).fit(X)

    t_loop, ref_loop = best_of(lambda: numpy_per_jet(X[: args.n_per_jet]), 1)
    t_vec, ref_vec = best_of(lambda: numpy_vectorised(X), 1)
    t_sparse, _ = best_of(lambda: sparse_transformer.transform(X), args.repeat)
    t_sparse1, _ = best_of(lambda: sparse_single.transform(X), args.repeat)
    t_dense, ours = best_of(lambda: transformer.transform(X), args.repeat)
    t_dense1, _ = best_of(lambda: single.transform(X), args.repeat)
    t_alloc, _ = best_of(lambda: np.ones((n_jets, N_PIXELS**2)), args.repeat)
    np.testing.assert_allclose(ours[: args.n_per_jet], ref_loop, atol=1e-12)
    np.testing.assert_allclose(ours, ref_vec, atol=1e-12)

    rate_loop = args.n_per_jet / t_loop
    rate_vec = n_jets / t_vec
    print("\nimages (40x40, centre+rotate+flip, gamma=0.5, sigma=1), jets/s:")
    print(f"  numpy, loop over jets (reference) {rate_loop:12.0f}")
    print(f"  numpy, vectorised over jets       {rate_vec:12.0f}")
    rows = [
        ("ours sparse, all threads", t_sparse),
        ("ours sparse, 1 thread", t_sparse1),
        ("ours dense,  all threads", t_dense),
        ("ours dense,  1 thread", t_dense1),
    ]
    for label, seconds in rows:
        rate = n_jets / seconds
        print(
            f"  {label:33s} {rate:12.0f}   x{rate / rate_loop:7.1f} vs loop"
            f"   x{rate / rate_vec:6.1f} vs vectorised"
        )
    print(
        f"  (allocating and writing the dense output alone: {n_jets / t_alloc:.0f} jets/s, "
        f"{1e6 * t_alloc / n_jets:.1f} us/jet)"
    )

    # ---- 2. labelling -----------------------------------------------------------------
    sparse = sparse_transformer.transform(X)
    dense = ours
    kmeans = MiniBatchKMeans(
        n_clusters=args.n_clusters, n_init=1, batch_size=2048, random_state=0
    ).fit(dense[: min(n_jets, 20_000)])
    centroids = kmeans.cluster_centers_
    tiles = math.ceil(args.n_label / n_jets)
    big = sparse[np.tile(np.arange(n_jets), tiles)[: args.n_label]]
    nearest_centroid(big[:10], centroids)  # compile

    chunk = min(args.dense_chunk, n_jets, args.n_label)
    dense_chunk = np.ascontiguousarray(dense[:chunk])
    n_passes = math.ceil(args.n_label / chunk)

    def dense_predict():
        labels = None
        for _ in range(n_passes):
            labels = kmeans.predict(dense_chunk)
        return labels

    t_dense_label, dense_labels = best_of(dense_predict, 1)
    t_build, _ = best_of(lambda: sparse[:chunk].to_dense(), 1)
    t_sparse_label, labels = best_of(lambda: nearest_centroid(big, centroids), args.repeat)
    scale = args.n_label / (n_passes * chunk)
    t_dense_label *= scale
    identical = np.array_equal(labels[:chunk], dense_labels)
    identical_all = np.array_equal(nearest_centroid(sparse, centroids), kmeans.predict(dense))
    print(f"\nlabelling {args.n_label} jets against {args.n_clusters} centroids:")
    print(f"  dense MiniBatchKMeans.predict (1600-wide rows) {t_dense_label:8.2f} s")
    print(
        f"    + building the dense smeared rows            "
        f"{t_build * args.n_label / chunk:8.2f} s (extrapolated from {chunk} jets)"
    )
    print(f"  sparse nearest_centroid                        {t_sparse_label:8.2f} s")
    print(f"  ratio dense predict / sparse:  x{t_dense_label / t_sparse_label:.1f}")
    print(
        "  ratio dense build+predict / sparse:  "
        f"x{(t_dense_label + t_build * args.n_label / chunk) / t_sparse_label:.1f}"
    )
    print(f"  identical labels: {identical and identical_all} (all {n_jets} distinct jets)")


if __name__ == "__main__":
    main()
