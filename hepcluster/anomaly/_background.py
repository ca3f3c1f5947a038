"""The nearest-cluster background of the UCluster anomaly search (arXiv:2010.07106, §4.2).

For every cluster, the m_jj shape of the cluster nearest to it (distance between
centroids) is fitted by a background model the caller chooses (the dijet function of
:class:`~hepcluster.fits.DijetFitBackground` in the paper) and scaled to the cluster's
sidebands; the excess in a signal region is its local significance.
"""

import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from ..metrics import excess_significance
from ..stats import check_bin_edges, histogram, local_significance

__all__ = ["WINDOW_BINS", "nearest_cluster_background"]

WINDOW_BINS = 3
"""Width in bins of the sliding signal region when none is given."""


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


def _fit_shape(background, bins, mjj, weight, cluster):
    """Expected counts per bin and parameters of the background model fitted to one cluster."""
    fit = clone(background).set_params(bins=tuple(float(edge) for edge in bins))
    try:
        # A poorly constrained fit may overflow in its parameter errors, which are not
        # used here; a fit that does not converge is an error for this cluster.
        with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
            warnings.simplefilter("error", category=ConvergenceWarning)
            fit.fit(mjj.reshape(-1, 1), mjj, sample_weight=weight)
            shape = np.asarray(fit.expected_counts(), dtype=np.float64)
        if not np.all(np.isfinite(shape)):
            raise ValueError("the fitted function is not finite in every bin")
    except (ValueError, ConvergenceWarning) as exc:
        warnings.warn(
            f"the m_jj spectrum of cluster {cluster} could not be fitted ({exc}); the "
            "clusters it is nearest to get no background estimate.",
            UserWarning,
            stacklevel=3,
        )
        return None, None
    return shape, np.asarray(getattr(fit, "params_", ()), dtype=np.float64)


def nearest_cluster_background(
    labels,
    *,
    cluster_centers,
    mjj,
    bins,
    background,
    signal_region=None,
    sample_weight=None,
    statistic="poisson",
):
    """Background of every cluster from a fit of its nearest cluster's m_jj spectrum.

    Parameters
    ----------
    labels : array-like of shape (n_events,), int
        Cluster of each event, in ``0 … n_clusters − 1``.
    cluster_centers : array-like of shape (n_clusters, n_dims)
        Centroids; the nearest cluster is the one with the closest centroid.
    mjj : array-like of shape (n_events,)
        m_jj of each event in GeV.
    bins : array-like of float
        m_jj bin edges in GeV; bin i holds ``bins[i] <= m_jj < bins[i + 1]`` (the last
        edge is excluded, :func:`hepcluster.stats.histogram`).
    background : estimator
        Unfitted background model of one cluster's m_jj spectrum, cloned for every fitted
        cluster with its ``bins`` set to ``bins``: it needs a ``bins`` parameter,
        ``fit(X, y, sample_weight)`` with m_jj as ``y`` (one row per event) and
        ``expected_counts()``; ``params_`` is recorded when it exists. The paper's is
        ``DijetFitBackground(n_params=4, x_scale="sqrt_s")`` from :mod:`hepcluster.fits`.
    signal_region : (float, float) or None, default=None
        m_jj range (whole bins) whose excess is tested; the other bins are the sidebands
        the fit is scaled to. ``None`` slides a window of three bins over the range and
        keeps, for each cluster, the window with the largest excess (windows leave at
        least one sideband bin on each side).
    sample_weight : array-like of shape (n_events,), default=None
    statistic : {"poisson", "poisson-midp", "gaussian"}, default="poisson"
        Local significance of a count over its expectation
        (:func:`hepcluster.stats.local_significance`).

    Returns
    -------
    dict
        ``spectra``, ``background`` (n_clusters, n_bins), ``local_significance``,
        ``excess_significance`` (n_clusters,), ``signal_region_index``
        (n_clusters, 2), ``nearest_cluster``, ``fit_params`` (n_clusters, n_params),
        ``sideband_chi2_ndf`` and ``n_outside``.

    Notes
    -----
    With N_i,b the spectrum of cluster i, f_j,b the bin integrals of the fit to the
    spectrum of its nearest cluster j and SB the sideband bins,
    B_i,b = f_j,b · Σ_SB N_i,b / Σ_SB f_j,b (V. Mikuni, F. Canelli, arXiv:2010.07106,
    §4.2). A cluster whose nearest cluster cannot be fitted gets no estimate (NaN
    parameters, zero significance) and a warning.

    The significance assumes that the nearest cluster has the same m_jj shape: when the
    clustering sculpts m_jj (e.g. through the correlation of QCD jet masses with pT), a
    large cluster can show a large "excess" without any signal. ``sideband_chi2_ndf``
    measures how well the shape describes the cluster outside the signal region.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.datasets import sample_dijet_spectrum
    >>> from hepcluster.fits import DijetFitBackground
    >>> from hepcluster.anomaly import nearest_cluster_background
    >>> mjj = sample_dijet_spectrum(20_000, (2600.0, 5000.0), random_state=0)
    >>> labels = np.arange(mjj.size) % 2
    >>> out = nearest_cluster_background(
    ...     labels, cluster_centers=[[0.0], [1.0]], mjj=mjj, bins=np.arange(2600.0, 5001.0, 200.0),
    ...     background=DijetFitBackground(n_params=3), signal_region=(3200.0, 3800.0))
    >>> out["nearest_cluster"].tolist(), bool(out["excess_significance"].max() < 3)
    ([1, 0], True)
    """
    mjj = np.asarray(mjj, dtype=np.float64)
    labels = np.asarray(labels)
    centers = np.asarray(cluster_centers, dtype=np.float64)
    bins = check_bin_edges(bins, name="bins", min_edges=3)
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
    n_bins = bins.size - 1
    inside = (mjj >= bins[0]) & (mjj < bins[-1])
    spectra = np.stack(
        [histogram(mjj[labels == k], bins, weights=weight[labels == k]) for k in range(n_clusters)]
    )
    nearest = _nearest_clusters(centers)
    shapes = np.full((n_clusters, n_bins), np.nan)
    params = None
    for j in np.unique(nearest):
        members = labels == j
        shape, fitted = _fit_shape(background, bins, mjj[members], weight[members], j)
        if shape is None:
            continue
        if params is None:
            params = np.full((n_clusters, fitted.size), np.nan)
        shapes[nearest == j] = shape
        params[nearest == j] = fitted
    if params is None:
        params = np.full((n_clusters, 0), np.nan)
    windows = _windows(n_bins, signal_region, bins)
    estimates = np.zeros((n_clusters, n_bins))
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
                estimates[k] = estimate
                z_excess[k] = z
                region[k] = (first, last)
        z_bins[k] = local_significance(spectra[k], estimates[k], statistic=statistic)
        sideband = np.ones(n_bins, dtype=bool)
        sideband[region[k, 0] : region[k, 1]] = False
        residual = spectra[k][sideband] - estimates[k][sideband]
        variance = np.maximum(estimates[k][sideband], 1.0)
        chi2[k] = np.sum(residual**2 / variance) / max(int(sideband.sum()) - 1, 1)
    return {
        "spectra": spectra,
        "background": estimates,
        "local_significance": z_bins,
        "excess_significance": z_excess,
        "signal_region_index": region,
        "nearest_cluster": nearest,
        "fit_params": params,
        "sideband_chi2_ndf": chi2,
        "n_outside": int((~inside).sum()),
    }
