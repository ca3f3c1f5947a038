"""CalibrationResult: test statistics of pseudo-experiments and the significances they give."""

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ..stats import clopper_pearson, empirical_p_value, global_significance
from ..utils._results import ResultIO, html_table
from ._estimate import (
    COMPUTED,
    EXTRAPOLATED,
    LOWER_BOUND,
    UNDETERMINED,
    UPPER_BOUND,
    Estimate,
    combine_kinds,
    ratio,
)

logger = logging.getLogger(__name__)

CONFIDENCE_LEVEL = 0.68
"""Confidence level of every interval a calibration reports (±1σ for a Gaussian)."""
# The tail model is fitted above the 90 % quantile of the null statistics and only from 500
# valid background-only pseudo-experiments on (50 exceedances): the sizes at which its
# coverage was validated against brute-forced tails (benchmarks/bench_tail_coverage.py).
TAIL_FRACTION = 0.1
MIN_NULL_FOR_TAIL = 500
# Quantiles of a curve are interpolated between toys; infinite interval ends are carried
# as this finite stand-in so that the interpolation stays defined.
_LARGE = 1e6


@dataclass(eq=False)
class CalibrationResult(ResultIO):
    """Test statistics of background-only and signal-injected pseudo-experiments.

    Produced by :func:`run_pseudo_experiments`; turns a test statistic into a calibrated
    global significance and compares methods on the same pseudo-experiments.

    Every significance is one of three kinds, and the :class:`Estimate` objects returned
    by :meth:`significance_estimate`, :meth:`median_estimate`, :meth:`events_for` and
    :meth:`significance_improvement` say which: *computed* from the null
    pseudo-experiments that reach it (with a Clopper–Pearson interval), a *lower bound*
    Z > Φ⁻¹(1 − 1/N_tot) where none does (arXiv:2402.17714, Eq. 3.4), or *extrapolated*
    beyond the largest null statistic by a generalised-Pareto model of the null tail
    (:func:`hepcluster.stats.fit_null_tail`, from 500 background-only pseudo-experiments
    on), with the model's confidence interval.

    Attributes
    ----------
    null_statistics : ndarray of shape (n_background_only,)
        Test statistic of every background-only pseudo-experiment; NaN where it failed
        (see ``failures``) or belongs to another shard.
    signal_injections : ndarray of shape (n_levels,)
        Numbers of injected signal events.
    injected_statistics : ndarray of shape (n_levels, n_per_injection)
        Test statistic of every signal-injected pseudo-experiment (NaN as above).
    n_background : float
        Expected number of background events of a pseudo-experiment (S/B denominator).
    name : str
        Label of the method in tables and legends.
    metadata : dict
        Estimator, bootstrap, configuration key, shards, timing.
    failures : list of dict
        Pseudo-experiments whose method failed after retries: ``task`` (position in
        the seed list: background-only first, then the injections level by level),
        ``seed``, ``n_signal`` and ``reason``.

    Notes
    -----
    Failed pseudo-experiments are never dropped. A failed background-only one counts in
    N_tot and as at least as extreme as any observation, which can only raise p-values;
    a failed signal-injected one counts as not detected (the lowest significance). Both
    choices are conservative.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.calibration import CalibrationResult
    >>> rng = np.random.default_rng(0)
    >>> result = CalibrationResult(
    ...     null_statistics=rng.normal(size=1000),
    ...     signal_injections=np.array([100, 200]),
    ...     injected_statistics=np.array([rng.normal(1.0, 1.0, 51), rng.normal(3.0, 1.0, 51)]),
    ...     n_background=1e5,
    ... )
    >>> result.median_significance().round(1).tolist()
    [1.1, 3.1]
    >>> result.median_estimate().format()  # the second median lies beyond every null toy
    ['1.05 (1.00–1.10)', '3.26 (2.99–3.68, extrapolated)']
    """

    # the run time: saved outside the checksummed content (equal results, equal checksums)
    _IO_VOLATILE = (("metadata", "seconds"),)

    null_statistics: np.ndarray
    signal_injections: np.ndarray
    injected_statistics: np.ndarray
    n_background: float
    name: str = "test statistic"
    metadata: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)

    def __post_init__(self):
        self.null_statistics = np.asarray(self.null_statistics, dtype=np.float64).reshape(-1)
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
        self.failures = sorted(
            ({**failure, "task": int(failure["task"])} for failure in self.failures),
            key=lambda failure: failure["task"],
        )
        statistics = self._task_statistics()
        if np.any(np.isinf(statistics)):
            raise ValueError(
                "test statistics must be finite: the calibrated method returned an "
                "infinite statistic; record the pseudo-experiment as a failure instead."
            )
        missing = np.flatnonzero(np.isnan(statistics) & self._computed_tasks())
        failed = {failure["task"] for failure in self.failures}
        unexplained = [int(task) for task in missing if task not in failed]
        if unexplained:
            raise ValueError(
                f"null_statistics contain NaN values at pseudo-experiments {unexplained[:5]}"
                " that are neither recorded failures nor tasks of another shard."
            )
        if self.n_null == 0 and self._computed_tasks()[: self.null_statistics.size].any():
            raise ValueError("a calibration needs at least one background-only statistic.")
        self._tail = None

    # -- bookkeeping ------------------------------------------------------------------

    @property
    def n_tasks(self):
        """Number of pseudo-experiments of the full calibration (every shard)."""
        return self.null_statistics.size + self.injected_statistics.size

    def _task_statistics(self):
        return np.concatenate([self.null_statistics, self.injected_statistics.ravel()])

    def _computed_tasks(self):
        shards = self.metadata.get("shards")
        tasks = np.arange(self.n_tasks)
        if not shards:
            return np.ones(self.n_tasks, bool)
        return np.isin(tasks % int(shards["count"]), shards["indices"])

    @property
    def is_complete(self):
        """Whether every shard of the calibration is in this result."""
        return bool(self._computed_tasks().all())

    @property
    def n_failed(self):
        """Number of failed pseudo-experiments (background-only and injected)."""
        return len(self.failures)

    @property
    def n_failed_null(self):
        """Number of failed background-only pseudo-experiments."""
        return sum(failure["task"] < self.null_statistics.size for failure in self.failures)

    @property
    def _valid_null(self):
        return self.null_statistics[np.isfinite(self.null_statistics)]

    @property
    def n_null(self):
        """Number of background-only pseudo-experiments N_tot (failed ones included)."""
        return int(self._valid_null.size + self.n_failed_null)

    @property
    def s_over_b(self):
        """Injected signal over expected background events, per level."""
        return self.signal_injections / self.n_background

    @property
    def max_significance(self):
        """Largest significance the null sample can establish empirically, Φ⁻¹(1 − 1/N_tot)."""
        return float(stats.norm.isf(1.0 / self.n_null))

    # -- p-values and significances -------------------------------------------------------

    def p_value(self, statistic, *, mid_p=False):
        """Empirical global p-value of observed test statistic(s).

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
        return empirical_p_value(
            self._valid_null, statistic, mid_p=mid_p, n_failed=self.n_failed_null
        )

    def significance(self, statistic, *, mid_p=False):
        """Empirical global significance Z of observed test statistic(s).

        Parameters
        ----------
        statistic : float or array-like
        mid_p : bool, default=False

        Returns
        -------
        z : ndarray
        is_bound : ndarray of bool
            Where ``z`` is only the lower bound Φ⁻¹(1 − 1/N_tot) (Eq. 3.4).

        See Also
        --------
        significance_estimate : With intervals and the tail-model extrapolation.
        """
        return global_significance(
            self._valid_null, statistic, mid_p=mid_p, n_failed=self.n_failed_null
        )

    def tail_model(self):
        """Generalised-Pareto model of the upper tail of the null distribution.

        Fitted above the 90 % quantile of the valid null statistics
        (:func:`hepcluster.stats.fit_null_tail`), and only from 500 background-only
        pseudo-experiments on, the smallest sample at which its intervals were shown to
        cover (fewer exceedances let the fitted shape run to its limit and the interval
        with it).

        Returns
        -------
        NullTailModel or None
            ``None`` (and a log line saying why) when the null sample cannot support one.
        """
        if self._tail is None:
            null = self._valid_null
            try:
                if null.size < MIN_NULL_FOR_TAIL:
                    raise ValueError(
                        f"{null.size} valid background-only pseudo-experiments are too few "
                        f"for a tail model (at least {MIN_NULL_FOR_TAIL})"
                    )
                from ..stats import fit_null_tail

                self._tail = fit_null_tail(
                    null, tail_fraction=TAIL_FRACTION, confidence_level=CONFIDENCE_LEVEL
                )
            except ValueError as error:
                logger.info("%s: no extrapolation beyond the null sample (%s)", self.name, error)
                self._tail = False
        return self._tail or None

    def significance_estimate(self, statistic, *, extrapolate=True, mid_p=False):
        """Global significance of observed statistic(s) with intervals and kinds.

        Parameters
        ----------
        statistic : float or array-like
        extrapolate : bool, default=True
            Beyond the largest null statistic, use the tail model (when the null sample
            supports one) instead of the lower bound.
        mid_p : bool, default=False

        Returns
        -------
        Estimate
            ``"computed"`` values carry a 68 % Clopper–Pearson interval of the p-value;
            ``"extrapolated"`` ones the tail model's 68 % interval; ``"lower bound"``
            ones are Z > Φ⁻¹(1 − 1/N_tot).

        Raises
        ------
        ValueError
            If an observed statistic is NaN.
        """
        statistic = np.asarray(statistic, dtype=np.float64)
        if np.isnan(statistic).any():
            raise ValueError("an observed statistic is NaN: it has no significance.")
        null, n_failed, n_total = self._valid_null, self.n_failed_null, self.n_null
        p, _ = self.p_value(statistic, mid_p=mid_p)
        beyond = statistic > null.max()  # no valid null statistic reaches it
        p_low, p_high = clopper_pearson(p * n_total, n_total, confidence_level=CONFIDENCE_LEVEL)
        floor = stats.norm.ppf(1.0 / n_total)
        z = np.maximum(stats.norm.isf(p), floor)  # as significance(), from the same p
        low = np.maximum(stats.norm.isf(p_high), floor)
        high = np.where(p_low > 0, stats.norm.isf(p_low), np.inf)
        kind = np.where(beyond, LOWER_BOUND, COMPUTED).astype(object)
        bound = stats.norm.isf(max(n_failed, 1) / n_total)
        z = np.where(beyond, bound, z)
        low = np.where(beyond, bound, low)
        high = np.where(beyond, np.inf, high)
        tail = self.tail_model() if extrapolate and np.any(beyond) else None
        if tail is not None:
            # Failed null pseudo-experiments still count as exceeding every observation.
            p_tail = np.stack(tail.p_value(statistic[beyond]))  # p, p_low, p_high
            p_beyond = (n_failed + null.size * p_tail) / n_total
            z[beyond], high[beyond], low[beyond] = stats.norm.isf(p_beyond)
            kind[beyond] = EXTRAPOLATED
            # Beyond the end point of a bounded tail model (shape < 0) the extrapolated p
            # is 0: only a lower bound is a statement, the largest finite lower end of the
            # model's interval up to that statistic (so that Z stays monotone in it).
            endless = beyond & ~np.isfinite(z)
            if np.any(endless):
                z[endless] = self._tail_lower_bound(tail, statistic[endless], bound)
                low[endless], high[endless] = z[endless], np.inf
                kind[endless] = LOWER_BOUND
        return Estimate(z, low, high, kind)

    @property
    def empirical_bound(self):
        """Lower bound Φ⁻¹(1 − max(n_failed, 1)/N_tot) of a statistic no null toy reaches."""
        return float(stats.norm.isf(max(self.n_failed_null, 1) / self.n_null))

    def bound_sources(self, estimate):
        """Where each lower bound of an Estimate of this calibration comes from.

        Parameters
        ----------
        estimate : Estimate
            From :meth:`significance_estimate`, :meth:`median_estimate` or
            :meth:`quantile_estimates`.

        Returns
        -------
        ndarray of str
            ``"empirical limit"`` (no background-only pseudo-experiment reaches the
            statistic: Z ≥ Φ⁻¹(1 − max(n_failed, 1)/N_tot)), ``"tail end point"`` (beyond
            the end point of a bounded tail model, whose p-value is 0 there: Z is at least
            the lower end of the model's interval; lower bounds above the empirical
            limit) or ``""`` where the value is no lower bound.
        """
        value = np.asarray(estimate.value, dtype=np.float64)
        lower = np.asarray(estimate.kind) == LOWER_BOUND
        # a tail end point is never below the empirical limit; a median between a computed
        # value and the empirical limit is a bound that rests on the empirical limit
        empirical = value <= self.empirical_bound + 1e-9
        return np.where(lower, np.where(empirical, "empirical limit", "tail end point"), "")

    def _tail_lower_bound(self, tail, statistic, bound, n_grid=400):
        """Largest finite lower end of the tail model's Z interval at or below ``statistic``."""
        start = float(self._valid_null.max())
        grid = np.linspace(start, max(float(np.max(statistic)), start), n_grid)
        p_high = tail.p_value(grid)[2]
        n_failed, n_total = self.n_failed_null, self.n_null
        z_low = stats.norm.isf((n_failed + self._valid_null.size * p_high) / n_total)
        running = np.maximum.accumulate(np.where(np.isfinite(z_low), z_low, -np.inf))
        reached = running[np.searchsorted(grid, statistic, side="right") - 1]
        return np.maximum(reached, bound)

    def _injected_statistics(self):
        """Injected statistics with failed ones as −∞ (not detected, conservative)."""
        return np.where(np.isnan(self.injected_statistics), -np.inf, self.injected_statistics)

    def injected_significances(self, *, mid_p=False):
        """Empirical global significance of every signal-injected pseudo-experiment.

        Returns
        -------
        z : ndarray of shape (n_levels, n_per_injection)
        is_bound : ndarray of bool of the same shape
        """
        return self.significance(self._injected_statistics(), mid_p=mid_p)

    def significance_quantiles(self, quantiles=(0.25, 0.5, 0.75), *, mid_p=False):
        """Quantiles of the empirical global significance per injection level.

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
        """Median empirical global significance per injection level."""
        return self.significance_quantiles((0.5,), mid_p=mid_p)[0]

    def quantile_estimates(self, quantiles=(0.25, 0.5, 0.75), *, extrapolate=True):
        """Quantiles of the global significance per injection level, with kinds.

        The interval of a quantile is that of the significance at the quantile's test
        statistic (Z is monotone in the statistic); it reflects the calibration's
        uncertainty, not the spread of the injected pseudo-experiments, which the
        quantiles themselves show.

        Parameters
        ----------
        quantiles : sequence of float, default=(0.25, 0.5, 0.75)
        extrapolate : bool, default=True

        Returns
        -------
        Estimate of shape (len(quantiles), n_levels)
        """
        quantiles = np.atleast_1d(np.asarray(quantiles, dtype=np.float64))
        statistics = np.sort(self._injected_statistics(), axis=1)
        shape = (quantiles.size, self.signal_injections.size)
        if statistics.shape[1] == 0:
            empty = np.full(shape, np.nan)
            return Estimate(empty, empty, empty, np.full(shape, UNDETERMINED, dtype=object))
        per_toy = self.significance_estimate(statistics, extrapolate=extrapolate)
        position = quantiles[:, None] * (statistics.shape[1] - 1)
        below, above = np.floor(position).astype(int), np.ceil(position).astype(int)
        fraction = position - below
        rows = np.arange(shape[1])[None, :]

        def interpolate(values):
            values = np.clip(values, -_LARGE, _LARGE)
            result = values[rows, below] * (1 - fraction) + values[rows, above] * fraction
            infinite = np.abs(result) >= _LARGE
            result[infinite] = np.copysign(np.inf, result[infinite])
            return result

        kind = combine_kinds(per_toy.kind[rows, below], per_toy.kind[rows, above])
        return Estimate(
            interpolate(per_toy.value),
            interpolate(per_toy.low),
            interpolate(per_toy.high),
            kind,
        )

    def median_estimate(self, *, extrapolate=True):
        """Median global significance per injection level, with intervals and kinds.

        Returns
        -------
        Estimate of shape (n_levels,)
        """
        return self.quantile_estimates((0.5,), extrapolate=extrapolate)[0]

    def significance_improvement(self, other, *, extrapolate=True):
        """Significance improvement Z_self / Z_other of the medians, per injection level.

        Parameters
        ----------
        other : CalibrationResult
            The reference method (e.g. the dijet fit) on the same injection levels.
        extrapolate : bool, default=True

        Returns
        -------
        Estimate of shape (n_levels,)
            A lower bound where this method's median is one, an upper bound where the
            reference's is; "not determined" (NaN) where the reference median is not
            significantly positive (its interval reaches 0).
        """
        if not np.array_equal(self.signal_injections, other.signal_injections):
            raise ValueError("significance_improvement needs the same injection levels.")
        return ratio(
            self.median_estimate(extrapolate=extrapolate),
            other.median_estimate(extrapolate=extrapolate),
        )

    def events_for(self, z=3.0, other=None, *, extrapolate=True):
        """Injected signal events at which the median significance reaches ``z``.

        Interpolates the median significance linearly between injection levels, with
        Z = 0 at no injected signal; the interval comes from the crossings of the
        median's interval.

        Parameters
        ----------
        z : float, default=3.0
        other : CalibrationResult, optional
            With a reference, return the ratio (events needed by self) / (by other);
            the paper finds 0.61 (realistic) and 0.69 (idealised) for Cluster Scanning
            against the dijet fit.
        extrapolate : bool, default=True

        Returns
        -------
        Estimate (a single value)
            An upper bound where the crossing relies on a median that is only a lower
            bound; a lower bound (the largest injection) where the median stays below
            ``z`` over the injected range; "not determined" where neither can be said.
        """
        median = self.median_estimate(extrapolate=extrapolate)
        needed = _events_needed(self.signal_injections, median, z)
        if other is None:
            return needed
        return ratio(needed, other.events_for(z, extrapolate=extrapolate))

    # -- merging shards -----------------------------------------------------------------

    @classmethod
    def merge(cls, results):
        """Combine results of the same calibration computed in separate jobs.

        Parameters
        ----------
        results : sequence of CalibrationResult
            Shards of one calibration (``run_pseudo_experiments(..., shard=(i, n))``):
            the same estimator, events, seeds and injection levels.

        Returns
        -------
        CalibrationResult
            Identical to a single run of all pseudo-experiments once every shard is
            there (``metadata["seconds"]`` is the sum of the shards').

        Raises
        ------
        ValueError
            When the results belong to different calibrations, or overlap.
        """
        results = list(results)
        if not results:
            raise ValueError("merge needs at least one CalibrationResult.")
        first = results[0]
        key = first.metadata.get("config_key")
        for index, result in enumerate(results[1:], start=1):
            if result.metadata.get("config_key") != key or key is None:
                differing = _differing_config(first.metadata, result.metadata)
                raise ValueError(
                    f"result {index} belongs to a different calibration than result 0 "
                    f"(differs in: {differing}); only shards of one calibration merge."
                )
        counts = {int(result.metadata.get("shards", {}).get("count", 1)) for result in results}
        if len(counts) != 1:
            raise ValueError(f"the results were split into different shard counts {counts}.")
        indices = [
            index
            for result in results
            for index in result.metadata.get("shards", {}).get("indices", [0])
        ]
        if len(set(indices)) != len(indices):
            raise ValueError(f"the results overlap: shard indices {sorted(indices)}.")
        statistics = np.full(first.n_tasks, np.nan)
        for result in results:
            mine = result._computed_tasks()
            statistics[mine] = result._task_statistics()[mine]
        metadata = dict(first.metadata)
        metadata["seconds"] = float(sum(r.metadata.get("seconds", 0.0) for r in results))
        (count,) = counts
        if len(indices) == count:
            metadata.pop("shards", None)
        else:
            metadata["shards"] = {"count": count, "indices": sorted(indices)}
        n_null = first.null_statistics.size
        return cls(
            null_statistics=statistics[:n_null],
            signal_injections=first.signal_injections,
            injected_statistics=statistics[n_null:].reshape(first.injected_statistics.shape),
            n_background=first.n_background,
            name=first.name,
            metadata=metadata,
            failures=[failure for result in results for failure in result.failures],
        )

    # -- tables, text, figures ----------------------------------------------------------

    def summary(self, other=None):
        """A table (list of dicts, valid JSON) of the significance per injection level.

        Parameters
        ----------
        other : CalibrationResult, optional
            A reference method for the significance improvement.

        Returns
        -------
        list of dict
            Per level: ``n_signal``, ``s_over_b``, ``z_q25``, ``z_median``, ``z_q75``
            (numbers or ``None``), ``z_median_low``/``z_median_high`` (interval),
            ``z_median_kind`` and ``z_median_text`` (e.g. ``"≥ 2.58"``), and with
            ``other`` the same for ``significance_improvement``.
        """
        quantiles = self.quantile_estimates()
        improvement = None if other is None else self.significance_improvement(other)
        rows = []
        for level in range(self.signal_injections.size):
            median = quantiles[1, level].to_json_dict()
            row = {
                "n_signal": float(self.signal_injections[level]),
                "s_over_b": float(self.s_over_b[level]),
                "z_q25": quantiles[0, level].to_json_dict()["value"],
                "z_median": median["value"],
                "z_q75": quantiles[2, level].to_json_dict()["value"],
                "z_median_low": median["low"],
                "z_median_high": median["high"],
                "z_median_kind": median["kind"],
                "z_median_text": median["text"],
            }
            if improvement is not None:
                si = improvement[level].to_json_dict()
                row["significance_improvement"] = si["value"]
                row["significance_improvement_kind"] = si["kind"]
                row["significance_improvement_text"] = si["text"]
            rows.append(row)
        return rows

    def __repr__(self):
        # cheap and free of side effects: counts only, no quantile or tail-model fit
        if not self.is_complete:
            shards = self.metadata["shards"]
            return (
                f"CalibrationResult(name={self.name!r}, partial: shards={shards['indices']} of "
                f"{shards['count']}, {int(np.isfinite(self._task_statistics()).sum())} "
                "pseudo-experiments; no medians until every shard is merged)"
            )
        injected = [int(n) for n in np.asarray(self.signal_injections).ravel()]
        return (
            f"CalibrationResult(name={self.name!r}, n_null={self.n_null}, "
            f"n_failed={self.n_failed}, signal_injections={injected}, empirical limit "
            f"{self.max_significance:.2f}σ)"
        )

    def __str__(self):
        if not self.is_complete:
            return repr(self)
        head = (
            f"Calibration {self.name!r}: {self.n_null} background-only pseudo-experiments "
            f"({self.n_failed} failed), empirical limit {self.max_significance:.2f}σ"
        )
        if not self.signal_injections.size:
            return head + "; no signal injected"
        lines = [head, "injected signal  median global Z (68 % interval)"]
        lines.extend(f"{n:>15s}  {text}" for n, text in self._median_rows())
        return "\n".join(lines)

    def _median_rows(self):
        medians = self.median_estimate().format()
        return [
            (str(int(n)), text) for n, text in zip(self.signal_injections, medians, strict=True)
        ]

    def _repr_html_(self):
        head = str(self).splitlines()[0]
        if not (self.is_complete and self.signal_injections.size):
            return html_table(head, [], [])
        header = ["injected signal", "median global Z (68 % interval)"]
        return html_table(head, header, self._median_rows())

    def to_hist(self, bins=30, *, level=None):
        """The null distribution (or an injection level's statistics) as a ``hist.Hist``.

        One count per pseudo-experiment (``Int64`` storage, so the variances are the
        counts) over a regular axis named ``"statistic"``, with underflow and overflow
        bins, so that every valid pseudo-experiment is counted; failed ones (NaN) are not
        filled and are counted in :attr:`n_failed`. A UHI ``PlottableHistogram``:
        ``mplhep.histplot(result.to_hist())`` draws it.

        Parameters
        ----------
        bins : int or array-like of float, default=30
            Number of equal bins between the smallest and the largest statistic, or the
            edges.
        level : int, optional
            Index of an injection level: its signal-injected statistics instead of the
            background-only ones.

        Returns
        -------
        hist.Hist

        Raises
        ------
        ImportError
            Without hist: ``pip install "hepcluster[hist]"``.

        Examples
        --------
        >>> import numpy as np, pytest
        >>> _ = pytest.importorskip("hist")
        >>> from hepcluster.calibration import CalibrationResult
        >>> rng = np.random.default_rng(0)
        >>> result = CalibrationResult(null_statistics=rng.normal(size=1000),
        ...                            signal_injections=[], injected_statistics=[],
        ...                            n_background=1e5)
        >>> h = result.to_hist(bins=20)
        >>> h.axes[0].name, int(h.sum(flow=True))
        ('statistic', 1000)
        """
        from ..utils._hist import hist_module

        hist = hist_module()
        if level is None:
            values, what = self.null_statistics, "background-only pseudo-experiments"
        else:
            values = self.injected_statistics[int(level)]
            what = f"pseudo-experiments with {self.signal_injections[int(level)]:g} signal"
        values = values[np.isfinite(values)]
        if np.ndim(bins) == 0:
            low, high = (values.min(), values.max()) if values.size else (0.0, 1.0)
            if high <= low:
                low, high = low - 0.5, high + 0.5
            edges = np.linspace(low, high, int(bins) + 1)
        else:
            edges = np.asarray(bins, dtype=np.float64)
        axis = hist.axis.Variable(edges, name="statistic", label=f"test statistic ({self.name})")
        histogram = hist.Hist(axis, storage=hist.storage.Int64(), name="pseudo_experiments")
        histogram.label = what
        # the largest value lies on the last edge: count it in the last bin, not overflow
        histogram.fill(np.where(values == edges[-1], np.nextafter(edges[-1], -np.inf), values))
        return histogram

    def to_dataframe(self, other=None):
        """The table of :meth:`summary` as a :class:`pandas.DataFrame` (one row per level).

        Parameters
        ----------
        other : CalibrationResult, optional
            A reference method for the significance improvement.

        Returns
        -------
        pandas.DataFrame
            The columns of :meth:`summary`; ``to_csv`` writes it for a spreadsheet.
        """
        import pandas as pd

        return pd.DataFrame(self.summary(other), columns=list(_summary_columns(other)))

    def plot(self, ax=None, *, others=(), x="n_signal"):
        """Median and quartiles of the global significance against the injected signal.

        Lower bounds are drawn as upward arrows, extrapolated medians with open markers.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw; ``None`` creates a figure.
        others : sequence of CalibrationResult, default=()
            Further methods drawn on the same axes (arXiv:2402.17714, Fig. 5); see also
            :func:`~hepcluster.calibration.compare_methods`.
        x : {"n_signal", "s_over_b"}, default="n_signal"

        Returns
        -------
        matplotlib.axes.Axes
        """
        from ..plotting import plot_significance_curves

        return plot_significance_curves([self, *others], x=x, ax=ax)


def _summary_columns(other):
    columns = ["n_signal", "s_over_b", "z_q25", "z_median", "z_q75", "z_median_low"]
    columns += ["z_median_high", "z_median_kind", "z_median_text"]
    if other is not None:
        columns += [
            "significance_improvement",
            "significance_improvement_kind",
            "significance_improvement_text",
        ]
    return columns


def _crossing(levels, values, target):
    above = np.flatnonzero(values >= target)
    if above.size == 0:
        return float("nan"), None
    first = above[0]
    if first == 0:
        return (float(levels[0]), 0) if values[0] == target else (float("nan"), None)
    x0, x1 = levels[first - 1], levels[first]
    y0, y1 = values[first - 1], values[first]
    return float(x0 + (target - y0) * (x1 - x0) / (y1 - y0)), first


def _events_needed(levels, median, target):
    levels = np.asarray(levels, dtype=np.float64)
    value, low, high, kind = median.value, median.low, median.high, median.kind
    if levels.size and levels[0] > 0:
        levels = np.concatenate([[0.0], levels])
        value, low, high = (np.concatenate([[0.0], v]) for v in (value, low, high))
        kind = np.concatenate([[COMPUTED], kind])
    if levels.size == 0:
        return Estimate(np.nan, np.nan, np.nan, UNDETERMINED)
    central, first = _crossing(levels, value, target)
    earliest, _ = _crossing(levels, np.nan_to_num(high, posinf=_LARGE), target)
    latest, _ = _crossing(levels, low, target)
    if first is None:
        if kind[-1] in (COMPUTED, EXTRAPOLATED):
            # The median stays below the target over the injected range: more than the
            # largest injection is needed.
            return Estimate(levels[-1], levels[-1], np.inf, LOWER_BOUND)
        return Estimate(np.nan, np.nan, np.nan, UNDETERMINED)
    bracket = kind[max(first - 1, 0) : first + 1]
    if np.isin(bracket, (LOWER_BOUND,)).any():
        return Estimate(central, -np.inf, central, UPPER_BOUND)
    if np.isin(bracket, (UPPER_BOUND, UNDETERMINED)).any():
        return Estimate(np.nan, np.nan, np.nan, UNDETERMINED)
    latest = latest if np.isfinite(latest) else np.inf
    earliest = earliest if np.isfinite(earliest) else central
    return Estimate(central, earliest, latest, combine_kinds(*bracket))


def _differing_config(mine, theirs):
    left, right = mine.get("config", {}), theirs.get("config", {})
    names = sorted(name for name in set(left) | set(right) if left.get(name) != right.get(name))
    return ", ".join(names) or "configuration key"
