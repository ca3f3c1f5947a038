"""CalibrationResult: test statistics of pseudo-experiments and the significances they give."""

from dataclasses import dataclass, field

import numpy as np

from ..utils._results import ResultIO
from ._significance import empirical_p_value, global_significance


@dataclass(eq=False)
class CalibrationResult(ResultIO):
    """Test statistics of background-only and signal-injected pseudo-experiments.

    Produced by :func:`run_pseudo_experiments`; turns a test statistic into a calibrated
    global significance and compares methods on the same pseudo-experiments.

    Attributes
    ----------
    null_statistics : ndarray of shape (n_background_only,)
        Test statistic of every background-only pseudo-experiment.
    signal_injections : ndarray of shape (n_levels,)
        Numbers of injected signal events.
    injected_statistics : ndarray of shape (n_levels, n_per_injection)
        Test statistic of every signal-injected pseudo-experiment.
    n_background : float
        Expected number of background events of a pseudo-experiment (S/B denominator).
    name : str
        Label of the method in tables and legends.
    metadata : dict
        Estimator, bootstrap, seeds, timing.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.calibration import CalibrationResult
    >>> rng = np.random.default_rng(0)
    >>> result = CalibrationResult(
    ...     null_statistics=rng.normal(size=1000),
    ...     signal_injections=np.array([100, 200]),
    ...     injected_statistics=np.array([rng.normal(1.0, 1.0, 50), rng.normal(3.0, 1.0, 50)]),
    ...     n_background=1e5,
    ... )
    >>> result.median_significance().round(1).tolist()
    [1.0, 3.1]
    """

    _ARRAY_FIELDS = ("null_statistics", "signal_injections", "injected_statistics")

    null_statistics: np.ndarray
    signal_injections: np.ndarray
    injected_statistics: np.ndarray
    n_background: float
    name: str = "test statistic"
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self.null_statistics = np.asarray(self.null_statistics, dtype=np.float64)
        self.signal_injections = np.asarray(self.signal_injections, dtype=np.float64)
        self.injected_statistics = np.asarray(self.injected_statistics, dtype=np.float64)
        if self.injected_statistics.size == 0:
            self.injected_statistics = self.injected_statistics.reshape(
                self.signal_injections.size, 0
            )
        if self.injected_statistics.ndim != 2 or (
            self.injected_statistics.shape[0] != self.signal_injections.size
        ):
            raise ValueError(
                "injected_statistics must have shape (n_levels, n_per_injection) with one "
                f"row per signal injection, got {self.injected_statistics.shape} for "
                f"{self.signal_injections.size} levels."
            )
        self.n_background = float(self.n_background)
        self.metadata = dict(self.metadata)

    @property
    def n_null(self):
        """Number of background-only pseudo-experiments N_tot."""
        return self.null_statistics.size

    @property
    def s_over_b(self):
        """Injected signal over expected background events, per level."""
        return self.signal_injections / self.n_background

    @property
    def max_significance(self):
        """Largest significance the null sample can establish, Φ⁻¹(1 − 1/N_tot)."""
        return float(global_significance(self.null_statistics, np.inf)[0])

    def p_value(self, statistic, *, mid_p=False):
        """Global p-value of observed test statistic(s).

        Parameters
        ----------
        statistic : float or array-like
        mid_p : bool, default=False

        Returns
        -------
        p : ndarray
        is_bound : ndarray of bool
            Where N_{≥t} = 0 and ``p`` is the bound 1/N_tot (Eq. 3.4).
        """
        return empirical_p_value(self.null_statistics, statistic, mid_p=mid_p)

    def significance(self, statistic, *, mid_p=False):
        """Global significance Z of observed test statistic(s).

        Parameters
        ----------
        statistic : float or array-like
        mid_p : bool, default=False

        Returns
        -------
        z : ndarray
        is_bound : ndarray of bool
            Where ``z`` is only the lower bound Φ⁻¹(1 − 1/N_tot) (Eq. 3.4).
        """
        return global_significance(self.null_statistics, statistic, mid_p=mid_p)

    def injected_significances(self, *, mid_p=False):
        """Global significance of every signal-injected pseudo-experiment.

        Returns
        -------
        z : ndarray of shape (n_levels, n_per_injection)
        is_bound : ndarray of bool of the same shape
        """
        return self.significance(self.injected_statistics, mid_p=mid_p)

    def significance_quantiles(self, quantiles=(0.25, 0.5, 0.75), *, mid_p=False):
        """Quantiles of the global significance per injection level.

        Parameters
        ----------
        quantiles : sequence of float, default=(0.25, 0.5, 0.75)

        Returns
        -------
        ndarray of shape (len(quantiles), n_levels)
        """
        z, _ = self.injected_significances(mid_p=mid_p)
        return np.quantile(z, quantiles, axis=1)

    def median_significance(self, *, mid_p=False):
        """Median global significance per injection level."""
        return self.significance_quantiles((0.5,), mid_p=mid_p)[0]

    def significance_improvement(self, other, *, mid_p=False):
        """Significance improvement Z_self / Z_other of the medians, per injection level.

        Parameters
        ----------
        other : CalibrationResult
            The reference method (e.g. the dijet fit) on the same injection levels.

        Returns
        -------
        ndarray of shape (n_levels,)
            NaN where the reference median is not positive.
        """
        if not np.array_equal(self.signal_injections, other.signal_injections):
            raise ValueError("significance_improvement needs the same injection levels.")
        mine = self.median_significance(mid_p=mid_p)
        theirs = other.median_significance(mid_p=mid_p)
        return np.divide(mine, theirs, out=np.full_like(mine, np.nan), where=theirs > 0)

    def events_for(self, z=3.0, other=None, *, mid_p=False):
        """Injected signal events at which the median significance reaches ``z``.

        Interpolates the median significance linearly between injection levels, with
        Z = 0 at no injected signal.

        Parameters
        ----------
        z : float, default=3.0
        other : CalibrationResult, optional
            With a reference, return the ratio (events needed by self) / (by other);
            the paper finds 0.61 (realistic) and 0.69 (idealised) for Cluster Scanning
            against the dijet fit.

        Returns
        -------
        float
            NaN when ``z`` is not reached within the injected range (or exceeds what
            the null sample can establish, see ``max_significance``).
        """
        needed = _crossing(self.signal_injections, self.median_significance(mid_p=mid_p), z)
        if other is None:
            return needed
        return needed / other.events_for(z, mid_p=mid_p)

    def summary(self, other=None):
        """A table (list of dicts) of the significance per injection level."""
        quartiles = self.significance_quantiles()
        rows = []
        improvement = None if other is None else self.significance_improvement(other)
        for level in range(self.signal_injections.size):
            row = {
                "n_signal": float(self.signal_injections[level]),
                "s_over_b": float(self.s_over_b[level]),
                "z_q25": float(quartiles[0, level]),
                "z_median": float(quartiles[1, level]),
                "z_q75": float(quartiles[2, level]),
            }
            if improvement is not None:
                row["significance_improvement"] = float(improvement[level])
            rows.append(row)
        return rows

    def __repr__(self):
        medians = ", ".join(
            f"{int(n)}: {z:.2f}"
            for n, z in zip(self.signal_injections, self.median_significance(), strict=True)
        )
        return (
            f"CalibrationResult(name={self.name!r}, n_null={self.n_null}, "
            f"median Z per injected signal {{{medians}}})"
        )

    def plot(self, *others, x="n_signal", ax=None):
        """Median and quartiles of the global significance against the injected signal.

        Parameters
        ----------
        *others : CalibrationResult
            Further methods drawn on the same axes (arXiv:2402.17714, Fig. 5).
        x : {"n_signal", "s_over_b"}, default="n_signal"
        ax : matplotlib.axes.Axes, optional

        Returns
        -------
        matplotlib.axes.Axes
        """
        from ..plotting import plot_significance_curves

        return plot_significance_curves([self, *others], x=x, ax=ax)


def _crossing(levels, values, target):
    if levels.size and levels[0] > 0:
        levels, values = np.concatenate([[0.0], levels]), np.concatenate([[0.0], values])
    above = np.flatnonzero(values >= target)
    if above.size == 0:
        return float("nan")
    first = above[0]
    if first == 0:
        return float(levels[0]) if values[0] == target else float("nan")
    x0, x1 = levels[first - 1], levels[first]
    y0, y1 = values[first - 1], values[first]
    return float(x0 + (target - y0) * (x1 - x0) / (y1 - y0))
