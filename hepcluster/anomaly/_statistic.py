"""The test statistic of the anomaly search on a fixed clustering, for calibration.

:class:`NearestClusterSearch` holds the centroids of a fitted clustering (e.g. of
:class:`~hepcluster.ucluster.DeepKMeans`) and reads the events' embedding: ``fit``
assigns every event to its nearest centroid and estimates every cluster's background
from its nearest cluster (:func:`nearest_cluster_background`, arXiv:2010.07106, §4.2);
``test_statistic`` is the largest local significance over the clusters. Bootstrap
pseudo-experiments (:func:`hepcluster.calibration.run_pseudo_experiments`) refit only
the background estimates, which makes thousands of them cheap.
"""

import warnings
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ..metrics import excess_significance
from ..stats import STATISTICS, check_bin_edges, histogram
from ..utils._sklearn_compat import HasMethods, Interval, StrOptions, check_sample_weight
from ..utils._sklearn_compat import fit_context as _fit_context
from ._background import nearest_cluster_background

__all__ = ["NearestClusterSearch"]


class _HistogramShape(BaseEstimator):
    """Background shape of a cluster: its own weighted m_jj histogram (a template, no fit)."""

    def __init__(self, bins=None):
        self.bins = bins

    def fit(self, X, y, sample_weight=None):
        """Histogram ``y`` (m_jj in GeV) in ``bins``."""
        self.counts_ = histogram(np.asarray(y, np.float64), self.bins, weights=sample_weight)
        return self

    def expected_counts(self):
        """The histogram."""
        return self.counts_


def _assign(X, centers):
    """Index of the nearest centre of every row (Euclidean), as DeepKMeans predicts."""
    distances = ((X[:, None, :] - centers[None, :, :]) ** 2).sum(axis=-1)
    return np.argmin(distances, axis=1)


def _equal_bins(mjj, n_bins):
    low, high = float(mjj.min()), float(mjj.max())
    edges = np.linspace(low, high if high > low else low + 1.0, n_bins + 1)
    # the last edge is excluded from the bins: one ulp up keeps the largest mass inside
    edges[-1] = np.nextafter(edges[-1], np.inf)
    return edges


def _cluster_excesses(labels, mjj, weight, *, n_clusters, bins, estimates, regions, statistic):
    """Local significance of every cluster's counts in its signal region over its estimate."""
    z = np.zeros(n_clusters)
    for k in range(n_clusters):
        chosen = labels == k
        counts = histogram(mjj[chosen], bins, weights=weight[chosen])
        first, last = regions[k]
        z[k] = excess_significance(
            counts[first:last], estimates[k][first:last], statistic=statistic
        )
    return z


class NearestClusterSearch(BaseEstimator):
    """Largest local excess over the clusters of a fixed clustering, as a test statistic.

    The event-level anomaly search of UCluster (V. Mikuni, F. Canelli, arXiv:2010.07106,
    §4) on an embedding computed once: every event goes to its nearest centroid, the
    background of every cluster is the fit of its nearest cluster's m_jj spectrum scaled
    to the cluster's sidebands (:func:`nearest_cluster_background`), and the test
    statistic is the largest local significance of a cluster's excess in the signal
    region. Calibrated with :func:`hepcluster.calibration.run_pseudo_experiments` and
    ``inputs=EmbeddingInputs(model)``, it turns that largest *local* significance into a
    *global* one, with the look-elsewhere effect over the clusters (and over the windows
    when ``signal_region`` is ``None``) in the null distribution.

    Parameters
    ----------
    cluster_centers : array-like of shape (n_clusters, n_features) or int, default=2
        Fixed centroids in the space of ``X``, e.g. ``DeepKMeans.cluster_centers_``;
        events are assigned as ``DeepKMeans.predict`` assigns them (nearest centroid).
        An int k learns k centroids by k-means on the weighted rows in every ``fit``
        (then the clustering of the fixed embedding is refitted in every
        pseudo-experiment too).
    bins : int or array-like of float, default=10
        m_jj bin edges in GeV (the last edge excluded), or a number of equal bins over
        the range of ``y`` (as the checks' data need; an analysis gives edges).
    signal_region : (float, float) or None, default=None
        m_jj range (two bin edges) whose excess is tested; ``None`` slides a window of
        three bins and keeps, per cluster, the largest excess (see
        :func:`nearest_cluster_background`).
    background : estimator or None, default=None
        Unfitted background model of a cluster's m_jj spectrum, e.g.
        ``DijetFitBackground(n_params=4)`` of :mod:`hepcluster.fits` as in the paper
        (cloned with ``bins`` set). ``None`` takes the nearest cluster's histogram
        itself as the shape (a template without a fit).
    statistic : {"poisson", "poisson-midp", "gaussian"}, default="poisson"
        Local significance of a count over its expectation.
    random_state : int, RandomState instance or None, default=None
        Seed of the k-means initialisation when ``cluster_centers`` is an int.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Centroids used (``cluster_centers`` itself when given).
    labels_ : ndarray of shape (n_samples,)
        Cluster of every row of the fitted ``X``.
    bins_ : ndarray of shape (n_bins + 1,)
        Bin edges in GeV.
    nearest_cluster_ : ndarray of shape (n_clusters,)
        Cluster whose spectrum gives each cluster's background shape.
    spectra_ : ndarray of shape (n_clusters, n_bins)
        Weighted m_jj histogram of every cluster.
    background_ : ndarray of shape (n_clusters, n_bins)
        Background estimate of every cluster (its nearest cluster's shape, scaled).
    signal_region_index_ : ndarray of shape (n_clusters, 2)
        First and last + 1 bin of every cluster's signal region.
    excess_significance_ : ndarray of shape (n_clusters,)
        Local significance of every cluster's excess in its signal region.
    n_features_in_ : int
        Number of columns of ``X`` (the embedding dimension).

    See Also
    --------
    anomaly_search : The search itself, on events and a fitted clusterer.
    hepcluster.calibration.EmbeddingInputs : The rows of the pseudo-experiments.

    Notes
    -----
    The statistic is t = max_k Z_k with Z_k the local significance (``statistic``) of
    the counts of cluster k in the signal region over B_k,b = f_j,b · Σ_SB N_k,b /
    Σ_SB f_j,b, f_j the background model fitted to the spectrum of the nearest cluster
    j (arXiv:2010.07106, §4.2). On the same events, ``test_statistic`` equals the largest
    ``excess_significance`` of :func:`anomaly_search` with the same model.

    *What the null distribution holds.* With fixed ``cluster_centers``, each
    pseudo-experiment resamples the events (the embedding of every event is fixed) and
    refits every background estimate: the statistical fluctuations of the spectra, of
    the fits and of the sideband normalisations, and the choice of the largest of k
    clusters (and of the windows with ``signal_region=None``). *What it does not hold*:
    the network is not retrained on every pseudo-experiment, so the variation of the
    clustering between trainings, and any selection among several trainings, are not
    in it. This is the null of the question "does this clustering hold an excess?". It
    is a fair null for the trained clustering because the training never reads m_jj
    binned in the signal region: the network is trained on the particles' features and
    the per-particle jet-mass task, so it cannot place the clusters on a fluctuation of
    the m_jj spectrum in the signal region, the one thing the statistic measures. A
    background-only run of the whole procedure (training included) is the check of the
    remaining part; the user guide reports one.

    A pseudo-experiment whose background fit fails raises (the calibration records it
    as failed and counts it, conservatively, as exceeding any observation).

    References
    ----------
    V. Mikuni, F. Canelli, *Unsupervised clustering for collider physics*, Phys. Rev. D
    103, 092007 (2021), arXiv:2010.07106, §4.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.anomaly import NearestClusterSearch
    >>> rng = np.random.default_rng(0)
    >>> embedding = rng.normal(size=(4000, 2))
    >>> mjj = 2800.0 + rng.exponential(400.0, size=4000)
    >>> search = NearestClusterSearch([[-1.0, 0.0], [1.0, 0.0], [0.0, 2.0]],
    ...                               bins=np.arange(2800.0, 4601.0, 200.0),
    ...                               signal_region=(3200.0, 3800.0))
    >>> search.fit(embedding, mjj).nearest_cluster_.tolist()
    [1, 0, 0]
    >>> bool(0.0 <= search.test_statistic(embedding, mjj) < 3.0)
    True
    """

    # One row per event; not the m_jj column of EventInputs: the rows are an embedding,
    # made by hepcluster.calibration.EmbeddingInputs.
    sample_unit = "event"

    _parameter_constraints: dict = {  # noqa: RUF012 (scikit-learn's convention)
        "cluster_centers": [Interval(Integral, 2, None, closed="left"), "array-like"],
        "bins": [Interval(Integral, 3, None, closed="left"), "array-like"],
        "signal_region": ["array-like", None],
        "background": [HasMethods(["fit", "expected_counts"]), None],
        "statistic": [StrOptions(set(STATISTICS))],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        cluster_centers=2,
        *,
        bins=10,
        signal_region=None,
        background=None,
        statistic="poisson",
        random_state=None,
    ):
        self.cluster_centers = cluster_centers
        self.bins = bins
        self.signal_region = signal_region
        self.background = background
        self.statistic = statistic
        self.random_state = random_state

    def _centers(self, X, weight):
        if isinstance(self.cluster_centers, Integral):
            from sklearn.cluster import KMeans

            if X.shape[0] < self.cluster_centers:
                raise ValueError(
                    f"n_samples={X.shape[0]} should be >= n_clusters={self.cluster_centers}."
                )
            kmeans = KMeans(
                self.cluster_centers,
                n_init=3,
                random_state=check_random_state(self.random_state),
            )
            return kmeans.fit(X, sample_weight=weight).cluster_centers_
        centers = check_array(self.cluster_centers, dtype=np.float64, input_name="cluster_centers")
        if centers.shape[0] < 2:
            raise ValueError(
                f"cluster_centers must hold at least two centroids, got {centers.shape[0]}."
            )
        if centers.shape[1] != X.shape[1]:
            raise ValueError(
                f"X has {X.shape[1]} features but the cluster_centers have {centers.shape[1]}: "
                "X must be the embedding the centroids live in (in run_pseudo_experiments, "
                "pass inputs=EmbeddingInputs(model); the default 'event' rows hold only m_jj)."
            )
        return centers

    def _check_data(self, X, y, sample_weight, *, reset):
        X, mjj = validate_data(self, X, y, reset=reset, dtype=np.float64, y_numeric=True)
        if np.any(mjj < 0):
            raise ValueError("Negative values in y: y is m_jj in GeV, ≥ 0.")
        weight = check_sample_weight(sample_weight, X, dtype=np.float64)
        return X, np.asarray(mjj, dtype=np.float64), weight

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Assign the events to the centroids and estimate every cluster's background.

        Parameters
        ----------
        X : array-like of shape (n_events, n_features)
            Embedding of every event (e.g. ``DeepKMeans.embed(events)``).
        y : array-like of shape (n_events,)
            m_jj of every event in GeV.
        sample_weight : array-like of shape (n_events,), default=None
            Event weights (e.g. bootstrap multiplicities).

        Returns
        -------
        self : NearestClusterSearch

        Raises
        ------
        ValueError
            If the bins or the signal region are invalid, or a background fit fails.
        """
        X, mjj, weight = self._check_data(X, y, sample_weight, reset=True)
        centers = self._centers(X, weight)
        if isinstance(self.bins, Integral):
            bins = _equal_bins(mjj, self.bins)
        else:
            bins = check_bin_edges(self.bins, name="bins", min_edges=3)
        labels = _assign(X, centers)
        background = _HistogramShape() if self.background is None else self.background
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            analysis = nearest_cluster_background(
                labels,
                cluster_centers=centers,
                mjj=mjj,
                bins=bins,
                background=clone(background),
                signal_region=self.signal_region,
                sample_weight=weight,
                statistic=self.statistic,
            )
        failed = [str(w.message) for w in caught if "could not be fitted" in str(w.message)]
        if failed:
            raise ValueError(f"a background fit failed: {failed[0]}")
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        self.cluster_centers_ = centers
        self.labels_ = labels
        self.bins_ = bins
        self.nearest_cluster_ = analysis["nearest_cluster"]
        self.spectra_ = analysis["spectra"]
        self.background_ = analysis["background"]
        self.signal_region_index_ = analysis["signal_region_index"]
        self.excess_significance_ = analysis["excess_significance"]
        return self

    def predict(self, X):
        """Cluster of every event: the nearest fitted centroid.

        Parameters
        ----------
        X : array-like of shape (n_events, n_features)

        Returns
        -------
        labels : ndarray of shape (n_events,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return _assign(X, self.cluster_centers_)

    def excess_significance(self, X, y, sample_weight=None):
        """Local significance of every cluster's excess in ``(X, y)`` over the fitted estimate.

        Parameters
        ----------
        X : array-like of shape (n_events, n_features)
        y : array-like of shape (n_events,)
            m_jj in GeV.
        sample_weight : array-like of shape (n_events,), default=None

        Returns
        -------
        ndarray of shape (n_clusters,)
            Z ≥ 0 per cluster (local: not corrected for the choice of cluster); on the
            fitted data, ``excess_significance_``.
        """
        check_is_fitted(self)
        X, mjj, weight = self._check_data(X, y, sample_weight, reset=False)
        return _cluster_excesses(
            _assign(X, self.cluster_centers_),
            mjj,
            weight,
            n_clusters=self.cluster_centers_.shape[0],
            bins=self.bins_,
            estimates=self.background_,
            regions=self.signal_region_index_,
            statistic=self.statistic,
        )

    def test_statistic(self, X, y, sample_weight=None, *, is_signal=None):
        """Largest local significance over the clusters (the search's test statistic).

        Parameters
        ----------
        X : array-like of shape (n_events, n_features)
        y : array-like of shape (n_events,)
            m_jj in GeV.
        sample_weight : array-like of shape (n_events,), default=None
        is_signal : array-like of shape (n_events,), default=None
            Truth labels; ignored (accepted so that every method has the same signature).

        Returns
        -------
        float
            max_k Z_k ≥ 0, a *local* significance; its global significance comes from
            the null distribution of this statistic
            (:func:`hepcluster.calibration.run_pseudo_experiments`).
        """
        return float(self.excess_significance(X, y, sample_weight).max())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # m_jj is y: required and non-negative (the common checks shift their y up).
        tags.target_tags.required = True
        tags.target_tags.positive_only = True
        return tags
