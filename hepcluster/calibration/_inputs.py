"""How calibration turns events into an estimator's inputs: one adapter per sample unit.

A search estimator declares in its class attribute ``sample_unit`` what one row of its
``X`` is: ``"jet"`` (:class:`~hepcluster.ClusterScanner`: the two leading jets of every
event, ``y`` the event's m_jj) or ``"event"`` (:class:`~hepcluster.DijetFitBackground`:
one row per event, ``y`` its m_jj). :func:`run_pseudo_experiments` builds the rows once
through the adapter of that unit and resamples them as event weights: every row knows
its event (``row_event``), so both jets of an event share its bootstrap multiplicity.
"""

from dataclasses import dataclass, replace

import numpy as np

__all__ = ["EmbeddingInputs", "EstimatorInputs", "EventInputs", "JetPairInputs", "resolve_inputs"]


@dataclass(frozen=True, eq=False)
class EstimatorInputs:
    """The rows an estimator sees, and the event each row belongs to.

    Attributes
    ----------
    X : array-like of shape (n_rows, n_features)
        Input of the estimator (or of the first step of its Pipeline).
    y : ndarray of shape (n_rows,)
        m_jj in GeV of each row's event.
    row_event : ndarray of shape (n_rows,), int
        Index of each row's event in the :class:`~hepcluster.datasets.EventTable`.
    is_signal : ndarray of shape (n_rows,), bool
        Truth label of each row's event (what idealized methods receive).
    """

    X: object
    y: np.ndarray
    row_event: np.ndarray
    is_signal: np.ndarray

    @property
    def n_rows(self):
        """Number of rows."""
        return int(self.y.shape[0])


class JetPairInputs:
    """One row per jet of the two leading jets of every event (``sample_unit = "jet"``).

    ``X`` is the constituent matrix of :meth:`~hepcluster.datasets.EventTable.jets` (rows ``2i``
    and ``2i + 1``
    are the leading and subleading jet of event ``i``), ``y`` the event's m_jj repeated
    for both jets: the input of Cluster Scanning (arXiv:2402.17714, §3), usually through
    :class:`~hepcluster.JetImageTransformer`.

    Examples
    --------
    >>> from hepcluster.calibration import JetPairInputs
    >>> from hepcluster.datasets import make_dijet_events
    >>> events = make_dijet_events(5, 2, n_constituents=4, random_state=0)
    >>> inputs = JetPairInputs().from_events(events)
    >>> inputs.X.shape, inputs.row_event.tolist()
    ((14, 12), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6])
    """

    sample_unit = "jet"

    def from_events(self, events):
        """Rows of the events.

        Parameters
        ----------
        events : EventTable

        Returns
        -------
        EstimatorInputs
        """
        X, mjj, _ = events.jets()
        return EstimatorInputs(
            X=X,
            y=mjj,
            row_event=np.repeat(np.arange(len(events)), 2),
            is_signal=events.jet_is_signal,
        )

    def __repr__(self):
        return "JetPairInputs()"


class EventInputs:
    """One row per event (``sample_unit = "event"``): ``X`` the m_jj column, ``y`` m_jj.

    The input of bump hunts on the event m_jj such as the dijet fit
    (:class:`~hepcluster.DijetFitBackground`, arXiv:2402.17714, App. A), which use ``y``
    only; ``X`` of shape ``(n_events, 1)`` keeps one row per event for Pipelines.

    Examples
    --------
    >>> from hepcluster.calibration import EventInputs
    >>> from hepcluster.datasets import make_dijet_events
    >>> events = make_dijet_events(5, 2, n_constituents=4, random_state=0)
    >>> inputs = EventInputs().from_events(events)
    >>> inputs.X.shape, bool((inputs.X[:, 0] == inputs.y).all())
    ((7, 1), True)
    >>> EventInputs().bin_centres([3000.0, 3100.0, 3300.0]).y.tolist()
    [3050.0, 3200.0]
    """

    sample_unit = "event"

    def from_events(self, events):
        """Rows of the events.

        Parameters
        ----------
        events : EventTable

        Returns
        -------
        EstimatorInputs
        """
        mjj = np.asarray(events.mjj, dtype=np.float64)
        return EstimatorInputs(
            X=mjj.reshape(-1, 1),
            y=mjj,
            row_event=np.arange(len(events)),
            is_signal=np.asarray(events.is_signal, dtype=bool),
        )

    def bin_centres(self, edges):
        """One row per bin at its centre: a binned sample whose weights are its counts.

        What the parametric bootstrap fits: Poisson counts drawn from a fitted background,
        given as the ``sample_weight`` of these rows.

        Parameters
        ----------
        edges : array-like of shape (n_bins + 1,)
            Bin edges in GeV.

        Returns
        -------
        EstimatorInputs
            ``row_event`` is the bin index; ``is_signal`` is False.
        """
        edges = np.asarray(edges, dtype=np.float64)
        centres = 0.5 * (edges[1:] + edges[:-1])
        return EstimatorInputs(
            X=centres.reshape(-1, 1),
            y=centres,
            row_event=np.arange(centres.size),
            is_signal=np.zeros(centres.size, bool),
        )

    def __repr__(self):
        return "EventInputs()"


class EmbeddingInputs:
    """One row per event: its embedding by a fitted model, computed once.

    ``X`` is ``model.embed(events)`` (e.g. :meth:`~hepcluster.DeepKMeans.embed`,
    the event embedding of UCluster, arXiv:2010.07106, §4), ``y`` the event's m_jj: the
    rows of :class:`~hepcluster.anomaly.NearestClusterSearch`. The network runs once,
    before the pseudo-experiments; they resample these rows as event weights, so the
    clustering is the same in every one of them.

    Parameters
    ----------
    model : object
        Anything with ``embed(events) -> ndarray of shape (n_events, n_dims)``.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.calibration import EmbeddingInputs
    >>> from hepcluster.datasets import make_dijet_events
    >>> class Embedding:  # a stand-in for a fitted DeepKMeans
    ...     def embed(self, events):
    ...         return np.log(events.jet_mass)
    >>> events = make_dijet_events(5, 2, n_constituents=4, random_state=0)
    >>> inputs = EmbeddingInputs(Embedding()).from_events(events)
    >>> inputs.X.shape, inputs.row_event.tolist()
    ((7, 2), [0, 1, 2, 3, 4, 5, 6])
    """

    sample_unit = "event"

    def __init__(self, model):
        self.model = model

    def from_events(self, events):
        """Rows of the events.

        Parameters
        ----------
        events : EventTable

        Returns
        -------
        EstimatorInputs

        Raises
        ------
        TypeError
            If the model has no ``embed`` method.
        ValueError
            If the embedding does not hold one finite row per event.
        """
        embed = getattr(self.model, "embed", None)
        if not callable(embed):
            raise TypeError(
                f"EmbeddingInputs needs a fitted model with embed(events), got "
                f"{type(self.model).__name__}."
            )
        X = np.asarray(embed(events), dtype=np.float64)
        if X.ndim != 2 or X.shape[0] != len(events) or not np.all(np.isfinite(X)):
            raise ValueError(
                f"{type(self.model).__name__}.embed must return one finite row per event, "
                f"shape ({len(events)}, n_dims); got shape {X.shape}."
            )
        return replace(EventInputs().from_events(events), X=X)

    def __repr__(self):
        return f"EmbeddingInputs({type(self.model).__name__})"


INPUTS = {"jet": JetPairInputs, "event": EventInputs}
"""Adapter of every sample unit."""


def resolve_inputs(inputs, final_estimator):
    """The adapter for an estimator: ``inputs`` itself, by name, or from ``sample_unit``.

    Parameters
    ----------
    inputs : {"jet", "event"}, adapter or None
        ``None`` reads the final estimator's class attribute ``sample_unit`` (an
        estimator without one gets ``"jet"``). An adapter is any object with
        ``from_events(events) -> EstimatorInputs``.
    final_estimator : estimator
        The last step of a Pipeline, or the estimator.

    Returns
    -------
    adapter

    Examples
    --------
    >>> from hepcluster import ClusterScanner, DijetFitBackground
    >>> from hepcluster.calibration._inputs import resolve_inputs
    >>> resolve_inputs(None, ClusterScanner()), resolve_inputs(None, DijetFitBackground())
    (JetPairInputs(), EventInputs())
    >>> resolve_inputs("event", ClusterScanner())
    EventInputs()
    """
    if inputs is None:
        inputs = getattr(final_estimator, "sample_unit", "jet")
        if inputs not in INPUTS:
            raise ValueError(
                f"{type(final_estimator).__name__}.sample_unit = {inputs!r} is not one of "
                f"{sorted(INPUTS)}; pass inputs= (an adapter with from_events) instead."
            )
    if isinstance(inputs, str):
        return INPUTS[inputs]()
    return inputs


def check_inputs(inputs, events):
    """Rows of ``events`` from an adapter, checked to be consistent."""
    rows = inputs.from_events(events)
    if not isinstance(rows, EstimatorInputs):
        raise TypeError(
            f"{inputs!r}.from_events must return EstimatorInputs, got {type(rows).__name__}."
        )
    row_event = np.asarray(rows.row_event)
    if row_event.shape != rows.y.shape or np.asarray(rows.is_signal).shape != rows.y.shape:
        raise ValueError(
            f"{inputs!r}: y, row_event and is_signal must have one entry per row, got "
            f"shapes {rows.y.shape}, {row_event.shape} and {np.shape(rows.is_signal)}."
        )
    if row_event.size and (row_event.min() < 0 or row_event.max() >= len(events)):
        raise ValueError(f"{inputs!r}: row_event must index the {len(events)} events.")
    return rows
