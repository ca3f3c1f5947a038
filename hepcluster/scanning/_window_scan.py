"""WindowScan: Cluster Scanning over a set of training windows, with the maximum as statistic."""

import logging
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils import check_random_state
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted

from ..utils._results import ResultIO
from ..utils._sklearn_compat import HasMethods, Interval, check_sample_weight, fit_context
from ._scanner import ClusterScanner, validate_scan_X, validate_scan_X_y

logger = logging.getLogger(__name__)


def window_bins(bins, window, guard):
    """Indices of the bins that overlap a training window widened by a guard band.

    Parameters
    ----------
    bins : ndarray of shape (n_bins + 1,)
        m_jj bin edges in GeV.
    window : (float, float)
        Training window [low, high) in GeV.
    guard : float
        Width in GeV added on both sides of the window.

    Returns
    -------
    ndarray of int
        Bins b with ``bins[b] < high + guard`` and ``bins[b + 1] > low − guard``: every
        bin that holds a jet of the widened window.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.scanning import window_bins
    >>> edges = np.arange(3000.0, 3700.0, 100.0)
    >>> window_bins(edges, (3200.0, 3300.0), 0.0).tolist()
    [2]
    >>> window_bins(edges, (3200.0, 3300.0), 100.0).tolist()
    [1, 2, 3]
    """
    low, high = window
    overlap = (bins[:-1] < high + guard) & (bins[1:] > low - guard)
    return np.flatnonzero(overlap)


def _min_train_jets(scanner):
    """The fewest training jets a scanner can be fitted on (its smallest k)."""
    n_clusters = scanner.n_clusters
    if isinstance(n_clusters, Integral):
        return int(n_clusters)
    return int(min(scanner.n_clusters_candidates))


def _fit_window(scanner, X, y, sample_weight):
    return scanner.fit(X, y, sample_weight=sample_weight)


@dataclass(eq=False)
class WindowScanResult(ResultIO):
    """Result of :meth:`~hepcluster.WindowScan.scan`: one Cluster Scanning pass per window.

    Attributes
    ----------
    bins : ndarray of shape (n_bins + 1,)
        m_jj bin edges of the evaluation region in GeV.
    windows : ndarray of shape (n_windows, 2)
        Training windows [low, high) in GeV.
    statistics : ndarray of shape (n_windows,)
        Test statistic (mean MLS over the ensemble) of every window; NaN for a window
        that was not fitted (too few training jets, see ``fitted``).
    fitted : ndarray of shape (n_windows,), bool
        Windows whose scanner was fitted.
    excluded_bins : ndarray of shape (n_windows, n_bins), bool
        Bins left out of each window's scan (the window and its guard band).
    n_train : ndarray of shape (n_windows,)
        Jets with positive weight in each training window.
    n_clusters : ndarray of shape (n_windows,)
        k used by each window (0 where not fitted); differs between windows only with
        ``n_clusters="auto"``.
    best_window : int
        Index of the window with the largest statistic.
    statistic : float
        The test statistic of the window scan, ``statistics[best_window]``.
    results : list of ScanResult or None
        The scan of every window (``None`` where not fitted).
    metadata : dict
        Anything else worth keeping (guard band).

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.scanning import ClusterScanner, WindowScan
    >>> rng = np.random.default_rng(0)
    >>> X, mjj = rng.normal(size=(3000, 3)), rng.uniform(3000.0, 3400.0, size=3000)
    >>> scanner = ClusterScanner(n_clusters=5, bins=(3000, 3100, 3200, 3300, 3400),
    ...                          n_ensemble=2)
    >>> result = WindowScan(scanner, random_state=0).fit(X, mjj).scan(X, mjj)
    >>> result.windows.shape, result.statistics.shape
    ((4, 2), (4,))
    >>> bool(result.statistic == np.nanmax(result.statistics))
    True
    """

    bins: np.ndarray
    windows: np.ndarray
    statistics: np.ndarray
    fitted: np.ndarray
    excluded_bins: np.ndarray
    n_train: np.ndarray
    n_clusters: np.ndarray
    best_window: int
    statistic: float
    results: list
    metadata: dict = field(default_factory=dict)

    @property
    def best_train_window(self):
        """(low, high) in GeV of the window that gave the maximum."""
        low, high = self.windows[self.best_window]
        return float(low), float(high)

    @property
    def best_result(self):
        """The :class:`ScanResult` of the window that gave the maximum."""
        return self.results[self.best_window]

    def __repr__(self):
        low, high = self.best_train_window
        return (
            f"WindowScanResult(n_windows={self.windows.shape[0]}, "
            f"n_fitted={int(self.fitted.sum())}, statistic={self.statistic:.4g}, "
            f"best_window={self.best_window} [{low:g}, {high:g}) GeV)"
        )

    def __str__(self):
        low, high = self.best_train_window
        lines = [
            f"Window scan: MLS {self.statistic:.3f}, the maximum over "
            f"{int(self.fitted.sum())} of {self.windows.shape[0]} training windows "
            f"(best [{low:g}, {high:g}) GeV)",
            "  window [GeV]        jets      k   statistic",
        ]
        for index, (window, statistic) in enumerate(
            zip(self.windows, self.statistics, strict=True)
        ):
            mark = " *" if index == self.best_window else ""
            lines.append(
                f"  [{window[0]:g}, {window[1]:g})".ljust(20)
                + f"{int(self.n_train[index]):>6d} {int(self.n_clusters[index]):>6d}"
                + f"   {statistic:9.3f}{mark}"
            )
        return "\n".join(lines)

    def plot(self, ax=None):
        """Draw the statistic of every training window, the maximum marked.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure when ``None``.

        Returns
        -------
        matplotlib.axes.Axes
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as error:  # pragma: no cover - the [plot] extra
            raise ImportError(
                'WindowScanResult.plot needs matplotlib: pip install "hepcluster[plot]"'
            ) from error
        if ax is None:
            _, ax = plt.subplots()
        centres = self.windows.mean(axis=1)
        widths = np.diff(self.windows, axis=1)[:, 0]
        ax.bar(centres, np.nan_to_num(self.statistics), width=widths, alpha=0.6)
        ax.bar(
            centres[self.best_window],
            self.statistic,
            width=widths[self.best_window],
            color="C3",
            label="maximum",
        )
        ax.set_xlabel("training window m_jj [GeV]")
        ax.set_ylabel("test statistic (mean MLS)")
        ax.legend()
        return ax


class WindowScan(BaseEstimator):
    """Cluster Scanning with a scan over training windows; the statistic is the maximum.

    Fits one :class:`ClusterScanner` per training window — by default one window per
    bin of the evaluation region, i.e. 100 GeV windows stepping through 3.0–4.6 TeV —
    and scans each over the evaluation region *without* the bins of its own window
    (and of a guard band around it), so that the jets k-means was fitted on never
    enter that window's spectra. The test statistic is the largest window statistic.
    Calibrated with :func:`~hepcluster.calibration.run_pseudo_experiments`, every
    pseudo-experiment runs the whole scan and takes the same maximum, so the global
    significance includes the look-elsewhere effect over windows.

    Parameters
    ----------
    scanner : ClusterScanner or None, default=None
        The Cluster Scanning of one window (``None``: ``ClusterScanner()``, the paper's
        settings). Cloned per window; its ``train_window``, ``excluded_bins`` and
        ``random_state`` are set by the window scan, everything else is used as given.
    windows : array-like of shape (n_windows, 2) or None, default=None
        Training windows [low, high) in GeV; ``None`` uses every bin of the scanner's
        ``bins``.
    guard : float, default=0.0
        Guard band in GeV: each window is scanned without every bin that overlaps
        [low − guard, high + guard). The default leaves out just the window's own bins.
    compute_scan : bool, default=True
        Also scan the training data in :meth:`fit` and keep the result
        (``scan_result_``, ``best_window_``), as ``MiniBatchKMeans(compute_labels=True)``
        labels its training data. :meth:`test_statistic` scans again; set ``False``
        inside a calibration to skip the extra scan.
    random_state : int, RandomState instance or None, default=None
        Seeds of the windows' scanners, drawn up front in :meth:`fit`.
    n_jobs : int or None, default=None
        Windows fitted and scanned in parallel (threads, sharing ``X``); results do
        not depend on it.

    Attributes
    ----------
    windows_ : ndarray of shape (n_windows, 2)
        Training windows in use.
    bins_ : ndarray of shape (n_bins + 1,)
        Bin edges of the evaluation region.
    excluded_bins_ : ndarray of shape (n_windows, n_bins), bool
        Bins left out of each window's scan.
    window_seeds_ : ndarray of shape (n_windows,)
        ``random_state`` of each window's scanner.
    scanners_ : list of ClusterScanner or None
        The fitted scanner of each window; ``None`` for a window with fewer training
        jets (of positive weight) than clusters, which is skipped.
    skipped_windows_ : ndarray of int
        Indices of the skipped windows (logged; their statistic is NaN).
    n_train_ : ndarray of shape (n_windows,)
        Jets with positive weight in each window.
    n_clusters_ : ndarray of shape (n_windows,)
        k of each window's scanner (0 where skipped): with
        ``ClusterScanner(n_clusters="auto")`` the k chosen in that window.
    scan_result_ : WindowScanResult
        Scan of the training data (``compute_scan=True`` only).
    best_window_ : int
        Index of the window with the largest statistic on the training data
        (``compute_scan=True`` only); ``windows_[best_window_]`` is that window.
    n_features_in_ : int
        Width of ``X``.

    See Also
    --------
    ClusterScanner : Cluster Scanning with one training window.
    hepcluster.calibration.run_pseudo_experiments : Calibration of the maximum.

    Notes
    -----
    **Why a scan.** The training window sets what the clusters learn: arXiv:2402.17714
    (appendix G) finds a large gain when k-means is trained where the signal peaks
    (3.45–3.55 TeV instead of 3.0–3.1 TeV), but in an analysis the peak position is
    unknown. Scanning every window and taking the maximum removes that choice at the
    price of a trials factor, which the calibration measures: the null distribution
    is that of the maximum, not of one window.

    **Why the window's bins are left out.** k-means adapts its centres to the jets it
    is fitted on, so the cluster fractions in the training window differ from those of
    an independent sample — a bias that shows up as a localised feature in exactly
    that bin. With one window in the first bin (the paper's choice) every scan shares
    it; a scan over windows would see it move with the window. Leaving out the
    window's own bins removes it; neighbouring bins hold other events and need no
    guard, so ``guard=0`` is the default (a wider guard also removes the signal's own
    bins when a window sits on the peak).

    **Why a meta-estimator.** A ``ClusterScanner(train_window="scan")`` option would
    give one estimator two statistics and fitted attributes of two shapes; a wrapper
    keeps ``ClusterScanner`` as it is, reuses it unchanged per window (``clone``,
    ``get_params(deep=True)`` and grid searches over ``scanner__*`` work as for any
    scikit-learn meta-estimator), and is a final step of a Pipeline whose
    preprocessing (jet images) runs once for all windows.

    **Cost.** The windows share the images and the bootstrap weights (``X`` and
    ``sample_weight`` are read in place by every window), so a pseudo-experiment costs
    about n_windows fits and n_windows labellings of the region instead of one each,
    run in parallel over windows with ``n_jobs``. Each window's training set is its
    own bin, so windows at high m_jj fit on fewer jets and run faster.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.scanning import ClusterScanner, WindowScan
    >>> rng = np.random.default_rng(0)
    >>> X, mjj = rng.normal(size=(3000, 3)), rng.uniform(3000.0, 3400.0, size=3000)
    >>> scanner = ClusterScanner(n_clusters=5, bins=(3000, 3100, 3200, 3300, 3400),
    ...                          n_ensemble=2)
    >>> search = WindowScan(scanner, random_state=0).fit(X, mjj)
    >>> search.windows_.tolist()
    [[3000.0, 3100.0], [3100.0, 3200.0], [3200.0, 3300.0], [3300.0, 3400.0]]
    >>> search.excluded_bins_[1].astype(int).tolist()
    [0, 1, 0, 0]
    >>> bool(search.test_statistic(X, mjj) == search.scan_result_.statistic)
    True
    """

    _parameter_constraints: dict = {  # noqa: RUF012 (scikit-learn's convention)
        "scanner": [HasMethods(["fit", "scan"]), None],
        "windows": ["array-like", None],
        "guard": [Interval(Real, 0.0, None, closed="left")],
        "compute_scan": ["boolean"],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    #: One row of ``X`` per jet, ``y`` the m_jj of its event (as ClusterScanner).
    sample_unit = "jet"

    def __init__(
        self,
        scanner=None,
        *,
        windows=None,
        guard=0.0,
        compute_scan=True,
        random_state=None,
        n_jobs=None,
    ):
        self.scanner = scanner
        self.windows = windows
        self.guard = guard
        self.compute_scan = compute_scan
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _template(self):
        return ClusterScanner() if self.scanner is None else self.scanner

    def _validate_X_y(self, X, y, *, reset):
        return validate_scan_X_y(self, X, y, reset=reset)

    def _validate_X(self, X):
        return validate_scan_X(self, X)

    def _resolve_windows(self, bins):
        if self.windows is None:
            return np.column_stack([bins[:-1], bins[1:]])
        windows = np.asarray(self.windows, dtype=np.float64)
        if (
            windows.ndim != 2
            or windows.shape[1] != 2
            or windows.shape[0] == 0
            or not np.all(np.isfinite(windows))
            or np.any(windows[:, 0] >= windows[:, 1])
        ):
            raise ValueError(
                "windows must be a non-empty sequence of finite (low, high) m_jj ranges "
                f"in GeV with low < high, got {self.windows!r}."
            )
        return windows

    # The scanner's own parameters are validated when each window fits it.
    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit one Cluster Scanning per training window.

        Parameters
        ----------
        X : array-like of shape (n_jets, n_features) or SparseImages
            Jet features, usually jet images.
        y : array-like of shape (n_jets,)
            m_jj in GeV of each jet's event.
        sample_weight : array-like of shape (n_jets,), default=None
            Jet weights, e.g. bootstrap multiplicities of their events; shared by all
            windows.

        Returns
        -------
        self : WindowScan
        """
        X, y = self._validate_X_y(X, y, reset=True)
        weight = check_sample_weight(
            sample_weight, np.empty(y.shape[0]), dtype=np.float64, allow_all_zero_weights=True
        )
        if (weight < 0).any():
            raise ValueError(
                f"sample_weight must be non-negative (event counts or multiplicities), got "
                f"{int((weight < 0).sum())} negative value(s), the first at jet "
                f"{int(np.flatnonzero(weight < 0)[0])}."
            )
        template = self._template()
        self.bins_ = clone(template)._resolve_bins(y)
        n_bins = self.bins_.size - 1
        self.windows_ = self._resolve_windows(self.bins_)
        n_windows = self.windows_.shape[0]
        self.excluded_bins_ = np.zeros((n_windows, n_bins), dtype=bool)
        for i, window in enumerate(self.windows_):
            self.excluded_bins_[i, window_bins(self.bins_, window, self.guard)] = True
        rng = check_random_state(self.random_state)
        self.window_seeds_ = rng.randint(np.iinfo(np.int32).max, size=n_windows)
        positive = weight > 0
        self.n_train_ = np.array(
            [int((positive & (y >= low) & (y < high)).sum()) for low, high in self.windows_]
        )
        minimum = _min_train_jets(template)
        usable = (self.n_train_ >= minimum) & ~self.excluded_bins_.all(axis=1)
        self.skipped_windows_ = np.flatnonzero(~usable)
        if not positive.any():
            raise ValueError("all jets have zero sample_weight: nothing to fit k-means on.")
        if not usable.any():
            raise ValueError(
                f"no training window can be fitted: each needs {minimum} jets or more "
                f"(n_clusters) and a bin outside its guard band; the data hold n_samples = "
                f"{y.shape[0]} jets, per window: {self.n_train_.tolist()}."
            )
        if self.skipped_windows_.size:
            logger.info(
                "%d of %d training windows skipped (fewer than %d jets): %s",
                self.skipped_windows_.size,
                n_windows,
                minimum,
                self.windows_[self.skipped_windows_].tolist(),
            )
        scanners = [
            clone(template).set_params(
                bins=tuple(self.bins_.tolist()),
                train_window=(float(low), float(high)),
                excluded_bins=np.flatnonzero(self.excluded_bins_[i]).tolist(),
                random_state=int(self.window_seeds_[i]),
            )
            for i, (low, high) in enumerate(self.windows_)
        ]
        fitted = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(_fit_window)(scanners[i], X, y, weight) for i in np.flatnonzero(usable)
        )
        self.scanners_ = [None] * n_windows
        for i, scanner in zip(np.flatnonzero(usable), fitted, strict=True):
            self.scanners_[i] = scanner
        self.n_clusters_ = np.array(
            [
                0 if s is None else int(getattr(s, "n_clusters_", s.n_clusters))
                for s in self.scanners_
            ]
        )
        if self.compute_scan:
            self.scan_result_ = self.scan(X, y, weight)
            self.best_window_ = self.scan_result_.best_window
        return self

    def scan(self, X, y, sample_weight=None, *, is_signal=None):
        """Scan every fitted window over the region outside its guard band.

        Parameters
        ----------
        X : array-like of shape (n_jets, n_features) or SparseImages
        y : array-like of shape (n_jets,)
            m_jj in GeV of each jet's event.
        sample_weight : array-like of shape (n_jets,), default=None
        is_signal : array-like of shape (n_jets,), default=None
            Truth labels, used only by an idealized scanner.

        Returns
        -------
        WindowScanResult
        """
        check_is_fitted(self, "scanners_")
        X, y = self._validate_X_y(X, y, reset=False)
        weight = check_sample_weight(sample_weight, np.empty(y.shape[0]), dtype=np.float64)
        active = [i for i, s in enumerate(self.scanners_) if s is not None]
        scans = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(self.scanners_[i].scan)(X, y, weight, is_signal=is_signal) for i in active
        )
        results = [None] * len(self.scanners_)
        statistics = np.full(len(self.scanners_), np.nan)
        for i, result in zip(active, scans, strict=True):
            results[i] = result
            statistics[i] = result.statistic
        best = int(np.nanargmax(statistics))
        return WindowScanResult(
            bins=self.bins_.copy(),
            windows=self.windows_.copy(),
            statistics=statistics,
            fitted=np.array([s is not None for s in self.scanners_]),
            excluded_bins=self.excluded_bins_.copy(),
            n_train=self.n_train_.copy(),
            n_clusters=self.n_clusters_.copy(),
            best_window=best,
            statistic=float(statistics[best]),
            results=results,
            metadata={"guard": float(self.guard)},
        )

    def test_statistic(self, X, y, sample_weight=None, *, is_signal=None):
        """The largest test statistic over the training windows.

        This is what a calibration calls; it is ``WindowScanResult.statistic``.

        Parameters
        ----------
        X : array-like of shape (n_jets, n_features) or SparseImages
        y : array-like of shape (n_jets,)
            m_jj in GeV of each jet's event.
        sample_weight : array-like of shape (n_jets,), default=None
        is_signal : array-like of shape (n_jets,), default=None
            Truth labels, used only by an idealized scanner.

        Returns
        -------
        float
        """
        return self.scan(X, y, sample_weight, is_signal=is_signal).statistic

    def predict(self, X):
        """Cluster of each jet under the window that gave the maximum on the training data.

        With ``compute_scan=False`` the first fitted window is used.

        Parameters
        ----------
        X : array-like of shape (n_jets, n_features) or SparseImages

        Returns
        -------
        labels : ndarray of shape (n_jets,)
        """
        check_is_fitted(self, "scanners_")
        return self._best_scanner().predict(self._validate_X(X))

    def score(self, X, y=None, sample_weight=None):
        """Minus the k-means inertia under the window of :meth:`predict`.

        Parameters
        ----------
        X : array-like of shape (n_jets, n_features) or SparseImages
        y : array-like of shape (n_jets,), default=None
            Not used.
        sample_weight : array-like of shape (n_jets,), default=None

        Returns
        -------
        float
        """
        check_is_fitted(self, "scanners_")
        return self._best_scanner().score(self._validate_X(X), y, sample_weight)

    def _best_scanner(self):
        best = getattr(self, "best_window_", None)
        if best is None:
            best = next(i for i, s in enumerate(self.scanners_) if s is not None)
        return self.scanners_[best]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.sparse = False
        return tags
