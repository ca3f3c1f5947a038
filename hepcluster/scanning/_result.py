"""ScanResult: everything one Cluster Scanning pass produced, for tables and figures."""

from dataclasses import dataclass, field

import numpy as np

from ..utils._results import ResultIO, html_table, text_table


@dataclass(eq=False)
class ScanResult(ResultIO):
    """Result of :meth:`~hepcluster.ClusterScanner.scan`, one entry per ensemble member.

    Attributes
    ----------
    bins : ndarray of shape (n_bins + 1,)
        m_jj bin edges of the evaluation region in GeV.
    cluster_spectra : ndarray of shape (n_members, n_clusters, n_bins)
        Weighted m_jj histograms N_{i,b} of the jets of every cluster.
    normalized_spectra : ndarray of shape (n_members, n_clusters, n_bins)
        n_{i,b} = N_{i,b} / Σ_b N_{i,b}.
    robust_mean, robust_std : ndarray of shape (n_members, n_bins)
        Outlier-robust per-bin mean μ̃_b and SD σ̃_b of n_{i,b} over the clusters.
    standardized_spectra : ndarray of shape (n_members, n_clusters, n_bins)
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
    cluster_sumw2 : ndarray of shape (n_members, n_clusters, n_bins) or None
        Σw² of the jets of every cluster and bin, the variances of
        ``cluster_spectra`` (equal to them for unit weights); ``None`` where the
        scan did not keep them.
    cluster_signal, cluster_background : ndarray of shape (n_members, n_clusters) or None
        Weighted signal and background jets of every cluster inside the scanned bins,
        each jet counted in its k-means cluster (also for an idealized scan, whose
        spectra redistribute the background jets); kept when
        :meth:`~hepcluster.ClusterScanner.scan`
        is given the truth labels ``is_signal``, ``None`` otherwise. They give
        :meth:`signal_to_background` and :meth:`signal_fraction_improvement`.

    Notes
    -----
    Saving and loading go through ``ResultIO``
    (:meth:`save`, :meth:`load`, :meth:`to_dict`, :meth:`from_dict`).

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
    cluster_signal: np.ndarray = None
    cluster_background: np.ndarray = None

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

    def signal_to_background(self):
        """S/B of the jets in the selected (signal-rich) clusters of each member.

        Counted as ``cluster_signal`` and ``cluster_background``: inside the
        scanned bins, each jet in its k-means cluster.

        Returns
        -------
        ndarray of shape (n_members,)
            S_sel / B_sel; ``inf`` where the selection holds signal and no background, and
            0 where the member selects no cluster (see
            :meth:`signal_fraction_improvement` for that convention).

        Raises
        ------
        ValueError
            If the scan was run without the truth labels ``is_signal``.
        """
        signal, background = self._truth_counts()
        selected = np.asarray(self.selected, dtype=bool)
        s_sel = np.where(selected, signal, 0.0).sum(axis=1)
        b_sel = np.where(selected, background, 0.0).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(b_sel > 0, s_sel / b_sel, np.where(s_sel > 0, np.inf, 0.0))
        return ratio

    def signal_fraction_improvement(self):
        r"""Signal fraction improvement of the selected clusters of each member.

        .. math::

            \mathrm{SFI} = \frac{S_\mathrm{sel} / B_\mathrm{sel}}{S / B}

        with S and B the weighted signal and background jets inside the scanned bins and
        S_sel, B_sel those of the signal-rich clusters (arXiv:2402.17714, App. C), each
        jet counted in its k-means cluster. This is the one SFI of a scan: the command
        line's summary and :class:`~hepcluster.metrics.SignalFractionScorer` both read it.

        Returns
        -------
        ndarray of shape (n_members,)
            SFI ≥ 0; ``inf`` where the selection holds signal and no background.

        Raises
        ------
        ValueError
            If the scan was run without the truth labels ``is_signal``, or no signal jet
            (of positive weight) lies inside the scanned bins: SFI is then undefined.

        Notes
        -----
        **A member that selects no cluster has SFI = 0.** Its selection holds no signal
        (S_sel = 0), like a selection of background jets only, whose SFI is 0; and the
        member found nothing, its MLS is 0 by definition, so the SFI agrees with the test
        statistic that the search reports no signal-rich cluster. The other candidate,
        SFI = 1 ("the sample as it is"), would describe a selection of every jet, which
        is not what an empty selection keeps, and would rank a search that selects
        nothing above one whose selection is merely diluted (SFI < 1) — when tuning with
        :class:`~hepcluster.metrics.SignalFractionScorer`, a threshold too high to select
        anything would look better than a working one. The same convention holds in
        :func:`hepcluster.metrics.signal_fraction_improvement` for an empty selection.

        Examples
        --------
        >>> import numpy as np
        >>> from hepcluster import ClusterScanner
        >>> rng = np.random.default_rng(0)
        >>> is_signal = rng.random(4000) < 0.1
        >>> X = rng.normal(size=(4000, 2)) + 4.0 * is_signal[:, None]
        >>> mjj = np.where(is_signal, rng.normal(3250.0, 20.0, 4000),
        ...                rng.uniform(3000.0, 3400.0, 4000))
        >>> scanner = ClusterScanner(n_clusters=6, bins=(3000, 3100, 3200, 3300, 3400),
        ...                          n_ensemble=2, random_state=0).fit(X, mjj)
        >>> sfi = scanner.scan(X, mjj, is_signal=is_signal).signal_fraction_improvement()
        >>> sfi.shape, bool(np.all(sfi > 1.0))
        ((2,), True)
        """
        signal, background = self._truth_counts()
        s_all, b_all = signal.sum(axis=1), background.sum(axis=1)
        if not np.all(s_all > 0):
            raise ValueError(
                "no signal jet lies inside the scanned bins: the signal fraction "
                "improvement is undefined."
            )
        with np.errstate(divide="ignore"):
            overall = np.where(b_all > 0, s_all / b_all, np.inf)
        return self.signal_to_background() / overall

    def _truth_counts(self):
        if self.cluster_signal is None or self.cluster_background is None:
            raise ValueError(
                "the scan was run without truth labels: pass is_signal to "
                "ClusterScanner.scan to count the signal of the selected clusters."
            )
        return (
            np.asarray(self.cluster_signal, dtype=np.float64),
            np.asarray(self.cluster_background, dtype=np.float64),
        )

    def __repr__(self):
        return (
            f"ScanResult(statistic={self.statistic:.3f} ({self.statistic_name} MLS, "
            f"mean of {self.n_members}, local), n_selected={self.n_selected.tolist()}, "
            f"n_untestable_bins={self.n_untestable.tolist()}, "
            f"n_jets={self.n_jets}, n_outside={self.n_outside})"
        )

    def _summary_rows(self):
        """(header, rows) of the per-member table of :meth:`__str__` and the HTML view."""
        header = ["member", "MLS", "selected", "untestable bins"]
        sfi = None
        if self.cluster_signal is not None and self.cluster_background is not None:
            try:
                sfi = self.signal_fraction_improvement()
                header.append("SFI")
            except ValueError:
                sfi = None
        rows = []
        for member in range(self.n_members):
            row = [
                str(member),
                f"{self.mls_members[member]:.3f}",
                str(int(self.n_selected[member])),
                str(int(self.n_untestable[member])),
            ]
            if sfi is not None:
                row.append(f"{sfi[member]:.3g}")
            rows.append(row)
        return header, rows

    def __str__(self):
        low, high = float(self.bins[0]), float(self.bins[-1])
        lines = [
            f"Cluster Scanning: {self.statistic_name} MLS {self.statistic:.3f} "
            f"(mean of {self.n_members} members, local significance), θ = {self.threshold:g}",
            f"{self.n_jets} jets in {self.bins.size - 1} bins over [{low:g}, {high:g}) GeV, "
            f"{self.n_outside} outside",
        ]
        lines.extend(text_table(*self._summary_rows()))
        return "\n".join(lines)

    def _repr_html_(self):
        header, rows = self._summary_rows()
        return html_table(str(self).splitlines()[0], header, rows)

    def to_hist(self, spectrum="signal_rich", *, member=0):
        """One m_jj spectrum of the scan as a ``hist.Hist`` (needs the ``hist`` extra).

        The histogram has ``Weight`` storage and an m_jj axis named ``"mjj"`` (label
        ``"m_jj [GeV]"``) over ``bins``, without flow bins (jets outside the region are
        counted in ``n_outside``). It follows the UHI ``PlottableHistogram`` protocol:
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
            weights Σw² of the jets counted (``cluster_sumw2``; for unit weights the
            Poisson variance N): summed over the selected clusters for the signal-rich
            spectrum, and s² Σw²_poor,b for the background estimate N_bkg,b = s N_poor,b,
            with the normalisation s = ΣN_sig+bkg / ΣN_poor taken as exact. A result
            without ``cluster_sumw2`` has the variances of unit weights.

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

    def plot(self, ax=None, *, member=0):
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

        Returns
        -------
        ndarray of matplotlib.axes.Axes, shape (3,)
        """
        from ..plotting import plot_scan  # function-local: plotting is optional, lies below

        return np.asarray(plot_scan(self, member=member, ax=ax))
