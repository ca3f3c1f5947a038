"""The result of the event-level anomaly search: spectra, estimates, selection, truth."""

from dataclasses import dataclass, field

import numpy as np

from ..utils._results import ResultIO, html_table, text_table

__all__ = ["AnomalySearchResult"]


@dataclass(eq=False)
class AnomalySearchResult(ResultIO):
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
        Per-bin local significance of each cluster's excess over its estimate.
    nearest_cluster : ndarray of shape (n_clusters,), int
        Cluster whose centroid is nearest (the source of the background shape).
    excess_significance : ndarray of shape (n_clusters,)
        Local significance of the summed excess in the signal region (not corrected for
        the look-elsewhere effect of scanning windows and clusters).
    signal_region_index : ndarray of shape (n_clusters, 2), int
        First and last + 1 bin of the signal region of each cluster (the one with the
        largest excess when the region was scanned).
    selected : ndarray of shape (n_clusters,), bool
        Signal-rich clusters: excess significance ≥ ``threshold``.
    fit_params : ndarray of shape (n_clusters, n_params)
        Background-model (e.g. dijet-function) parameters of each cluster's background
        shape (NaN if the nearest cluster could not be fitted).
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

    def _summary_rows(self):
        header = ["cluster", "events", "nearest", "signal region [GeV]", "Z", "χ²/ndf", "S/B"]
        header.append("selected")
        rows = []
        for k in range(self.n_clusters):
            low, high = self.signal_region_index[k]
            rows.append(
                [
                    str(k),
                    f"{self.cluster_spectra[k].sum():.6g}",
                    str(int(self.nearest_cluster[k])),
                    f"{self.bins[low]:g}–{self.bins[high]:g}",
                    f"{self.excess_significance[k]:.2f}",
                    f"{self.sideband_chi2_ndf[k]:.3g}",
                    f"{self.signal_to_background[k]:.3g}",
                    "yes" if self.selected[k] else "no",
                ]
            )
        return header, rows

    def __str__(self):
        low, high = float(self.bins[0]), float(self.bins[-1])
        selected = np.flatnonzero(self.selected).tolist()
        lines = [
            f"Anomaly search: {self.n_clusters} clusters, {len(selected)} signal-rich "
            f"(Z ≥ {self.threshold:g}, {self.statistic_name}): {selected}",
            f"{self.n_events} events in {self.bins.size - 1} bins over [{low:g}, {high:g}) "
            f"GeV, {self.n_outside} outside; inclusive S/B "
            f"{self.inclusive_signal_to_background:.3g}, signal fraction improvement "
            f"{self.signal_fraction_improvement:.3g}",
        ]
        lines.extend(text_table(*self._summary_rows()))
        return "\n".join(lines)

    def _repr_html_(self):
        header, rows = self._summary_rows()
        return html_table(str(self).splitlines()[:2], header, rows)

    def plot(self, ax=None, *, cluster=None):
        """m_jj spectrum of a cluster against its nearest-cluster background estimate.

        Parameters
        ----------
        ax : matplotlib Axes or sequence of two Axes, optional
            One Axes: the spectra (log scale). Two: the spectra and, below, the local
            significance of every bin. ``None`` creates a figure with both panels.
        cluster : int, optional
            Cluster to draw; defaults to :attr:`best_cluster`.

        Returns
        -------
        matplotlib.axes.Axes or ndarray of Axes
            What was drawn on (the two panels when ``ax`` is ``None``).
        """
        from ._plots import plot_anomaly_cluster

        return plot_anomaly_cluster(self, ax, cluster=cluster)
