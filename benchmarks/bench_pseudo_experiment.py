"""Benchmark one Cluster Scanning pseudo-experiment: sparse path against the dense reference.

A calibration pseudo-experiment (Cluster Scanning,
arXiv:2402.17714, §3.1.3) on LHCO-sized data — about 2.5·10⁵ training jets with m_jj
in [3000, 3100) GeV and 1.1·10⁶ evaluation jets in [3000, 4600) GeV, 40×40 images —
draws Poisson(1) multiplicities per event (both jets of an event share them), fits an
ensemble of k = 50 k-means on the weighted training jets, labels every evaluation jet
with every member and fills the weighted cluster spectra (16 bins of 100 GeV).

**Ours** (timed end to end, per pseudo-experiment): the images are built once as
``SparseImages``; the bootstrap weights go into ``minibatch_kmeans`` on the sparse
training images (the members run two at a time in threads, one numba thread each),
the evaluation jets are labelled with ``nearest_centroid`` (two numba threads) and the
spectra filled with ``np.bincount``. Only jets whose event has a non-zero multiplicity
are labelled (the others have no weight in any spectrum); the time to label *all*
evaluation jets is printed too.

**Dense reference**: dense smeared images (built once, not timed), resampled *copies*
of the training jets per pseudo-experiment, ``sklearn.cluster.MiniBatchKMeans(
n_clusters=50, batch_size=2048, n_init=1, compute_labels=False).fit`` per member and
``.predict`` on the dense evaluation images. The dense evaluation images of 1.1·10⁶ jets
would take 7 GB (float32), so ``predict`` is timed on a subset (default 10⁵ jets) and
scaled linearly; the fit is timed on ``--dense-members`` members (default 1) and
multiplied by the ensemble size. Both scalings are printed.

The events come from ``make_dijet_events(n, 0, mjj_range=(3000, 4600))`` (QCD only,
as in the background-only calibration), generated and imaged in chunks on both cores;
``--tile`` generates ``1/tile`` of them and repeats them (faster, for smoke runs).

Run: ``python benchmarks/bench_pseudo_experiment.py`` (about 10 minutes on 2 cores,
most of it generating 5.5·10⁵ events); ``--quick`` for a smoke run.
"""

import argparse
import os
import time

import numba
import numpy as np
from joblib import Parallel, delayed
from sklearn.cluster import MiniBatchKMeans

from hepcluster.datasets import make_dijet_events
from hepcluster.images import JetImageTransformer, SparseImages, nearest_centroid
from hepcluster.scanning._kmeans import minibatch_kmeans, smeared_squared_norms

TRAIN_WINDOW = (3000.0, 3100.0)
BINS = np.linspace(3000.0, 4600.0, 17)
N_CLUSTERS = 50
BATCH_SIZE = 2048
PAPER_PSEUDO_EXPERIMENTS = 3900  # background-only calibration of arXiv:2402.17714


def concatenate(parts):
    """Concatenate SparseImages row-wise."""
    offsets = np.cumsum([0] + [p.nnz for p in parts[:-1]])
    indptr = np.concatenate(
        [parts[0].indptr[:1]] + [p.indptr[1:] + o for p, o in zip(parts, offsets, strict=True)]
    )
    first = parts[0]
    return SparseImages(
        indptr=indptr,
        indices=np.concatenate([p.indices for p in parts]),
        values=np.concatenate([p.values for p in parts]),
        n_pixels=first.n_pixels,
        extent=first.extent,
        smear_sigma=first.smear_sigma,
        normalize=first.normalize,
        n_outside=np.concatenate([p.n_outside for p in parts]),
    )


def generate_chunk(n_events, seed):
    """Events of one chunk as (per-jet m_jj, sparse images); one numba thread.

    m_jj recomputed from the constituents can fall just outside the generated range:
    such events (a few per mille) are dropped, so that every jet is an evaluation jet.
    """
    events = make_dijet_events(n_events, 0, mjj_range=(BINS[0], BINS[-1]), random_state=seed)
    events = events[(events.mjj >= BINS[0]) & (events.mjj < BINS[-1])]
    X, mjj, _ = events.jets()
    images = JetImageTransformer(n_jobs=1, sparse_output=True).fit_transform(X)
    return mjj, images


def save(path, mjj, images):
    np.savez(
        path,
        mjj=mjj,
        indptr=images.indptr,
        indices=images.indices,
        values=images.values,
        n_outside=images.n_outside,
    )


def load(path):
    data = np.load(path)
    images = SparseImages(
        indptr=data["indptr"],
        indices=data["indices"],
        values=data["values"],
        n_pixels=40,
        extent=0.8,
        smear_sigma=1.0,
        normalize=True,
        n_outside=data["n_outside"],
    )
    return data["mjj"], images


def fmt_time(seconds):
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-events", type=int, default=550_000, help="events (2 jets each)")
    parser.add_argument("--tile", type=int, default=1, help="generate n/tile, repeat tile x")
    parser.add_argument("--n-ensemble", type=int, default=15)
    parser.add_argument("--n-pseudo", type=int, default=2, help="pseudo-experiments (ours)")
    parser.add_argument("--dense-members", type=int, default=1, help="dense fits timed")
    parser.add_argument("--dense-eval", type=int, default=100_000, help="dense predict subset")
    parser.add_argument(
        "--dense-dtype", choices=["float32", "float64"], default="float32", help="dense images"
    )
    parser.add_argument("--chunk", type=int, default=25_000, help="events per generated chunk")
    parser.add_argument("--cache", help=".npz file keeping the generated images between runs")
    parser.add_argument("--quick", action="store_true", help="small sizes, smoke test")
    args = parser.parse_args()
    if args.quick:
        args.n_events, args.n_ensemble, args.n_pseudo = 40_000, 3, 1
        args.dense_eval, args.chunk = 20_000, 10_000
    dense_dtype = np.dtype(args.dense_dtype)
    n_cores = os.cpu_count()
    print(f"cores: {n_cores}, numba threads: {numba.get_num_threads()}")

    # -- data: generated and imaged once (not part of a pseudo-experiment) ---------------
    t0 = time.perf_counter()
    n_unique = args.n_events // args.tile
    if args.cache and os.path.exists(args.cache):
        mjj, images = load(args.cache)
    else:
        sizes = [min(args.chunk, n_unique - s) for s in range(0, n_unique, args.chunk)]
        parts = Parallel(n_jobs=2)(
            delayed(generate_chunk)(size, 1000 + i) for i, size in enumerate(sizes)
        )
        mjj = np.concatenate([p[0] for p in parts])
        images = concatenate([p[1] for p in parts])
        del parts
        if args.cache:
            save(args.cache, mjj, images)
    if args.tile > 1:
        mjj = np.tile(mjj, args.tile)
        images = images[np.tile(np.arange(images.n_jets), args.tile)]
    t_data = time.perf_counter() - t0
    n_jets = images.n_jets
    n_events = n_jets // 2
    train = np.flatnonzero((mjj >= TRAIN_WINDOW[0]) & (mjj < TRAIN_WINDOW[1]))
    bin_index = np.searchsorted(BINS, mjj, side="right") - 1
    assert np.all((bin_index >= 0) & (bin_index < BINS.size - 1))
    n_bins = BINS.size - 1
    tiled = f", {n_unique} generated and tiled x{args.tile}" if args.tile > 1 else ""
    print(
        f"{n_events} events{tiled}: {n_jets} evaluation jets in [3000, 4600) GeV, "
        f"{train.size} training jets in [3000, 3100) GeV; "
        f"{images.nnz / n_jets:.1f} non-zero pixels per unsmeared 40x40 image "
        f"(generation + sparse images: {fmt_time(t_data)})"
    )

    # warm the numba caches outside the timing
    warm = images[np.arange(5000)]
    minibatch_kmeans(warm, 20, batch_size=256, random_state=0, n_jobs=1)
    nearest_centroid(warm, warm.to_dense()[:20])

    # per data set, ours: the training images and their squared norms
    t0 = time.perf_counter()
    train_images = images[train]
    train_norms = smeared_squared_norms(train_images)
    t_prep = time.perf_counter() - t0
    print(f"per data set, ours: training subset + squared norms {t_prep:.2f} s")

    rng = np.random.RandomState(12345)

    # -- ours ------------------------------------------------------------------------
    def fit_member(weight, seed):
        return minibatch_kmeans(
            train_images,
            N_CLUSTERS,
            sample_weight=weight,
            batch_size=BATCH_SIZE,
            compute_labels=False,
            x_squared_norms=train_norms,
            random_state=seed,
            n_jobs=1,
        )

    timings = []
    steps = []
    for _ in range(args.n_pseudo):
        t_start = time.perf_counter()
        weight = np.repeat(rng.poisson(1.0, n_events), 2).astype(np.float64)
        seeds = rng.randint(np.iinfo(np.int32).max, size=args.n_ensemble)
        w_train = weight[train]
        fits = Parallel(n_jobs=2, prefer="threads")(
            delayed(fit_member)(w_train, seed) for seed in seeds
        )
        t_fit = time.perf_counter() - t_start
        t1 = time.perf_counter()
        used = np.flatnonzero(weight > 0)
        eval_images = images[used]
        keys = bin_index[used]
        w_used = weight[used]
        spectra = np.empty((args.n_ensemble, N_CLUSTERS, n_bins))
        for m, fit in enumerate(fits):
            labels = nearest_centroid(eval_images, fit.centers, n_jobs=2)
            spectra[m] = np.bincount(
                labels * n_bins + keys, weights=w_used, minlength=N_CLUSTERS * n_bins
            ).reshape(N_CLUSTERS, n_bins)
        t_label = time.perf_counter() - t1
        total = time.perf_counter() - t_start
        assert np.allclose(spectra.sum(axis=(1, 2)), weight.sum())
        timings.append((total, t_fit, t_label))
        steps.extend(f.n_steps for f in fits)
    t0 = time.perf_counter()
    nearest_centroid(images, fits[0].centers, n_jobs=2)
    t_label_all = time.perf_counter() - t0

    ours = np.mean([t[0] for t in timings])
    ours_fit = np.mean([t[1] for t in timings])
    ours_label = np.mean([t[2] for t in timings])
    ours_strict = ours - ours_label + args.n_ensemble * t_label_all
    print(
        f"\nours, per pseudo-experiment ({args.n_ensemble} members, mean of {args.n_pseudo}):"
        f"\n  bootstrap + {args.n_ensemble} sparse k-means fits        {ours_fit:8.2f} s"
        f"   ({np.mean(steps):.0f} steps per fit on average)"
        f"\n  labels of {used.size} jets (weight > 0), spectra {ours_label:5.2f} s"
        f"   ({ours_label / args.n_ensemble / used.size * 1e6:.2f} us per jet and member)"
        f"\n  total                                       {ours:8.2f} s"
        f"\n  (labelling all {n_jets} jets instead: {t_label_all:.2f} s per member, "
        f"total {ours_strict:.2f} s)"
    )

    # -- dense reference ---------------------------------------------------------------
    t0 = time.perf_counter()
    dense_train = train_images.to_dense(smear=True, dtype=dense_dtype)
    eval_subset = np.sort(
        np.random.default_rng(0).choice(n_jets, min(args.dense_eval, n_jets), replace=False)
    )
    dense_eval = images[eval_subset].to_dense(smear=True, dtype=dense_dtype)
    t_dense_images = time.perf_counter() - t0
    print(
        f"\ndense reference ({dense_dtype.name}): dense smeared images of the "
        f"{train.size} training jets and {eval_subset.size} evaluation jets built in "
        f"{t_dense_images:.1f} s (once per data set, not counted)"
    )
    weight = np.repeat(rng.poisson(1.0, n_events), 2).astype(np.float64)
    seeds = rng.randint(np.iinfo(np.int32).max, size=args.dense_members)
    t0 = time.perf_counter()
    copies = dense_train[np.repeat(np.arange(train.size), weight[train].astype(np.int64))]
    t_copy = time.perf_counter() - t0
    fit_times, predict_times, agree = [], [], []
    for seed in seeds:
        km = MiniBatchKMeans(
            N_CLUSTERS, batch_size=BATCH_SIZE, n_init=1, compute_labels=False, random_state=seed
        )
        t0 = time.perf_counter()
        km.fit(copies)
        fit_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        labels = km.predict(dense_eval)
        predict_times.append(time.perf_counter() - t0)
        sparse_labels = nearest_centroid(images[eval_subset], km.cluster_centers_)
        agree.append(np.mean(labels == sparse_labels))
    del copies
    t0 = time.perf_counter()
    np.bincount(labels * n_bins + bin_index[eval_subset], weights=weight[eval_subset])
    t_bincount = (time.perf_counter() - t0) * n_jets / eval_subset.size
    fit_dense = np.mean(fit_times)
    predict_dense = np.mean(predict_times) * n_jets / eval_subset.size
    dense = t_copy + args.n_ensemble * (fit_dense + predict_dense + t_bincount)
    print(
        f"  resampled copies of the training jets      {t_copy:8.2f} s"
        f"\n  MiniBatchKMeans.fit, per member           {fit_dense:8.2f} s"
        f"   (mean of {len(fit_times)} measured, x{args.n_ensemble} below)"
        f"\n  .predict of all evaluation jets, per member {predict_dense:6.2f} s"
        f"   (measured on {eval_subset.size} jets, scaled x{n_jets / eval_subset.size:.1f})"
        f"\n  total per pseudo-experiment (projected)   {dense:8.2f} s"
        f"\n  (labels of the sparse path on the same centres agree on "
        f"{100 * np.mean(agree):.3f}% of the subset; float32 ties aside they are equal)"
    )

    # -- summary -----------------------------------------------------------------------
    n_total = PAPER_PSEUDO_EXPERIMENTS
    print(
        f"\nper pseudo-experiment: ours {ours:.2f} s, dense reference {dense:.1f} s: "
        f"ratio x{dense / ours:.1f} (target >= 20; x{dense / ours_strict:.1f} when ours "
        f"labels every evaluation jet)"
    )
    print(
        f"paper calibration, {n_total} pseudo-experiments x {args.n_ensemble} members on "
        f"{n_cores} cores: ours {fmt_time(n_total * ours)}, dense reference "
        f"{fmt_time(n_total * dense)}"
    )


if __name__ == "__main__":
    main()
