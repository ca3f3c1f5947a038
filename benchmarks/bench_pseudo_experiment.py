"""Benchmark one Cluster Scanning pseudo-experiment: sparse path against the dense reference.

A calibration pseudo-experiment (Cluster Scanning,
arXiv:2402.17714, §3.1.3) on LHCO-sized data — about 2.5·10⁵ training jets with m_jj
in [3000, 3100) GeV and 1.1·10⁶ evaluation jets in [3000, 4600) GeV, 40×40 images —
draws Poisson(1) multiplicities per event (both jets of an event share them), fits an
ensemble of k = 50 k-means on the weighted training jets, labels every evaluation jet
with every member and fills the weighted cluster spectra (16 bins of 100 GeV).

**Ours** (timed end to end, per pseudo-experiment, stage by stage): the images are
built once as ``SparseImages``; the bootstrap draws the weights, which go into
``minibatch_kmeans`` on the sparse training images (the members run two at a time in
threads, one numba thread each); the evaluation jets are labelled by every member with
``ensemble_nearest_centroid(..., rows=...)`` (two numba threads; each block of jets is
labelled by all members while in cache), which reads the jets of the pseudo-experiment in
place, as ``ClusterScanner`` does, and the spectra are filled with ``np.bincount``. Only jets
whose event has a non-zero multiplicity are labelled (the others have no weight in any
spectrum), as ``ClusterScanner.scan`` does; the time to label *all* evaluation jets is
printed too.

The same pseudo-experiment is then timed once more through
``ClusterScanner(n_jobs=2).fit`` + ``test_statistic``, what a calibration runs: the stages
above leave out the estimator's validation, binning and analysis of the spectra, where an
earlier release lost 2.3 s per paper-scale toy.
The idealized scan of the same toy follows on the same fit, as
``run_shared_pseudo_experiments`` (and ``hepcluster study``) run the two Cluster Scanning
variants, with the cost of the pair.

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
``--cache FILE`` reads the images of any sample saved in the same ``.npz`` layout (keys
``mjj``, ``indptr``, ``indices``, ``values``; 40×40, extent 0.8, σ = 1 pixel), e.g. the
Pythia8 background of the full-scale study.

The load average of the machine is printed at the start and the end (the dense
reference suffers more than ours from a busy core), and the peak memory (maximum
resident set size, ``resource.getrusage``) after ours and after the reference.

``--against REV`` also runs the benchmark of the commit ``REV`` (a temporary
``git worktree``, its own code on ``PYTHONPATH``) on the same cached events right after
this one and prints the speed-up of every stage; the events are cached in a temporary
file unless ``--cache`` names one.

Run: ``python benchmarks/bench_pseudo_experiment.py`` (about 10 minutes on 2 cores,
most of it generating 5.5·10⁵ events); ``--tile 5`` generates a fifth of them;
``--quick`` for a smoke run.
"""

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

import numba
import numpy as np
from joblib import Parallel, delayed
from sklearn.cluster import MiniBatchKMeans

from hepcluster import ClusterScanner
from hepcluster.datasets import make_dijet_events
from hepcluster.images import (
    JetImageTransformer,
    SparseImages,
    ensemble_nearest_centroid,
    nearest_centroid,
)
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
        n_outside=data["n_outside"] if "n_outside" in data else np.zeros(data["mjj"].size, int),
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


def peak_memory_mb():
    """Maximum resident set size of this process so far, MB (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine_load():
    """Load averages (1, 5, 15 min) and, where the kernel has it, the CPU pressure."""
    text = "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    try:
        with open("/proc/pressure/cpu") as f:
            some = f.readline().split()
        text += f", CPU pressure {some[1].split('=')[1]}% (10 s)"
    except (OSError, IndexError):
        pass
    return text


# Lines of the benchmark's own output that other revisions printed too, for --against:
# (stage, regex). The JSON line "RESULT {...}" is preferred where a revision prints it.
_OLD_FORMAT = [
    ("bootstrap + fits", r"bootstrap \+ \d+ sparse k-means fits\s+([\d.]+) s"),
    ("labels + spectra", r"labels of \d+ jets \(weight > 0\), spectra\s+([\d.]+) s"),
    ("total", r"\n\s+total\s+([\d.]+) s"),
    ("dense reference", r"total per pseudo-experiment \(projected\)\s+([\d.]+) s"),
    ("ClusterScanner", r"fit \+ test_statistic, one pseudo-experiment: ([\d.]+) s"),
]


def parse_stages(output):
    """Per-stage seconds from a benchmark's printed output (any revision)."""
    for line in output.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    stages = {}
    for name, pattern in _OLD_FORMAT:
        match = re.search(pattern, output)
        if match:
            stages[name] = float(match.group(1))
    return stages


def run_against(rev, forwarded):
    """Run the benchmark of commit ``rev`` from a temporary worktree; its output."""
    root = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True
    ).stdout.strip()
    where = tempfile.mkdtemp(prefix="hepcluster-bench-")
    tree = os.path.join(where, "tree")
    subprocess.run(["git", "-C", root, "worktree", "add", "--detach", tree, rev], check=True)
    try:
        env = dict(os.environ, PYTHONPATH=tree)
        script = os.path.join(tree, "benchmarks", "bench_pseudo_experiment.py")
        done = subprocess.run(
            [sys.executable, script, *forwarded], env=env, capture_output=True, text=True
        )
        if done.returncode:
            raise RuntimeError(f"the benchmark of {rev} failed:\n{done.stderr[-3000:]}")
        return done.stdout
    finally:
        subprocess.run(["git", "-C", root, "worktree", "remove", "--force", tree], check=False)


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
    parser.add_argument("--against", metavar="REV", help="also run commit REV, per-stage ratios")
    args = parser.parse_args()
    forwarded = list(sys.argv[1:])
    if args.against:
        i = forwarded.index("--against") if "--against" in forwarded else None
        if i is not None:
            del forwarded[i : i + 2]
        else:
            forwarded = [a for a in forwarded if not a.startswith("--against=")]
        if not args.cache:
            args.cache = os.path.join(tempfile.mkdtemp(prefix="hepcluster-bench-"), "events.npz")
            forwarded += ["--cache", args.cache]
    if args.quick:
        args.n_events, args.n_ensemble, args.n_pseudo = 40_000, 3, 1
        args.dense_eval, args.chunk = 20_000, 10_000
    dense_dtype = np.dtype(args.dense_dtype)
    n_cores = os.cpu_count()
    print(f"cores: {n_cores}, numba threads: {numba.get_num_threads()}")
    print(f"at the start: {machine_load()}")

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
    nearest_centroid(images, warm.to_dense()[:20], rows=np.arange(10))
    ensemble_nearest_centroid(images, warm.to_dense()[None, :20], rows=np.arange(10))

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

    stage_names = ("bootstrap", "fits", "labels", "spectra")
    timings = []
    steps = []
    for _ in range(args.n_pseudo):
        t_start = time.perf_counter()
        weight = np.repeat(rng.poisson(1.0, n_events), 2).astype(np.float64)
        seeds = rng.randint(np.iinfo(np.int32).max, size=args.n_ensemble)
        w_train = weight[train]
        used = np.flatnonzero(weight > 0)
        keys = bin_index[used]
        w_used = weight[used]
        t_boot = time.perf_counter()
        fits = Parallel(n_jobs=2, prefer="threads")(
            delayed(fit_member)(w_train, seed) for seed in seeds
        )
        t_fit = time.perf_counter()
        centers = np.stack([fit.centers for fit in fits])
        labels = ensemble_nearest_centroid(images, centers, rows=used, n_jobs=2).astype(np.int64)
        t_label = time.perf_counter()
        spectra = np.empty((args.n_ensemble, N_CLUSTERS, n_bins))
        for m in range(args.n_ensemble):
            spectra[m] = np.bincount(
                labels[m] * n_bins + keys, weights=w_used, minlength=N_CLUSTERS * n_bins
            ).reshape(N_CLUSTERS, n_bins)
        t_end = time.perf_counter()
        assert np.allclose(spectra.sum(axis=(1, 2)), weight.sum())
        timings.append((t_boot - t_start, t_fit - t_boot, t_label - t_fit, t_end - t_label))
        steps.extend(f.n_steps for f in fits)
    del labels
    t0 = time.perf_counter()
    nearest_centroid(images, fits[0].centers, n_jobs=2)
    t_label_all = time.perf_counter() - t0
    memory_ours = peak_memory_mb()

    stages = dict(zip(stage_names, np.mean(timings, axis=0).tolist(), strict=True))
    ours = sum(stages.values())
    ours_strict = ours - stages["labels"] + args.n_ensemble * t_label_all
    print(
        f"\nours, per pseudo-experiment ({args.n_ensemble} members, mean of {args.n_pseudo}):"
        f"\n  bootstrap (Poisson weights, jets used)      {stages['bootstrap']:8.2f} s"
        f"\n  {args.n_ensemble} sparse k-means fits                     "
        f"{stages['fits']:8.2f} s   ({np.mean(steps):.0f} steps per fit on average)"
        f"\n  labels of {used.size} jets (weight > 0)       {stages['labels']:8.2f} s"
        f"   ({stages['labels'] / args.n_ensemble / used.size * 1e6:.3f} us per jet "
        "and member)"
        f"\n  spectra (weighted bincount)                 {stages['spectra']:8.2f} s"
        f"\n  total                                       {ours:8.2f} s"
        f"\n  (labelling all {n_jets} jets instead: {t_label_all:.2f} s per member, "
        f"total {ours_strict:.2f} s)"
        f"\n  peak memory so far (max RSS): {memory_ours:.0f} MB"
    )

    # -- the same toy through the estimator a calibration clones -----------------------
    # (everything the stages above leave out: validation, binning, the analysis of the
    # spectra; an earlier release lost 2.3 s per toy there, invisible in the stages)
    weight = np.repeat(rng.poisson(1.0, n_events), 2).astype(np.float64)
    scanner = ClusterScanner(
        n_clusters=N_CLUSTERS,
        bins=BINS,
        n_ensemble=args.n_ensemble,
        batch_size=BATCH_SIZE,
        random_state=int(rng.randint(np.iinfo(np.int32).max)),
        n_jobs=2,
    )
    t0 = time.perf_counter()
    scanner.fit(images, mjj, sample_weight=weight)
    t_scanner_fit = time.perf_counter() - t0
    scanner.test_statistic(images, mjj, sample_weight=weight)
    t_scanner = time.perf_counter() - t0
    print(
        f"\nthrough ClusterScanner(n_jobs=2).fit + test_statistic, one pseudo-experiment: "
        f"{t_scanner:.2f} s (fit {t_scanner_fit:.2f} s, test_statistic "
        f"{t_scanner - t_scanner_fit:.2f} s)"
    )
    # the idealized scan of the same toy on the same fit, as run_shared_pseudo_experiments
    # (hepcluster study) runs the two Cluster Scanning variants
    t0 = time.perf_counter()
    scanner.set_params(idealized=True).test_statistic(
        images, mjj, sample_weight=weight, is_signal=np.zeros(mjj.size, dtype=bool)
    )
    t_idealized = time.perf_counter() - t0
    print(
        f"  + the idealized scan on the same fit (shared calibration): {t_idealized:.2f} s, "
        f"so the realistic + idealized pair costs {t_scanner + t_idealized:.2f} s instead of "
        f"{t_scanner + t_scanner_fit + t_idealized:.2f} s"
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
        sparse_labels = nearest_centroid(images, km.cluster_centers_, rows=eval_subset)
        agree.append(np.mean(labels == sparse_labels))
    del copies
    t0 = time.perf_counter()
    np.bincount(labels * n_bins + bin_index[eval_subset], weights=weight[eval_subset])
    t_bincount = (time.perf_counter() - t0) * n_jets / eval_subset.size
    fit_dense = np.mean(fit_times)
    predict_dense = np.mean(predict_times) * n_jets / eval_subset.size
    dense = t_copy + args.n_ensemble * (fit_dense + predict_dense + t_bincount)
    memory_all = peak_memory_mb()
    print(
        f"  resampled copies of the training jets      {t_copy:8.2f} s"
        f"\n  MiniBatchKMeans.fit, per member           {fit_dense:8.2f} s"
        f"   (mean of {len(fit_times)} measured, x{args.n_ensemble} below)"
        f"\n  .predict of all evaluation jets, per member {predict_dense:6.2f} s"
        f"   (measured on {eval_subset.size} jets, scaled x{n_jets / eval_subset.size:.1f})"
        f"\n  total per pseudo-experiment (projected)   {dense:8.2f} s"
        f"\n  (labels of the sparse path on the same centres agree on "
        f"{100 * np.mean(agree):.3f}% of the subset; float32 ties aside they are equal)"
        f"\n  peak memory with the dense reference (max RSS): {memory_all:.0f} MB"
    )

    # -- summary -----------------------------------------------------------------------
    n_total = PAPER_PSEUDO_EXPERIMENTS
    print(
        f"\nper pseudo-experiment: ours {ours:.2f} s, dense reference {dense:.1f} s: "
        f"ratio x{dense / ours:.1f} (target >= 34, ours <= 1.8 s; "
        f"x{dense / ours_strict:.1f} when ours labels every evaluation jet)"
    )
    print(
        f"paper calibration, {n_total} pseudo-experiments x {args.n_ensemble} members on "
        f"{n_cores} cores: ours {fmt_time(n_total * ours)}, dense reference "
        f"{fmt_time(n_total * dense)}"
    )
    print(f"at the end: {machine_load()}")
    result = {
        **stages,
        "bootstrap + fits": stages["bootstrap"] + stages["fits"],
        "labels + spectra": stages["labels"] + stages["spectra"],
        "total": ours,
        "dense reference": dense,
        "ClusterScanner": t_scanner,
        "peak memory MB": memory_ours,
    }
    print("RESULT " + json.dumps(result))

    if args.against:
        print(f"\nrunning the benchmark of {args.against} on the same events ...", flush=True)
        previous = parse_stages(run_against(args.against, forwarded))
        print(f"  (during it: {machine_load()})")
        print(f"\nper stage, {args.against} -> this tree (speed-up; dense reference re-measured):")
        for name, seconds in result.items():
            if name in previous and name != "peak memory MB":
                print(
                    f"  {name:18s} {previous[name]:8.2f} s -> {seconds:8.2f} s"
                    f"   x{previous[name] / seconds:.2f}"
                )
        if "total" in previous and "dense reference" in previous:
            print(
                f"  ratio to the dense reference: {args.against} "
                f"x{previous['dense reference'] / previous['total']:.1f}, this tree "
                f"x{dense / ours:.1f}"
            )


if __name__ == "__main__":
    main()
