"""Figures of a Cluster Scanning result (arXiv:2402.17714, Figs. 2–4).

The functions draw any object with the arrays of a ``ScanResult`` (duck typing): ``bins``,
``cluster_spectra``, ``normalized_spectra``, ``standardized_spectra``, ``selected``,
``signal_rich_spectrum``, ``background_estimate``, ``mls_members``, ``threshold``,
``statistic`` and ``n_members``.
:func:`plot_signal_vs_background` draws the object's ``hist.Hist`` views
(``to_hist("signal_rich")``, ``to_hist("background")``) with ``mplhep.histplot``.
"""

import numpy as np

from ..utils import import_optional
from ._style import new_axes, panel_axes

_MJJ_LABEL = r"$m_{jj}$ [GeV]"


def _centres(result):
    return 0.5 * (result.bins[1:] + result.bins[:-1])


def _cluster_styles(selected):
    """Clusters in drawing order (signal-rich last, on top) with their styles and labels.

    Only the first cluster of each kind carries a legend label.
    """
    labelled = set()
    for cluster in np.argsort(selected, kind="stable"):
        rich = bool(selected[cluster])
        label = "_nolegend_"
        if rich not in labelled:
            labelled.add(rich)
            label = "signal-rich clusters" if rich else "other clusters"
        yield (
            cluster,
            {
                "color": "tab:red" if rich else "0.6",
                "linewidth": 1.5 if rich else 0.8,
                "label": label,
            },
        )


def _member_label(result, member):
    return f"member {member + 1} of {result.n_members}"


def plot_cluster_spectra(result, *, member=0, normalized=True, ax=None):
    """Draw the m_jj spectrum of every cluster (Fig. 2), signal-rich ones in red.

    Parameters
    ----------
    result : ScanResult
        Or any object with its arrays (see the module docstring).
    member : int, default=0
        Ensemble member to draw.
    normalized : bool, default=True
        Draw n_{i,b} (unit sum per cluster) instead of the counts N_{i,b}.
    ax : matplotlib.axes.Axes, optional
        Where to draw; ``None`` creates a figure.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from hepcluster.plotting import plot_cluster_spectra
    >>> ax = plot_cluster_spectra(_toy_scan())
    >>> ax.get_xlabel(), len(ax.patches)
    ('$m_{jj}$ [GeV]', 3)
    """
    ax = new_axes(ax)
    spectra = (result.normalized_spectra if normalized else result.cluster_spectra)[member]
    selected = result.selected[member]
    for cluster, style in _cluster_styles(selected):
        ax.stairs(spectra[cluster], result.bins, **style)
    ax.set_xlabel(_MJJ_LABEL)
    ax.set_ylabel("fraction of the cluster's jets / bin" if normalized else "jets / bin")
    if not normalized:
        ax.set_yscale("log")
    ax.set_title(
        f"{spectra.shape[0]} clusters, {int(selected.sum())} signal-rich\n"
        f"({_member_label(result, member)})",
        fontsize="medium",
    )
    ax.legend()
    return ax


def plot_standardized_spectra(result, *, member=0, ax=None):
    r"""Draw the standardized spectra z_{i,b} with the threshold θ (Fig. 3).

    Parameters
    ----------
    result : ScanResult
        Or any object with its arrays (see the module docstring).
    member : int, default=0
        Ensemble member to draw.
    ax : matplotlib.axes.Axes, optional
        Where to draw; ``None`` creates a figure.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from hepcluster.plotting import plot_standardized_spectra
    >>> ax = plot_standardized_spectra(_toy_scan())
    >>> [text.get_text() for text in ax.get_legend().get_texts()]
    ['other clusters', 'signal-rich clusters', '$\\theta = 2$']
    """
    ax = new_axes(ax)
    centres = _centres(result)
    selected = result.selected[member]
    z = result.standardized_spectra[member]
    for cluster, style in _cluster_styles(selected):
        ax.plot(centres, z[cluster], marker="." if selected[cluster] else "", **style)
    ax.axhline(
        result.threshold, color="k", linestyle="--", label=rf"$\theta = {result.threshold:g}$"
    )
    ax.set_xlabel(_MJJ_LABEL)
    # on two lines: in one, it runs past the figure's lower edge in the three-panel figure
    ax.set_ylabel("standardized spectrum $z_{i,b}$\n[robust SDs]")
    ax.set_title(f"robust standardization\n({_member_label(result, member)})", fontsize="medium")
    ax.legend()
    return ax


def plot_signal_vs_background(result, *, member=0, ax=None):
    """Draw the signal-rich spectrum against the background estimate with its ±1σ band (Fig. 4).

    Both spectra are drawn from their ``hist.Hist`` views (``result.to_hist``) with
    ``mplhep.histplot``, so the band and the error bars are the histograms' variances
    (Σw² of the jets counted; for the background estimate scaled by the square of its
    normalisation).

    Parameters
    ----------
    result : ScanResult
        Or any object with its arrays and ``to_hist`` (see the module docstring).
    member : int, default=0
        Ensemble member to draw.
    ax : matplotlib.axes.Axes, optional
        Where to draw; ``None`` creates a figure.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from hepcluster.plotting import plot_signal_vs_background
    >>> ax = plot_signal_vs_background(_toy_scan())
    >>> ax.get_ylabel()
    'jets / bin'
    """
    mplhep = import_optional("mplhep", extra="plot")
    ax = new_axes(ax)
    background = result.to_hist("background", member=member)
    observed = result.to_hist("signal_rich", member=member)
    mplhep.histplot(
        background,
        ax=ax,
        histtype="step",
        yerr=False,
        color="tab:blue",
        label="background estimate",
    )
    mplhep.histplot(
        background,
        ax=ax,
        histtype="band",
        color="tab:blue",
        alpha=0.25,
        label="background ±1σ",
    )
    mplhep.histplot(observed, ax=ax, histtype="errorbar", color="k", label="signal-rich clusters")
    mls = result.mls_members[member]
    ax.set_title(
        f"local MLS {mls:.2f}σ in {_member_label(result, member)}\n"
        f"statistic (mean of {result.n_members}) {result.statistic:.2f}σ local",
        fontsize="medium",
    )
    ax.set_xlabel(_MJJ_LABEL)
    ax.set_ylabel("jets / bin")
    ax.legend()
    return ax


def plot_scan(result, *, member=0, ax=None):
    """Draw the three figures of a scan side by side (arXiv:2402.17714, Figs. 2–4).

    Parameters
    ----------
    result : ScanResult
        Or any object with its arrays (see the module docstring).
    member : int, default=0
        Ensemble member to draw.
    ax : sequence of 3 matplotlib.axes.Axes, optional
        Where to draw the cluster spectra, the standardized spectra and the signal-rich
        spectrum against the background estimate; ``None`` creates a figure.

    Returns
    -------
    ndarray of matplotlib.axes.Axes, shape (3,)

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from hepcluster.plotting import plot_scan
    >>> plot_scan(_toy_scan()).shape
    (3,)
    """
    panels = panel_axes(ax, 3, caller="plot_scan", figsize=(17, 5))
    plot_cluster_spectra(result, member=member, ax=panels[0])
    plot_standardized_spectra(result, member=member, ax=panels[1])
    plot_signal_vs_background(result, member=member, ax=panels[2])
    return panels


def _toy_scan():
    """A tiny scan-result-like object for the examples (3 clusters, 4 bins, 1 member)."""
    from types import SimpleNamespace

    from ..utils._hist import mjj_axis, weighted_hist

    spectra = np.array([[[5.0, 4.0, 3.0, 2.0], [6.0, 5.0, 3.0, 1.0], [1.0, 1.0, 6.0, 1.0]]])
    normalized = spectra / spectra.sum(axis=2, keepdims=True)
    mean, std = normalized.mean(axis=1), normalized.std(axis=1)
    toy = SimpleNamespace(
        bins=np.array([3000.0, 3400.0, 3800.0, 4200.0, 4600.0]),
        cluster_spectra=spectra,
        normalized_spectra=normalized,
        standardized_spectra=(normalized - mean[:, None]) / std[:, None],
        selected=np.array([[False, False, True]]),
        signal_rich_spectrum=spectra[:, 2],
        background_estimate=spectra[:, :2].sum(axis=1) * 9.0 / 27.0,
        mls_members=np.array([2.5]),
        statistic=2.5,
        threshold=2.0,
        n_members=1,
    )
    variances = {
        "signal_rich": toy.signal_rich_spectrum[0],
        "background": (9.0 / 27.0) ** 2 * spectra[0, :2].sum(axis=0),
    }
    values = {"signal_rich": toy.signal_rich_spectrum[0], "background": toy.background_estimate[0]}

    def to_hist(spectrum, *, member=0):
        return weighted_hist(
            [mjj_axis(toy.bins)],
            values[spectrum],
            variances[spectrum],
            name=spectrum,
            label="jets",
        )

    toy.to_hist = to_hist
    return toy
