"""ScanResult: everything one Cluster Scanning pass produced, for tables and figures."""

from dataclasses import dataclass, field

import numpy as np

from ..utils._results import ResultIO


@dataclass(eq=False)
class ScanResult(ResultIO):
    """Result of :meth:`ClusterScanner.scan`, one entry per ensemble member.

    Attributes
    ----------
    bins : ndarray of shape (n_bins + 1,)
        m_jj bin edges of the evaluation region in GeV.
    cluster_spectra : ndarray of shape (n_members, n_clusters, n_bins)
        Weighted m_jj histograms N_{i,b} of the jets of every cluster.
    normalised_spectra : ndarray of shape (n_members, n_clusters, n_bins)
        n_{i,b} = N_{i,b} / Σ_b N_{i,b}.
    robust_mean, robust_std : ndarray of shape (n_members, n_bins)
        Outlier-robust per-bin mean μ̃_b and SD σ̃_b of n_{i,b} over the clusters.
    standardised_spectra : ndarray of shape (n_members, n_clusters, n_bins)
        z_{i,b} = (n_{i,b} − μ̃_b) / σ̃_b.
    selected : ndarray of shape (n_members, n_clusters), bool
        Signal-rich clusters, max_b z_{i,b} > θ.
    signal_rich_spectrum : ndarray of shape (n_members, n_bins)
        N_{sig+bkg,b}, the summed spectra of the selected clusters.
    background_estimate : ndarray of shape (n_members, n_bins)
        N_{bkg,b}: the summed spectra of the other clusters, scaled to the same total.
    local_significance : ndarray of shape (n_members, n_bins)
        Z_b of the excess (0 where there is none, no cluster is selected or the bin
        cannot be tested).
    untestable_bins : ndarray of shape (n_members, n_bins), bool
        Bins of a member with selected clusters whose background estimate is at most
        ``min_background`` (by default: zero, every jet of the bin sits in a signal-rich
        cluster). A Poisson p-value there would be 0 and Z infinite, so these bins are
        excluded from the maximum (Z_b = 0) and counted here.
    mls_members : ndarray of shape (n_members,)
        Maximum local significance of each member.
    statistic : float
        The test statistic, the mean MLS over the ensemble.
    statistic_name : str
        Local-significance definition ("poisson", "poisson-midp" or "gaussian").
    threshold : float
        θ used for the selection.
    n_jets : int
        Jets inside the evaluation region.
    n_outside : int
        Jets outside the evaluation region (not used; reported, never dropped silently).
    metadata : dict
        Anything else worth keeping (estimator parameters).
    """

    _ARRAY_FIELDS = (
        "bins",
        "cluster_spectra",
        "normalised_spectra",
        "robust_mean",
        "robust_std",
        "standardised_spectra",
        "selected",
        "signal_rich_spectrum",
        "background_estimate",
        "local_significance",
        "untestable_bins",
        "mls_members",
    )

    bins: np.ndarray
    cluster_spectra: np.ndarray
    normalised_spectra: np.ndarray
    robust_mean: np.ndarray
    robust_std: np.ndarray
    standardised_spectra: np.ndarray
    selected: np.ndarray
    signal_rich_spectrum: np.ndarray
    background_estimate: np.ndarray
    local_significance: np.ndarray
    untestable_bins: np.ndarray
    mls_members: np.ndarray
    statistic: float
    statistic_name: str
    threshold: float
    n_jets: int
    n_outside: int
    metadata: dict = field(default_factory=dict)

    @property
    def n_members(self):
        """Number of ensemble members."""
        return self.cluster_spectra.shape[0]

    @property
    def n_untestable(self):
        """Number of bins of each member excluded from the test (no background estimate)."""
        return self.untestable_bins.sum(axis=1)

    @property
    def n_selected(self):
        """Number of signal-rich clusters of each member."""
        return self.selected.sum(axis=1)

    def __repr__(self):
        return (
            f"ScanResult(statistic={self.statistic:.3f} ({self.statistic_name} MLS, "
            f"mean of {self.n_members}, local), n_selected={self.n_selected.tolist()}, "
            f"n_untestable_bins={self.n_untestable.tolist()}, "
            f"n_jets={self.n_jets}, n_outside={self.n_outside})"
        )

    def plot(self, member=0, axes=None):
        """Draw the three figures of a scan (arXiv:2402.17714, Figs. 2–4) side by side.

        Parameters
        ----------
        member : int, default=0
            Ensemble member to draw.
        axes : sequence of 3 matplotlib axes, optional

        Returns
        -------
        ndarray of matplotlib.axes.Axes
        """
        from ..plotting import (
            plot_cluster_spectra,
            plot_signal_vs_background,
            plot_standardised_spectra,
        )
        from ..plotting._style import pyplot

        if axes is None:
            _, axes = pyplot().subplots(1, 3, figsize=(17, 5))
        plot_cluster_spectra(self, member=member, ax=axes[0])
        plot_standardised_spectra(self, member=member, ax=axes[1])
        plot_signal_vs_background(self, member=member, ax=axes[2])
        return np.asarray(axes)
