"""Throughput of the event generators and of the LHCO reader.

Prints events (or jets) per second of

- ``make_dijet_events`` (pure numpy, 10⁵ events) and ``make_jets``;
- ``generate_pythia_events`` (Pythia8 + FastJet) with 1 and 2 worker processes, the latter
  once with fresh workers (process start-up and imports included) and once warm;
- ``generate_pythia_jets``;
- ``read_lhco`` reclustering a file written in the LHCO layout, once from synthetic events
  and once from the Pythia events (realistic particle multiplicities).

Run ``python benchmarks/bench_generators.py`` (``--quick`` for a smaller run). Numbers
depend on the machine; compare them within one run.

``--stream N`` instead measures ``write_pythia_events`` with the LHCO R&D preset (unweighted
QCD, leading jet pT > 1.2 TeV) on N QCD and N/10 signal events streamed to a file on 2
workers, and prints the rate and the peak memory of the parent and of the largest worker:
run it with N = 1,000,000 for the paper-scale sample.
"""

import argparse
import os
import resource
import tempfile
import time

import numpy as np
import pandas as pd

import hepcluster
from hepcluster.datasets import (
    generate_pythia_events,
    generate_pythia_jets,
    make_dijet_events,
    make_jets,
    read_lhco,
    write_lhco,
)


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def report(name, n, seconds, unit="events", cores=1):
    rate = n / seconds
    per_core = f"  ({rate / cores:9.1f} {unit}/s/core)" if cores > 1 else ""
    print(f"{name:<52s} {n:>8d} {unit} in {seconds:7.2f} s: {rate:10.1f} {unit}/s{per_core}")


def stream(n_background, folder):
    """Rate and peak memory of a streamed LHCO-like sample."""
    from hepcluster.datasets import write_pythia_events

    path = os.path.join(folder, "stream.h5")
    n_signal = n_background // 10
    status, seconds = timed(
        write_pythia_events, path, n_background, n_signal, preset="lhco-rd", n_jobs=2
    )
    report(
        "write_pythia_events, lhco-rd preset, n_jobs=2", n_background + n_signal, seconds, cores=2
    )
    counts = status["metadata"]["counts"]
    for process, count in counts.items():
        kept = count["n_tried"] - count["n_failed"]
        print(
            f"  {process}: {count}; tried events per kept one "
            f"{count['n_tried'] / max(kept - count['n_cut_leading_jet_pt'], 1):.2f}"
        )
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"  peak memory: parent {parent:.0f} MB, largest worker {worker:.0f} MB [computed]")
    print(f"  event file: {os.path.getsize(path) / 1e6:.1f} MB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller samples")
    parser.add_argument(
        "--stream",
        type=int,
        default=None,
        metavar="N",
        help="only the streamed LHCO-like sample of N QCD events",
    )
    args = parser.parse_args()
    if args.stream is not None:
        with tempfile.TemporaryDirectory() as folder:
            stream(args.stream, folder)
        return
    scale = 0.2 if args.quick else 1.0
    n_synthetic = int(100_000 * scale)
    n_pythia = int(1000 * scale)
    n_jets = int(100 * scale)
    print(f"hepcluster {hepcluster.__version__}, {os.cpu_count()} CPU cores")

    make_dijet_events(100, 10, random_state=0)  # warm-up (numba kernels of τ21)
    events, seconds = timed(make_dijet_events, n_synthetic, n_synthetic // 10, random_state=0)
    report("make_dijet_events", len(events), seconds)
    (X, _), seconds = timed(make_jets, n_synthetic // 4, random_state=0)
    report("make_jets (W, Z, top)", X.shape[0], seconds, unit="jets")

    with tempfile.TemporaryDirectory() as folder:
        lhco_path = os.path.join(folder, "pythia_lhco.h5")
        half = n_pythia // 2
        pythia, seconds = timed(
            generate_pythia_events, half, half, n_jobs=1, chunk_size=100, random_state=0
        )
        report("generate_pythia_events, n_jobs=1", len(pythia), seconds)
        pythia, seconds = timed(
            generate_pythia_events,
            half,
            half,
            n_jobs=2,
            chunk_size=100,
            random_state=1,
            lhco_path=lhco_path,
        )
        report("generate_pythia_events, n_jobs=2 (fresh workers)", len(pythia), seconds, cores=2)
        pythia_warm, seconds = timed(
            generate_pythia_events, half, half, n_jobs=2, chunk_size=100, random_state=2
        )
        name = "generate_pythia_events, n_jobs=2 (warm workers)"
        report(name, len(pythia_warm), seconds, cores=2)
        for process in ("background", "signal"):
            count = pythia.metadata["counts"][process]
            print(f"  {process}: {count}")
        (X, _), seconds = timed(generate_pythia_jets, n_jets, n_jobs=2, random_state=0)
        report("generate_pythia_jets (W, Z, top), n_jobs=2 (warm)", X.shape[0], seconds, "jets", 2)

        table, seconds = timed(read_lhco, lhco_path, chunksize=10_000)
        frame = pd.read_hdf(lhco_path, "df")
        multiplicity = (frame.to_numpy()[:, 0:2100:3] > 0).sum(axis=1).mean()
        name = f"read_lhco, Pythia events ({multiplicity:.0f} particles/event)"
        report(name, table.metadata["n_read"], seconds)
        synthetic_path = os.path.join(folder, "synthetic_lhco.h5")
        sample = events[np.arange(0, len(events), max(len(events) // 20_000, 1))]
        particles = sample.constituents.reshape(len(sample), -1, 3)
        write_lhco(synthetic_path, particles, labels=sample.is_signal)
        table, seconds = timed(read_lhco, synthetic_path, chunksize=10_000)
        report("read_lhco, synthetic events", table.metadata["n_read"], seconds)


if __name__ == "__main__":
    main()
