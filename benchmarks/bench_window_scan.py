"""Scan over training windows and automatic k: what a pseudo-experiment costs, what they buy.

Two modes.

``--cost`` (default): one bootstrap pseudo-experiment (fit + test statistic, the work
``run_pseudo_experiments`` does per toy) of a single-window ``ClusterScanner`` against
``WindowScan`` over every 100 GeV bin of 3.0–4.6 TeV (``n_jobs=1`` and ``2``) and against
``ClusterScanner(n_clusters="auto")``, all on the same sparse images and weights, timed in
the same run (wall and CPU seconds, with the machine load).

``--study``: the comparison of the three searches of arXiv:2402.17714's appendix G
question — the fixed 3.0–3.1 TeV window, the window scan and automatic k — calibrated on
the same pseudo-experiments (one ``random_state``: the same bootstrap weights and the same
injected signal events in every method) together with the 4-parameter dijet fit; prints
the ``compare_methods`` table (median global significance per injection level, with
quartiles) and saves its figure. At the paper's scale (3,900 background-only toys, 100
per level) it needs the window scan's ~10× per toy on top of the two single-window
searches: hours on many cores, meant for a farm (``shard=``) or a large machine.

Events: any file ``EventTable.read`` takes (e.g. the Pythia8 + FastJet output of
``hepcluster generate``, with the signal peak anywhere), default
``/work/data/lhco_rd_200k.h5`` when present, else synthetic events.

Run: ``python benchmarks/bench_window_scan.py --cost`` (about a minute), or e.g.
``python benchmarks/bench_window_scan.py --study --events pythia.h5 --n-background-only
1000 --injections 300 600 1000 1500 --n-per-injection 50 --n-jobs -1 --output study/``.
"""

import argparse
import json
import os
import pathlib
import time

import numpy as np
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from hepcluster import ClusterScanner, DijetFitBackground, JetImageTransformer, WindowScan
from hepcluster.calibration import compare_methods, run_pseudo_experiments
from hepcluster.datasets import EventTable, make_dijet_events

DEFAULT_EVENTS = "/work/data/lhco_rd_200k.h5"


def load_events(path, n_background, n_signal, seed):
    if path is None and os.path.exists(DEFAULT_EVENTS):
        path = DEFAULT_EVENTS
    if path is None:
        return make_dijet_events(n_background, n_signal, random_state=seed)
    events = EventTable.read(path)
    rng = np.random.default_rng(seed)
    background = np.flatnonzero(~events.is_signal)
    signal = np.flatnonzero(events.is_signal)
    keep = np.concatenate(
        [
            rng.choice(background, size=min(n_background, background.size), replace=False),
            rng.choice(signal, size=min(n_signal, signal.size), replace=False),
        ]
    )
    return events[np.sort(keep)]


def cost(args):
    events = load_events(args.events, args.n_background, 0, args.seed)
    region = (events.mjj >= 3000.0) & (events.mjj < 4600.0)
    events = events[np.flatnonzero(region)]
    X, mjj, _ = events.jets()
    images = JetImageTransformer(sparse_output=True).fit(X).transform(X)
    weight = np.random.default_rng(args.seed).poisson(1.0, len(events)).repeat(2).astype(float)
    scanner = ClusterScanner(
        n_clusters=args.k or 20, n_ensemble=args.n_ensemble or 3, random_state=0
    )
    searches = {
        "single window 3.0-3.1 TeV": scanner,
        "window scan, n_jobs=1": WindowScan(scanner, compute_scan=False, random_state=0),
        "window scan, n_jobs=2": WindowScan(scanner, compute_scan=False, random_state=0, n_jobs=2),
        "single window, k auto": clone(scanner).set_params(n_clusters="auto"),
    }

    def toy(search):
        wall, cpu = time.perf_counter(), time.process_time()
        fitted = clone(search).fit(images, mjj, sample_weight=weight)
        statistic = fitted.test_statistic(images, mjj, weight)
        return time.perf_counter() - wall, time.process_time() - cpu, statistic, fitted

    toy(scanner)  # numba compilation out of the timings
    print(
        f"{len(events)} background events in 3.0-4.6 TeV, k={args.k}, "
        f"{args.n_ensemble} members, load {os.getloadavg()[0]:.1f}"
    )
    base = None
    for name, search in searches.items():
        wall, cpu, statistic, fitted = toy(search)
        base = base or wall
        print(
            f"  {name:28s} wall {wall:6.2f} s  cpu {cpu:6.2f} s  x{wall / base:5.1f}  "
            f"statistic {statistic:.3f}"
        )
        if isinstance(fitted, WindowScan):
            print(f"    jets per window {fitted.n_train_.tolist()}")
        if getattr(fitted, "auto_inertia_", None) is not None:
            print(f"    chosen k = {fitted.n_clusters_}")


def study(args):
    events = load_events(args.events, args.n_background, args.n_signal, args.seed)
    images = JetImageTransformer(sparse_output=True)
    fixed = ClusterScanner(n_clusters=args.k or 50, n_ensemble=args.n_ensemble or 15)
    searches = {
        "cs_fixed_window": Pipeline([("images", images), ("scan", fixed)]),
        "cs_window_scan": Pipeline(
            [("images", images), ("scan", WindowScan(fixed, compute_scan=False))]
        ),
        "cs_auto_k": Pipeline(
            [("images", images), ("scan", clone(fixed).set_params(n_clusters="auto"))]
        ),
        "dijet_fit": DijetFitBackground(n_params=4),
    }
    options = dict(
        n_background_only=args.n_background_only,
        signal_injections=args.injections,
        n_per_injection=args.n_per_injection,
        random_state=args.seed,  # the same pseudo-experiments for every method
        n_jobs=args.n_jobs,
    )
    output = pathlib.Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, search in searches.items():
        start = time.perf_counter()
        results[name] = run_pseudo_experiments(
            search, events, checkpoint=output / f"{name}.json", name=name, **options
        )
        results[name].save(output / f"{name}.npz")
        print(f"{name}: {time.perf_counter() - start:.0f} s", flush=True)
    comparison = compare_methods(results)
    (output / "comparison.md").write_text(comparison.to_markdown())
    print(comparison.to_markdown())
    for name, result in results.items():
        print(null_split_check(name, result))
    axes = np.atleast_1d(comparison.plot())
    axes.flat[0].figure.savefig(output / "comparison.png", dpi=150)
    (output / "settings.json").write_text(json.dumps(vars(args), indent=2, default=str))


def null_split_check(name, result):
    """Look-elsewhere check: one half of the null toys against the other (two-sample KS).

    The p-values of the second half's toys, computed against the first half, should be
    flat; printed with their quintile counts.
    """
    from scipy import stats

    null = result.null_statistics[np.isfinite(result.null_statistics)]
    first, second = null[: null.size // 2], null[null.size // 2 :]
    above = (first[None, :] > second[:, None]).sum(axis=1)
    ties = (first[None, :] == second[:, None]).sum(axis=1)
    p_values = (above + 0.5 * ties + 0.5) / (first.size + 1)
    quintiles = np.histogram(p_values, bins=5, range=(0.0, 1.0))[0].tolist()
    return (
        f"{name}: p-values of {second.size} null toys against the other {first.size}: "
        f"two-sample KS p = {stats.ks_2samp(first, second).pvalue:.2f} [computed], quintile "
        f"counts {quintiles} (expected {second.size / 5:.0f} each)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--cost", action="store_true", help="time one pseudo-experiment")
    mode.add_argument("--study", action="store_true", help="significance vs injected events")
    parser.add_argument("--events", default=None)
    parser.add_argument("--n-background", type=int, default=60000)
    parser.add_argument("--n-signal", type=int, default=20000)
    parser.add_argument("--k", type=int, default=None, help="clusters (cost 20, study 50)")
    parser.add_argument("--n-ensemble", type=int, default=None, help="members (cost 3, study 15)")
    parser.add_argument("--n-background-only", type=int, default=3900)
    parser.add_argument("--injections", type=int, nargs="+", default=[300, 600, 1000, 1500])
    parser.add_argument("--n-per-injection", type=int, default=100)
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="window_scan_study")
    args = parser.parse_args()
    study(args) if args.study else cost(args)


if __name__ == "__main__":
    main()
