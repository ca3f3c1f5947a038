"""ClusterScanner: the Cluster Scanning resonance search as a scikit-learn estimator."""

import logging
import math
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import EfficiencyWarning
from sklearn.metrics import pairwise_distances_argmin, pairwise_distances_argmin_min
from sklearn.utils import check_random_state
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, validate_data

from ..images import SparseImages, ensemble_nearest_centroid, nearest_centroid
from ..stats import CLUSTER_SCANNING_BINS, STATISTICS, bin_index, check_bin_edges
from ..utils._sklearn_compat import Interval, StrOptions, check_sample_weight, fit_context
from ._auto_k import N_CLUSTERS_CANDIDATES, elbow_index
from ._defaults import (
    BATCH_SIZE,
    N_CLUSTERS,
    N_ENSEMBLE,
    OUTLIER_FRACTION,
    THRESHOLD,
    TRAIN_WINDOW,
)
from ._kmeans import minibatch_kmeans, smeared_squared_norms
from ._result import ScanResult
from ._spectra import analyse_spectra, cluster_spectra

logger = logging.getLogger(__name__)


def _check_n_pixels(estimator, X):
    if X.n_pixels**2 != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.n_pixels**2} pixels, {type(estimator).__name__} was fitted with "
            f"{estimator.n_features_in_} features."
        )


def validate_scan_X_y(estimator, X, y, *, reset):
    """``X`` (SparseImages as they are, arrays validated) and the finite m_jj ``y``.

    Shared by the estimators that scan jet images in m_jj; ``reset`` sets
    ``n_features_in_`` (fit) instead of checking it.
    """
    name = type(estimator).__name__
    if y is None:
        raise ValueError(
            f"{name} requires y to be passed, but the target y is None: y is the "
            "m_jj (GeV) of each jet's event, the observable the clusters are scanned in."
        )
    if _is_sparse_images(X):
        y = np.asarray(y, dtype=np.float64)
        if y.shape != (X.n_jets,):
            raise ValueError(f"y has shape {y.shape}, expected ({X.n_jets},) for X.")
        if reset:
            estimator.n_features_in_ = X.n_pixels**2
        else:
            _check_n_pixels(estimator, X)
    else:
        X, y = validate_data(
            estimator, X, y, reset=reset, dtype=[np.float64, np.float32], y_numeric=True
        )
    if not np.all(np.isfinite(y)):
        raise ValueError("y (m_jj) contains NaN or infinite values.")
    return X, y


def validate_scan_X(estimator, X):
    """``X`` of a fitted scanning estimator for predict/score (see validate_scan_X_y)."""
    if _is_sparse_images(X):
        _check_n_pixels(estimator, X)
        return X
    return validate_data(estimator, X, reset=False, dtype=[np.float64, np.float32])


def _is_sparse_images(X):
    return isinstance(X, SparseImages)


#: Rows inspected by :func:`_looks_like_dense_jet_images`.
_N_ROWS_INSPECTED = 256


def _looks_like_dense_jet_images(X):
    """Whether dense rows look like ``JetImageTransformer().transform`` output.

    Square images of at least 8×8 pixels, non-negative, each of unit sum (checked on
    the first rows): the fingerprint of smeared, normalised jet images.
    """
    n_pixels = math.isqrt(X.shape[1])
    if n_pixels < 8 or n_pixels * n_pixels != X.shape[1]:
        return False
    head = np.asarray(X[:_N_ROWS_INSPECTED], dtype=np.float64)
    return bool(np.all(head >= 0.0) and np.allclose(head.sum(axis=1), 1.0, atol=1e-6))


def _expand_bins(spectra, analysis, kept, n_bins):
    """Put the arrays of a scan of the ``kept`` bins back on all ``n_bins`` (0 elsewhere)."""

    def expand(values):
        full = np.zeros((*values.shape[:-1], n_bins), dtype=values.dtype)
        full[..., kept] = values
        return full

    per_bin = {
        name: expand(value) if name != "selected" else value for name, value in analysis.items()
    }
    return expand(spectra), per_bin


def _check_is_signal(is_signal, jet_bin):
    is_signal = np.asarray(is_signal, dtype=bool)
    if is_signal.shape != jet_bin.shape:
        raise ValueError(f"is_signal has shape {is_signal.shape}, expected {jet_bin.shape}.")
    return is_signal


def _truth_counts(labels, weight, is_signal, n_clusters):
    """Weighted signal and background of every cluster, (n_members, n_clusters) each.

    ``labels`` are the k-means labels (-1 outside the scanned bins).
    """
    signal = np.zeros((labels.shape[0], n_clusters))
    background = np.zeros((labels.shape[0], n_clusters))
    for member, member_labels in enumerate(labels):
        inside = member_labels >= 0
        for counts, mask in ((signal, is_signal), (background, ~is_signal)):
            rows = inside & mask
            counts[member] = np.bincount(
                member_labels[rows], weights=weight[rows], minlength=n_clusters
            )
    return signal, background


class ClusterScanner(BaseEstimator):
    """Cluster Scanning: k-means clusters of jets scanned for localised m_jj excesses.

    k-means is fitted on the jets (e.g. jet images) of events whose m_jj lies in a narrow
    training window; every jet of the evaluation region is then assigned to a cluster,
    giving one m_jj spectrum per cluster. The normalised spectra are standardised bin by
    bin with outlier-robust estimators over the clusters; clusters that exceed θ in some
    bin are *signal-rich*, the others give a data-driven background estimate scaled to
    the same total. The test statistic is the maximum local significance (MLS) of the
    signal-rich spectrum over that estimate, averaged over an ensemble of k-means
    initialisations.

    Parameters
    ----------
    n_clusters : int or "auto", default=50
        Number of k-means clusters k. ``"auto"`` chooses k inside :meth:`fit`, on the
        training window, from ``n_clusters_candidates``: one k-means per candidate,
        and k at the elbow of the inertia curve (see Notes); the choice is in
        ``n_clusters_`` and is redone in every fit, i.e. in every pseudo-experiment of
        a calibration.
    train_window : (float, float) or None, default=(3000.0, 3100.0)
        m_jj range [low, high) in GeV of the jets k-means is fitted on; ``None`` uses
        the first bin of ``bins``.
    bins : int or array-like of float, default=16 bins of 100 GeV over 3000–4600 GeV
        m_jj bin edges of the evaluation region; an int gives that many equal bins over
        the range of ``y`` seen in :meth:`fit`.
    outlier_fraction : float, default=0.2
        Fraction f of clusters dropped per bin by the robust estimators (App. E).
    threshold : float, default=3.0
        θ: a cluster is signal-rich when its standardised spectrum exceeds θ in a bin.
    statistic : {"poisson", "poisson-midp", "gaussian"}, default="poisson"
        Local significance of the excess (see
        :func:`~hepcluster.stats.local_significance`).
    min_background : float, default=0.0
        Bins whose background estimate is at most this many (weighted) events cannot
        be tested and are excluded from the MLS (counted in
        ``ScanResult.untestable_bins``). The default excludes only bins without any
        background estimate, which would otherwise give an infinite Z.
    n_ensemble : int, default=15
        Number of k-means initialisations whose MLS values are averaged.
    batch_size : int, default=2048
        Mini-batch size of the k-means (scikit-learn's ``MiniBatchKMeans`` algorithm,
        run on sparse jet images without building the dense smeared rows).
    max_iter : int, default=100
        Maximum number of passes over the training jets of each k-means.
    idealized : bool, default=False
        Idealized Cluster Scanning (§3.4): background jets of every bin but the first are
        redistributed over the clusters with the cluster fractions of the first bin, so
        the background is exactly uncorrelated with the clustering. Needs the truth
        labels ``is_signal`` in :meth:`scan`/:meth:`test_statistic`.
    random_state : int, RandomState instance or None, default=None
        Seeds of the ensemble members (drawn up front in :meth:`fit`).
    n_jobs : int or None, default=None
        Ensemble members fitted in parallel (threads), and the threads that label
        sparse images (every member in one pass over blocks of jets; ``None``: numba's
        setting); results do not depend on it.
    excluded_bins : array-like of int or None, default=None
        Indices of bins of ``bins`` whose jets are left out of the scan: they are not
        labelled and enter neither the spectra nor the MLS, exactly as if the bins were
        not part of the evaluation region (their entries in
        :class:`~hepcluster.scanning.ScanResult` are 0,
        ``metadata["excluded_bins"]`` lists them). :class:`WindowScan` uses it to keep
        the jets of a training window out of that window's spectra. ``None`` (the
        default) scans every bin. With ``idealized=True`` the first scanned bin is the
        reference whose cluster fractions the other bins take.
    n_clusters_candidates : sequence of int, default=(10, 20, 30, 50, 80)
        Candidate k of ``n_clusters="auto"`` (ignored otherwise); candidates above the
        number of training jets are dropped.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Centroids of the first ensemble member.
    ensemble_ : list of MiniBatchKMeansResult
        The fitted k-means of every member (``centers`` live in the space of the
        smeared images, like ``MiniBatchKMeans.cluster_centers_``).
    ensemble_seeds_ : ndarray of shape (n_ensemble,)
        Seed of each member.
    bins_ : ndarray of shape (n_bins + 1,)
        Bin edges in use.
    train_window_ : (float, float)
        Training window in use.
    n_clusters_ : int
        Number of clusters in use (``n_clusters``, or the k chosen by ``"auto"``).
    auto_inertia_ : ndarray of shape (n_candidates, 2)
        ``n_clusters="auto"`` only: each candidate k and the inertia of its k-means on
        the training window.
    excluded_bins_ : ndarray of int
        Sorted indices of the bins left out of the scan (empty unless
        ``excluded_bins`` is set).
    n_train_ : int
        Jets in the training window.
    n_features_in_ : int
        Width of ``X``.

    See Also
    --------
    hepcluster.JetImageTransformer : Jet images, the usual input.
    hepcluster.stats.max_local_significance : The test statistic of one spectrum.

    Notes
    -----
    Robust standardisation: in each bin, the fraction f of clusters farthest from the
    median is dropped, μ̃_b is the mean of the rest and σ̃_b their SD times
    g(f) = [1 − 2zφ(z)/(1 − f)]^(−1/2), z = Φ⁻¹(1 − f/2). Background estimate:
    N_bkg,b = N_poor,b · Σ N_sig+bkg / Σ N_poor. If no cluster is selected the MLS is 0.
    A bin whose background estimate is zero (every jet of the bin in a signal-rich
    cluster) has no Poisson p-value above 0; it cannot be tested, is excluded from the
    maximum and is counted in the result, so the test statistic is always finite.

    ``fit`` and ``scan`` take ``sample_weight``: a bootstrap pseudo-experiment is a vector
    of per-event multiplicities applied to both jets of each event, with no copies.

    Every method accepts dense rows or :class:`~hepcluster.images.SparseImages` (e.g.
    from ``JetImageTransformer(sparse_output=True)`` in a
    :class:`~sklearn.pipeline.Pipeline`); on sparse images the distances are those of
    the smeared images, computed without forming them.

    **Dense or sparse jet images.** Both give the same labels for the same centres
    (tested), and statistically equivalent scans and calibrations (the k-means of
    dense rows is :class:`sklearn.cluster.MiniBatchKMeans`, that of sparse images
    runs the same algorithm on them, so the two fit different random draws;
    ``tests/test_scanning.py`` compares their test statistics over pseudo-experiments
    and ``benchmarks/bench_dense_sparse_equivalence.py`` at a larger scale). The sparse
    path is much faster and needs a fraction of the memory (the user guide and the
    benchmarks give the numbers), so when :meth:`fit` receives dense rows that look like
    smeared jet images (square, non-negative, unit row sums) it emits an
    :class:`~sklearn.exceptions.EfficiencyWarning` naming
    ``JetImageTransformer(sparse_output=True)``. It does not convert them: the unsmeared
    images could be recovered (``x = G⁻¹y``, an ill-conditioned inversion), but only from
    float64 rows, at the cost of a dense pass over every row in each :meth:`fit` and
    :meth:`scan` — each pseudo-experiment of a calibration again — and only by guessing
    the smearing the rows were made with. Nor does ``JetImageTransformer`` switch to
    sparse output on its own: a transformer cannot see the step after it, and its dense
    output is what every other scikit-learn estimator expects. :meth:`score` is minus
    the k-means inertia, as for scikit-learn's ``KMeans``; the search's test statistic
    is :meth:`test_statistic` (the MLS). The two leading jets of an event are two rows,
    so cross-validation must keep them in one fold (``GroupKFold`` with the event id).

    **Choosing k** (``n_clusters="auto"``). k = 50 is the paper's choice for its data
    (arXiv:2402.17714, §3), not a rule. Label-free criteria such as the
    Caliński–Harabasz index, the silhouette or the agreement of fits on two halves of
    the window fall monotonically with k on jet images, which have no natural clusters,
    and would always pick the smallest k — few, large clusters in which a rare signal is
    diluted. The inertia curve has no such trivial optimum: it falls steeply while
    clusters split QCD's main jet shapes and slowly once they cut a continuum, and its
    elbow (the candidate farthest below the chord of inertia vs log k,
    ``elbow_index``) lies inside the range of
    candidates. The choice needs one k-means per candidate on the training window and is
    made again in every fit, so a calibration includes it. The user guide reports the
    measurements on Pythia jets.

    References
    ----------
    I. Oleksiyuk, J. A. Raine, M. Krämer, S. Voloshynovskiy, T. Golling, "Cluster
    Scanning: a novel approach to resonance searches", JHEP 06 (2024) 088,
    arXiv:2402.17714.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster import ClusterScanner
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(3000, 4))
    >>> mjj = rng.uniform(3000.0, 3400.0, size=3000)
    >>> scanner = ClusterScanner(n_clusters=8, bins=(3000, 3100, 3200, 3300, 3400),
    ...                          n_ensemble=2, random_state=0).fit(X, mjj)
    >>> result = scanner.scan(X, mjj)
    >>> result.cluster_spectra.shape
    (2, 8, 4)
    >>> bool(scanner.test_statistic(X, mjj) >= 0.0)
    True
    >>> bool(scanner.score(X, mjj) < 0.0)  # minus the k-means inertia
    True
    """

    _parameter_constraints: dict = {  # noqa: RUF012 (scikit-learn's convention)
        "n_clusters": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "train_window": ["array-like", None],
        "bins": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "outlier_fraction": [Interval(Real, 0.0, 1.0, closed="left")],
        "threshold": [Real],
        "statistic": [StrOptions(set(STATISTICS))],
        "min_background": [Interval(Real, 0.0, None, closed="left")],
        "n_ensemble": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "idealized": ["boolean"],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "excluded_bins": ["array-like", None],
        "n_clusters_candidates": ["array-like"],
    }

    #: One row of ``X`` per jet (the two leading jets of every event); ``y`` is the m_jj
    #: of the jet's event. Calibration builds the inputs of a pseudo-experiment from it.
    sample_unit = "jet"

    # Read by test_statistic/scan only: calibrations fit once for methods differing in these.
    _statistic_only_params = (
        "idealized",
        "threshold",
        "statistic",
        "outlier_fraction",
        "min_background",
    )

    def __init__(
        self,
        n_clusters=N_CLUSTERS,
        *,
        train_window=TRAIN_WINDOW,
        bins=CLUSTER_SCANNING_BINS,
        outlier_fraction=OUTLIER_FRACTION,
        threshold=THRESHOLD,
        statistic="poisson",
        min_background=0.0,
        n_ensemble=N_ENSEMBLE,
        batch_size=BATCH_SIZE,
        max_iter=100,
        idealized=False,
        random_state=None,
        n_jobs=None,
        excluded_bins=None,
        n_clusters_candidates=N_CLUSTERS_CANDIDATES,
    ):
        self.n_clusters = n_clusters
        self.train_window = train_window
        self.bins = bins
        self.outlier_fraction = outlier_fraction
        self.threshold = threshold
        self.statistic = statistic
        self.min_background = min_background
        self.excluded_bins = excluded_bins
        self.n_clusters_candidates = n_clusters_candidates
        self.n_ensemble = n_ensemble
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.idealized = idealized
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _idealized(self):
        return bool(self.idealized)

    # -- validation -------------------------------------------------------------------

    def _validate_X_y(self, X, y, *, reset):
        return validate_scan_X_y(self, X, y, reset=reset)

    def _validate_X(self, X):
        """Check ``X`` for predict/score: SparseImages as they are, arrays validated."""
        return validate_scan_X(self, X)

    def _resolve_bins(self, y):
        if isinstance(self.bins, Integral):
            low, high = float(np.min(y)), float(np.max(y))
            if high <= low:
                high = low + 1.0
            return np.linspace(low, np.nextafter(high, np.inf), self.bins + 1)
        return check_bin_edges(self.bins, name="bins")

    def _resolve_train_window(self, bins):
        if self.train_window is None:
            return float(bins[0]), float(bins[1])
        window = np.asarray(self.train_window, dtype=np.float64)
        if window.shape != (2,) or not window[0] < window[1]:
            raise ValueError(
                f"train_window must be (low, high) with low < high, got {self.train_window!r}."
            )
        return float(window[0]), float(window[1])

    def _resolve_excluded_bins(self, bins):
        if self.excluded_bins is None:
            return np.empty(0, dtype=np.int64)
        excluded = np.asarray(self.excluded_bins)
        n_bins = bins.size - 1
        if excluded.size == 0:
            return np.empty(0, dtype=np.int64)
        if (
            excluded.ndim != 1
            or not np.issubdtype(excluded.dtype, np.integer)
            or excluded.min() < 0
            or excluded.max() >= n_bins
        ):
            raise ValueError(
                f"excluded_bins must be indices of the {n_bins} bins (0 to {n_bins - 1}), "
                f"got {self.excluded_bins!r}."
            )
        excluded = np.unique(excluded).astype(np.int64)
        if excluded.size == n_bins:
            raise ValueError(f"excluded_bins leaves none of the {n_bins} bins to scan.")
        return excluded

    # -- fitting ----------------------------------------------------------------------

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the ensemble of k-means on the jets in the training window.

        Parameters
        ----------
        X : array-like of shape (n_jets, n_features) or SparseImages
            Jet features, usually jet images (dense, or sparse from
            :meth:`JetImageTransformer.transform_sparse`).
        y : array-like of shape (n_jets,)
            m_jj in GeV of each jet's event.
        sample_weight : array-like of shape (n_jets,), default=None
            Jet weights, e.g. bootstrap multiplicities of their events.

        Returns
        -------
        self : ClusterScanner
        """
        if not np.isfinite(self.threshold):
            raise ValueError(f"threshold must be a finite number, got {self.threshold!r}.")
        X, y = self._validate_X_y(X, y, reset=True)
        if not _is_sparse_images(X) and _looks_like_dense_jet_images(X):
            warnings.warn(
                f"ClusterScanner got dense rows that look like smeared jet images "
                f"({X.shape[1]} pixels): JetImageTransformer(sparse_output=True) gives "
                "the same labels for the same centres and a statistically equivalent "
                "scan much faster (k-means and labels on the sparse images).",
                EfficiencyWarning,
                stacklevel=3,
            )
        n_jets = y.shape[0]
        weight = check_sample_weight(
            sample_weight, np.empty(n_jets), dtype=np.float64, allow_all_zero_weights=True
        )
        if (weight < 0).any():
            raise ValueError(
                f"sample_weight must be non-negative (event counts or multiplicities), got "
                f"{int((weight < 0).sum())} negative value(s), the first at jet "
                f"{int(np.flatnonzero(weight < 0)[0])}."
            )
        self.bins_ = self._resolve_bins(y)
        self.train_window_ = self._resolve_train_window(self.bins_)
        self.excluded_bins_ = self._resolve_excluded_bins(self.bins_)
        low, high = self.train_window_
        window = (y >= low) & (y < high)
        self.n_train_ = int((window & (weight > 0)).sum())
        if self.n_train_ == 0 and window.any():
            raise ValueError(
                f"the {int(window.sum())} jets in the training window [{low:g}, {high:g}) GeV "
                "all have zero sample_weight: nothing to fit k-means on."
            )
        if self.n_train_ == 0:
            raise ValueError(
                f"no jets in the training window [{low:g}, {high:g}) GeV: the data cover "
                f"m_jj in [{y.min():g}, {y.max():g}] GeV."
            )
        auto = isinstance(self.n_clusters, str)
        candidates = self._candidates() if auto else None
        fewest = candidates[0] if auto else self.n_clusters
        if self.n_train_ < fewest:
            raise ValueError(
                f"the training window [{low:g}, {high:g}) GeV contains n_samples = "
                f"{self.n_train_} jets, fewer than n_clusters = {fewest}."
            )
        rng = check_random_state(self.random_state)
        self.ensemble_seeds_ = rng.randint(np.iinfo(np.int32).max, size=self.n_ensemble)
        # All window rows go in, zero weights included: they never enter a mini-batch,
        # and the training set (and its norms) is then the same for every bootstrap.
        X_train = X[np.flatnonzero(window)]
        w_train = weight[window]
        norms = smeared_squared_norms(X_train) if _is_sparse_images(X_train) else None
        if auto:
            self.n_clusters_ = self._choose_k(
                X_train, w_train, norms, candidates[candidates <= self.n_train_], rng
            )
        else:
            self.n_clusters_ = self.n_clusters
            self.__dict__.pop("auto_inertia_", None)  # from an earlier fit with "auto"
        logger.info(
            "fitting %d k-means (k=%d) on %d jets in [%g, %g) GeV",
            self.n_ensemble,
            self.n_clusters_,
            self.n_train_,
            low,
            high,
        )
        self.ensemble_ = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(minibatch_kmeans)(
                X_train,
                self.n_clusters_,
                sample_weight=w_train,
                batch_size=self.batch_size,
                max_iter=self.max_iter,
                compute_labels=False,
                x_squared_norms=norms,
                random_state=seed,
                n_jobs=1,
            )
            for seed in self.ensemble_seeds_
        )
        self.cluster_centers_ = self.ensemble_[0].centers
        return self

    def _candidates(self):
        candidates = np.unique(np.asarray(self.n_clusters_candidates))
        if (
            candidates.ndim != 1
            or candidates.size == 0
            or not np.issubdtype(candidates.dtype, np.integer)
            or candidates[0] < 1
        ):
            raise ValueError(
                "n_clusters_candidates must be positive integers, got "
                f"{self.n_clusters_candidates!r}."
            )
        return candidates.astype(np.int64)

    def _choose_k(self, X_train, w_train, norms, candidates, rng):
        """The k at the elbow of the training window's inertia curve (``n_clusters="auto"``).

        Seeds are drawn after the ensemble's, so a fixed k and ``"auto"`` share them.
        """
        seeds = rng.randint(np.iinfo(np.int32).max, size=candidates.size)
        fits = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(minibatch_kmeans)(
                X_train,
                int(k),
                sample_weight=w_train,
                batch_size=self.batch_size,
                max_iter=self.max_iter,
                compute_labels=True,  # the exact inertia, not the mini-batch estimate
                x_squared_norms=norms,
                random_state=seed,
                n_jobs=1,
            )
            for k, seed in zip(candidates, seeds, strict=True)
        )
        inertia = np.array([fit.inertia for fit in fits])
        self.auto_inertia_ = np.column_stack([candidates.astype(np.float64), inertia])
        chosen = int(candidates[elbow_index(candidates, inertia)])
        logger.info("n_clusters='auto': k = %d from inertia %s", chosen, inertia.round(6))
        return chosen

    # -- labelling and scanning ---------------------------------------------------------

    def _labels(self, X, member, rows=None):
        """Labels of ``X`` (sparse images: of its ``rows``, read in place)."""
        centers = self.ensemble_[member].centers
        if _is_sparse_images(X):
            return nearest_centroid(X, centers, smeared=True, rows=rows)
        return pairwise_distances_argmin(X, centers.astype(X.dtype, copy=False))

    def _labels_ensemble(self, X, rows=None):
        """Labels of ``X`` (or of its ``rows``) under every member."""
        if _is_sparse_images(X):
            centers = np.stack([member.centers for member in self.ensemble_])
            return ensemble_nearest_centroid(X, centers, rows=rows, n_jobs=self.n_jobs)
        if rows is not None:
            X, rows = X[rows], None  # dense rows: one copy for all members
        labels = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(self._labels)(X, member, rows) for member in range(self.n_ensemble)
        )
        return np.stack(labels)

    def predict(self, X):
        """Cluster of each jet under the first ensemble member.

        Parameters
        ----------
        X : array-like of shape (n_jets, n_features) or SparseImages

        Returns
        -------
        labels : ndarray of shape (n_jets,)
        """
        check_is_fitted(self)
        X = self._validate_X(X)
        return self._labels(X, 0)

    def predict_ensemble(self, X):
        """Cluster of each jet under every ensemble member.

        Parameters
        ----------
        X : array-like of shape (n_jets, n_features) or SparseImages

        Returns
        -------
        labels : ndarray of shape (n_ensemble, n_jets)
        """
        check_is_fitted(self)
        X = self._validate_X(X)
        return self._labels_ensemble(X)

    def scan(self, X, y, sample_weight=None, *, is_signal=None):
        """Run the scan over the evaluation region with the fitted clusters.

        Parameters
        ----------
        X : array-like of shape (n_jets, n_features) or SparseImages
        y : array-like of shape (n_jets,)
            m_jj in GeV of each jet's event.
        sample_weight : array-like of shape (n_jets,), default=None
        is_signal : array-like of shape (n_jets,), default=None
            Truth labels; required when ``idealized=True``. When given, the result keeps
            the weighted signal and background of every cluster
            (``ScanResult.cluster_signal``), for
            :meth:`~hepcluster.scanning.ScanResult.signal_fraction_improvement`.

        Returns
        -------
        ScanResult
        """
        return self._scan(X, y, sample_weight, is_signal=is_signal, variances=True)

    def _scan(self, X, y, sample_weight, *, is_signal, variances):
        """:meth:`scan`; ``variances=False`` (a calibration's toys) skips Σw² and truth."""
        check_is_fitted(self)
        X, y = self._validate_X_y(X, y, reset=False)
        weight = check_sample_weight(sample_weight, np.empty(y.shape[0]), dtype=np.float64)
        bins = self.bins_
        n_bins = bins.size - 1
        jet_bin = bin_index(y, bins)  # edges[i] <= y < edges[i + 1]; -1 outside
        excluded = getattr(self, "excluded_bins_", np.empty(0, dtype=np.int64))
        n_excluded = 0
        if excluded.size:
            # Excluded bins are cut out of the region: kept bins are renumbered 0, 1, …
            # and the jets of excluded bins get -1, like jets outside the bins.
            kept = np.setdiff1d(np.arange(n_bins), excluded)
            compact = np.full(n_bins + 1, -1, dtype=jet_bin.dtype)
            compact[kept] = np.arange(kept.size)
            n_excluded = int(np.isin(jet_bin, excluded).sum())
            jet_bin = compact[jet_bin]  # index -1 (outside) reads the trailing -1
        inside = jet_bin >= 0
        n_inside = int(inside.sum())
        if n_inside == 0:
            raise ValueError(
                f"no jet has m_jj inside the bins [{bins[0]:g}, {bins[-1]:g}) GeV"
                + (" outside the excluded bins" if excluded.size else "")
                + f"; the data cover [{y.min():g}, {y.max():g}] GeV."
            )
        n_outside = y.shape[0] - n_inside - n_excluded
        if n_excluded:
            logger.info("%d jets lie in the excluded bins and are not used", n_excluded)
        if n_outside:
            logger.info("%d jets lie outside the evaluation region and are not used", n_outside)
        # Only jets inside the region with a non-zero weight are labelled (sparse images
        # in place, without a copy): a jet of weight 0 — about e⁻¹ of the events of a
        # Poisson bootstrap — adds an exact 0.0 to whichever cluster it is given, so
        # label 0 leaves every spectrum bit for bit the same.
        n_clusters = getattr(self, "n_clusters_", self.n_clusters)
        needed = inside & (weight != 0)
        if self._idealized() and is_signal is not None and not variances:
            # A calibration toy of the idealized scan: _idealize redraws the label of every
            # background jet above the first bin (how many there are, not their labels,
            # sets its draws), so only signal and first-bin jets need k-means labels.
            needed &= _check_is_signal(is_signal, jet_bin) | (jet_bin == 0)
        used = np.flatnonzero(needed)
        labels = np.full((self.n_ensemble, y.shape[0]), -1, dtype=np.int64)
        labels[:, inside] = 0
        if used.size:
            labels[:, used] = self._labels_ensemble(X, used)
        truth = None
        if is_signal is not None and variances:
            truth = _truth_counts(labels, weight, _check_is_signal(is_signal, jet_bin), n_clusters)
        if self._idealized():
            labels = self._idealize(labels, jet_bin, weight, is_signal)
        n_scanned = n_bins - excluded.size
        spectra = cluster_spectra(labels, jet_bin, weight, n_clusters, n_scanned)
        sumw2 = (
            cluster_spectra(labels, jet_bin, weight * weight, n_clusters, n_scanned)
            if variances
            else None
        )
        analysis = analyse_spectra(
            spectra,
            outlier_fraction=self.outlier_fraction,
            threshold=self.threshold,
            statistic=self.statistic,
            min_background=self.min_background,
        )
        mls = analysis.pop("mls")
        metadata = {"n_clusters": n_clusters, "idealized": self._idealized()}
        if excluded.size:
            spectra, analysis = _expand_bins(spectra, analysis, kept, n_bins)
            if sumw2 is not None:
                sumw2, _ = _expand_bins(sumw2, {}, kept, n_bins)
            metadata["excluded_bins"] = excluded.tolist()
            metadata["n_excluded"] = n_excluded
        return ScanResult(
            bins=bins.copy(),
            cluster_spectra=spectra,
            mls_members=mls,
            statistic=float(mls.mean()),
            statistic_name=self.statistic,
            threshold=float(self.threshold),
            n_jets=n_inside,
            n_outside=int(n_outside),
            metadata=metadata,
            cluster_sumw2=sumw2,
            cluster_signal=None if truth is None else truth[0],
            cluster_background=None if truth is None else truth[1],
            **analysis,
        )

    def _idealize(self, labels, jet_bin, weight, is_signal):
        if is_signal is None:
            raise ValueError(
                "idealized=True needs the truth labels: pass is_signal to scan/test_statistic."
            )
        is_signal = _check_is_signal(is_signal, jet_bin)
        moved = (~is_signal) & (jet_bin > 0)
        first_bin = (~is_signal) & (jet_bin == 0)
        n_clusters = getattr(self, "n_clusters_", self.n_clusters)
        for member, seed in enumerate(self.ensemble_seeds_):
            fractions = np.bincount(
                labels[member, first_bin], weights=weight[first_bin], minlength=n_clusters
            )
            if fractions.sum() <= 0:
                raise ValueError("idealized scan: no background jets in the first bin.")
            rng = np.random.default_rng(seed)
            labels[member, moved] = rng.choice(
                n_clusters, size=int(moved.sum()), p=fractions / fractions.sum()
            )
        return labels

    def test_statistic(self, X, y, sample_weight=None, *, is_signal=None):
        """Test statistic of the scan: the MLS averaged over the ensemble.

        Higher means more anomalous. This is what a calibration (pseudo-experiments)
        calls; it is ``ScanResult.statistic`` of :meth:`scan`.

        Parameters
        ----------
        X : array-like of shape (n_jets, n_features) or SparseImages
        y : array-like of shape (n_jets,)
            m_jj in GeV of each jet's event.
        sample_weight : array-like of shape (n_jets,), default=None
        is_signal : array-like of shape (n_jets,), default=None
            Truth labels, used only when ``idealized=True`` (ignored otherwise).

        Returns
        -------
        float
        """
        return self._scan(X, y, sample_weight, is_signal=is_signal, variances=False).statistic

    def score(self, X, y=None, sample_weight=None):
        """Minus the k-means inertia of ``X`` under the first ensemble member.

        As :meth:`sklearn.cluster.KMeans.score`: ``−Σ_i w_i min_k ‖x_i − c_k‖²`` over
        *all* rows of ``X`` (whatever their m_jj) with the centres
        ``cluster_centers_``; for :class:`~hepcluster.images.SparseImages` the
        distances are those of the smeared images, computed exactly from the sparse
        ones. It measures how well the clusters describe the jets and says nothing about
        an excess: the search's statistic is :meth:`test_statistic`.

        Parameters
        ----------
        X : array-like of shape (n_jets, n_features) or SparseImages
        y : array-like of shape (n_jets,), default=None
            Not used (m_jj plays no part in the inertia); accepted for the scikit-learn
            signature ``score(X, y)``.
        sample_weight : array-like of shape (n_jets,), default=None
            Jet weights.

        Returns
        -------
        float
            ``−inertia`` (higher is better, 0 for a perfect fit).
        """
        check_is_fitted(self)
        X = self._validate_X(X)
        n_rows = X.n_jets if _is_sparse_images(X) else X.shape[0]
        weight = check_sample_weight(sample_weight, np.empty(n_rows), dtype=np.float64)
        return -float(weight @ self._squared_distances(X, 0))

    def _squared_distances(self, X, member):
        """Squared distance of every (smeared) row to its nearest centre of ``member``."""
        centers = self.ensemble_[member].centers
        if _is_sparse_images(X):
            _, distances = nearest_centroid(X, centers, smeared=True, return_distances=True)
            return distances
        centers = centers.astype(X.dtype, copy=False)
        _, distances = pairwise_distances_argmin_min(X, centers, metric="sqeuclidean")
        return distances.astype(np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.sparse = False
        return tags
