"""Event tables from columnar files (ROOT trees, parquet): the branch layout and its checks.

The readers of :mod:`._root` and :mod:`._parquet` hand every chunk of a file to
:class:`ColumnarEvents` as awkward arrays, one per branch; the checks, the counted cuts and
the assembly of the :class:`~hepcluster.datasets.EventTable` are the same for both formats.
"""

import json
import logging
import os

import numpy as np

from ..utils._validation import COUNT, POSITIVE, POSITIVE_COUNT, StrOptions
from ._event_table import (
    _PER_JET_FIELDS,
    FEATURES,
    EventTable,
    _metadata_json,
    _sort_constituents_by_pt,
    count_invalid,
    describe_invalid,
    invalid_constituents,
    one_line,
)

logger = logging.getLogger(__name__)

CONSTITUENT_FEATURES = ("pt", "eta", "phi")
"""Suffixes of the constituent branches, in the order of the constituent matrix."""
SUMMARY_BRANCHES = ("mjj", *_PER_JET_FIELDS)
"""Branches of the event summaries: all of them or none (then computed from constituents)."""
OPTIONAL_BRANCHES = ("is_signal", "event_id", "weight")
"""Branches with a default: all background, the entry number, weight 1."""
METADATA_KEY = "hepcluster_event_table"
"""Name of the JSON object (a ROOT TObjString, a parquet schema key) written by hepcluster."""
_LAYOUT_VERSION = 1
_CHUNK = 100_000

READER_CONSTRAINTS = {
    "n_events": [POSITIVE_COUNT, None],
    "start": [COUNT],
    "chunksize": [POSITIVE_COUNT],
    "n_constituents": [POSITIVE_COUNT, None],
    "jet_radius": [POSITIVE],
    "invalid": [StrOptions({"raise", "drop"})],
}
"""Parameter constraints the columnar readers (read_root, read_parquet) share."""


def constituent_branch(jet, feature):
    """``"jet1_constituents_pt"``: the branch of one feature of jet 0 (leading) or 1."""
    return f"jet{jet + 1}_constituents_{feature}"


CONSTITUENT_BRANCHES = tuple(
    constituent_branch(jet, feature) for jet in range(2) for feature in CONSTITUENT_FEATURES
)
"""The six required branches: ``jet{1,2}_constituents_{pt,eta,phi}``."""


def plan_branches(available, path, container):
    """The branches to read, or a one-line ``ValueError`` naming the missing ones.

    Parameters
    ----------
    available : collection of str
        Branch (column) names of the file, with ``.`` of nested fields written ``_``.
    path : path-like
        The file, for the messages.
    container : str
        What holds the branches, e.g. ``"tree 'events'"``.

    Returns
    -------
    names : list of str
    has_summaries : bool
    """
    available = set(available)
    found = sorted(available)
    missing = [name for name in CONSTITUENT_BRANCHES if name not in available]
    if missing:
        raise ValueError(
            f"{os.fspath(path)}: {container} has no branch {', '.join(map(repr, missing))} "
            f"(found: {found}); an event table needs jet1_constituents_{{pt,eta,phi}} and "
            "jet2_constituents_{pt,eta,phi}."
        )
    summaries = [name for name in SUMMARY_BRANCHES if name in available]
    if summaries and len(summaries) < len(SUMMARY_BRANCHES):
        absent = [name for name in SUMMARY_BRANCHES if name not in available]
        raise ValueError(
            f"{os.fspath(path)}: {container} has the summary branches {summaries} but no "
            f"branch {', '.join(map(repr, absent))}; give all of {list(SUMMARY_BRANCHES)} "
            "or none (then they are computed from the constituents)."
        )
    optional = [name for name in OPTIONAL_BRANCHES if name in available]
    return [*CONSTITUENT_BRANCHES, *summaries, *optional], bool(summaries)


def layout_json(table):
    """The JSON text stored next to the events: format version, P and the metadata."""
    metadata = json.loads(_metadata_json(table.metadata))
    return json.dumps(
        {
            "version": _LAYOUT_VERSION,
            "n_constituents": table.n_constituents,
            "metadata": metadata,
        }
    )


def parse_layout(text, path):
    """The dict of :func:`layout_json`, or ``None`` for a file hepcluster did not write."""
    if text is None:
        return None
    try:
        layout = json.loads(text)
    except ValueError as err:
        raise ValueError(
            f"{os.fspath(path)}: the {METADATA_KEY} object is not valid JSON (damaged "
            f"file?): {one_line(err)}"
        ) from err
    if not isinstance(layout, dict) or int(layout.get("version", 0)) > _LAYOUT_VERSION:
        raise ValueError(
            f"{os.fspath(path)}: the {METADATA_KEY} object is of a newer format than this "
            "hepcluster reads; update hepcluster."
        )
    return layout


def entry_bounds(n_entries, start, n_events, chunksize, path):
    """``[(first, stop), …]``: the chunks of entries ``[start, start + n_events)``."""
    if start >= n_entries:
        raise ValueError(f"start={start} is beyond the {n_entries} entries of {path}.")
    stop = n_entries if n_events is None else min(start + n_events, n_entries)
    return [(first, min(first + chunksize, stop)) for first in range(start, stop, chunksize)]


def jet_columns(table, *, jagged=True):
    """The branches of ``table`` as a dict of arrays (awkward lists for the constituents).

    With ``jagged=True`` a jet's lists hold its real constituents (pT > 0) only; the
    constituents of a table are sorted by decreasing pT, so the padding is at the end.
    """
    import awkward as ak

    columns = {"mjj": table.mjj}
    columns.update({name: getattr(table, name) for name in _PER_JET_FIELDS})
    columns.update({name: getattr(table, name) for name in OPTIONAL_BRANCHES})
    for jet in range(2):
        particles = table.constituents[:, jet]
        counts = (particles[:, :, 0] > 0).sum(axis=1)
        keep = np.arange(particles.shape[1])[None, :] < counts[:, None]
        for k, feature in enumerate(CONSTITUENT_FEATURES):
            values = particles[:, :, k]
            columns[constituent_branch(jet, feature)] = (
                ak.unflatten(values[keep], counts) if jagged else values
            )
    return columns


class ColumnarEvents:
    """Checks, cuts and collects the chunks of a columnar event file.

    Parameters
    ----------
    path : path-like
        The file (for the messages and the metadata).
    n_constituents : int or None
        Constituent slots P kept per jet (the hardest); ``None`` keeps the largest list
        length of the file.
    invalid : {"raise", "drop"}
        Raise a one-line ``ValueError`` at the first invalid value, or drop and count the
        events that hold one.
    has_summaries : bool
        Whether the summary branches are read (otherwise they are computed).
    reader : str
        Name of the reading function, for the messages.
    """

    def __init__(self, path, n_constituents, invalid, has_summaries, reader):
        self.path = os.fspath(path)
        self.n_constituents = n_constituents
        self.invalid = invalid
        self.has_summaries = has_summaries
        self.reader = reader
        self.parts = []
        self.counts = {}
        self.n_read = 0
        self.n_cut = 0
        self.n_truncated = 0
        self.n_jets_truncated = 0
        self.longest = 0

    # -- conversion of one branch of one chunk to numpy --------------------------------

    def _fail(self, entry, message):
        raise ValueError(f"{self.path}: entry {entry}, {message}")

    def _no_missing(self, array, name, first):
        import awkward as ak

        missing = np.asarray(ak.is_none(array, axis=0))
        if missing.any():
            self._fail(
                first + int(np.flatnonzero(missing)[0]),
                f"branch {name!r} has no value (null; damaged file?).",
            )

    def _lists(self, array, name, first):
        """A list branch as (counts, values padded with 0 to the longest list)."""
        import awkward as ak

        self._no_missing(array, name, first)
        if array.ndim != 2:
            raise ValueError(
                f"{self.path}: branch {name!r} has the type {array.type}; a constituent "
                "branch holds one list of numbers per entry."
            )
        try:
            counts = np.asarray(ak.num(array, axis=1), dtype=np.int64)
            longest = int(counts.max(initial=0))
            padded = ak.fill_none(ak.pad_none(array, longest, axis=1, clip=True), 0.0)
            values = np.asarray(ak.to_numpy(padded), dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"{self.path}: branch {name!r} ({array.type}) is not a list of numbers "
                f"per entry: {one_line(err)}"
            ) from err
        return counts, values.reshape(len(array), longest)

    def _numbers(self, array, name, first, width=None):
        """A scalar branch as shape (n,), or a per-jet branch as shape (n, 2)."""
        import awkward as ak

        self._no_missing(array, name, first)
        if width is not None and array.ndim == 2:
            counts = np.asarray(ak.num(array, axis=1))
            wrong = np.flatnonzero(counts != width)
            if wrong.size:
                self._fail(
                    first + int(wrong[0]),
                    f"branch {name!r} holds {int(counts[wrong[0]])} values, expected "
                    f"{width} (leading and sub-leading jet).",
                )
        expected = 1 if width is None else 2
        try:
            values = ak.to_numpy(array)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"{self.path}: branch {name!r} ({array.type}) is not a number per "
                f"{'entry' if width is None else 'jet'}: {one_line(err)}"
            ) from err
        if values.ndim != expected or (width is not None and values.shape[1] != width):
            raise ValueError(
                f"{self.path}: branch {name!r} has the type {array.type}; expected "
                f"{'one number' if width is None else 'two numbers'} per entry."
            )
        return values

    # -- one chunk ---------------------------------------------------------------------

    def add(self, first, arrays):
        """Check, cut and keep entries ``first, …`` given as ``{branch: awkward array}``."""
        n = len(arrays[CONSTITUENT_BRANCHES[0]])
        self.n_read += n
        particles = [self._jet_particles(jet, first, arrays) for jet in range(2)]
        bad = np.zeros(n, dtype=bool)
        reports = []
        for jet, values in enumerate(particles):
            jet_bad, column, code = invalid_constituents(values)
            for key, count in _code_counts(code, jet_bad & ~bad).items():
                self.counts[key] = self.counts.get(key, 0) + count
            if jet_bad.any():
                entry = int(np.flatnonzero(jet_bad)[0])
                slot, feature = divmod(int(column[entry]), 3)
                reports.append(
                    (
                        entry,
                        f"branch {constituent_branch(jet, CONSTITUENT_FEATURES[feature])!r}"
                        f" [{slot}] ({FEATURES[feature]} of constituent {slot} of jet "
                        f"{jet + 1}) "
                        f"{describe_invalid(values[entry], column[entry], code[entry])}",
                    )
                )
            bad |= jet_bad
        if reports and self.invalid == "raise":
            self._raise_invalid(first, n, bad, min(reports))
        has_jets = np.all([np.any(p[:, :, 0] > 0, axis=1) for p in particles], axis=0)
        empty = ~bad & ~has_jets
        self.n_cut += int(empty.sum())
        keep = ~bad & ~empty
        summaries = self._summaries(first, arrays, keep)
        if summaries is not None:
            summary_bad = summaries.pop("_bad")
            keep &= ~summary_bad
        if not keep.any():
            return
        width = max(p.shape[1] for p in particles)
        constituents = np.stack(
            [np.pad(p[keep], ((0, 0), (0, width - p.shape[1]), (0, 0))) for p in particles],
            axis=1,
        )
        values = {"constituents": constituents, "entry": first + np.flatnonzero(keep)}
        if summaries is not None:
            values.update({name: column[keep] for name, column in summaries.items()})
        values.update(self._optional(first, arrays, keep))
        self.parts.append(values)

    def _jet_particles(self, jet, first, arrays):
        """(n, L, 3) constituents of one jet; the three lists of an entry must match."""
        counts, values = [], []
        for feature in CONSTITUENT_FEATURES:
            name = constituent_branch(jet, feature)
            count, value = self._lists(arrays[name], name, first)
            counts.append(count)
            values.append(value)
        for name, count in zip(
            CONSTITUENT_BRANCHES[3 * jet + 1 : 3 * jet + 3], counts[1:], strict=True
        ):
            wrong = np.flatnonzero(count != counts[0])
            if wrong.size:
                entry = int(wrong[0])
                self._fail(
                    first + entry,
                    f"branch {name!r} holds {int(count[entry])} values but "
                    f"{constituent_branch(jet, 'pt')!r} {int(counts[0][entry])}; the pT, η "
                    "and φ lists of a jet have one value per constituent.",
                )
        self.longest = max(self.longest, values[0].shape[1])
        return np.stack(values, axis=2)

    def _raise_invalid(self, first, n, bad, report):
        entry, where = report
        found = ", ".join(f"{key}: {count}" for key, count in sorted(self.counts.items()))
        raise ValueError(
            f"{self.path}: entry {first + entry}, {where}; invalid values in {int(bad.sum())} "
            f"of the entries [{first}, {first + n}) ({found}); "
            f"{self.reader}(..., invalid='drop') drops and counts such events."
        )

    def _summaries(self, first, arrays, keep):
        """The summary branches of the kept entries, checked; ``None`` without them."""
        if not self.has_summaries:
            return None
        n = keep.shape[0]
        columns = {"mjj": self._numbers(arrays["mjj"], "mjj", first).astype(np.float64)}
        for name in _PER_JET_FIELDS:
            columns[name] = self._numbers(arrays[name], name, first, width=2).astype(np.float64)
        bad = np.zeros(n, dtype=bool)
        report = None
        for name, values in columns.items():
            flat = values.reshape(n, -1)
            with np.errstate(invalid="ignore"):
                checks = [("non_finite", ~np.isfinite(flat), "not finite")]
                if name in ("mjj", "jet_pt"):
                    reason = "not positive (two jets have m_jj > 0)"
                    if name == "jet_pt":
                        reason = "not positive (a jet with constituents has pT > 0)"
                    key = f"{name}_not_positive"
                    checks.append((key, np.isfinite(flat) & (flat <= 0), reason))
            for key, wrong, reason in checks:
                rows = keep & ~bad & wrong.any(axis=1)
                if not rows.any():
                    continue
                self.counts[key] = self.counts.get(key, 0) + int(rows.sum())
                entry = int(np.flatnonzero(rows)[0])
                if report is None or entry < report[0]:
                    index = "" if values.ndim == 1 else f" [{int(np.argmax(wrong[entry]))}]"
                    value = float(flat[entry][np.argmax(wrong[entry])])
                    report = (entry, f"branch {name!r}{index} = {value:.6g}: {reason}")
                bad |= rows
        if report is not None and self.invalid == "raise":
            self._raise_invalid(first, n, bad, report)
        columns["_bad"] = bad
        return columns

    def _optional(self, first, arrays, keep):
        values = {}
        if "weight" in arrays:
            weight = self._numbers(arrays["weight"], "weight", first).astype(np.float64)
            wrong = np.flatnonzero(keep & ~np.isfinite(weight))
            if wrong.size:
                self._fail(
                    first + int(wrong[0]), f"branch 'weight' = {weight[wrong[0]]}: not finite."
                )
            values["weight"] = weight[keep]
        if "is_signal" in arrays:
            labels = self._numbers(arrays["is_signal"], "is_signal", first)
            wrong = np.flatnonzero(keep & ~np.isin(labels, (0, 1)))
            if wrong.size:
                self._fail(
                    first + int(wrong[0]),
                    f"branch 'is_signal' = {labels[wrong[0]]}: not 0 (background) or 1 (signal).",
                )
            values["is_signal"] = labels[keep].astype(bool)
        if "event_id" in arrays:
            ids = self._numbers(arrays["event_id"], "event_id", first)
            if ids.dtype.kind == "f":
                wrong = np.flatnonzero(keep & (~np.isfinite(ids) | (ids != np.round(ids))))
                if wrong.size:
                    self._fail(
                        first + int(wrong[0]),
                        f"branch 'event_id' = {ids[wrong[0]]}: not an integer.",
                    )
            values["event_id"] = ids[keep].astype(np.int64)
        return values

    # -- the table ---------------------------------------------------------------------

    def table(self, metadata, *, jet_radius, layout=None):
        """The :class:`EventTable` of every kept entry, with the counts in ``metadata``."""
        layout_slots = None if layout is None else layout.get("n_constituents")
        n_slots = self.n_constituents
        if n_slots is None:
            n_slots = int(layout_slots) if layout_slots is not None else self.longest
        n_slots = max(int(n_slots), 1)
        if not self.parts:
            raise ValueError(
                f"{self.path}: no event is left of the {self.n_read} entries read "
                f"({self.n_cut} with a jet without constituents, "
                f"{sum(self.counts.values())} dropped as invalid)."
            )
        constituents = []
        for part in self.parts:
            stored = part.pop("constituents")
            sorted_ = _sort_constituents_by_pt(stored.reshape(-1, *stored.shape[2:]))
            dropped = (sorted_[:, n_slots:, 0] > 0).sum(axis=1)
            self.n_truncated += int(dropped.sum())
            self.n_jets_truncated += int((dropped > 0).sum())
            kept = sorted_[:, :n_slots]
            if kept.shape[1] < n_slots:
                kept = np.pad(kept, ((0, 0), (0, n_slots - kept.shape[1]), (0, 0)))
            constituents.append(kept.reshape(-1, 2, n_slots, 3))
        constituents = np.concatenate(constituents)
        columns = {
            name: np.concatenate([part[name] for part in self.parts]) for name in self.parts[0]
        }
        entry = columns.pop("entry")
        n_kept = entry.shape[0]
        counts = {
            "n_read": self.n_read,
            "n_dropped_invalid": sum(self.counts.values()),
            "invalid_counts": dict(sorted(self.counts.items())),
            "n_cut_fewer_than_two_jets": self.n_cut,
            "n_constituents_truncated": self.n_truncated,
            "n_jets_truncated": self.n_jets_truncated,
            "n_constituents": n_slots,
            "invalid": self.invalid,
            "summaries": "read" if self.has_summaries else "computed from the constituents",
        }
        logger.info(
            "%s: read %d entries of %s; cut %d with a jet without constituents; dropped %d "
            "with invalid values; %d constituents beyond %d per jet dropped from %d jets.",
            self.reader,
            self.n_read,
            self.path,
            self.n_cut,
            counts["n_dropped_invalid"],
            self.n_truncated,
            n_slots,
            self.n_jets_truncated,
        )
        if counts["n_dropped_invalid"]:
            logger.warning(
                "%s: dropped %d event(s) of %s with invalid values (invalid='drop'): %s.",
                self.reader,
                counts["n_dropped_invalid"],
                self.path,
                counts["invalid_counts"],
            )
        metadata = {
            **metadata,
            **counts,
            "file_metadata": None if layout is None else layout.get("metadata"),
        }
        is_signal = columns.pop("is_signal", np.zeros(n_kept, dtype=bool))
        event_id = columns.pop("event_id", entry)
        weight = columns.pop("weight", np.ones(n_kept))
        if not self.has_summaries:
            return EventTable.from_constituents(
                constituents,
                is_signal=is_signal,
                event_id=event_id,
                weight=weight,
                jet_radius=jet_radius,
                metadata=metadata,
            )
        return EventTable(
            constituents=constituents,
            is_signal=is_signal,
            event_id=event_id,
            weight=weight,
            metadata=metadata,
            **columns,
        )


def _code_counts(code, rows):
    return count_invalid(code, rows)
