"""Dense and sparse jet images in Cluster Scanning: the same calibration in distribution.

``Pipeline([JetImageTransformer(), ClusterScanner()])`` hands the scanner dense smeared
images, which it fits with :class:`sklearn.cluster.MiniBatchKMeans`;
``JetImageTransformer(sparse_output=True)`` hands it the sparse unsmeared images, which
it fits with the same mini-batch algorithm run on them (Cluster Scanning,
arXiv:2402.17714, §3). The labels of the two are equal for the same centres (tested);
the fits follow different random draws, so the scans can only be equal in
distribution. This benchmark runs both pipelines through ``run_pseudo_experiments``
with the same ``random_state`` — the same bootstrap weights, the same injected signal
events and the same member seeds in every pseudo-experiment — and compares the test
statistics:

- two-sample Kolmogorov–Smirnov and Anderson–Darling tests (background-only and at one
  injection level), which must not reject (p > 0.05);
- the medians with bootstrap errors;
- the paired differences (same toys), whose mean must be compatible with zero;
- the time per pseudo-experiment of each path.

Events: ``make_dijet_events`` (synthetic, default) or ``--events FILE`` (any file
``EventTable.read`` takes, e.g. the Pythia8 + FastJet output of ``hepcluster generate``).

Run: ``python benchmarks/bench_dense_sparse_equivalence.py`` (300 background-only and 50
injected toys per path; the dense path dominates); ``--quick`` for a smoke run.
"""

import argparse
import os
import time

import numpy as np
from scipy import stats
from sklearn.pipeline import Pipeline

from hepcluster import ClusterScanner, JetImageTransformer
from hepcluster.calibration import run_pseudo_experiments
from hepcluster.datasets import EventTable, make_dijet_events


def bootstrap_median_error(values, rng, n_resamples=2000):
    picks = rng.integers(0, values.size, (n_resamples, values.size))
    return float(np.std(np.median(values[picks], axis=1)))


def compare(name, dense, sparse, rng):
    ks = stats.ks_2samp(dense, sparse)
    ad = stats.anderson_ksamp([dense, sparse], method=stats.PermutationMethod(n_resamples=999))
    diff = dense - sparse
    print(
        f"\n{name} ({dense.size} toys per path):"
        f"\n  median dense {np.median(dense):.3f} ± {bootstrap_median_error(dense, rng):.3f}, "
        f"sparse {np.median(sparse):.3f} ± {bootstrap_median_error(sparse, rng):.3f}"
        f"\n  mean dense {dense.mean():.3f}, sparse {sparse.mean():.3f}; paired difference "
        f"{diff.mean():+.3f} ± {diff.std(ddof=1) / np.sqrt(diff.size):.3f}"
        f"\n  KS p = {ks.pvalue:.3f}, AD p = {ad.pvalue:.3f} "
        f"({'not rejected' if min(ks.pvalue, ad.pvalue) > 0.05 else 'REJECTED'} at 0.05)"
    )
    return min(ks.pvalue, ad.pvalue)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", help="event file (EventTable.read); synthetic if omitted")
    parser.add_argument("--n-background", type=int, default=40_000, help="synthetic QCD")
    parser.add_argument("--n-signal-pool", type=int, default=3_000, help="synthetic W'")
    parser.add_argument("--n-background-only", type=int, default=300)
    parser.add_argument("--n-injected", type=int, default=50, help="toys at one level")
    parser.add_argument("--injection", type=int, default=800, help="signal events injected")
    parser.add_argument("--n-pixels", type=int, default=40)
    parser.add_argument("--n-clusters", type=int, default=50)
    parser.add_argument("--n-ensemble", type=int, default=5)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.n_background, args.n_signal_pool = 12_000, 1_500
        args.n_background_only, args.n_injected, args.injection = 30, 10, 400
        args.n_pixels, args.n_clusters, args.n_ensemble = 16, 20, 2
    print(f"cores: {os.cpu_count()}, load average {os.getloadavg()}")
    if args.events:
        events = EventTable.read(args.events)
    else:
        events = make_dijet_events(
            args.n_background,
            args.n_signal_pool,
            mjj_range=(2900.0, 4700.0),
            random_state=args.seed,
        )
    print(f"events: {events!r}")
    scanner = ClusterScanner(n_clusters=args.n_clusters, n_ensemble=args.n_ensemble)
    results, timings = {}, {}
    for label, sparse_output in (("dense", False), ("sparse", True)):
        images = JetImageTransformer(n_pixels=args.n_pixels, sparse_output=sparse_output)
        pipe = Pipeline([("images", images), ("scan", scanner)])
        t0 = time.perf_counter()
        results[label] = run_pseudo_experiments(
            pipe,
            events,
            n_background_only=args.n_background_only,
            signal_injections=(args.injection,),
            n_per_injection=args.n_injected,
            n_jobs=args.n_jobs,
            random_state=args.seed,
        )
        timings[label] = (time.perf_counter() - t0) / (args.n_background_only + args.n_injected)
        print(f"{label}: {timings[label]:.2f} s per pseudo-experiment (load {os.getloadavg()})")
    rng = np.random.default_rng(0)
    p_null = compare(
        "background only",
        np.asarray(results["dense"].null_statistics),
        np.asarray(results["sparse"].null_statistics),
        rng,
    )
    p_signal = compare(
        f"{args.injection} signal events injected",
        np.asarray(results["dense"].injected_statistics[0]),
        np.asarray(results["sparse"].injected_statistics[0]),
        rng,
    )
    print(
        f"\nsmallest p: background only {p_null:.3f}, injected {p_signal:.3f}; sparse path "
        f"x{timings['dense'] / timings['sparse']:.1f} faster per pseudo-experiment"
    )


if __name__ == "__main__":
    main()
