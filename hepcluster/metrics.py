"""Metrics of clustering searches: cluster accuracy, signal fraction improvement, S/B.

:class:`SignalFractionScorer` turns the signal fraction improvement of the clusters a
scan selects into a scikit-learn scorer, for tuning a search on simulated injections
with :class:`~sklearn.model_selection.GridSearchCV` and metadata routing.
"""

import numpy as np
import sklearn
from scipy.optimize import linear_sum_assignment
from sklearn.pipeline import Pipeline
from sklearn.utils.metadata_routing import UNCHANGED, MetadataRequest

from .stats import local_significance


def cluster_accuracy(y_true, labels):
    """Fraction of samples whose cluster maps to their class under the best matching.

    Clusters are matched one-to-one to classes so that the number of correctly assigned
    samples is largest (Hungarian algorithm, :func:`scipy.optimize.linear_sum_assignment`);
    with more clusters than classes, unmatched clusters count as wrong.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True classes (any hashable labels).
    labels : array-like of shape (n_samples,)
        Cluster labels.

    Returns
    -------
    float
        Accuracy in [0, 1].

    References
    ----------
    V. Mikuni, F. Canelli, arXiv:2010.07106, §3 (the cluster accuracy of UCluster).

    Examples
    --------
    >>> from hepcluster.metrics import cluster_accuracy
    >>> cluster_accuracy(["W", "W", "Z", "Z", "t"], [2, 2, 0, 1, 1])
    0.8
    """
    y_true = np.asarray(y_true)
    labels = np.asarray(labels)
    if y_true.shape != labels.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true and labels must be 1-D of the same length, got {y_true.shape} and "
            f"{labels.shape}."
        )
    if y_true.size == 0:
        raise ValueError("cluster_accuracy needs at least one sample.")
    classes, class_index = np.unique(y_true, return_inverse=True)
    clusters, cluster_index = np.unique(labels, return_inverse=True)
    contingency = np.zeros((clusters.size, classes.size), dtype=np.int64)
    np.add.at(contingency, (cluster_index, class_index), 1)
    rows, cols = linear_sum_assignment(contingency, maximize=True)
    return float(contingency[rows, cols].sum() / y_true.size)


def _selected_signal_and_background(is_signal, selected, sample_weight):
    """Weighted signal S and background B inside a selection (everything when None)."""
    is_signal = np.asarray(is_signal, dtype=bool)
    selected = np.ones_like(is_signal) if selected is None else np.asarray(selected, dtype=bool)
    weight = np.ones(is_signal.shape) if sample_weight is None else np.asarray(sample_weight)
    return weight[selected & is_signal].sum(), weight[selected & ~is_signal].sum()


def signal_to_background(is_signal, selected=None, *, sample_weight=None):
    """Signal-to-background ratio S/B of a selection.

    Parameters
    ----------
    is_signal : array-like of shape (n_samples,), bool
    selected : array-like of shape (n_samples,), bool, default=None
        Selection mask; ``None`` selects everything.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    float
        S/B (inf when the selection contains no background).
    """
    signal, background = _selected_signal_and_background(is_signal, selected, sample_weight)
    return float(signal / background) if background > 0 else float("inf")


def signal_fraction_improvement(is_signal, selected, *, sample_weight=None):
    """Signal fraction improvement SFI = (S_sel/B_sel) / (S_all/B_all).

    Parameters
    ----------
    is_signal : array-like of shape (n_samples,), bool
    selected : array-like of shape (n_samples,), bool
        The selection, e.g. jets of signal-rich clusters.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    float
        SFI ≥ 0: ``inf`` when the selection holds signal and no background, and 0 when it
        is empty (it holds no signal), the convention of
        :meth:`hepcluster.scanning.ScanResult.signal_fraction_improvement`, which argues
        it.

    Raises
    ------
    ValueError
        If the sample contains no signal (SFI is undefined).

    References
    ----------
    I. Oleksiyuk et al., arXiv:2402.17714, Appendix C.

    Examples
    --------
    >>> from hepcluster.metrics import signal_fraction_improvement
    >>> is_signal = [True, False, False, False, True, False]
    >>> selected = [True, True, False, False, False, False]
    >>> signal_fraction_improvement(is_signal, selected)
    2.0
    >>> signal_fraction_improvement(is_signal, [False] * 6)
    0.0
    """
    overall = signal_to_background(is_signal, None, sample_weight=sample_weight)
    if overall == 0:
        raise ValueError("the sample contains no signal: SFI is undefined.")
    signal, _ = _selected_signal_and_background(is_signal, selected, sample_weight)
    if signal == 0:
        return 0.0  # also an empty selection (0/0): no selected signal
    return signal_to_background(is_signal, selected, sample_weight=sample_weight) / overall


def signal_significance(is_signal, selected=None, *, sample_weight=None):
    """Significance S/√B of the signal in a selection (Gaussian approximation).

    Parameters
    ----------
    is_signal : array-like of shape (n_samples,), bool
    selected : array-like of shape (n_samples,), bool, default=None
        Selection mask; ``None`` selects everything.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    float
        S/√B (inf when the selection contains signal but no background, 0 when it contains
        neither).

    Examples
    --------
    >>> from hepcluster.metrics import signal_significance
    >>> signal_significance([True, True, False, False, False, False])
    1.0
    """
    signal, background = _selected_signal_and_background(is_signal, selected, sample_weight)
    if background > 0:
        return float(signal / np.sqrt(background))
    return float("inf") if signal > 0 else 0.0


def significance_improvement(is_signal, selected, *, sample_weight=None):
    """Significance improvement SI = (S_sel/√B_sel) / (S_all/√B_all) of a selection.

    Parameters
    ----------
    is_signal : array-like of shape (n_samples,), bool
    selected : array-like of shape (n_samples,), bool
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the sample contains no signal.

    References
    ----------
    V. Mikuni, F. Canelli, arXiv:2010.07106, §4 (the significance gain of the
    signal-rich cluster).

    Examples
    --------
    >>> from hepcluster.metrics import significance_improvement
    >>> is_signal = [True, True, False, False, False, False, False, False]
    >>> round(significance_improvement(is_signal, [True, True, True, False, False, False,
    ...                                             False, False]), 3)
    2.449
    """
    overall = signal_significance(is_signal, None, sample_weight=sample_weight)
    if overall == 0:
        raise ValueError("the sample contains no signal: the improvement is undefined.")
    return signal_significance(is_signal, selected, sample_weight=sample_weight) / overall


def excess_significance(observed, expected, *, statistic="poisson"):
    """Significance Z of the excess of an observed count over its expected background.

    The counts of several bins (e.g. a signal region) are summed first.

    Parameters
    ----------
    observed : float or array-like
        Observed (possibly weighted) counts N.
    expected : float or array-like
        Expected background B, same shape as ``observed``.
    statistic : {"poisson", "poisson-midp", "gaussian"}, default="poisson"
        ``"poisson"``: Z = Φ⁻¹(1 − p), p = P(X ≥ N | B) for X ~ Poisson(B), continuous in
        N; ``"gaussian"``: (N − B)/√B. See
        :func:`hepcluster.stats.local_significance`.

    Returns
    -------
    float
        Z ≥ 0 (0 for a deficit; inf for N > B = 0).

    References
    ----------
    I. Oleksiyuk et al., arXiv:2402.17714, Eqs. 3.2–3.3; V. Mikuni, F. Canelli,
    arXiv:2010.07106, §4.

    Examples
    --------
    >>> from hepcluster.metrics import excess_significance
    >>> excess_significance([60.0, 70.0], [50.0, 50.0], statistic="gaussian")
    3.0
    >>> round(excess_significance(130.0, 100.0), 2)
    2.84
    """
    observed = np.asarray(observed, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if observed.shape != expected.shape:
        raise ValueError(
            f"observed and expected must have the same shape, got {observed.shape} and "
            f"{expected.shape}."
        )
    return float(local_significance(observed.sum(), expected.sum(), statistic=statistic))


class SignalFractionScorer:
    """Scorer: signal fraction improvement of the clusters a scan selects.

    ``scorer(estimator, X, y, sample_weight=None, is_signal=None)`` takes a fitted
    :class:`~hepcluster.ClusterScanner`, or a Pipeline ending in one, and held-out jets
    ``X`` with their events' m_jj ``y`` and truth labels ``is_signal``. It applies the
    Pipeline's preprocessing, runs the final step's ``scan(Xt, y, sample_weight,
    is_signal=is_signal)`` and returns
    :meth:`ScanResult.signal_fraction_improvement
    <hepcluster.scanning.ScanResult.signal_fraction_improvement>`, the signal fraction
    improvement SFI = (S_sel/B_sel) / (S/B) (arXiv:2402.17714, App. C) of the jets in
    the signal-rich (selected) clusters among the jets inside the scanned m_jj bins,
    averaged over the ensemble members. Higher is better: a sensitivity measure for
    tuning on simulated signal injections, unlike the test statistic, whose value on
    background alone grows with looser selections, and unlike ``score``.

    Conventions (those of :class:`~hepcluster.scanning.ScanResult`, argued there): an
    ensemble member that selects no cluster has SFI = 0; one whose selection holds
    signal but no background has SFI = inf; held-out data without signal inside the bins
    raise ``ValueError`` (SFI is undefined). For an idealized scanner the clusters are
    selected from the idealized spectra and jets are counted in their k-means clusters.

    The truth labels reach the scorer through scikit-learn's metadata routing: with
    ``sklearn.set_config(enable_metadata_routing=True)``, request them with
    ``set_score_request(is_signal=True)`` and pass ``is_signal=`` to
    ``GridSearchCV.fit``. Keep the jets of one event in one fold (``GroupKFold`` with
    ``groups=event_id``).

    Examples
    --------
    >>> import numpy as np
    >>> import sklearn
    >>> from hepcluster import ClusterScanner
    >>> from hepcluster.metrics import SignalFractionScorer
    >>> rng = np.random.default_rng(0)
    >>> is_signal = rng.random(4000) < 0.1
    >>> X = rng.normal(size=(4000, 2)) + 4.0 * is_signal[:, None]
    >>> mjj = np.where(is_signal, rng.normal(3250.0, 20.0, 4000),
    ...                rng.uniform(3000.0, 3400.0, 4000))
    >>> scanner = ClusterScanner(n_clusters=6, bins=(3000, 3100, 3200, 3300, 3400),
    ...                          n_ensemble=2, random_state=0).fit(X, mjj)
    >>> sfi = SignalFractionScorer()(scanner, X, mjj, is_signal=is_signal)
    >>> bool(sfi > 1.0)
    True
    >>> with sklearn.config_context(enable_metadata_routing=True):
    ...     scorer = SignalFractionScorer().set_score_request(is_signal=True)
    ...     print(scorer.get_metadata_routing())
    {'score': {'is_signal': True, 'sample_weight': None}}
    """

    _METADATA = ("is_signal", "sample_weight")

    def __init__(self):
        self._requests = {}

    def __call__(self, estimator, X, y, sample_weight=None, is_signal=None):
        """SFI of the selected clusters of ``estimator`` on ``(X, y)``.

        Parameters
        ----------
        estimator : fitted ClusterScanner or Pipeline ending in one
        X : array-like or SparseImages
            Input of ``estimator`` (the Pipeline's first step), one row per jet.
        y : array-like of shape (n_jets,)
            m_jj in GeV of each jet's event.
        sample_weight : array-like of shape (n_jets,), default=None
        is_signal : array-like of shape (n_jets,), bool
            Truth labels (required).

        Returns
        -------
        float
            The SFI averaged over the ensemble members.
        """
        if is_signal is None:
            raise ValueError(
                "SignalFractionScorer needs the truth labels is_signal. In GridSearchCV, "
                "enable metadata routing (sklearn.config_context(enable_metadata_routing="
                "True)), use SignalFractionScorer().set_score_request(is_signal=True) and "
                "pass is_signal= to fit."
            )
        if isinstance(estimator, Pipeline):
            final, X = estimator[-1], estimator[:-1].transform(X)
        else:
            final = estimator
        if not callable(getattr(final, "scan", None)):
            raise TypeError(
                "SignalFractionScorer needs a cluster scan with scan(), such as "
                f"ClusterScanner; got {type(final).__name__}."
            )
        result = final.scan(X, y, sample_weight, is_signal=np.asarray(is_signal, dtype=bool))
        try:
            sfi = result.signal_fraction_improvement()
        except ValueError as error:
            raise ValueError(
                f"{error} The held-out jets hold no signal inside the scan's m_jj bins "
                "(score folds of simulated signal injections)."
            ) from None
        return float(np.mean(sfi))

    def set_score_request(self, *, is_signal=UNCHANGED, sample_weight=UNCHANGED):
        """Request metadata passed to the scorer (scikit-learn metadata routing).

        Parameters
        ----------
        is_signal : bool, str or None, default=sklearn.utils.metadata_routing.UNCHANGED
            ``True``: pass ``is_signal`` to the scorer; ``False``: do not; ``None``: raise
            if it is given; a string: pass the metadata of that name as ``is_signal``.
        sample_weight : bool, str or None, default=sklearn.utils.metadata_routing.UNCHANGED
            The same for ``sample_weight``.

        Returns
        -------
        self : SignalFractionScorer

        Raises
        ------
        RuntimeError
            When metadata routing is not enabled.
        """
        if not sklearn.get_config()["enable_metadata_routing"]:
            raise RuntimeError(
                "set_score_request is only available when metadata routing is enabled: "
                "use sklearn.set_config(enable_metadata_routing=True) or "
                "sklearn.config_context(enable_metadata_routing=True)."
            )
        for param, alias in (("is_signal", is_signal), ("sample_weight", sample_weight)):
            if alias is not UNCHANGED:
                self._requests[param] = alias
        return self

    def get_metadata_routing(self):
        """The metadata this scorer requests, for scikit-learn's routing.

        Returns
        -------
        sklearn.utils.metadata_routing.MetadataRequest
            Requests of the ``score`` method.
        """
        request = MetadataRequest(owner=type(self).__name__)
        for param in self._METADATA:
            request.score.add_request(param=param, alias=self._requests.get(param))
        return request

    def __repr__(self):
        requested = ", ".join(f"{key}={value!r}" for key, value in self._requests.items())
        return f"SignalFractionScorer({requested})" if requested else "SignalFractionScorer()"
