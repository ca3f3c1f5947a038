"""Figures of calibrations: significance against injected signal, improvement over a fit."""

import numpy as np

from ._style import new_axes

_X_LABELS = {"n_signal": "injected signal events", "s_over_b": "S / B"}


def plot_significance_curves(results, *, x="n_signal", ax=None):
    """Median global significance with its quartiles against the injected signal (Fig. 5).

    Parameters
    ----------
    results : sequence of CalibrationResult
        Methods to compare, each drawn with its ``name``.
    x : {"n_signal", "s_over_b"}, default="n_signal"
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    if x not in _X_LABELS:
        raise ValueError(f"x must be one of {sorted(_X_LABELS)}, got {x!r}.")
    ax = new_axes(ax)
    for result in results:
        abscissa = result.signal_injections if x == "n_signal" else result.s_over_b
        q25, median, q75 = result.significance_quantiles()
        (line,) = ax.plot(abscissa, median, marker="o", label=result.name)
        ax.fill_between(abscissa, q25, q75, color=line.get_color(), alpha=0.25)
    limit = min(result.max_significance for result in results)
    ax.axhline(limit, color="0.5", linestyle=":", label=f"null-sample limit ({limit:.2f}σ)")
    ax.set_xlabel(_X_LABELS[x])
    ax.set_ylabel("global significance [σ]")
    ax.legend()
    return ax


def plot_significance_improvement(result, reference, *, x="n_signal", ax=None):
    """Significance improvement Z / Z_reference per injection level (Fig. 10).

    Parameters
    ----------
    result, reference : CalibrationResult
        The method and its baseline (e.g. Cluster Scanning and the dijet fit).
    x : {"n_signal", "s_over_b"}, default="n_signal"
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = new_axes(ax)
    abscissa = result.signal_injections if x == "n_signal" else result.s_over_b
    ax.plot(
        abscissa,
        result.significance_improvement(reference),
        marker="o",
        label=f"{result.name} / {reference.name}",
    )
    ax.axhline(1.0, color="0.5", linestyle=":")
    ax.set_xlabel(_X_LABELS[x])
    ax.set_ylabel("significance improvement")
    ax.legend()
    return ax


def plot_null_distribution(result, *, bins=30, ax=None):
    """Histogram of the background-only test statistics with the injected medians.

    Parameters
    ----------
    result : CalibrationResult
    bins : int, default=30
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = new_axes(ax)
    ax.hist(
        result.null_statistics,
        bins=bins,
        histtype="step",
        color="k",
        label=f"background only ({result.n_null})",
    )
    for level, statistics in zip(
        result.signal_injections, result.injected_statistics, strict=True
    ):
        ax.axvline(np.median(statistics), linestyle="--", label=f"median, {int(level)} signal")
    ax.set_xlabel("test statistic")
    ax.set_ylabel("pseudo-experiments")
    ax.legend()
    return ax
