"""Event-level anomaly detection with UCluster: clusters of dijet events and their m_jj.

The event task of UCluster (arXiv:2010.07106, §4): ABCNet reads the particles of both
leading jets with four global event features, is pre-trained on a per-particle
segmentation (the mass of the particle's jet) and clustered jointly into k clusters
(:class:`~hepcluster.DeepKMeans` with ``UClusterEmbedding(task="events")``). Signal events
gather in few clusters. For every cluster the background under a resonance is estimated
from the cluster nearest to it (distance between centroids): the nearest cluster's m_jj
spectrum is fitted with the dijet function
(:class:`~hepcluster.fits.DijetFitBackground`, x = m_jj / √s) and the fit is scaled to
the sidebands of the cluster, i.e. to its counts outside the signal region. Clusters
whose excess in the signal region exceeds a threshold are signal-rich.
"""

import json
import logging
import warnings
from dataclasses import dataclass, field, fields

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ..metrics import excess_significance
from ..scanning import local_significance

logger = logging.getLogger(__name__)

__all__ = [
    "AnomalySearchResult",
    "anomaly_search",
    "event_matrix",
    "nearest_cluster_background",
]

X_SCALE = "sqrt_s"
"""x = m_jj / √s in the dijet fits: the function needs x < 1 over the whole m_jj range
(x = m_jj / 1 TeV, as in arXiv:2010.07106, suits only spectra below 1 TeV)."""

WINDOW_BINS = 3
"""Width in bins of the sliding signal region when none is given."""

_ARRAY_FIELDS = (
    "bins",
    "cluster_spectra",
    "signal_spectra",
    "background_estimates",
    "local_significance",
    "nearest_cluster",
    "excess_significance",
    "signal_region_index",
    "selected",
    "fit_params",
    "sideband_chi2_ndf",
    "cluster_centers",
    "signal_to_background",
)


def event_matrix(events):
    """The constituent matrix of dijet events: both jets side by side.

    Parameters
    ----------
    events : EventTable

    Returns
    -------
    ndarray of shape (n_events, 2 · 3 · P), float32
        ``(pT_1, η_1, φ_1, …)`` of the leading jet, then of the sub-leading jet: the input
        of ``UClusterEmbedding(task="events")``.

    Examples
    --------
    >>> from hepcluster.datasets import make_dijet_events
    >>> from hepcluster.ucluster import event_matrix
    >>> event_matrix(make_dijet_events(10, 2, n_constituents=20, random_state=0)).shape
    (12, 120)
    """
    constituents = np.asarray(events.constituents, dtype=np.float32)
    if constituents.ndim != 4 or constituents.shape[1:2] + constituents.shape[3:] != (2, 3):
        raise ValueError(
            f"events.constituents must have shape (n_events, 2, P, 3), got {constituents.shape}."
        )
    return constituents.reshape(constituents.shape[0], -1)


@dataclass(eq=False)
class AnomalySearchResult:
    """Result of :func:`anomaly_search`: spectra, background estimates, selection, metrics.

    Attributes
    ----------
    bins : ndarray of shape (n_bins + 1,)
        m_jj bin edges in GeV.
    cluster_spectra : ndarray of shape (n_clusters, n_bins)
        Weighted m_jj histogram of the events of each cluster.
    signal_spectra : ndarray of shape (n_clusters, n_bins)
        The same for the signal events only (truth; zeros when unknown).
    background_estimates : ndarray of shape (n_clusters, n_bins)
        Fit of the nearest cluster's spectrum, scaled to the cluster's sidebands.
    local_significance : ndarray of shape (n_clusters, n_bins)
        Per-bin significance of each cluster's excess over its estimate.
    nearest_cluster : ndarray of shape (n_clusters,), int
        Cluster whose centroid is nearest (the source of the background shape).
    excess_significance : ndarray of shape (n_clusters,)
        Significance of the summed excess in the signal region.
    signal_region_index : ndarray of shape (n_clusters, 2), int
        First and last + 1 bin of the signal region of each cluster (the one with the
        largest excess when the region was scanned).
    selected : ndarray of shape (n_clusters,), bool
        Signal-rich clusters: excess significance ≥ ``threshold``.
    fit_params : ndarray of shape (n_clusters, n_params)
        Dijet-function parameters of each cluster's background shape (NaN if the nearest
        cluster could not be fitted).
    sideband_chi2_ndf : ndarray of shape (n_clusters,)
        χ²/ndf of the background estimate in the sidebands: ≫ 1 means that the nearest
        cluster's shape does not describe the cluster and its excess is not reliable.
    cluster_centers : ndarray of shape (n_clusters, embedding_dim)
        Centroids used for the distances.
    signal_to_background : ndarray of shape (n_clusters,)
        Truth S/B of each cluster (all bins; NaN when there is no truth).
    inclusive_signal_to_background : float
        S/B of all events.
    threshold : float
    statistic_name : str
    n_events : int
        Events in the search (inside and outside the bins).
    n_outside : int
        Events outside the bins (not in any spectrum; reported, never dropped silently).
    metadata : dict
    """

    bins: np.ndarray
    cluster_spectra: np.ndarray
    signal_spectra: np.ndarray
    background_estimates: np.ndarray
    local_significance: np.ndarray
    nearest_cluster: np.ndarray
    excess_significance: np.ndarray
    signal_region_index: np.ndarray
    selected: np.ndarray
    fit_params: np.ndarray
    sideband_chi2_ndf: np.ndarray
    cluster_centers: np.ndarray
    signal_to_background: np.ndarray
    inclusive_signal_to_background: float
    threshold: float
    statistic_name: str
    n_events: int
    n_outside: int
    metadata: dict = field(default_factory=dict)

    @property
    def n_clusters(self):
        """Number of clusters."""
        return self.cluster_spectra.shape[0]

    @property
    def best_cluster(self):
        """Cluster with the largest excess significance."""
        return int(np.argmax(self.excess_significance))

    @property
    def signal_fraction_improvement(self):
        """S/B of the selected clusters over the inclusive S/B (NaN without truth/selection)."""
        if not self.selected.any() or not self.inclusive_signal_to_background > 0:
            return float("nan")
        signal = self.signal_spectra[self.selected].sum()
        background = self.cluster_spectra[self.selected].sum() - signal
        if background <= 0:
            return float("inf")
        return float(signal / background / self.inclusive_signal_to_background)

    def __repr__(self):
        z = ", ".join(f"{value:.2f}" for value in self.excess_significance)
        return (
            f"AnomalySearchResult(n_clusters={self.n_clusters}, excess_significance=[{z}], "
            f"selected={np.flatnonzero(self.selected).tolist()}, n_events={self.n_events}, "
            f"n_outside={self.n_outside})"
        )

    def to_dict(self):
        """All fields as a dict of plain values and arrays (round-trips with from_dict)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, values):
        """Rebuild a result from :meth:`to_dict` output."""
        return cls(**values)

    def summary(self):
        """A JSON-serialisable summary: per cluster counts, S/B, excess, selection."""
        return {
            "n_events": self.n_events,
            "n_outside": self.n_outside,
            "inclusive_signal_to_background": self.inclusive_signal_to_background,
            "signal_fraction_improvement": self.signal_fraction_improvement,
            "threshold": self.threshold,
            "clusters": [
                {
                    "cluster": k,
                    "events": float(self.cluster_spectra[k].sum()),
                    "signal_events": float(self.signal_spectra[k].sum()),
                    "signal_to_background": float(self.signal_to_background[k]),
                    "nearest_cluster": int(self.nearest_cluster[k]),
                    "signal_region_gev": [
                        float(self.bins[self.signal_region_index[k, 0]]),
                        float(self.bins[self.signal_region_index[k, 1]]),
                    ],
                    "excess_significance": float(self.excess_significance[k]),
                    "sideband_chi2_ndf": float(self.sideband_chi2_ndf[k]),
                    "selected": bool(self.selected[k]),
                }
                for k in range(self.n_clusters)
            ],
        }

    def save(self, path):
        """Write the result to a ``.npz`` file (read it back with :meth:`load`)."""
        arrays = {name: getattr(self, name) for name in _ARRAY_FIELDS}
        scalars = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in _ARRAY_FIELDS
        }
        np.savez_compressed(path, **arrays, _scalars=json.dumps(scalars, default=str))

    @classmethod
    def load(cls, path):
        """Read a result written by :meth:`save`."""
        with np.load(path) as data:
            values = {name: data[name] for name in _ARRAY_FIELDS}
            values.update(json.loads(str(data["_scalars"])))
        return cls(**values)

    def plot(self, cluster=None, ax=None):
        """m_jj spectrum of a cluster against its nearest-cluster background estimate.

        Parameters
        ----------
        cluster : int, optional
            Cluster to draw; defaults to :attr:`best_cluster`.
        ax : matplotlib axes, optional

        Returns
        -------
        matplotlib.axes.Axes
        """
        from ..plotting._style import new_axes

        ax = new_axes(ax)
        k = self.best_cluster if cluster is None else int(cluster)
        edges = self.bins
        ax.stairs(self.cluster_spectra[k], edges, label=f"cluster {k}", color="black")
        ax.stairs(
            self.background_estimates[k],
            edges,
            label=f"fit of cluster {self.nearest_cluster[k]}, scaled to sidebands",
            color="tab:blue",
            linestyle="--",
        )
        if self.signal_spectra[k].any():
            ax.stairs(self.signal_spectra[k], edges, label="signal (truth)", color="tab:red")
        low, high = self.signal_region_index[k]
        ax.axvspan(edges[low], edges[high], color="tab:orange", alpha=0.15, label="signal region")
        ax.set_xlabel(r"$m_{jj}$ [GeV]")
        ax.set_ylabel("events / bin")
        ax.set_yscale("log")
        ax.set_title(
            f"cluster {k}: Z = {self.excess_significance[k]:.1f}, "
            f"S/B = {self.signal_to_background[k]:.3g}"
        )
        ax.legend()
        return ax


def _nearest_clusters(centers):
    centers = np.asarray(centers, dtype=np.float64)
    distances = np.linalg.norm(centers[:, None, :] - centers[None, :, :], axis=-1)
    np.fill_diagonal(distances, np.inf)
    return np.argmin(distances, axis=1)


def _windows(n_bins, signal_region, bins):
    if signal_region is not None:
        low, high = (float(v) for v in signal_region)
        first = np.flatnonzero(np.isclose(bins, low))
        last = np.flatnonzero(np.isclose(bins, high))
        if not first.size or not last.size or first[0] >= last[0]:
            raise ValueError(
                f"signal_region {tuple(signal_region)} must run from one bin edge to a "
                f"higher one; the edges are {bins.tolist()}."
            )
        if first[0] == 0 and last[0] == n_bins:
            raise ValueError("the signal region covers every bin: no sideband is left.")
        return [(int(first[0]), int(last[0]))]
    if n_bins < WINDOW_BINS + 2:
        raise ValueError(
            f"scanning for the signal region needs at least {WINDOW_BINS + 2} bins (a window "
            f"of {WINDOW_BINS} with a sideband on each side), got {n_bins}; pass "
            "signal_region or more bins."
        )
    # Windows with a sideband bin on both sides: the fit is never extrapolated.
    return [(start, start + WINDOW_BINS) for start in range(1, n_bins - WINDOW_BINS)]


def nearest_cluster_background(
    mjj,
    labels,
    cluster_centers,
    *,
    bins,
    signal_region=None,
    sample_weight=None,
    n_params=4,
    x_scale=X_SCALE,
    statistic="poisson",
):
    """Background of every cluster from the dijet fit of its nearest cluster.

    Parameters
    ----------
    mjj : array-like of shape (n_events,)
        m_jj in GeV.
    labels : array-like of shape (n_events,), int
        Cluster of each event, in ``0 … n_clusters − 1``.
    cluster_centers : array-like of shape (n_clusters, n_dims)
        Centroids; the nearest cluster is the one with the closest centroid.
    bins : array-like of float
        m_jj bin edges in GeV.
    signal_region : (float, float) or None, default=None
        m_jj range (whole bins) whose excess is tested; the other bins are the sidebands
        the fit is scaled to. ``None`` slides a window of three bins over the range and
        keeps, for each cluster, the window with the largest excess (windows leave at
        least one sideband bin on each side).
    sample_weight : array-like of shape (n_events,), default=None
    n_params : {3, 4, 5}, default=4
        Parameters of the dijet function.
    x_scale : "sqrt_s" or float, default="sqrt_s"
        x = m_jj / x_scale, see :class:`~hepcluster.fits.DijetFitBackground`.
    statistic : {"poisson", "poisson-midp", "gaussian"}, default="poisson"

    Returns
    -------
    dict
        ``spectra``, ``background`` (n_clusters, n_bins), ``local_significance``,
        ``excess_significance`` (n_clusters,), ``signal_region_index``
        (n_clusters, 2), ``nearest_cluster``, ``fit_params`` (n_clusters, n_params) and
        ``n_outside``.

    Notes
    -----
    With N_i,b the spectrum of cluster i, f_j,b the bin integrals of the dijet fit to the
    spectrum of its nearest cluster j and SB the sideband bins,
    B_i,b = f_j,b · Σ_SB N_i,b / Σ_SB f_j,b (V. Mikuni, F. Canelli, arXiv:2010.07106,
    §4.2). A cluster whose nearest cluster has too few events to fit gets no estimate
    (NaN parameters, zero significance) and a warning.

    The significance assumes that the nearest cluster has the same m_jj shape: when the
    clustering sculpts m_jj (e.g. through the correlation of QCD jet masses with pT), a
    large cluster can show a large "excess" without any signal. ``sideband_chi2_ndf``
    measures how well the shape describes the cluster outside the signal region.
    """
    from ..fits import DijetFitBackground

    mjj = np.asarray(mjj, dtype=np.float64)
    labels = np.asarray(labels)
    centers = np.asarray(cluster_centers, dtype=np.float64)
    bins = np.asarray(bins, dtype=np.float64)
    weight = np.ones_like(mjj) if sample_weight is None else np.asarray(sample_weight, float)
    if mjj.ndim != 1 or labels.shape != mjj.shape or weight.shape != mjj.shape:
        raise ValueError("mjj, labels and sample_weight must be 1-D of the same length.")
    if centers.ndim != 2 or centers.shape[0] < 2:
        raise ValueError(
            "the nearest-cluster background needs at least two cluster centres, got shape "
            f"{centers.shape}."
        )
    n_clusters = centers.shape[0]
    if labels.size and (labels.min() < 0 or labels.max() >= n_clusters):
        raise ValueError(f"labels must lie in 0 … {n_clusters - 1}.")
    if bins.ndim != 1 or bins.size < 3 or np.any(np.diff(bins) <= 0):
        raise ValueError("bins must be at least three strictly increasing m_jj edges.")
    n_bins = bins.size - 1
    inside = (mjj >= bins[0]) & (mjj <= bins[-1])
    spectra = np.stack(
        [
            np.histogram(mjj[labels == k], bins=bins, weights=weight[labels == k])[0]
            for k in range(n_clusters)
        ]
    )
    nearest = _nearest_clusters(centers)
    shapes = np.full((n_clusters, n_bins), np.nan)
    params = np.full((n_clusters, n_params), np.nan)
    for j in np.unique(nearest):
        members = labels == j
        fit = DijetFitBackground(n_params=n_params, bins=bins, x_scale=x_scale)
        try:
            # A poorly constrained fit may overflow in its parameter errors, which are not
            # used here; a fit that does not converge is an error for this cluster.
            with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
                warnings.simplefilter("error", category=ConvergenceWarning)
                fit.fit(mjj[members].reshape(-1, 1), sample_weight=weight[members])
                shape = fit.expected_counts()
            if not np.all(np.isfinite(shape)):
                raise ValueError("the fitted function is not finite in every bin")
        except (ValueError, ConvergenceWarning) as exc:
            warnings.warn(
                f"the m_jj spectrum of cluster {j} could not be fitted ({exc}); the clusters "
                "it is nearest to get no background estimate.",
                UserWarning,
                stacklevel=2,
            )
            continue
        shapes[nearest == j] = shape
        params[nearest == j] = fit.params_
    windows = _windows(n_bins, signal_region, bins)
    background = np.zeros((n_clusters, n_bins))
    z_bins = np.zeros((n_clusters, n_bins))
    z_excess = np.zeros(n_clusters)
    chi2 = np.full(n_clusters, np.nan)
    region = np.zeros((n_clusters, 2), dtype=np.int64)
    region[:] = windows[0]
    for k in range(n_clusters):
        if not np.all(np.isfinite(shapes[k])):
            continue
        best = -1.0
        for first, last in windows:
            sideband = np.ones(n_bins, dtype=bool)
            sideband[first:last] = False
            norm = shapes[k][sideband].sum()
            scale = spectra[k][sideband].sum() / norm if norm > 0 else 0.0
            estimate = scale * shapes[k]
            z = excess_significance(
                spectra[k][first:last], estimate[first:last], statistic=statistic
            )
            if z > best:
                best = z
                background[k] = estimate
                z_excess[k] = z
                region[k] = (first, last)
        z_bins[k] = local_significance(spectra[k], background[k], statistic)
        sideband = np.ones(n_bins, dtype=bool)
        sideband[region[k, 0] : region[k, 1]] = False
        residual = spectra[k][sideband] - background[k][sideband]
        variance = np.maximum(background[k][sideband], 1.0)
        chi2[k] = np.sum(residual**2 / variance) / max(int(sideband.sum()) - 1, 1)
    return {
        "spectra": spectra,
        "background": background,
        "local_significance": z_bins,
        "excess_significance": z_excess,
        "signal_region_index": region,
        "nearest_cluster": nearest,
        "fit_params": params,
        "sideband_chi2_ndf": chi2,
        "n_outside": int((~inside).sum()),
    }


def anomaly_search(
    events,
    model,
    *,
    bins,
    signal_region=None,
    threshold=3.0,
    max_sideband_chi2=None,
    n_params=4,
    x_scale=X_SCALE,
    statistic="poisson",
):
    """Cluster dijet events with UCluster and look for a resonance in every cluster.

    Parameters
    ----------
    events : EventTable
        Events (their ``weight`` enters the spectra; ``is_signal``, if present, only the
        truth metrics).
    model : DeepKMeans
        A clusterer with an event-task embedding (``UClusterEmbedding(task="events")``);
        fitted on ``events`` here if it is not fitted yet.
    bins : array-like of float
        m_jj bin edges in GeV of the spectra and fits.
    signal_region : (float, float) or None, default=None
        See :func:`nearest_cluster_background`.
    threshold : float, default=3.0
        A cluster is signal-rich when the excess in its signal region has a significance
        of at least ``threshold``.
    max_sideband_chi2 : float or None, default=None
        Also require the background estimate to describe the cluster's sidebands with
        χ²/ndf at most this value; ``None`` does not check.
    n_params : {3, 4, 5}, default=4
    x_scale : "sqrt_s" or float, default="sqrt_s"
    statistic : {"poisson", "poisson-midp", "gaussian"}, default="poisson"

    Returns
    -------
    AnomalySearchResult

    See Also
    --------
    nearest_cluster_background : The background estimate alone.
    hepcluster.metrics.signal_fraction_improvement : S/B gain of a selection.

    References
    ----------
    V. Mikuni, F. Canelli, arXiv:2010.07106, §4.

    Examples
    --------
    >>> from hepcluster.datasets import make_dijet_events
    >>> from hepcluster.ucluster import DeepKMeans, UClusterEmbedding, anomaly_search
    >>> events = make_dijet_events(5000, 300, n_constituents=20, random_state=0)
    >>> model = DeepKMeans(UClusterEmbedding(task="events", width=0.25, epochs=2),
    ...                    n_clusters=2, epochs=4, random_state=0)
    >>> result = anomaly_search(events, model, bins=range(2500, 5001, 100))  # doctest: +SKIP
    >>> result.signal_to_background  # doctest: +SKIP
    array([...])
    """
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(model)
    except NotFittedError:
        logger.info("fitting %r on %d events", model, len(events))
        model.fit(events)
    embedding = getattr(model, "embedding_", None)
    if embedding is None or getattr(embedding, "task", None) != "events":
        raise ValueError("anomaly_search needs a DeepKMeans whose embedding has task='events'.")
    labels = model.predict(events)
    mjj = np.asarray(events.mjj, dtype=np.float64)
    weight = np.asarray(getattr(events, "weight", np.ones_like(mjj)), dtype=np.float64)
    analysis = nearest_cluster_background(
        mjj,
        labels,
        model.cluster_centers_,
        bins=bins,
        signal_region=signal_region,
        sample_weight=weight,
        n_params=n_params,
        x_scale=x_scale,
        statistic=statistic,
    )
    bins = np.asarray(bins, dtype=np.float64)
    n_clusters = model.cluster_centers_.shape[0]
    is_signal = getattr(events, "is_signal", None)
    if is_signal is not None:
        is_signal = np.asarray(is_signal, dtype=bool)
        signal_spectra = np.stack(
            [
                np.histogram(
                    mjj[(labels == k) & is_signal],
                    bins=bins,
                    weights=weight[(labels == k) & is_signal],
                )[0]
                for k in range(n_clusters)
            ]
        )
        s_total = weight[is_signal].sum()
        b_total = weight[~is_signal].sum()
        inclusive = float(s_total / b_total) if b_total > 0 else float("inf")
        s_cluster = np.array([weight[(labels == k) & is_signal].sum() for k in range(n_clusters)])
        b_cluster = np.array([weight[(labels == k) & ~is_signal].sum() for k in range(n_clusters)])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(
                b_cluster > 0, s_cluster / np.where(b_cluster > 0, b_cluster, 1.0), np.inf
            )
    else:
        signal_spectra = np.zeros_like(analysis["spectra"])
        inclusive = float("nan")
        ratio = np.full(n_clusters, np.nan)
    selected = analysis["excess_significance"] >= threshold
    if max_sideband_chi2 is not None:
        selected &= analysis["sideband_chi2_ndf"] <= max_sideband_chi2
    result = AnomalySearchResult(
        bins=bins,
        cluster_spectra=analysis["spectra"],
        signal_spectra=signal_spectra,
        background_estimates=analysis["background"],
        local_significance=analysis["local_significance"],
        nearest_cluster=analysis["nearest_cluster"],
        excess_significance=analysis["excess_significance"],
        signal_region_index=analysis["signal_region_index"],
        selected=selected,
        fit_params=analysis["fit_params"],
        sideband_chi2_ndf=analysis["sideband_chi2_ndf"],
        cluster_centers=np.asarray(model.cluster_centers_, dtype=np.float64),
        signal_to_background=ratio,
        inclusive_signal_to_background=inclusive,
        threshold=float(threshold),
        statistic_name=statistic,
        n_events=int(mjj.size),
        n_outside=analysis["n_outside"],
        metadata={"n_params": int(n_params), "x_scale": x_scale},
    )
    logger.info("%r", result)
    return result
