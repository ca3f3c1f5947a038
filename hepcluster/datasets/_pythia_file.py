"""Pythia8 samples of any size streamed to one event file: resumable, shardable, bounded memory.

Every chunk of :class:`~._pythia_events.GenerationPlan` is written, as soon as it is done,
to its own file in a folder beside the output (``<output>.chunks/``), atomically (a
temporary name, then a rename), so a killed run keeps every finished chunk and a rerun of
the same command generates only the missing ones. Shards of a batch farm generate disjoint
sets of chunks into the same folder. Once every chunk is there, they are appended one by
one to the event file (:meth:`EventTable.read_hdf5` reads it), so memory never holds more
than a few chunks, whatever the size of the sample.
"""

import contextlib
import inspect
import json
import logging
import os
from collections import Counter
from dataclasses import fields
from numbers import Integral
from pathlib import Path

import joblib
import numpy as np

from ..utils import progress
from ..utils._validation import COUNT, PATH, POSITIVE, POSITIVE_COUNT, parse_shard, validate
from ._event_table import _FORMAT_VERSION, EventTable, _metadata_json
from ._pythia_events import (
    chunk_counts,
    generate_pythia_events,
    plan_generation,
    process_positions,
)
from ._pythia_loop import event_chunk, iter_chunks

logger = logging.getLogger(__name__)

LHCO_RD = {
    "n_background": 1_000_000,
    "n_signal": 100_000,
    "m_resonance": 3500.0,
    "m_x": 500.0,
    "m_y": 100.0,
    "pt_hat_min": 1100.0,
    "pt_hat_bias": False,
    "min_leading_jet_pt": 1200.0,
    "jet_radius": 1.0,
}
"""The LHC Olympics 2020 R&D sample's composition and selection (arXiv:2101.08320).

1,000,000 unweighted QCD dijet events and 100,000 W′ → X Y (3.5 TeV; X 500 GeV, Y 100 GeV)
events, anti-kT R = 1.0, leading jet pT > 1.2 TeV. QCD is generated from pT̂ > 1.1 TeV, so
that the leading-jet cut, not the generator threshold, shapes the m_jj spectrum above
about 2.6 TeV.
"""

_CHUNK_FORMAT = "chunk_{:06d}.npz"
_PLAN_FILE = "plan.json"
_HDF5_ROWS_PER_CHUNK = 512


def _plan_identity(plan):
    return joblib.hash(
        [plan.tasks, plan.seeds, plan.settings, plan.config, plan.parameters], hash_name="sha1"
    )


def _chunk_folder(path):
    return Path(f"{os.fspath(path)}.chunks")


def _claim_folder(folder, plan):
    """Create the chunk folder, or check that it holds chunks of this very plan."""
    identity = _plan_identity(plan)
    folder.mkdir(parents=True, exist_ok=True)
    plan_file = folder / _PLAN_FILE
    if plan_file.exists():
        try:
            saved = json.loads(plan_file.read_text())
        except (OSError, ValueError) as err:
            raise ValueError(
                f"{plan_file} is damaged ({err}); remove {folder} to start again."
            ) from err
        if saved.get("identity") != identity:
            raise ValueError(
                f"{folder} holds chunks of another generation (other counts, settings, "
                "chunk size or seed); remove it or write to another file."
            )
        return
    temporary = plan_file.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"identity": identity, "n_chunks": plan.n_chunks}))
    os.replace(temporary, plan_file)


def _save_chunk(folder, index, result):
    columns = result["columns"]
    temporary = folder / f".{_CHUNK_FORMAT.format(index)}.{os.getpid()}.tmp.npz"
    np.savez(
        temporary,
        weight=result["weight"],
        counts=np.array(json.dumps(chunk_counts(result))),
        **columns,
    )
    os.replace(temporary, folder / _CHUNK_FORMAT.format(index))


def _load_chunk(folder, index):
    path = folder / _CHUNK_FORMAT.format(index)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files if name != "counts"}
            counts = json.loads(str(data["counts"]))
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"chunk file {path} is damaged ({err}); remove it and rerun.") from err
    return arrays, counts


def _done(folder, n_chunks):
    return {i for i in range(n_chunks) if (folder / _CHUNK_FORMAT.format(i)).exists()}


def _assemble(path, folder, plan):
    """Append every chunk, in order, to one EventTable file; returns the metadata."""
    import h5py

    names = [f.name for f in fields(EventTable) if f.name != "metadata"]
    is_signal = plan.is_signal()
    temporary = Path(f"{os.fspath(path)}.{os.getpid()}.tmp")
    counts, written = [], 0
    with (
        h5py.File(temporary, "w") as file,
        progress(total=plan.n_chunks, desc="writing event file", unit="chunk") as bar,
    ):
        datasets = {}
        for index in range(plan.n_chunks):
            arrays, chunk = _load_chunk(folder, index)
            counts.append(chunk)
            n = arrays["mjj"].shape[0]
            arrays["is_signal"] = is_signal[written : written + n]
            arrays["event_id"] = np.arange(written, written + n, dtype=np.int64)
            arrays["constituents"] = arrays["constituents"].astype(np.float32)
            for name in names:
                data = np.asarray(arrays[name])
                if name not in datasets:
                    datasets[name] = file.create_dataset(
                        name,
                        shape=(0, *data.shape[1:]),
                        maxshape=(None, *data.shape[1:]),
                        dtype=_stored_dtype(name, data),
                        chunks=(_HDF5_ROWS_PER_CHUNK, *data.shape[1:]),
                        compression="gzip",
                        compression_opts=4,
                        shuffle=True,
                        fletcher32=True,
                    )
                dataset = datasets[name]
                dataset.resize(written + n, axis=0)
                dataset[written : written + n] = data
            written += n
            bar.update(1)
        metadata = plan.metadata(counts)
        file.attrs["hepcluster_event_table"] = _FORMAT_VERSION
        file.attrs["metadata"] = _metadata_json(metadata)
    os.replace(temporary, path)
    return metadata


_PHYSICS = (
    "m_resonance",
    "m_x",
    "m_y",
    "pt_hat_min",
    "pt_hat_bias",
    "min_leading_jet_pt",
    "sqrt_s",
    "jet_radius",
    "max_jet_eta",
    "mpi",
)


def _physics_defaults():
    """The physics defaults of :func:`generate_pythia_events` (one source for both)."""
    parameters = inspect.signature(generate_pythia_events).parameters
    return {name: parameters[name].default for name in _PHYSICS}


def _stored_dtype(name, data):
    """The dtype an EventTable field is stored with."""
    return {
        "constituents": np.float32,
        "is_signal": bool,
        "event_id": np.int64,
    }.get(name, np.float64 if data.dtype.kind == "f" else data.dtype)


@validate(
    {
        "path": PATH,
        "n_background": [COUNT, None],
        "n_signal": [COUNT, None],
        "preset": [str, None],
        "shard": [str, tuple, list, None],
        "n_jobs": [Integral, None],
        "chunk_size": [POSITIVE_COUNT],
        "random_state": [Integral, None],
        "keep_chunks": ["boolean"],
        "m_resonance": [POSITIVE, None],
        "n_constituents": [POSITIVE_COUNT],
    },
    prefer_skip_nested_validation=True,
)
def write_pythia_events(
    path,
    n_background=None,
    n_signal=None,
    *,
    preset=None,
    shard=None,
    n_jobs=None,
    chunk_size=500,
    random_state=0,
    keep_chunks=False,
    m_resonance=None,
    n_constituents=100,
    **options,
):
    """Generate a Pythia8 + FastJet dijet sample of any size straight into an event file.

    The events are those of :func:`generate_pythia_events` with the same arguments
    (identical, chunk for chunk), but each chunk goes to disk as soon as it is done, so
    memory is bounded by a few chunks whatever the sample size; a killed run resumes
    (finished chunks are kept in ``<path>.chunks/``), and ``shard="I/N"`` makes only every
    N-th chunk, so that N jobs of a batch farm make one sample together. The event file
    is written once every chunk is there (by whichever run completes the set); the chunk
    folder is then removed unless ``keep_chunks``.

    Parameters
    ----------
    path : str or path-like
        The event file (HDF5, read by :meth:`EventTable.read_hdf5`).
    n_background, n_signal : int or None, default=None
        QCD and signal events; ``None`` takes the preset's (or 100,000 and 1,000).
    preset : {"lhco-rd"} or None, default=None
        ``"lhco-rd"``: the LHC Olympics R&D composition and selection (:data:`LHCO_RD`:
        1,000,000 QCD + 100,000 W′ → XY, unweighted, anti-kT R = 1.0, leading jet
        pT > 1.2 TeV). Explicit arguments override it.
    shard : str or (int, int), optional
        ``"I/N"``: generate only the chunks whose index is I modulo N.
    n_jobs : int or None, default=None
        Worker processes; the events do not depend on it.
    chunk_size : int, default=500
        Events per chunk (the events depend on it, as on ``random_state``).
    random_state : int or None, default=0
        Seed of the per-chunk Pythia seeds.
    keep_chunks : bool, default=False
        Keep ``<path>.chunks/`` after writing the event file.
    m_resonance : float or None, default=None
        W′ mass in GeV (preset's, or 3500).
    n_constituents : int, default=100
        Constituent slots per jet.
    **options
        Further arguments of :func:`generate_pythia_events` (``m_x``, ``m_y``,
        ``pt_hat_min``, ``pt_hat_bias``, ``min_leading_jet_pt``, ``jet_radius``,
        ``max_jet_eta``, ``mpi``, ``sqrt_s``).

    Returns
    -------
    dict
        ``complete`` (whether the event file was written), ``path``, ``n_chunks``,
        ``n_chunks_done`` and, when complete, the file's ``metadata`` (every cut counted).

    Examples
    --------
    >>> from hepcluster.datasets import write_pythia_events
    >>> status = write_pythia_events("qcd.h5", 40, 0, chunk_size=20)  # doctest: +SKIP
    >>> status["complete"], status["metadata"]["n_cut_leading_jet_pt"]  # doctest: +SKIP
    (True, 0)
    """
    if preset not in (None, "lhco-rd"):
        raise ValueError(f"preset must be 'lhco-rd' or None, got {preset!r}.")
    settings = (
        dict(LHCO_RD) if preset == "lhco-rd" else {"n_background": 100_000, "n_signal": 1_000}
    )
    for name, value in (
        ("n_background", n_background),
        ("n_signal", n_signal),
        ("m_resonance", m_resonance),
    ):
        if value is not None:
            settings[name] = value
    settings.update(options)
    defaults = _physics_defaults()
    unknown = set(settings) - set(defaults) - {"n_background", "n_signal"}
    if unknown:
        raise TypeError(f"write_pythia_events got unexpected arguments {sorted(unknown)}.")
    settings = {**defaults, **settings}
    shard_index, shard_count = parse_shard(shard)
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give the event file's path.")
    path.parent.mkdir(parents=True, exist_ok=True)
    plan = plan_generation(
        n_constituents=n_constituents,
        chunk_size=chunk_size,
        random_state=random_state,
        **settings,
    )
    folder = _chunk_folder(path)
    _claim_folder(folder, plan)
    mine = [i for i in range(plan.n_chunks) if i % shard_count == shard_index]
    done = _done(folder, plan.n_chunks)
    todo = [i for i in mine if i not in done]
    if len(todo) < len(mine):
        logger.info(
            "write_pythia_events: resuming, %d of this run's %d chunks already in %s",
            len(mine) - len(todo),
            len(mine),
            folder,
        )
    _generate(folder, plan, todo, n_jobs)
    done = _done(folder, plan.n_chunks)
    status = {
        "complete": False,
        "path": str(path),
        "n_chunks": plan.n_chunks,
        "n_chunks_done": len(done),
    }
    if len(done) < plan.n_chunks:
        logger.info(
            "write_pythia_events: %d of %d chunks done; the event file is written when the "
            "other shards have finished (rerun without --shard to check).",
            len(done),
            plan.n_chunks,
        )
        return status
    metadata = _assemble(path, folder, plan)
    if not keep_chunks:
        for index in range(plan.n_chunks):
            (folder / _CHUNK_FORMAT.format(index)).unlink(missing_ok=True)
        (folder / _PLAN_FILE).unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # another process's temporary files: harmless
            folder.rmdir()
    logger.info("write_pythia_events: wrote %d events to %s", plan.n_events, path)
    return {**status, "complete": True, "metadata": metadata}


def _generate(folder, plan, todo, n_jobs):
    if not todo:
        return
    # signal chunks spread among the background ones, so that the chunks done at any time
    # are close to a smaller sample of the same composition
    positions = process_positions(plan.tasks)
    sizes = Counter(process for process, _ in plan.tasks)
    todo = sorted(todo, key=lambda i: (positions[i] + 0.5) / sizes[plan.tasks[i][0]])
    chunks = iter_chunks(
        _indexed_chunk,
        [(index, args) for index, args in zip(todo, plan.chunk_arguments(todo), strict=True)],
        n_events=sum(plan.tasks[i][1] for i in todo),
        n_jobs=n_jobs,
        desc="generate_pythia_events",
        unit="event",
        ordered=False,
    )
    for result in chunks:
        _save_chunk(folder, result["chunk_index"], result)


def _indexed_chunk(index, arguments):
    return {**event_chunk(*arguments), "chunk_index": index}
