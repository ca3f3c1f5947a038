"""Benchmark UCluster: training throughput against an older revision, and the defaults.

Two parts, each run in fresh subprocesses (so that peak memory is per configuration):

1. Throughput: jets/s per epoch of pre-training (median over the epochs after the first,
   which also builds the graph) and peak resident memory, for 30 and 100 constituent
   slots, of this working tree and of an older revision of the package (``--baseline``,
   exported with ``git archive`` into a temporary folder; by default the revision before
   the packed-particle networks), with the same settings, in the same run. The old code
   spends work on every padding slot and gathers neighbours with a slow general gather;
   the new one reads only real particles.
2. Defaults: ``DeepKMeans(random_state=0).fit(X)`` on the jets (time, peak memory,
   cluster accuracy; its restarts and the run it kept) next to k-means on the
   pre-trained embedding, a supervised KNN on the UCluster embedding, and the baselines
   on the jet mass alone, ungroomed and soft-drop groomed (z_cut = 0.1, β = 0,
   R0 = 0.8): k-means, a supervised KNN, the equal-size partition of the mass (what
   uniform label proportions on a perfect mass embedding would give) and the best two
   cuts on the mass (chosen with the labels: the ceiling of any partition of the mass);
   then ``DeepKMeans(random_state=s)`` for s = 0 … ``--seeds``−1 (default 8), one fresh
   process each: accuracy, time and the kept run per seed, and the median, minimum and
   maximum over the seeds.

Jets: ``--data FILE.npz`` (arrays ``X``, ``y``, e.g. written from
``hepcluster.datasets.generate_pythia_jets``), else Pythia8 W/Z/top jets generated here
when the ``generate`` extra is installed (``--n-jets`` of them, ~1 minute for 5,000;
``--mpi`` adds the underlying event, ~2 minutes), else
synthetic jets from ``make_jets`` (too easy to be evidence of accuracy).

Run: ``python benchmarks/bench_ucluster.py`` (~30 minutes on 2 CPU cores, most of it the
seeds; ``--seeds 1`` for one);
``--quick`` for a smoke run; ``--old-defaults`` adds the old estimator defaults (full
width, batch 1024) at 100 slots, which need ~16 GB of memory.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
BASELINE = "05d9cd5"
"""The revision that introduced UCluster (padded networks), the default baseline."""


def worker(config):
    """Run one measurement in this process and print it as a JSON line."""
    import resource

    data = np.load(config["data"], allow_pickle=True)
    slots = config["slots"]
    X = data["X"][: config["n_jets"], : 3 * slots].astype(np.float64)
    y = data["y"][: config["n_jets"]].astype(str)
    result = {"impl": config["impl"], "slots": slots}
    if config["mode"] == "throughput":
        from hepcluster.ucluster import UClusterEmbedding

        # "pretrain_epochs" since issue 25; the baseline revision may call it "epochs".
        epochs = (
            "pretrain_epochs"
            if "pretrain_epochs" in UClusterEmbedding().get_params()
            else "epochs"
        )
        params = {
            "width": config["width"],
            epochs: config["epochs"],
            "batch_size": config["batch_size"],
        }
        model = UClusterEmbedding(random_state=0, device=config["device"], **params).fit(X)
        rates = model.history_["samples_per_second"][1:]
        result["jets/s"] = float(np.median(rates))
        result.update(params)
    else:
        import warnings

        from sklearn.cluster import KMeans
        from sklearn.neighbors import KNeighborsClassifier

        from hepcluster.jets import jet_kinematics, softdrop_mass
        from hepcluster.metrics import cluster_accuracy
        from hepcluster.ucluster import DeepKMeans

        seed = config.get("random_state", 0)
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = DeepKMeans(random_state=seed, device=config["device"]).fit(X)
        result["fit s"] = time.perf_counter() - start
        result["random_state"] = seed
        result["UCluster"] = cluster_accuracy(y, model.labels_)
        result["runs"] = len(model.restarts_)
        result["kept run"] = model.best_restart_
        result["cluster fractions"] = "/".join(
            f"{v:.2f}" for v in model.restarts_[model.best_restart_]["cluster_fractions"]
        )
        result["warned collapse"] = any("collapsed" in str(w.message) for w in caught)
        if not config.get("ceilings", True):
            result["peak RSS GB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
            print("RESULT " + json.dumps(result), flush=True)
            return
        train = np.random.default_rng(0).random(len(y)) < 0.5
        embedding = model.embed(X)
        mass = jet_kinematics(X).mass[:, None]
        groomed = softdrop_mass(X)[:, None]
        result.update(
            {
                "k-means (pre-trained)": cluster_accuracy(y, model.init_labels_),
                "supervised KNN (UCluster)": KNeighborsClassifier(15)
                .fit(embedding[train], y[train])
                .score(embedding[~train], y[~train]),
                "k-means (mass)": cluster_accuracy(
                    y, KMeans(3, n_init=10, random_state=0).fit_predict(mass)
                ),
                "supervised KNN (mass)": KNeighborsClassifier(50)
                .fit(mass[train], y[train])
                .score(mass[~train], y[~train]),
                "equal thirds (mass)": mass_partition_accuracy(y, mass[:, 0], None),
                "best two cuts (mass)": best_two_cuts(y, mass[:, 0]),
                "k-means (soft-drop mass)": cluster_accuracy(
                    y, KMeans(3, n_init=10, random_state=0).fit_predict(groomed)
                ),
                "supervised KNN (soft-drop)": KNeighborsClassifier(50)
                .fit(groomed[train], y[train])
                .score(groomed[~train], y[~train]),
                "best two cuts (soft-drop)": best_two_cuts(y, groomed[:, 0]),
                "schedule": model.schedule,
            }
        )
    result["peak RSS GB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print("RESULT " + json.dumps(result), flush=True)


def mass_partition_accuracy(y, mass, cuts):
    """Cluster accuracy of the partition of the mass at ``cuts`` (None: equal thirds)."""
    from hepcluster.metrics import cluster_accuracy

    if cuts is None:
        cuts = np.quantile(mass, [1 / 3, 2 / 3])
    return cluster_accuracy(y, np.digitize(mass, cuts))


def best_two_cuts(y, mass):
    """The best accuracy of any two cuts on the mass (a grid of quantiles), given the labels."""
    grid = np.quantile(mass, np.linspace(0.02, 0.98, 97))
    return max(
        mass_partition_accuracy(y, mass, (low, high))
        for i, low in enumerate(grid)
        for high in grid[i + 1 :]
    )


def run_worker(config, pythonpath):
    env = {**os.environ, "PYTHONPATH": str(pythonpath), "HEPCLUSTER_PROGRESS": "0"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the old revision does not filter them
    process = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(config)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    for line in process.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"worker failed ({config}):\n{process.stderr[-3000:]}")


def export_revision(revision, folder):
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "hepcluster"],
        capture_output=True,
        check=True,
    ).stdout
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def jets(args, folder):
    if args.data:
        return Path(args.data), "file " + args.data
    path = Path(folder) / "jets.npz"
    try:
        from hepcluster.datasets import generate_pythia_jets

        X, y = generate_pythia_jets(
            -(-args.n_jets // 3),
            n_constituents=100,
            mpi=args.mpi,
            n_jobs=args.n_jobs,
            random_state=1,
        )
        what = "Pythia8 W/Z/top jets (generated here" + (", with MPI)" if args.mpi else ")")
    except ImportError:
        from hepcluster.datasets import make_jets

        X, y = make_jets(-(-args.n_jets // 3), n_constituents=100, random_state=1)
        what = "synthetic make_jets W/Z/top jets (no pythia8mc installed)"
    order = np.random.default_rng(0).permutation(len(y))
    np.savez(path, X=X[order].astype(np.float32), y=np.asarray(y[order], dtype=str))
    return path, what


def table(rows, columns):
    print(" | ".join(f"{name:>12}" for name in columns))
    for row in rows:
        cells = []
        for name in columns:
            value = row.get(name, "")
            cells.append(f"{value:>12.3f}" if isinstance(value, float) else f"{value!s:>12}")
        print(" | ".join(cells))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", help="npz file with X (n, 300) and y")
    parser.add_argument("--n-jets", type=int, default=5000)
    parser.add_argument("--n-jobs", type=int, default=None, help="Pythia processes")
    parser.add_argument("--mpi", action="store_true", help="Pythia jets with underlying event")
    parser.add_argument("--baseline", default=BASELINE, help="git revision to compare with")
    parser.add_argument("--throughput-jets", type=int, default=1536)
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--skip-defaults", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--seeds", type=int, default=8, help="random_state 0..N-1 of the defaults (default 8)"
    )
    parser.add_argument("--old-defaults", action="store_true")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto")
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    if args.quick:
        args.n_jets, args.throughput_jets, args.skip_defaults = 600, 256, True
        args.seeds = 1

    with tempfile.TemporaryDirectory() as folder:
        data, what = jets(args, folder)
        old = export_revision(args.baseline, Path(folder) / "old")
        n_jets = len(np.load(data)["y"])
        print(f"{n_jets} jets: {what}; {os.cpu_count()} CPU cores; device={args.device}")
        common = {"data": str(data), "device": args.device, "mode": "throughput"}
        rows = []
        configs = [(slots, args.width, args.batch_size) for slots in (30, 100)]
        if args.old_defaults:
            configs.append((100, 1.0, 1024))
        for slots, width, batch_size in [] if args.skip_throughput else configs:
            n = min(n_jets, max(args.throughput_jets, 2 * batch_size))
            config = {
                **common,
                "slots": slots,
                "n_jets": n,
                "width": width,
                "batch_size": batch_size,
                "epochs": 3,
            }
            new = run_worker({**config, "impl": "new"}, REPO)
            before = run_worker({**config, "impl": f"old ({args.baseline})"}, old)
            new["speed-up"] = new["jets/s"] / before["jets/s"]
            rows += [before, new]
        if rows:
            print("\nPre-training throughput (median jets/s per epoch) and peak memory")
            table(
                rows, ["impl", "slots", "width", "batch_size", "jets/s", "speed-up", "peak RSS GB"]
            )
        if not args.skip_defaults:
            result = run_worker(
                {**common, "mode": "defaults", "slots": 100, "n_jets": n_jets, "impl": "new"},
                REPO,
            )
            print(f"\nDeepKMeans() defaults on {n_jets} jets with 100 slots")
            for name, value in result.items():
                print(
                    f"  {name:28s} {value:.3f}"
                    if isinstance(value, float)
                    else f"  {name:28s} {value}"
                )
            print("paper (hls4ml, GPU): k-means 0.51, UCluster 0.81, supervised KNN 0.89")
            seeds = [result] + [
                run_worker(
                    {
                        **common,
                        "mode": "defaults",
                        "slots": 100,
                        "n_jets": n_jets,
                        "impl": "new",
                        "random_state": seed,
                        "ceilings": False,
                    },
                    REPO,
                )
                for seed in range(1, args.seeds)
            ]
            print(f"\nDeepKMeans(random_state=s) over {len(seeds)} seeds (computed)")
            columns = ["random_state", "UCluster", "fit s", "runs", "kept run"]
            table(seeds, [*columns, "cluster fractions", "warned collapse", "peak RSS GB"])
            accuracy = np.array([row["UCluster"] for row in seeds])
            seconds = np.array([row["fit s"] for row in seeds])
            print(
                f"accuracy: median {np.median(accuracy):.3f}, minimum {accuracy.min():.3f}, "
                f"maximum {accuracy.max():.3f}; runs below 0.68: {(accuracy < 0.68).sum()}; "
                f"fit time: median {np.median(seconds):.0f} s, maximum {seconds.max():.0f} s; "
                f"load average at the end {os.getloadavg()[0]:.2f}"
            )


if __name__ == "__main__":
    main()
