"""ScanResult: everything one Cluster Scanning pass produced, for tables and figures."""

import warnings
from dataclasses import dataclass, field
from numbers import Integral

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
    normalized_spectra : ndarray of shape (n_members, n_clusters, n_bins)
        n_{i,b} = N_{i,b} / Σ_b N_{i,b} (``normalised_spectra``: deprecated alias).
    robust_mean, robust_std : ndarray of shape (n_members, n_bins)
        Outlier-robust per-bin mean μ̃_b and SD σ̃_b of n_{i,b} over the clusters.
    standardized_spectra : ndarray of shape (n_members, n_clusters, n_bins)
        z_{i,b} = (n_{i,b} − μ̃_b) / σ̃_b (``standardised_spectra``: deprecated alias).
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
    cluster_sumw2 : ndarray of shape (n_members, n_clusters, n_bins) or None
        Σw² of the jets of every cluster and bin, the variances of
        :attr:`cluster_spectra` (equal to them for unit weights); ``None`` where the
        scan did not keep them.

    Notes
    -----
    Saving and loading go through :class:`~hepcluster.utils._results.ResultIO`
    (:meth:`save`, :meth:`load`, :meth:`to_dict`, :meth:`from_dict`); files and dicts
    written with the British field names ``normalised_spectra`` and
    ``standardised_spectra`` of earlier versions still load.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster import ClusterScanner
    >>> rng = np.random.default_rng(0)
    >>> X, mjj = rng.normal(size=(2000, 3)), rng.uniform(3000.0, 3300.0, size=2000)
    >>> result = ClusterScanner(n_clusters=6, bins=(3000, 3100, 3200, 3300),
    ...                         n_ensemble=2, random_state=0).fit(X, mjj).scan(X, mjj)
    >>> result.standardized_spectra.shape
    (2, 6, 3)
    >>> result.n_selected.shape
    (2,)
    """

    _ARRAY_FIELDS = (
        "bins",
        "cluster_spectra",
        "normalized_spectra",
        "robust_mean",
        "robust_std",
        "standardized_spectra",
        "selected",
        "signal_rich_spectrum",
        "background_estimate",
        "local_significance",
        "untestable_bins",
        "mls_members",
    )

    bins: np.ndarray
    cluster_spectra: np.ndarray
    normalized_spectra: np.ndarray
    robust_mean: np.ndarray
    robust_std: np.ndarray
    standardized_spectra: np.ndarray
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
    cluster_sumw2: np.ndarray = None

    @classmethod
    def _from_io_fields(cls, values):
        """Rebuild a result, renaming the British field names of earlier versions."""
        values = dict(values)
        for old, new in _RENAMED.items():
            if old in values:
                old_value = values.pop(old)
                values.setdefault(new, old_value)
        return cls(**values)

    @property
    def normalised_spectra(self):
        """Deprecated alias of :attr:`normalized_spectra` (warns ``FutureWarning``)."""
        _warn_renamed("normalised_spectra")
        return self.normalized_spectra

    @property
    def standardised_spectra(self):
        """Deprecated alias of :attr:`standardized_spectra` (warns ``FutureWarning``)."""
        _warn_renamed("standardised_spectra")
        return self.standardized_spectra

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

    def to_hist(self, spectrum="signal_rich", *, member=0):
        """One m_jj spectrum of the scan as a ``hist.Hist`` (needs the ``hist`` extra).

        The histogram has ``Weight`` storage and an m_jj axis named ``"mjj"`` (label
        ``"m_jj [GeV]"``) over :attr:`bins`, without flow bins (jets outside the region are
        counted in :attr:`n_outside`). It follows the UHI ``PlottableHistogram`` protocol:
        ``mplhep.histplot(result.to_hist())`` draws it with its errors.

        Parameters
        ----------
        spectrum : {"signal_rich", "background", "clusters"}, default="signal_rich"
            ``"signal_rich"``: N_sig+bkg,b; ``"background"``: the background estimate
            N_bkg,b; ``"clusters"``: every cluster's N_{i,b}, a 2-D histogram with an
            integer ``"cluster"`` axis first.
        member : int, default=0
            Ensemble member.

        Returns
        -------
        hist.Hist
            ``values()`` are the arrays of the result, ``variances()`` the sums of squared
            weights Σw² of the jets counted (:attr:`cluster_sumw2`; for unit weights the
            Poisson variance N): summed over the selected clusters for the signal-rich
            spectrum, and s² Σw²_poor,b for the background estimate N_bkg,b = s N_poor,b,
            with the normalisation s = ΣN_sig+bkg / ΣN_poor taken as exact. A result
            without :attr:`cluster_sumw2` has the variances of unit weights.

        Raises
        ------
        ImportError
            Without hist: ``pip install "hepcluster[hist]"``.

        Examples
        --------
        >>> import numpy as np, pytest
        >>> _ = pytest.importorskip("hist")
        >>> from hepcluster import ClusterScanner
        >>> rng = np.random.default_rng(0)
        >>> X, mjj = rng.normal(size=(2000, 3)), rng.uniform(3000.0, 3300.0, size=2000)
        >>> result = ClusterScanner(n_clusters=6, bins=(3000, 3100, 3200, 3300),
        ...                         n_ensemble=2, random_state=0).fit(X, mjj).scan(X, mjj)
        >>> h = result.to_hist("clusters", member=1)
        >>> h.axes.name, h.shape
        (('cluster', 'mjj'), (6, 3))
        >>> bool((h.values() == result.cluster_spectra[1]).all())
        True
        """
        from ..utils._hist import hist_module, mjj_axis, weighted_hist

        member = int(member)
        spectra = self.cluster_spectra[member]
        sumw2 = spectra if self.cluster_sumw2 is None else self.cluster_sumw2[member]
        selected = self.selected[member]
        if spectrum == "clusters":
            cluster = hist_module().axis.Integer(
                0, spectra.shape[0], name="cluster", label="cluster", flow=False
            )
            return weighted_hist(
                [cluster, mjj_axis(self.bins)],
                spectra,
                sumw2,
                name="cluster_spectra",
                label="jets",
            )
        if spectrum == "signal_rich":
            return weighted_hist(
                [mjj_axis(self.bins)],
                self.signal_rich_spectrum[member],
                sumw2[selected].sum(axis=0),
                name="signal_rich",
                label="jets",
            )
        if spectrum == "background":
            total = spectra[~selected].sum()
            scale = self.signal_rich_spectrum[member].sum() / total if total > 0 else 0.0
            return weighted_hist(
                [mjj_axis(self.bins)],
                self.background_estimate[member],
                scale**2 * sumw2[~selected].sum(axis=0),
                name="background_estimate",
                label="jets",
            )
        raise ValueError(
            f"spectrum must be 'signal_rich', 'background' or 'clusters', got {spectrum!r}."
        )

    def to_dataframe(self):
        """The per-bin table of the scan as a :class:`pandas.DataFrame`, one row per bin.

        Returns
        -------
        pandas.DataFrame
            Columns ``member``, ``mjj_low``, ``mjj_high`` (GeV), ``signal_rich``,
            ``background``, ``local_significance``, ``untestable``, ``n_selected`` and
            ``mls`` (of the member), for every ensemble member; ``to_csv`` writes it.

        Examples
        --------
        >>> import numpy as np
        >>> from hepcluster import ClusterScanner
        >>> rng = np.random.default_rng(0)
        >>> X, mjj = rng.normal(size=(2000, 3)), rng.uniform(3000.0, 3300.0, size=2000)
        >>> result = ClusterScanner(n_clusters=6, bins=(3000, 3100, 3200, 3300),
        ...                         n_ensemble=2, random_state=0).fit(X, mjj).scan(X, mjj)
        >>> result.to_dataframe().shape
        (6, 9)
        """
        import pandas as pd

        n_members, n_bins = self.signal_rich_spectrum.shape
        member = np.repeat(np.arange(n_members), n_bins)
        return pd.DataFrame(
            {
                "member": member,
                "mjj_low": np.tile(self.bins[:-1], n_members),
                "mjj_high": np.tile(self.bins[1:], n_members),
                "signal_rich": self.signal_rich_spectrum.ravel(),
                "background": self.background_estimate.ravel(),
                "local_significance": self.local_significance.ravel(),
                "untestable": self.untestable_bins.ravel(),
                "n_selected": self.n_selected[member],
                "mls": self.mls_members[member],
            }
        )

    def plot(self, ax=None, *, member=0, axes=None):
        """Draw the three figures of a scan (arXiv:2402.17714, Figs. 2–4) side by side.

        The cluster spectra, the standardized spectra with θ and the signal-rich spectrum
        against the background estimate (:mod:`hepcluster.plotting`, imported here, so
        matplotlib is needed only to draw).

        Parameters
        ----------
        ax : sequence of 3 matplotlib.axes.Axes, optional
            Where to draw the three panels; ``None`` creates a figure.
        member : int, default=0
            Ensemble member to draw.
        axes : sequence of 3 matplotlib.axes.Axes, optional
            Deprecated alias of ``ax`` (warns ``FutureWarning``).

        Returns
        -------
        ndarray of matplotlib.axes.Axes, shape (3,)
        """
        if isinstance(ax, Integral) and not isinstance(ax, bool):
            warnings.warn(
                "ScanResult.plot(member) with the member as the first positional argument "
                "is deprecated; use plot(member=...) (the first argument is now ax).",
                FutureWarning,
                stacklevel=2,
            )
            ax, member = None, int(ax)
        if axes is not None:
            if ax is not None:
                raise TypeError("pass the axes as ax= only (axes= is its deprecated alias).")
            warnings.warn(
                "ScanResult.plot(axes=...) is deprecated; use ax=...",
                FutureWarning,
                stacklevel=2,
            )
            ax = axes
        from ..plotting import plot_scan  # function-local: plotting is optional, lies below

        return np.asarray(plot_scan(self, member=member, ax=ax))


_RENAMED = {
    "normalised_spectra": "normalized_spectra",
    "standardised_spectra": "standardized_spectra",
}


def _warn_renamed(old):
    warnings.warn(
        f"ScanResult.{old} is deprecated and will be removed in a future version; use "
        f"ScanResult.{_RENAMED[old]} (US spelling).",
        FutureWarning,
        stacklevel=3,
    )
