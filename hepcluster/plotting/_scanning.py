"""Figures of a Cluster Scanning result (arXiv:2402.17714, Figs. 2–4)."""

import numpy as np

from ._style import new_axes

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


def plot_cluster_spectra(result, *, member=0, normalised=True, ax=None):
    """Draw the m_jj spectrum of every cluster (Fig. 2), signal-rich ones in red.

    Parameters
    ----------
    result : ScanResult
    member : int, default=0
        Ensemble member to draw.
    normalised : bool, default=True
        Draw n_{i,b} (unit sum per cluster) instead of the counts N_{i,b}.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = new_axes(ax)
    spectra = (result.normalised_spectra if normalised else result.cluster_spectra)[member]
    selected = result.selected[member]
    for cluster, style in _cluster_styles(selected):
        ax.stairs(spectra[cluster], result.bins, **style)
    ax.set_xlabel(_MJJ_LABEL)
    ax.set_ylabel("normalised cluster spectrum" if normalised else "jets / bin")
    if not normalised:
        ax.set_yscale("log")
    ax.set_title(
        f"{spectra.shape[0]} clusters, {int(selected.sum())} signal-rich\n"
        f"({_member_label(result, member)})",
        fontsize="medium",
    )
    ax.legend()
    return ax


def plot_standardised_spectra(result, *, member=0, ax=None):
    """Draw the standardised spectra z_{i,b} with the threshold θ (Fig. 3).

    Parameters
    ----------
    result : ScanResult
    member : int, default=0
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = new_axes(ax)
    centres = _centres(result)
    selected = result.selected[member]
    z = result.standardised_spectra[member]
    for cluster, style in _cluster_styles(selected):
        ax.plot(centres, z[cluster], marker="." if selected[cluster] else "", **style)
    ax.axhline(
        result.threshold, color="k", linestyle="--", label=rf"$\theta = {result.threshold:g}$"
    )
    ax.set_xlabel(_MJJ_LABEL)
    ax.set_ylabel("standardised spectrum $z_{i,b}$")
    ax.set_title(f"robust standardisation\n({_member_label(result, member)})", fontsize="medium")
    ax.legend()
    return ax


def plot_signal_vs_background(result, *, member=0, ax=None):
    """Draw the signal-rich spectrum against the background estimate with a √N band (Fig. 4).

    Parameters
    ----------
    result : ScanResult
    member : int, default=0
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = new_axes(ax)
    centres = _centres(result)
    observed = result.signal_rich_spectrum[member]
    background = result.background_estimate[member]
    ax.stairs(background, result.bins, color="tab:blue", label="background estimate")
    band = np.sqrt(background)
    ax.fill_between(
        result.bins,
        np.append(background - band, background[-1] - band[-1]),
        np.append(background + band, background[-1] + band[-1]),
        step="post",
        color="tab:blue",
        alpha=0.25,
        label="± √N",
    )
    ax.errorbar(
        centres, observed, yerr=np.sqrt(observed), fmt="o", color="k", label="signal-rich clusters"
    )
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
