"""Figures of calibrations: significance against injected signal, improvement over a fit.

Every point says what kind of number it is: computed values are filled markers with
their 68 % interval, extrapolated ones (tail model of the null distribution) open
markers with a dashed interval, bounds arrows pointing the way the truth may lie.
"""

import numpy as np

from ..utils import import_optional
from ._style import new_axes

_X_LABELS = {"n_signal": "injected signal events", "s_over_b": "injected S / B"}
_LINE_STYLES = ("-", "--", "-.", ":")
_MARKERS = ("o", "s", "D", "^", "v")


def _abscissa(result, x):
    if x not in _X_LABELS:
        raise ValueError(f"x must be one of {sorted(_X_LABELS)}, got {x!r}.")
    return np.asarray(result.signal_injections if x == "n_signal" else result.s_over_b)


_EMPIRICAL = "empirical"
_TAIL_END = "tail end"
_RATIO = "ratio"
_BOUND_MARKERS = {_EMPIRICAL: "_", _TAIL_END: "^", _RATIO: "_"}
_BOUND_LABELS = {
    _EMPIRICAL: "lower bound: empirical limit\n(no null toy beyond)",
    _TAIL_END: "lower bound: tail model's end point\n(the fitted tail ends there)",
    _RATIO: "lower bound\n(a median that is only a bound)",
    "upper bound": "upper bound",
}


def _bound_sources(result, estimate):
    """Where each lower bound comes from: the null sample's own limit or the tail model.

    A lower bound at or below Φ⁻¹(1 − max(n_failed, 1)/N_tot) is the empirical one (no null
    pseudo-experiment reaches the statistic); a larger one is the end point of a bounded
    generalised-Pareto tail model. ``result=None`` (ratios of two methods): the bounds
    come from a median that is only a bound.
    """
    value = np.asarray(estimate.value, dtype=np.float64)
    if result is None:
        return np.full(value.shape, _RATIO, dtype=object)
    from scipy import stats

    empirical = stats.norm.isf(max(result.n_failed_null, 1) / max(result.n_null, 1))
    # a tail end point is never below the empirical limit (medians between a computed
    # value and the empirical limit are bounds that rest on the empirical limit)
    return np.where(value <= empirical + 1e-9, _EMPIRICAL, _TAIL_END)


def _draw_estimates(ax, abscissa, estimate, *, color, marker, linestyle, label, result=None):
    """A curve of Estimate values: intervals, bounds as arrows, extrapolations open.

    The line joins determined values only; bounds stand alone as arrows (a bound is no
    point of a curve), with a marker that says where the bound comes from.

    Returns
    -------
    set of str
        The kinds of bound drawn (for the legend).
    """
    value = np.asarray(estimate.value, dtype=np.float64)
    kinds = np.asarray(estimate.kind)
    shown = np.isfinite(value) & (kinds != "undetermined")
    bound = np.isin(kinds, ["lower bound", "upper bound"])
    joined = np.where(shown & ~bound, value, np.nan)  # NaN breaks the line
    ax.plot(abscissa, joined, color=color, linestyle=linestyle, label=label)
    for kind, face, style in (("computed", color, "-"), ("extrapolated", "none", "--")):
        chosen = shown & (kinds == kind)
        if not chosen.any():
            continue
        low = np.clip(value[chosen] - estimate.low[chosen], 0.0, None)
        high = np.clip(estimate.high[chosen] - value[chosen], 0.0, None)
        high = np.where(np.isfinite(high), high, 0.0)
        low = np.where(np.isfinite(low), low, 0.0)
        _, _, bars = ax.errorbar(
            abscissa[chosen],
            value[chosen],
            yerr=[low, high],
            fmt=marker,
            color=color,
            markerfacecolor=face,
            capsize=3,
            linestyle="none",
        )
        for bar in bars:
            bar.set_linestyle(style)
    span = np.nanmax(np.abs(value[shown])) if shown.any() else 1.0
    sources = _bound_sources(result, estimate)
    drawn = set()
    for kind, sign in (("lower bound", 1.0), ("upper bound", -1.0)):
        for source in (_EMPIRICAL, _TAIL_END, _RATIO):
            chosen = shown & (kinds == kind) & (sources == source)
            if not chosen.any():
                continue
            ax.errorbar(
                abscissa[chosen],
                value[chosen],
                yerr=0.12 * span,
                lolims=sign > 0,
                uplims=sign < 0,
                fmt=_BOUND_MARKERS[source],
                markersize=12 if source == _EMPIRICAL else 7,
                markerfacecolor="none",
                color=color,
                linestyle="none",
            )
            drawn.add(source if kind == "lower bound" else "upper bound")
    return drawn


def _kind_legend_entries(ax, bounds=(_EMPIRICAL,)):
    from matplotlib.lines import Line2D

    handles, labels = ax.get_legend_handles_labels()
    previous = ax.get_legend()
    if previous is not None:
        # keep the kind entries an earlier call on these axes put in its legend
        handles = handles + list(previous.legend_handles)
        labels = labels + [text.get_text() for text in previous.get_texts()]
    handles += [
        Line2D([], [], marker="o", color="0.3", linestyle="none"),
        Line2D([], [], marker="o", color="0.3", markerfacecolor="none", linestyle="none"),
    ]
    labels += ["computed (68 % interval)", "extrapolated (tail model, 68 % interval)"]
    for source in (_EMPIRICAL, _TAIL_END, _RATIO, "upper bound"):
        if source not in bounds:
            continue
        arrow = r"$\downarrow$" if source == "upper bound" else r"$\uparrow$"
        handles.append(Line2D([], [], marker=arrow, color="0.3", markersize=12, linestyle="none"))
        if source == _TAIL_END:
            handles[-1] = (
                handles[-1],
                Line2D([], [], marker="^", color="0.3", markerfacecolor="none", linestyle="none"),
            )
        labels.append(_BOUND_LABELS[source])
    # one entry per label: several methods drawn on one axes share the kind entries
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(list(unique.values()), list(unique), fontsize="x-small", loc="best", framealpha=0.85)


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
    ax = new_axes(ax)
    bounds = set()
    for index, result in enumerate(results):
        abscissa = _abscissa(result, x)
        quantiles = result.quantile_estimates()
        (line,) = ax.plot([], [])
        color = line.get_color()
        line.remove()
        ax.fill_between(
            abscissa,
            quantiles.value[0],
            quantiles.value[2],
            color=color,
            alpha=0.2,
            label=f"{result.name}: quartiles",
        )
        bounds |= _draw_estimates(
            ax,
            abscissa,
            quantiles[1],
            color=color,
            marker=_MARKERS[index % len(_MARKERS)],
            linestyle=_LINE_STYLES[index % len(_LINE_STYLES)],
            label=f"{result.name}: median",
            result=result,
        )
    limit = min(result.max_significance for result in results)
    n_null = min(result.n_null for result in results)
    ax.axhline(limit, color="0.5", linestyle=":", label=f"empirical limit of {n_null} null toys")
    ax.set_xlabel(_X_LABELS[x])
    ax.set_ylabel("global significance Z [σ]")
    ax.set_title("calibrated global significance")
    _kind_legend_entries(ax, bounds)
    return ax


def plot_significance_improvement(result, reference, *, x="n_signal", ax=None):
    """Significance improvement Z / Z_reference of the medians per injection level (Fig. 10).

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
    drawn = set(ax.get_legend_handles_labels()[1])  # earlier methods on the same axes
    abscissa = _abscissa(result, x)
    improvement = result.significance_improvement(reference)
    (line,) = ax.plot([], [])
    color = line.get_color()
    line.remove()
    bounds = _draw_estimates(
        ax,
        abscissa,
        improvement,
        color=color,
        marker="o",
        linestyle="-",
        label=f"{result.name} / {reference.name}",
    )
    undetermined = ~np.isfinite(improvement.value) | (improvement.kind == "undetermined")
    if undetermined.any():
        label = "not determined\n(bound over bound, or Z_ref compatible with 0)"
        ax.plot(
            abscissa[undetermined],
            np.ones(undetermined.sum()),
            "x",
            color="0.4",
            label="_nolegend_" if label in drawn else label,
        )
    if "no improvement" not in drawn:
        ax.axhline(1.0, color="0.5", linestyle=":", label="no improvement")
    ax.set_xlabel(_X_LABELS[x])
    ax.set_ylabel("significance improvement Z / Z_ref")
    first = not any(label.endswith(f" / {reference.name}") for label in drawn)
    ax.set_title(f"{result.name if first else 'methods'} over {reference.name}")
    _kind_legend_entries(ax, bounds)
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
    null = result.null_statistics[np.isfinite(result.null_statistics)]
    ax.hist(
        null,
        bins=bins,
        histtype="step",
        color="k",
        label=f"background only ({null.size} toys, {result.n_failed_null} failed)",
    )
    tail = result.tail_model()
    if tail is not None:
        grid = np.linspace(tail.threshold, max(null.max(), tail.threshold) * 1.5, 100)
        width = (null.max() - null.min()) / bins if null.size > 1 else 1.0
        density = -np.gradient(tail.p_value(grid)[0], grid) * result.n_null * width
        ax.plot(grid, density, color="k", linestyle="--", label="tail model (generalized Pareto)")
    styles = iter(_LINE_STYLES * 4)
    injected = result._injected_statistics()
    # One colour per injection level, light to dark with the signal, so that no two
    # levels share a line (the styles alone repeat after four).
    colormap = import_optional("matplotlib", extra="plot").colormaps["Oranges"]
    shades = colormap(np.linspace(0.45, 1.0, max(len(injected), 1)))
    # The axis follows the null sample (and its tail model): medians far beyond it are
    # marked at the right edge with their value, so the null histogram is not a sliver.
    low, high = (float(null.min()), float(null.max())) if null.size else (0.0, 1.0)
    margin = 0.25 * max(high - low, 1e-3)
    right = high + margin if tail is None else max(high + margin, float(grid[-1]))
    left = low - 0.05 * max(high - low, 1e-3)
    n_off = 0
    for level, statistics, shade in zip(result.signal_injections, injected, shades, strict=False):
        median = float(np.median(statistics))
        style = next(styles)
        if median <= right:
            ax.axvline(
                median,
                linestyle=style,
                color=shade,
                label=f"median with {int(level)} signal events",
            )
        else:
            height = 0.45 - 0.05 * n_off
            n_off += 1
            ax.annotate(
                "",
                xy=(1.0, height),
                xycoords="axes fraction",
                xytext=(0.93, height),
                arrowprops={"arrowstyle": "->", "color": shade},
            )
            ax.plot(
                [],
                [],
                linestyle=style,
                color=shade,
                label=f"median with {int(level)} signal events: {median:.1f} (off the axis →)",
            )
    ax.set_xlim(left, right)
    ax.set_xlabel(f"test statistic of {result.name} (local MLS) [σ]")
    ax.set_ylabel("pseudo-experiments")
    ax.set_yscale("log")
    # Room above the histogram for the legend, which fills about 6 % of the height per
    # entry from the top: the peak must stay below the rest on the log axis.
    counts = [patch.get_path().vertices[:, 1].max() for patch in ax.patches] or [1.0]
    peak, bottom = max(max(counts), 1.0), 0.3
    legend_fraction = min(0.06 * len(ax.get_legend_handles_labels()[0]) + 0.08, 0.8)
    ax.set_ylim(bottom=bottom, top=bottom * (peak / bottom) ** (1.0 / (1.0 - legend_fraction)))
    ax.set_title("null distribution")
    ax.legend(fontsize="x-small", loc="upper right", framealpha=0.85)
    return ax
