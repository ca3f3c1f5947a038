"""Estimate: a number with its interval and what kind of number it is.

A calibrated significance is one of three things, and every table, figure and file must
say which: *computed* from the null pseudo-experiments that reach it, only a *bound*
where none does (Eq. 3.4 of arXiv:2402.17714), or *extrapolated* by a tail model of the
null distribution. Ratios and interpolations of such numbers inherit the kind.
"""

from dataclasses import dataclass

import numpy as np

COMPUTED = "computed"
EXTRAPOLATED = "extrapolated"
LOWER_BOUND = "lower bound"
UPPER_BOUND = "upper bound"
UNDETERMINED = "undetermined"
KINDS = (COMPUTED, EXTRAPOLATED, LOWER_BOUND, UPPER_BOUND, UNDETERMINED)

# How far from being a plain measurement a kind is; a combination takes the worst.
_RANK = {COMPUTED: 0, EXTRAPOLATED: 1, LOWER_BOUND: 2, UPPER_BOUND: 2, UNDETERMINED: 3}
_DIRECTION = {LOWER_BOUND: 1, UPPER_BOUND: -1}


def _json_number(value):
    value = float(value)
    return value if np.isfinite(value) else None


@dataclass(eq=False)
class Estimate:
    """Values with confidence intervals, each tagged with how it was obtained.

    Attributes
    ----------
    value : ndarray
        Central values (NaN where the quantity is not determined).
    low, high : ndarray
        Interval around ``value``, same shape (``value`` itself for a lower bound's
        ``low``, +inf for its ``high``; the mirror for an upper bound).
    kind : ndarray of str
        ``"computed"``, ``"extrapolated"``, ``"lower bound"``, ``"upper bound"`` or
        ``"undetermined"`` (not reached within the injected range, or a ratio of two
        bounds of the same direction; shown as "not determined").

    Examples
    --------
    >>> from hepcluster.calibration import Estimate
    >>> z = Estimate([2.1, 3.4, 2.58], [1.9, 3.1, 2.58], [2.3, 3.8, float("inf")],
    ...              ["computed", "extrapolated", "lower bound"])
    >>> z.format()
    ['2.10 (1.90–2.30)', '3.40 (3.10–3.80, extrapolated)', '≥ 2.58']
    >>> str(z[1])
    '3.40 (3.10–3.80, extrapolated)'
    """

    value: np.ndarray
    low: np.ndarray
    high: np.ndarray
    kind: np.ndarray

    def __post_init__(self):
        self.value = np.asarray(self.value, dtype=np.float64)
        self.low = np.broadcast_to(np.asarray(self.low, np.float64), self.value.shape).copy()
        self.high = np.broadcast_to(np.asarray(self.high, np.float64), self.value.shape).copy()
        self.kind = np.broadcast_to(np.asarray(self.kind, dtype=object), self.value.shape).copy()
        unknown = set(self.kind.ravel()) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown kind(s) {sorted(unknown)}; expected one of {KINDS}.")

    @property
    def shape(self):
        """Shape of the values."""
        return self.value.shape

    def __len__(self):
        return len(self.value)

    def __getitem__(self, index):
        return Estimate(self.value[index], self.low[index], self.high[index], self.kind[index])

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.value, dtype=dtype)

    @property
    def is_bound(self):
        """Where the value is only a bound."""
        return np.isin(self.kind, (LOWER_BOUND, UPPER_BOUND))

    @property
    def is_extrapolated(self):
        """Where the value comes from the tail model."""
        return self.kind == EXTRAPOLATED

    def format(self, digits=2):
        """Every value as text: ``"2.10 (1.90–2.30)"``, ``"≥ 2.58"``, ``"not determined"``.

        Parameters
        ----------
        digits : int, default=2
            Digits after the decimal point.

        Returns
        -------
        list of str (nested like ``value``), or str for a single value
        """
        texts = np.empty(self.value.shape, dtype=object)
        for index in np.ndindex(self.value.shape):
            texts[index] = _format_one(
                self.value[index], self.low[index], self.high[index], self.kind[index], digits
            )
        return texts.tolist()

    def __str__(self):
        texts = self.format()
        return texts if isinstance(texts, str) else ", ".join(map(str, np.ravel(texts)))

    def __repr__(self):
        return f"Estimate({self.format()})"

    def to_json_dict(self):
        """JSON-ready values: NaN and infinities become ``None`` (valid JSON)."""
        as_list = np.vectorize(_json_number, otypes=[object])
        return {
            "value": as_list(self.value).tolist(),
            "low": as_list(self.low).tolist(),
            "high": as_list(self.high).tolist(),
            "kind": self.kind.tolist(),
            "text": self.format(),
        }

    @classmethod
    def from_json_dict(cls, values):
        """Rebuild an estimate from :meth:`to_json_dict` output."""

        def number(entries, missing):
            array = np.array(entries, dtype=object)
            return np.where(array == None, missing, array).astype(np.float64)  # noqa: E711

        kind = np.asarray(values["kind"], dtype=object)
        low_missing = np.where(kind == UPPER_BOUND, -np.inf, np.nan)
        high_missing = np.where(kind == LOWER_BOUND, np.inf, np.nan)
        return cls(
            number(values["value"], np.nan),
            number(values["low"], low_missing),
            number(values["high"], high_missing),
            kind,
        )


def _fixed(value, digits):
    """``value`` with ``digits`` decimals, never "-0.00" (a value that rounds to zero)."""
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _format_one(value, low, high, kind, digits):
    if kind == UNDETERMINED or not np.isfinite(value):
        return "not determined"
    number = _fixed(value, digits)
    if kind == LOWER_BOUND:
        return f"≥ {number}"
    if kind == UPPER_BOUND:
        return f"≤ {number}"
    if not np.isfinite(low):
        return number if kind == COMPUTED else f"{number} ({kind})"
    high_text = _fixed(high, digits) if np.isfinite(high) else "∞"
    interval = f"{_fixed(low, digits)}–{high_text}"
    return f"{number} ({interval})" if kind == COMPUTED else f"{number} ({interval}, {kind})"


def combine_kinds(*kinds):
    """Kind of a quantity derived monotonically (increasingly) from several estimates."""
    kinds = np.broadcast_arrays(*[np.asarray(kind, dtype=object) for kind in kinds])
    result = np.empty(kinds[0].shape, dtype=object)
    for index in np.ndindex(result.shape):
        parts = [kind[index] for kind in kinds]
        directions = {_DIRECTION[part] for part in parts if part in _DIRECTION}
        if UNDETERMINED in parts or len(directions) > 1:
            result[index] = UNDETERMINED
        elif directions:
            result[index] = LOWER_BOUND if directions == {1} else UPPER_BOUND
        else:
            result[index] = max(parts, key=_RANK.__getitem__)
    return result


def flip_kind(kind):
    """Kind of a decreasing function of an estimate (lower and upper bounds swap)."""
    kind = np.asarray(kind, dtype=object)
    swap = {LOWER_BOUND: UPPER_BOUND, UPPER_BOUND: LOWER_BOUND}
    return np.vectorize(lambda part: swap.get(part, part), otypes=[object])(kind)


def ratio(numerator, denominator):
    """The ratio of two estimates with its interval and kind.

    Parameters
    ----------
    numerator, denominator : Estimate
        Estimates of positive quantities (broadcastable shapes).

    Returns
    -------
    Estimate
        NaN and ``"undetermined"`` where the denominator is not significantly positive
        (its interval reaches 0): a ratio to a quantity compatible with zero says nothing.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        measured = np.isin(denominator.kind, (COMPUTED, EXTRAPOLATED))
        positive = (denominator.value > 0) & ~(measured & (denominator.low <= 0))
        value = np.where(positive, numerator.value / denominator.value, np.nan)
        low = np.where(positive, numerator.low / denominator.high, np.nan)
        high = np.where(denominator.low > 0, numerator.high / denominator.low, np.inf)
    kind = combine_kinds(numerator.kind, flip_kind(denominator.kind))
    kind = np.where(positive & np.isfinite(value), kind, UNDETERMINED)
    low = np.where(kind == LOWER_BOUND, value, low)
    high = np.where(kind == LOWER_BOUND, np.inf, high)
    high = np.where(kind == UPPER_BOUND, value, high)
    low = np.where(kind == UPPER_BOUND, -np.inf, low)
    return Estimate(value, low, np.where(positive, high, np.nan), kind)
