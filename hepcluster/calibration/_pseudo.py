"""Bootstrap pseudo-experiments, run in parallel with seeds drawn before dispatch."""

import hashlib
import json
import logging
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.parallel import Parallel, delayed

from ..datasets import EventTable
from ..fits import DijetFitBackground
from ..utils import progress
from ._result import CalibrationResult

logger = logging.getLogger(__name__)

BOOTSTRAPS = ("poisson", "multinomial", "parametric")


@dataclass
class _Problem:
    """What every pseudo-experiment needs, prepared once and shared with the workers."""

    estimator: object  # unfitted final estimator
    features: object  # X of the final estimator (array or SparseImages)
    y: np.ndarray  # m_jj per row, or None for event-level estimators
    row_event: np.ndarray  # event index of every row
    row_is_signal: np.ndarray
    base_weight: np.ndarray  # per event
    background_events: np.ndarray
    signal_events: np.ndarray
    bootstrap: str
    expected_counts: np.ndarray = None  # parametric bootstrap: the background fit
    signal_mjj: np.ndarray = None  # parametric bootstrap: m_jj of the signal pool


def _final_estimator(estimator):
    return estimator[-1] if isinstance(estimator, Pipeline) else estimator


def _prepare(estimator, events, bootstrap):
    is_signal = events.is_signal
    background_events = np.flatnonzero(~is_signal)
    signal_events = np.flatnonzero(is_signal)
    final = _final_estimator(estimator)
    common = dict(
        base_weight=events.weight,
        background_events=background_events,
        signal_events=signal_events,
        bootstrap=bootstrap,
    )
    if isinstance(final, DijetFitBackground):
        if isinstance(estimator, Pipeline):
            raise ValueError("pass DijetFitBackground itself, not inside a Pipeline.")
        if bootstrap == "parametric":
            return _prepare_parametric(final, events, common)
        return _Problem(
            estimator=final,
            features=events.mjj.reshape(-1, 1),
            y=None,
            row_event=np.arange(len(events)),
            row_is_signal=is_signal,
            **common,
        )
    if bootstrap == "parametric":
        raise ValueError(
            "bootstrap='parametric' (the idealised fit) resamples the fitted dijet "
            "function and works with DijetFitBackground only."
        )
    X, mjj, _ = events.jets()
    row_event = np.repeat(np.arange(len(events)), 2)
    features = X
    if isinstance(estimator, Pipeline):
        # Preprocessing (jet images) is built once and reused by every pseudo-experiment:
        # bootstrap changes weights, not images. Such steps must not learn from the data.
        steps = [step for _, step in estimator.steps[:-1] if step not in (None, "passthrough")]
        for position, step in enumerate(steps):
            step = clone(step).fit(features, mjj)
            last = position == len(steps) - 1
            sparse = last and hasattr(step, "transform_sparse") and hasattr(final, "scan")
            features = step.transform_sparse(features) if sparse else step.transform(features)
    return _Problem(
        estimator=final,
        features=features,
        y=mjj,
        row_event=row_event,
        row_is_signal=np.repeat(is_signal, 2),
        **common,
    )


def _prepare_parametric(template, events, common):
    background = ~events.is_signal
    reference = clone(template).fit(
        events.mjj[background].reshape(-1, 1), sample_weight=events.weight[background]
    )
    edges = reference.bins_
    centres = 0.5 * (edges[1:] + edges[:-1])
    fixed = clone(template).set_params(bins=tuple(edges))
    logger.info("parametric bootstrap from the dijet fit of the full background")
    return _Problem(
        estimator=fixed,
        features=centres.reshape(-1, 1),
        y=None,
        row_event=np.arange(centres.size),
        row_is_signal=np.zeros(centres.size, bool),
        expected_counts=reference.expected_counts(),
        signal_mjj=events.mjj[events.is_signal],
        **common,
    )


def _event_weights(problem, rng, n_signal):
    """Per-event multiplicities of one pseudo-experiment (bootstrap as weights)."""
    weight = np.zeros(problem.base_weight.size)
    n_background = problem.background_events.size
    if problem.bootstrap == "poisson":
        multiplicity = rng.poisson(1.0, n_background)
    else:
        multiplicity = rng.multinomial(n_background, np.full(n_background, 1.0 / n_background))
    weight[problem.background_events] = multiplicity
    if n_signal:
        chosen = rng.choice(problem.signal_events, size=n_signal, replace=False)
        weight[chosen] = 1.0
    return weight * problem.base_weight


def _parametric_counts(problem, rng, n_signal):
    counts = rng.poisson(problem.expected_counts).astype(np.float64)
    if n_signal:
        chosen = rng.choice(problem.signal_mjj.size, size=n_signal, replace=False)
        counts += np.histogram(problem.signal_mjj[chosen], bins=problem.estimator.bins)[0]
    return counts


def _set_seed(estimator, seed):
    if "random_state" in estimator.get_params():
        estimator.set_params(random_state=int(seed))
    return estimator


def _run_one(problem, seed, n_signal):
    rng = np.random.default_rng(seed)
    if problem.bootstrap == "parametric":
        row_weight = _parametric_counts(problem, rng, n_signal)
    else:
        row_weight = _event_weights(problem, rng, n_signal)[problem.row_event]
    estimator = _set_seed(clone(problem.estimator), seed)
    if problem.y is None:
        estimator.fit(problem.features, sample_weight=row_weight)
        return float(estimator.score(problem.features, sample_weight=row_weight))
    estimator.fit(problem.features, problem.y, sample_weight=row_weight)
    extra = {"is_signal": problem.row_is_signal} if getattr(estimator, "idealised", False) else {}
    return float(estimator.score(problem.features, problem.y, sample_weight=row_weight, **extra))


def _run_chunk(problem, tasks):
    # Thousands of toys: the per-fit INFO messages (events outside the bins, ...) would
    # drown the log; warnings still come through.
    package_logger = logging.getLogger("hepcluster")
    level = package_logger.level
    package_logger.setLevel(max(level, logging.WARNING))
    try:
        return [(task, _run_one(problem, seed, n_signal)) for task, seed, n_signal in tasks]
    finally:
        package_logger.setLevel(level)


def _config_key(config):
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def _load_checkpoint(path, key):
    if path is None or not Path(path).exists():
        return {}
    with open(path) as file:
        saved = json.load(file)
    if saved.get("key") != key:
        raise ValueError(
            f"checkpoint {path} belongs to a different calibration (estimator, events, "
            "counts or random_state differ); remove it or choose another path."
        )
    return {int(task): value for task, value in saved["statistics"].items()}


def _save_checkpoint(path, key, statistics):
    temporary = Path(f"{path}.tmp")
    with open(temporary, "w") as file:
        json.dump({"key": key, "statistics": statistics}, file)
    os.replace(temporary, path)


def run_pseudo_experiments(
    estimator,
    events,
    *,
    n_background_only=100,
    signal_injections=(),
    n_per_injection=20,
    bootstrap="poisson",
    n_jobs=None,
    backend=None,
    chunk_size=None,
    random_state=None,
    checkpoint=None,
    name=None,
):
    """Calibrate a test statistic on bootstrap pseudo-experiments of an event sample.

    Every pseudo-experiment resamples the background events (as weights, never as copies;
    both jets of an event share its weight), adds ``n_signal`` signal events drawn without
    replacement from the signal pool, fits a fresh clone of the estimator and records its
    ``score``. Background-only pseudo-experiments give the null distribution of the test
    statistic, signal-injected ones its power.

    Parameters
    ----------
    estimator : estimator with ``fit`` and ``score``
        A :class:`~hepcluster.ClusterScanner` (or a Pipeline ending in one, whose
        preprocessing such as :class:`~hepcluster.JetImageTransformer` is computed once
        and must not learn from the data), or a :class:`~hepcluster.DijetFitBackground`
        (fitted to the event m_jj). An idealised scanner receives the truth labels.
    events : EventTable
        Background events (``is_signal`` False) and the signal pool (True).
    n_background_only : int, default=100
        Background-only pseudo-experiments (3,900 in arXiv:2402.17714).
    signal_injections : sequence of int, default=()
        Numbers of signal events injected.
    n_per_injection : int, default=20
        Pseudo-experiments per injection level (100 in the paper).
    bootstrap : {"poisson", "multinomial", "parametric"}, default="poisson"
        Poisson(1) or multinomial multiplicities per background event; "parametric"
        draws Poisson counts from the dijet fit of the full background (the idealised
        fit, App. A; DijetFitBackground only).
    n_jobs : int or None, default=None
        Parallel workers (joblib).
    backend : str or None, default=None
        joblib backend; ``None`` follows the active ``joblib.parallel_config`` (loky by
        default, ``"dask"`` inside a dask ``Client`` context for clusters).
    chunk_size : int or None, default=None
        Pseudo-experiments per task; ``None`` picks about four tasks per worker, at most
        25 pseudo-experiments each so that checkpoints stay frequent.
    random_state : int, RandomState instance or None, default=None
        All seeds are drawn up front from it: results are identical for any ``n_jobs``,
        chunking and backend, and after resuming from a checkpoint.
    checkpoint : str or path-like, optional
        JSON file updated after every finished task; a killed run started again with the
        same arguments resumes where it stopped.
    name : str, optional
        Label of the result.

    Returns
    -------
    CalibrationResult

    Notes
    -----
    On a cluster, start a ``dask.distributed.Client`` (``Client("tcp://scheduler:8786")``)
    and run inside ``joblib.parallel_config(backend="dask")`` or pass ``backend="dask"``;
    seeds do not depend on the backend, so results match a local run. With
    ``backend="dask"`` the prepared data (jet images, masses) are scattered to the
    workers once; with loky, joblib memory-maps them once per run.

    Examples
    --------
    >>> from hepcluster import DijetFitBackground
    >>> from hepcluster.calibration import run_pseudo_experiments
    >>> from hepcluster.datasets import make_dijet_events
    >>> events = make_dijet_events(2000, 200, mjj_range=(2900.0, 4800.0), random_state=0)
    >>> result = run_pseudo_experiments(
    ...     DijetFitBackground(n_params=3), events, n_background_only=20,
    ...     signal_injections=[100], n_per_injection=5, random_state=0)
    >>> result.null_statistics.shape, result.injected_statistics.shape
    ((20,), (1, 5))
    """
    if not isinstance(events, EventTable):
        raise TypeError(f"events must be an EventTable, got {type(events).__name__}.")
    for label, value, minimum in (
        ("n_background_only", n_background_only, 1),
        ("n_per_injection", n_per_injection, 1),
    ):
        if not isinstance(value, Integral) or value < minimum:
            raise ValueError(
                f"{label} must be an integer >= {minimum}, got {value!r}: a calibration "
                "needs background-only pseudo-experiments."
            )
    if bootstrap not in BOOTSTRAPS:
        raise ValueError(f"bootstrap must be one of {BOOTSTRAPS}, got {bootstrap!r}.")
    signal_injections = np.asarray(signal_injections, dtype=np.int64).reshape(-1)
    n_pool = int(events.is_signal.sum())
    if np.any(signal_injections < 0) or np.any(signal_injections > n_pool):
        raise ValueError(
            f"signal_injections must lie in [0, {n_pool}] (the signal pool holds {n_pool} "
            f"events), got {signal_injections.tolist()}."
        )
    if (~events.is_signal).sum() == 0:
        raise ValueError("events hold no background event to resample.")

    start = time.perf_counter()
    problem = _prepare(estimator, events, bootstrap)
    rng = check_random_state(random_state)
    n_signal = np.concatenate(
        [np.zeros(n_background_only, np.int64), np.repeat(signal_injections, n_per_injection)]
    )
    seeds = rng.randint(np.iinfo(np.int32).max, size=n_signal.size)
    config = {
        "estimator": repr(estimator),
        "n_events": len(events),
        "event_ids": hashlib.sha256(events.event_id.tobytes()).hexdigest(),
        "seeds": hashlib.sha256(seeds.tobytes()).hexdigest(),
        "n_signal": n_signal.tolist(),
        "bootstrap": bootstrap,
    }
    key = _config_key(config)
    statistics = _load_checkpoint(checkpoint, key)
    if statistics:
        logger.info("resuming: %d of %d pseudo-experiments done", len(statistics), n_signal.size)
    todo = [
        (task, int(seeds[task]), int(n_signal[task]))
        for task in range(n_signal.size)
        if task not in statistics
    ]
    workers = max(1, abs(n_jobs)) if n_jobs is not None else 1
    size = chunk_size or int(np.clip(np.ceil(len(todo) / (4 * workers)), 1, 25))
    chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
    # joblib registers external backends such as "dask" only through parallel_config;
    # on dask the shared problem (images, masses) is scattered to the workers once.
    if backend == "dask":
        backend_context = joblib.parallel_config(backend="dask", scatter=[problem])
    elif backend is not None:
        backend_context = joblib.parallel_config(backend=backend)
    else:
        backend_context = nullcontext()
    with (
        backend_context,
        progress(total=len(todo), desc="pseudo-experiments", unit="toy") as bar,
    ):
        parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        for finished in parallel(delayed(_run_chunk)(problem, chunk) for chunk in chunks):
            statistics.update(dict(finished))
            bar.update(len(finished))
            if checkpoint is not None:
                _save_checkpoint(checkpoint, key, statistics)
    values = np.array([statistics[task] for task in range(n_signal.size)])
    elapsed = time.perf_counter() - start
    logger.info("%d pseudo-experiments in %.1f s", n_signal.size, elapsed)
    return CalibrationResult(
        null_statistics=values[:n_background_only],
        signal_injections=signal_injections,
        injected_statistics=values[n_background_only:].reshape(
            signal_injections.size, n_per_injection
        ),
        n_background=float(events.weight[~events.is_signal].sum()),
        name=name or type(_final_estimator(estimator)).__name__,
        metadata={
            "bootstrap": bootstrap,
            "estimator": repr(estimator),
            "random_state": None if random_state is None else str(random_state),
            "seconds": elapsed,
        },
    )
