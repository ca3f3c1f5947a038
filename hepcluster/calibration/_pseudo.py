"""Bootstrap pseudo-experiments, run in parallel with seeds drawn before dispatch."""

import hashlib
import json
import logging
import os
import tempfile
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, fields
from functools import partial
from numbers import Integral
from os import PathLike
from pathlib import Path

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.parallel import Parallel, delayed

from ..datasets import EventTable
from ..stats import histogram
from ..utils import progress
from ..utils._errors import IncompatibleInputError, InvalidFileError
from ..utils._sklearn_compat import HasMethods, Interval, StrOptions
from ..utils._validation import parse_shard, validate
from ._defaults import BOOTSTRAP, N_BACKGROUND_ONLY, N_PER_INJECTION, SIGNAL_INJECTIONS
from ._identity import data_fingerprint, estimator_fingerprint
from ._inputs import INPUTS, check_inputs, resolve_inputs
from ._result import CalibrationResult

logger = logging.getLogger(__name__)

BOOTSTRAPS = ("poisson", "multinomial", "parametric")


@dataclass
class _Problem:
    """What every pseudo-experiment needs, prepared once and shared with the workers."""

    estimator: object  # unfitted final estimator
    features: object  # X of the final estimator (array or SparseImages)
    y: np.ndarray  # m_jj of every row
    row_event: np.ndarray  # event index of every row
    row_is_signal: np.ndarray
    base_weight: np.ndarray  # per event
    background_events: np.ndarray
    signal_events: np.ndarray
    bootstrap: str
    expected_counts: np.ndarray = None  # parametric bootstrap: the background fit
    edges: np.ndarray = None  # parametric bootstrap: its bins
    signal_mjj: np.ndarray = None  # parametric bootstrap: m_jj of the signal pool
    methods: tuple = ()  # unfitted final estimators of every method calibrated together
    fit_keys: tuple = ()  # per method: what its fit depends on (equal keys share a fit)


def _final_estimator(estimator):
    return estimator[-1] if isinstance(estimator, Pipeline) else estimator


def _preprocess(estimator, X, y):
    """Fit and apply a Pipeline's preprocessing once: bootstraps change weights, not rows.

    The steps must not learn from the data (jet images do not): they see every event.
    """
    if not isinstance(estimator, Pipeline):
        return X
    for _, step in estimator.steps[:-1]:
        if step is None or step == "passthrough":
            continue
        X = clone(step).fit(X, y).transform(X)
    return X


def _prepare(estimator, events, bootstrap, inputs=None):
    final = _final_estimator(estimator)
    adapter = resolve_inputs(inputs, final)
    common = dict(
        estimator=final,
        base_weight=events.weight,
        background_events=np.flatnonzero(~events.is_signal),
        signal_events=np.flatnonzero(events.is_signal),
        bootstrap=bootstrap,
    )
    if bootstrap == "parametric":
        return _prepare_parametric(estimator, adapter, events, common)
    rows = check_inputs(adapter, events)
    return _Problem(
        features=_preprocess(estimator, rows.X, rows.y),
        y=rows.y,
        row_event=np.asarray(rows.row_event),
        row_is_signal=np.asarray(rows.is_signal, dtype=bool),
        **common,
    )


def _prepare_parametric(estimator, adapter, events, common):
    """The idealised fit (App. A): Poisson counts around the fit of the full background.

    Goes through the event rows and the fit's public API: ``fit(X, y, sample_weight)``
    on the background events, then ``bins_`` and ``expected_counts()``; every
    pseudo-experiment refits the binned counts at the bin centres with those bins.
    """
    if isinstance(estimator, Pipeline) or getattr(adapter, "sample_unit", None) != "event":
        raise ValueError(
            "bootstrap='parametric' (the idealised fit) resamples a fitted background "
            "density of the event m_jj: it needs an estimator with sample_unit 'event' "
            "that is fitted to binned counts and provides bins_ and expected_counts(), "
            f"such as DijetFitBackground itself (not in a Pipeline); got {estimator!r}."
        )
    rows = check_inputs(adapter, events)
    background = ~np.asarray(rows.is_signal, dtype=bool)
    template = common["estimator"]
    reference = clone(template).fit(
        rows.X[background],
        rows.y[background],
        sample_weight=events.weight[np.asarray(rows.row_event)[background]],
    )
    try:
        edges = np.asarray(reference.bins_, dtype=np.float64)
        expected = np.asarray(reference.expected_counts(), dtype=np.float64)
        fixed = clone(template).set_params(bins=tuple(edges))
    except (AttributeError, ValueError) as error:
        raise ValueError(
            "bootstrap='parametric' needs a fitted background with bins_ and "
            f"expected_counts() and a bins parameter, as DijetFitBackground has: {error}"
        ) from error
    binned = adapter.bin_centres(edges)
    logger.info("parametric bootstrap from the dijet fit of the full background")
    return _Problem(
        **{**common, "estimator": fixed},
        features=binned.X,
        y=binned.y,
        row_event=binned.row_event,
        row_is_signal=binned.is_signal,
        expected_counts=expected,
        edges=edges,
        signal_mjj=rows.y[~background],
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
        counts += histogram(problem.signal_mjj[chosen], problem.edges)
    return counts


def _set_seed(estimator, seed):
    if "random_state" in estimator.get_params():
        estimator.set_params(random_state=int(seed))
    return estimator


def _toy_weights(problem, seed, n_signal):
    """Row weights of one pseudo-experiment; every try and every method shares them."""
    rng = np.random.default_rng(seed)
    if problem.bootstrap == "parametric":
        return _parametric_counts(problem, rng, n_signal)
    return _event_weights(problem, rng, n_signal)[problem.row_event]


def _guarded(compute):
    """``compute()``, or why it failed: an error, a ``ConvergenceWarning``, a non-finite value."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            value = compute()
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
            return None, f"{type(error).__name__}: {error}"
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            return None, f"did not converge: {warning.message}"
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if isinstance(value, float) and not np.isfinite(value):
        return None, f"non-finite test statistic {value}"
    return value, None


def statistic_only_params(estimator):
    """Parameters of ``estimator`` that its ``test_statistic`` reads and its ``fit`` ignores.

    Declared by the estimator's class as ``_statistic_only_params`` (ClusterScanner: the
    idealisation, the threshold, the local significance, ...). Methods whose estimators
    differ only in them can share one fit per pseudo-experiment.
    """
    return tuple(getattr(type(_final_estimator(estimator)), "_statistic_only_params", ()))


def _fit_key(estimator):
    """What the fit of ``estimator`` depends on: its parameters but the statistic-only ones."""
    canonical = clone(estimator).set_params(**dict.fromkeys(statistic_only_params(estimator)))
    return estimator_fingerprint(canonical)


def _test_statistic(estimator, problem, row_weight):
    # Every method takes the truth; only idealized ones use it.
    return float(
        estimator.test_statistic(
            problem.features, problem.y, sample_weight=row_weight, is_signal=problem.row_is_signal
        )
    )


def _attempt(problem, row_weight, estimator_seed, members):
    """One try of a pseudo-experiment for ``members`` (indices of ``problem.methods``).

    Members that differ only in their statistic-only parameters share one fit: the fitted
    clone takes each member's parameters in turn before its ``test_statistic``.

    Returns
    -------
    dict
        ``{member: (statistic or None, reason or None)}``.
    """
    groups = {}
    for member in members:
        groups.setdefault(problem.fit_keys[member], []).append(member)
    outcome = {}
    for group in groups.values():
        estimator = _set_seed(clone(problem.methods[group[0]]), estimator_seed)
        fitted, reason = _guarded(
            partial(estimator.fit, problem.features, problem.y, sample_weight=row_weight)
        )
        for member in group:
            if reason is not None:
                outcome[member] = (None, reason)
                continue
            method = problem.methods[member]
            fitted.set_params(
                **{name: getattr(method, name) for name in statistic_only_params(method)}
            )
            outcome[member] = _guarded(partial(_test_statistic, fitted, problem, row_weight))
    return outcome


def _check_event_weights(weight):
    """Event weights must be finite and non-negative, or every try would fail the same way."""
    bad = ~(np.isfinite(weight) & (weight >= 0))
    if bad.any():
        raise ValueError(
            f"{int(bad.sum())} of {weight.size} event weights are negative or not finite "
            f"(the first, event {int(np.flatnonzero(bad)[0])}, is {weight[bad][0]!r}): the "
            "bootstrap needs finite, non-negative weights; fix the event table."
        )


def _run_task(problem, seed, n_signal, max_retries, members):
    """A pseudo-experiment, retried with fresh estimator seeds (same bootstrap) on failure.

    The data of a pseudo-experiment never change between tries: only the estimator's
    own randomness (e.g. k-means initialisations) is drawn anew, from the task's seed,
    and only for the methods that failed. Estimators without a ``random_state`` are
    deterministic and are not retried.

    Returns
    -------
    dict
        ``{member: (statistic or None, reasons or None)}`` for every one of ``members``.
    """
    _check_event_weights(problem.base_weight)  # bad data: no retry helps
    retry_seeds = np.random.default_rng([seed, 1]).integers(
        np.iinfo(np.int32).max, size=max_retries
    )
    tries = {
        member: 1 + (max_retries if "random_state" in problem.methods[member].get_params() else 0)
        for member in members
    }
    row_weight = _toy_weights(problem, seed, n_signal)
    reasons = {member: [] for member in members}
    done = {}
    for attempt, estimator_seed in enumerate([seed, *retry_seeds.tolist()]):
        pending = [m for m in members if m not in done and attempt < tries[m]]
        if not pending:
            break
        for member, (value, reason) in _attempt(
            problem, row_weight, estimator_seed, pending
        ).items():
            if reason is None:
                done[member] = (value, None)
            else:
                reasons[member].append(reason)
    return {member: done.get(member, (None, " | ".join(reasons[member]))) for member in members}


def _run_chunk(problem, tasks, max_retries):
    # Thousands of toys: the per-fit INFO messages (events outside the bins, ...) would
    # drown the log; warnings still come through.
    package_logger = logging.getLogger("hepcluster")
    level = package_logger.level
    package_logger.setLevel(max(level, logging.WARNING))
    try:
        return [
            (task, _run_task(problem, seed, n_signal, max_retries, members))
            for task, seed, n_signal, members in tasks
        ]
    finally:
        package_logger.setLevel(level)


def _problem_fingerprint(problem):
    """Hash of everything the pseudo-experiments read: rows, masses, weights, truth."""
    # the estimator and the bootstrap enter the key on their own
    return data_fingerprint(
        *(
            getattr(problem, field.name)
            for field in fields(problem)
            if field.name not in ("estimator", "bootstrap", "methods", "fit_keys")
        )
    )


def _config_key(config):
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def _checksum(payload):
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _damaged(path, why):
    return InvalidFileError(
        f"checkpoint {path} is damaged ({why}); remove it to start the calibration again."
    )


def _n_tasks(config):
    return int(config["n_background_only"]) + len(config["signal_injections"]) * int(
        config["n_per_injection"]
    )


def _checkpoint_entries(path, payload, name, n_tasks, convert):
    """The ``name`` entries of a checkpoint payload: task index in range -> checked value."""
    entries = payload.get(name)
    if not isinstance(entries, dict):
        raise _damaged(path, f"its '{name}' entry is missing or not an object")
    checked = {}
    for task, value in entries.items():
        try:
            index = int(task)
        except (TypeError, ValueError):
            raise _damaged(path, f"task {task!r} of '{name}' is not an integer") from None
        if not 0 <= index < n_tasks or str(index) != task:
            raise _damaged(
                path,
                f"task {task!r} of '{name}' is outside 0..{n_tasks - 1}, the tasks of this "
                "calibration",
            )
        checked[index] = convert(path, name, task, value)
    return checked


def _statistic_value(path, name, task, value):
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise _damaged(path, f"the statistic of task {task} is {value!r}, not a finite number")
    return float(value)


def _failure_reason(path, name, task, value):
    if not isinstance(value, str):
        raise _damaged(path, f"the failure of task {task} is {value!r}, not a text")
    return value


def _load_checkpoint(path, key, config):
    """Statistics and failures of a previous run, checked against their checksum.

    Every entry is checked as well: the keys present, task indices within the
    calibration's tasks, finite statistics, text reasons, no task both done and failed.
    """
    if path is None or not Path(path).exists():
        return {}, {}
    try:
        with open(path) as file:
            saved = json.load(file)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _damaged(path, f"not readable JSON: {error}") from error
    if not isinstance(saved, dict) or not {"key", "payload", "checksum"} <= set(saved):
        missing = (
            sorted({"key", "payload", "checksum"} - set(saved)) if isinstance(saved, dict) else []
        )
        raise _damaged(
            path,
            "not a hepcluster calibration checkpoint"
            + (f": missing {', '.join(missing)}" if missing else ""),
        )
    try:
        checksum = _checksum(saved["payload"])
    except (TypeError, ValueError) as error:
        raise _damaged(path, f"its payload cannot be read: {error}") from None
    if saved["checksum"] != checksum:
        raise _damaged(path, "checksum mismatch: the file was edited or cut short")
    if saved["key"] != key:
        theirs = saved.get("config") if isinstance(saved.get("config"), dict) else {}
        differing = sorted(
            name for name in set(config) | set(theirs) if config.get(name) != theirs.get(name)
        )
        raise IncompatibleInputError(
            f"checkpoint {path} belongs to a different calibration (differs in: "
            f"{', '.join(differing) or 'estimator, data, counts or random_state'}); "
            "remove it or choose another path."
        )
    payload = saved["payload"]
    if not isinstance(payload, dict):
        raise _damaged(path, "its payload is not an object")
    n_tasks = _n_tasks(config)
    statistics = _checkpoint_entries(path, payload, "statistics", n_tasks, _statistic_value)
    failures = _checkpoint_entries(path, payload, "failures", n_tasks, _failure_reason)
    both = sorted(set(statistics) & set(failures))
    if both:
        raise _damaged(path, f"task {both[0]} is recorded both as done and as failed")
    return statistics, failures


def _save_checkpoint(path, key, config, statistics, failures):
    payload = {
        "statistics": {str(task): value for task, value in statistics.items()},
        "failures": {str(task): reason for task, reason in failures.items()},
    }
    temporary = Path(f"{path}.tmp")
    with open(temporary, "w") as file:
        json.dump(
            {"key": key, "config": config, "payload": payload, "checksum": _checksum(payload)},
            file,
        )
    os.replace(temporary, path)


def check_writable(path, *, what="output"):
    """Fail early, with the path, when ``path`` cannot be written (before any work).

    Parameters
    ----------
    path : str or path-like
        A file that will be written later.
    what : str, default="output"
        What the file is, for the message.

    Raises
    ------
    OSError
        Naming the path and the cause.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{what} {path} is a folder, expected a file path.")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"{what} {path}: the folder {folder} does not exist.")
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"{what} {path}: the folder {folder} is not writable.")
    if path.exists() and not os.access(path, os.W_OK):
        raise PermissionError(f"{what} {path} exists and is not writable.")
    # os.access trusts permission bits only: a read-only mount, a full disk or a pseudo
    # file system (/proc) are found by creating a file there, as the run will.
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", suffix=".tmp"):
            pass
    except OSError as error:
        raise PermissionError(
            f"{what} {path}: cannot create files in {folder} ({error.strerror or error})."
        ) from error


def _signal_levels(signal_injections, n_pool):
    levels = np.asarray(signal_injections, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(levels)) or np.any(levels != np.round(levels)):
        raise ValueError(
            f"signal_injections must be whole numbers of events, got {levels.tolist()}."
        )
    levels = levels.astype(np.int64)
    if np.any(levels < 0) or np.any(levels > n_pool):
        raise ValueError(
            f"signal_injections must lie in [0, {n_pool}] (the signal pool holds {n_pool} "
            f"events), got {levels.tolist()}."
        )
    return levels


@validate(
    {
        "estimator": [HasMethods(["fit"])],
        "events": [EventTable],
        "n_background_only": [Interval(Integral, 1, None, closed="left")],
        "signal_injections": ["array-like"],
        "n_per_injection": [Interval(Integral, 1, None, closed="left")],
        "bootstrap": [StrOptions(set(BOOTSTRAPS))],
        "inputs": [StrOptions(set(INPUTS)), HasMethods(["from_events"]), None],
        "n_jobs": [Integral, None],
        "backend": [str, None],
        "chunk_size": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "checkpoint": [str, PathLike, None],
        "name": [str, None],
        "shard": [str, "array-like", None],
        "max_retries": [Interval(Integral, 0, None, closed="left")],
    },
    # the estimators' own parameters are still validated when they are fitted
    prefer_skip_nested_validation=False,
)
def run_pseudo_experiments(
    estimator,
    events,
    *,
    n_background_only=N_BACKGROUND_ONLY,
    signal_injections=SIGNAL_INJECTIONS,
    n_per_injection=N_PER_INJECTION,
    bootstrap=BOOTSTRAP,
    inputs=None,
    n_jobs=None,
    backend=None,
    chunk_size=None,
    random_state=None,
    checkpoint=None,
    name=None,
    shard=None,
    max_retries=2,
):
    """Calibrate a test statistic on bootstrap pseudo-experiments of an event sample.

    Every pseudo-experiment resamples the background events (as weights, never as copies;
    every row of an event, e.g. both of its jets, shares its weight), adds ``n_signal``
    signal events drawn without replacement from the signal pool, fits a fresh clone of
    the estimator with ``fit(X, y, sample_weight=w)`` and records its
    ``test_statistic(X, y, sample_weight=w, is_signal=truth)``. Background-only
    pseudo-experiments give the null distribution of the test statistic, signal-injected
    ones its power (arXiv:2402.17714, §3.3).

    Parameters
    ----------
    estimator : estimator or Pipeline
        A search with ``fit(X, y, sample_weight)`` and ``test_statistic(X, y,
        sample_weight, *, is_signal)``, ``y`` being m_jj in GeV: a
        :class:`~hepcluster.ClusterScanner`, a :class:`~hepcluster.DijetFitBackground`,
        or a Pipeline ending in one. A Pipeline's preprocessing (e.g.
        :class:`~hepcluster.JetImageTransformer`) is fitted and applied once, on every
        event, and must not learn from the data; only the final step is cloned and
        fitted per pseudo-experiment. Use ``JetImageTransformer(sparse_output=True)``:
        the scanner then works on sparse images, fast and with little memory. Every
        method receives the truth labels ``is_signal`` of its rows; only idealized ones
        (``ClusterScanner(idealized=True)``) use them.
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
        fit, App. A): it needs an event-level estimator with ``bins_`` and
        ``expected_counts()``, i.e. DijetFitBackground, not inside a Pipeline.
    inputs : {"jet", "event"}, adapter or None, default=None
        How events become the estimator's rows: ``"jet"``
        (:class:`~hepcluster.calibration.JetPairInputs`, the constituent matrix of the
        two leading jets, ``y`` the event's m_jj per jet) or ``"event"``
        (:class:`~hepcluster.calibration.EventInputs`, ``X`` the m_jj column, one row
        per event), or any object with ``from_events(events) -> EstimatorInputs``.
        ``None`` takes the final estimator's ``sample_unit`` (``"jet"`` when it has
        none).
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
        JSON file (with a checksum) updated after every finished task; a killed run
        started again with the same arguments resumes where it stopped. Failed
        pseudo-experiments are stored too, so a resumed run never repeats them.
    name : str, optional
        Label of the result.
    shard : (int, int) or str, optional
        ``(index, count)`` or ``"index/count"``: run only the pseudo-experiments whose
        position in the up-front seed list is ``index`` modulo ``count``, e.g. one job
        of a batch farm. :meth:`CalibrationResult.merge` combines the shards into the
        result a single run would give.
    max_retries : int, default=2
        A pseudo-experiment whose fit or scan fails (an exception, a
        ``ConvergenceWarning`` or a non-finite statistic) is tried again with fresh
        estimator seeds on the same bootstrap sample; after that it is recorded in
        ``CalibrationResult.failures`` with its seed and reason, and treated
        conservatively (see :class:`CalibrationResult`).

    Returns
    -------
    CalibrationResult

    Raises
    ------
    RuntimeError
        When every background-only pseudo-experiment failed (the estimator cannot run
        on these events).

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
    name = name or type(_final_estimator(estimator)).__name__
    return run_shared_pseudo_experiments(
        {name: estimator},
        events,
        checkpoints={name: checkpoint},
        n_background_only=n_background_only,
        signal_injections=signal_injections,
        n_per_injection=n_per_injection,
        bootstrap=bootstrap,
        inputs=inputs,
        n_jobs=n_jobs,
        backend=backend,
        chunk_size=chunk_size,
        random_state=random_state,
        shard=shard,
        max_retries=max_retries,
    )[name]


def run_shared_pseudo_experiments(
    estimators,
    events,
    *,
    checkpoints=None,
    n_background_only=N_BACKGROUND_ONLY,
    signal_injections=SIGNAL_INJECTIONS,
    n_per_injection=N_PER_INJECTION,
    bootstrap=BOOTSTRAP,
    inputs=None,
    n_jobs=None,
    backend=None,
    chunk_size=None,
    random_state=None,
    shard=None,
    max_retries=2,
):
    """Calibrate several methods on the same pseudo-experiments, sharing their fits.

    Every result equals that of :func:`run_pseudo_experiments` run on its own with the
    same arguments, statistic for statistic, and its checkpoint is the one that call
    would write (so a calibration started alone resumes here, and back). What is shared
    is the work: the rows are prepared once, each pseudo-experiment draws its bootstrap
    weights once, and methods whose estimators differ only in parameters that their
    ``fit`` does not read — for :class:`~hepcluster.ClusterScanner`, ``idealized``,
    ``threshold``, ``statistic``, ``outlier_fraction`` and ``min_background`` — are
    fitted once per pseudo-experiment (per try) and tested in turn. Realistic and
    idealized Cluster Scanning (arXiv:2402.17714, §3.3) thus cost one ensemble of
    k-means fits per pseudo-experiment instead of two.

    Parameters
    ----------
    estimators : dict of str to estimator or Pipeline
        The methods, by name (the names of the results). Their preprocessing (a
        Pipeline's steps before the last) and their rows (``inputs``) must be the same.
    events : EventTable
        Background events and the signal pool.
    checkpoints : dict of str to path-like, optional
        A checkpoint per method (as ``checkpoint`` of :func:`run_pseudo_experiments`);
        methods without one are not checkpointed.
    n_background_only, signal_injections, n_per_injection, bootstrap, inputs, n_jobs, \
backend, chunk_size, random_state, shard, max_retries
        As for :func:`run_pseudo_experiments`; ``bootstrap="parametric"`` (each fit
        resamples its own background fit) takes one method at a time.

    Returns
    -------
    dict of str to CalibrationResult
        In the order of ``estimators``.

    Raises
    ------
    ValueError
        When the methods' rows differ, or ``bootstrap="parametric"`` is given for more
        than one method.

    See Also
    --------
    run_pseudo_experiments : One method.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from hepcluster import ClusterScanner, JetImageTransformer
    >>> from hepcluster.calibration import run_shared_pseudo_experiments
    >>> from hepcluster.datasets import make_dijet_events
    >>> events = make_dijet_events(400, 100, random_state=0)
    >>> def scanner(idealized):
    ...     return make_pipeline(
    ...         JetImageTransformer(sparse_output=True),
    ...         ClusterScanner(n_clusters=4, n_ensemble=2, idealized=idealized),
    ...     )
    >>> results = run_shared_pseudo_experiments(
    ...     {"CS": scanner(False), "CS (idealized)": scanner(True)}, events,
    ...     n_background_only=3, signal_injections=[50], n_per_injection=2, random_state=0)
    >>> {name: result.null_statistics.shape for name, result in results.items()}
    {'CS': (3,), 'CS (idealized)': (3,)}
    """
    if not isinstance(estimators, dict) or not estimators:
        raise TypeError(
            "estimators must be a non-empty dict of name to estimator, got "
            f"{type(estimators).__name__}."
        )
    checkpoints = dict(checkpoints or {})
    unknown = sorted(set(checkpoints) - set(estimators))
    if unknown:
        raise ValueError(f"checkpoints for methods not in estimators: {', '.join(unknown)}.")
    _check_methods(estimators, inputs, bootstrap)
    names = list(estimators)
    shard_index, shard_count = parse_shard(shard)
    signal_injections = _signal_levels(signal_injections, int(events.is_signal.sum()))
    for path in checkpoints.values():
        if path is not None:
            check_writable(path, what="checkpoint")
    if (~events.is_signal).sum() == 0:
        raise ValueError("events hold no background event to resample.")

    start = time.perf_counter()
    problem = _prepare(estimators[names[0]], events, bootstrap, inputs)
    problem.methods = tuple(
        problem.estimator if index == 0 else _final_estimator(estimators[method])
        for index, method in enumerate(names)
    )
    problem.fit_keys = tuple(_fit_key(method) for method in problem.methods)
    rng = check_random_state(random_state)
    n_signal = np.concatenate(
        [np.zeros(n_background_only, np.int64), np.repeat(signal_injections, n_per_injection)]
    )
    seeds = rng.randint(np.iinfo(np.int32).max, size=n_signal.size)
    common = {
        "n_events": len(events),
        "data": _problem_fingerprint(problem),
        "seeds": hashlib.sha256(seeds.tobytes()).hexdigest(),
        "n_background_only": int(n_background_only),
        "signal_injections": signal_injections.tolist(),
        "n_per_injection": int(n_per_injection),
        "bootstrap": bootstrap,
        "max_retries": int(max_retries),
    }
    configs, keys, statistics, failures = [], [], [], []
    for method in names:
        config = {"estimator": estimator_fingerprint(estimators[method]), **common}
        if inputs is not None:
            config["inputs"] = estimator_fingerprint(inputs)
        key = _config_key(config)
        done, failed = _load_checkpoint(checkpoints.get(method), key, config)
        configs.append(config)
        keys.append(key)
        statistics.append(done)
        failures.append(failed)
    mine = [task for task in range(n_signal.size) if task % shard_count == shard_index]
    for method, done, failed in zip(names, statistics, failures, strict=True):
        if done or failed:
            logger.info(
                "%sresuming: %d of %d pseudo-experiments done",
                "" if len(names) == 1 else f"{method}: ",
                len(done) + len(failed),
                len(mine),
            )
    todo = []
    for task in mine:
        members = [
            member
            for member in range(len(names))
            if task not in statistics[member] and task not in failures[member]
        ]
        if members:
            todo.append((task, int(seeds[task]), int(n_signal[task]), members))
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
        # inside the backend's context: n_jobs=-1 means all of its workers
        workers = joblib.effective_n_jobs(n_jobs)
        size = chunk_size or int(np.clip(np.ceil(len(todo) / (4 * workers)), 1, 25))
        chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
        parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        tasks = (delayed(_run_chunk)(problem, chunk, max_retries) for chunk in chunks)
        for finished in parallel(tasks):
            for task, outcome in finished:
                for member, (value, reason) in outcome.items():
                    if reason is None:
                        statistics[member][task] = value
                        continue
                    failures[member][task] = reason
                    logger.warning(
                        "pseudo-experiment %d (seed %d)%s failed: %s",
                        task,
                        seeds[task],
                        "" if len(names) == 1 else f" of {names[member]}",
                        reason,
                    )
            bar.update(len(finished))
            for member, method in enumerate(names):
                if checkpoints.get(method) is not None:
                    _save_checkpoint(
                        checkpoints[method],
                        keys[member],
                        configs[member],
                        statistics[member],
                        failures[member],
                    )
    elapsed = time.perf_counter() - start
    logger.info(
        "ran %d pseudo-experiments%s in %.1f s",
        len(todo),
        "" if len(names) == 1 else f" of {len(names)} methods ({', '.join(names)})",
        elapsed,
    )
    return {
        method: _result(
            method,
            estimators[method],
            events,
            statistics=statistics[member],
            failures=failures[member],
            seeds=seeds,
            n_signal=n_signal,
            signal_injections=signal_injections,
            n_background_only=n_background_only,
            n_per_injection=n_per_injection,
            metadata={
                "bootstrap": bootstrap,
                "estimator": repr(estimators[method]),
                "random_state": None if random_state is None else str(random_state),
                "seconds": elapsed,
                "config_key": keys[member],
                "config": {
                    **configs[member],
                    "random_state": None if random_state is None else str(random_state),
                },
                **({"shared_with": [n for n in names if n != method]} if len(names) > 1 else {}),
                **(
                    {"shards": {"count": shard_count, "indices": [shard_index]}}
                    if shard_count > 1
                    else {}
                ),
            },
            n_resumed=len(mine) - sum(member in t[3] for t in todo),
        )
        for member, method in enumerate(names)
    }


def _rows_identity(estimator, inputs):
    """What a method's rows depend on: its Pipeline steps before the last, and its inputs."""
    preprocessing = list(estimator.steps[:-1]) if isinstance(estimator, Pipeline) else []
    adapter = resolve_inputs(inputs, _final_estimator(estimator))
    return estimator_fingerprint(preprocessing), estimator_fingerprint(adapter)


def _check_methods(estimators, inputs, bootstrap):
    names = list(estimators)
    for method, estimator in estimators.items():
        final = _final_estimator(estimator)
        if not callable(getattr(final, "test_statistic", None)):
            raise TypeError(
                f"{type(final).__name__} has no test_statistic(X, y, sample_weight, *, "
                "is_signal) method: calibration needs the search's test statistic"
                + ("" if len(names) == 1 else f" (method {method!r})")
                + "."
            )
    if len(names) == 1:
        return
    if bootstrap == "parametric":
        raise ValueError(
            "bootstrap='parametric' resamples each method's own background fit: calibrate "
            "one method at a time with it."
        )
    first, *others = names
    reference = _rows_identity(estimators[first], inputs)
    for method in others:
        if _rows_identity(estimators[method], inputs) != reference:
            raise ValueError(
                f"methods {first!r} and {method!r} read different rows (their "
                "preprocessing steps or inputs differ): calibrate them separately."
            )


def _result(
    name,
    estimator,
    events,
    *,
    statistics,
    failures,
    seeds,
    n_signal,
    signal_injections,
    n_background_only,
    n_per_injection,
    metadata,
    n_resumed,
):
    null_failures = [task for task in failures if task < n_background_only]
    if null_failures and not any(task < n_background_only for task in statistics):
        first = min(null_failures)
        raise RuntimeError(
            "every background-only pseudo-experiment failed, so nothing calibrates the "
            f"statistic; the first (seed {seeds[first]}): {failures[first]}"
        )
    logger.info(
        "%s: %d pseudo-experiments (%d resumed from the checkpoint, %d failed)",
        name,
        len(statistics) + len(failures),
        n_resumed,
        len(failures),
    )
    values = np.full(n_signal.size, np.nan)
    for task, value in statistics.items():
        values[task] = value
    return CalibrationResult(
        null_statistics=values[:n_background_only],
        signal_injections=signal_injections,
        injected_statistics=values[n_background_only:].reshape(
            signal_injections.size, n_per_injection
        ),
        n_background=float(events.weight[~events.is_signal].sum()),
        name=name,
        metadata=metadata,
        failures=[
            {
                "task": task,
                "seed": int(seeds[task]),
                "n_signal": int(n_signal[task]),
                "reason": reason,
            }
            for task, reason in sorted(failures.items())
        ],
    )
