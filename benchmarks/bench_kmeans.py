"""Benchmark the sparse mini-batch k-means fit against scikit-learn on dense images.

Fits k = 50 clusters (batch 2048, max_iter 100, early stopping as in scikit-learn) to
N jet images (default 2·10⁵, the training window of an LHCO-sized Cluster Scanning
search, arXiv:2402.17714 §3):

- ours: ``minibatch_kmeans`` on the sparse unsmeared images (``SparseImages``, the sparse
  kernel of ``hepcluster.scanning._minibatch``);
- reference: ``sklearn.cluster.MiniBatchKMeans(n_init=1)`` on the dense smeared images,
  float32 (what a 1600-wide image pipeline stores) and float64 (what ``minibatch_kmeans``
  and ``ClusterScanner`` run on dense input).

Both are timed with the same seeds in the same run; the inertia of every fit is then
measured on the same smeared images (float64) through ``nearest_centroid`` with
distances, so the quality is compared on equal terms. Image building is not timed: it
happens once per data set. The fit time of ours is reported with and without the
squared norms ``‖G x‖²`` of the images, which are a per-data-set cost as well (shared by
the members of an ensemble and by every pseudo-experiment).

Run: ``python benchmarks/bench_kmeans.py`` (a few minutes on 2 cores);
``--quick`` for a smoke run.
"""

import argparse
import os
import time

import numba
import numpy as np
from sklearn.cluster import MiniBatchKMeans

from hepcluster.datasets import make_dijet_events
from hepcluster.images import JetImageTransformer, nearest_centroid
from hepcluster.scanning._defaults import BATCH_SIZE, N_CLUSTERS
from hepcluster.scanning._kmeans import minibatch_kmeans
from hepcluster.scanning._smeared_rows import smeared_squared_norms


def inertia(images, centers):
    """Σ ‖G x − c_label‖² over the images (float64), independent of the fit code."""
    _, distances = nearest_centroid(images, centers, return_distances=True)
    return float(distances.sum())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-jets", type=int, default=200_000, help="training jets")
    parser.add_argument("--n-clusters", type=int, default=N_CLUSTERS)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--seeds", type=int, default=3, help="fits per method")
    parser.add_argument("--no-float64", action="store_true", help="skip the float64 reference")
    parser.add_argument("--quick", action="store_true", help="small sizes, smoke test")
    args = parser.parse_args()
    if args.quick:
        args.n_jets, args.seeds = 20_000, 1

    print(f"cores: {os.cpu_count()}, numba threads: {numba.get_num_threads()}")
    t0 = time.perf_counter()
    events = make_dijet_events(args.n_jets // 2, 0, mjj_range=(3000.0, 3100.0), random_state=0)
    X, _, _ = events.jets()
    images = JetImageTransformer(sparse_output=True).fit_transform(X)
    del events, X
    print(
        f"{images.n_jets} jets with m_jj in [3000, 3100) GeV, "
        f"{images.nnz / images.n_jets:.1f} non-zero pixels per unsmeared image "
        f"(generated and imaged in {time.perf_counter() - t0:.0f} s)"
    )
    k, batch = args.n_clusters, args.batch_size

    # warm the numba caches
    minibatch_kmeans(images[np.arange(5000)], k, batch_size=512, random_state=0)

    t0 = time.perf_counter()
    norms = smeared_squared_norms(images)
    t_norms = time.perf_counter() - t0

    rows = []
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        result = minibatch_kmeans(
            images,
            k,
            batch_size=batch,
            compute_labels=False,
            x_squared_norms=norms,
            random_state=seed,
        )
        elapsed = time.perf_counter() - t0
        rows.append(
            ("sparse (ours)", seed, elapsed, result.n_steps, inertia(images, result.centers))
        )

    dtypes = [np.float32] if args.no_float64 else [np.float32, np.float64]
    for dtype in dtypes:
        dense = images.to_dense(smear=True, dtype=dtype)
        for seed in range(args.seeds):
            km = MiniBatchKMeans(
                k, batch_size=batch, n_init=1, compute_labels=False, random_state=seed
            )
            t0 = time.perf_counter()
            km.fit(dense)
            elapsed = time.perf_counter() - t0
            centers = km.cluster_centers_.astype(np.float64)
            rows.append(
                (
                    f"sklearn dense {np.dtype(dtype).name}",
                    seed,
                    elapsed,
                    km.n_steps_,
                    inertia(images, centers),
                )
            )
        del dense

    print(f"\nk-means fit, k = {k}, batch {batch}, max_iter 100, {images.n_jets} jets:")
    print(f"  {'method':24s} {'seed':>4s} {'fit [s]':>9s} {'steps':>6s} {'inertia':>10s}")
    for name, seed, elapsed, steps, value in rows:
        print(f"  {name:24s} {seed:4d} {elapsed:9.3f} {steps:6d} {value:10.4f}")
    print(f"  (squared norms of the images, once per data set: {t_norms:.3f} s)")

    def summary(name):
        sel = [r for r in rows if r[0] == name]
        return np.mean([r[2] for r in sel]), np.mean([r[4] for r in sel])

    t_ours, i_ours = summary("sparse (ours)")
    print("\nmean over seeds:")
    print(f"  sparse (ours)             fit {t_ours:8.3f} s   inertia {i_ours:.4f}")
    for dtype in dtypes:
        name = f"sklearn dense {np.dtype(dtype).name}"
        t_ref, i_ref = summary(name)
        print(
            f"  {name:25s} fit {t_ref:8.3f} s   inertia {i_ref:.4f}   "
            f"speed-up x{t_ref / t_ours:.0f} (x{t_ref / (t_ours + t_norms):.0f} with the norms), "
            f"inertia ratio ours/sklearn {i_ours / i_ref:.4f}"
        )


if __name__ == "__main__":
    main()
