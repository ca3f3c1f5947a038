"""Event tables in parquet files, read and written with pyarrow (awkward for the lists)."""

import os
from pathlib import Path

import numpy as np

from ..utils import import_optional, progress
from ..utils._validation import (
    PATH,
    validate,
)
from ._columnar import (
    METADATA_KEY,
    READER_CONSTRAINTS,
    ColumnarEvents,
    entry_bounds,
    jet_columns,
    layout_json,
    parse_layout,
    plan_branches,
)
from ._event_table import EventTable, one_line

_CHUNK = 100_000


def _call(path, what, function, *args, **kwargs):
    """Run a pyarrow call; a library error becomes a one-line ``ValueError``."""
    try:
        return function(*args, **kwargs)
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as err:  # pyarrow raises ArrowInvalid, OSError, … on damage
        raise ValueError(
            f"{os.fspath(path)}: {what} (truncated or damaged file?): "
            f"{type(err).__name__}: {one_line(err)}"
        ) from err


def _column_names(schema):
    """``{name: (column, field)}``; a struct column ``c`` with field ``f`` is ``c_f``."""
    pa = import_optional("pyarrow", extra="io")
    names = {}
    for column in schema:
        kind = column.type
        while pa.types.is_list(kind) or pa.types.is_large_list(kind):
            kind = kind.value_type
        if pa.types.is_struct(kind):
            for k in range(kind.num_fields):
                names[f"{column.name}_{kind.field(k).name}"] = (column.name, kind.field(k).name)
        names[column.name] = (column.name, None)
    return names


@validate(
    {
        "path": PATH,
        **READER_CONSTRAINTS,
    }
)
def read_parquet(
    path,
    *,
    n_events=None,
    start=0,
    chunksize=_CHUNK,
    n_constituents=None,
    jet_radius=1.0,
    invalid="raise",
):
    """Read an event table from a parquet file (pyarrow; awkward for the lists).

    The columns are the branches of :func:`read_root` (one row per event; the
    constituent columns lists, the per-jet columns fixed-size lists of 2 or lists of
    two numbers); a struct column ``jet1_constituents`` with fields ``pt``, ``eta``,
    ``phi`` (as ``ak.to_parquet`` writes ``ak.zip`` records) counts as the three columns
    ``jet1_constituents_pt`` …. Files written by ``ak.to_parquet`` or pyarrow read the
    same way. Row groups are read ``chunksize`` rows at a time, with the same checks,
    the same counted cuts and the same one-line errors naming file, entry (row) and
    column as :func:`read_root`.

    Parameters
    ----------
    path : str or path-like
        The parquet file.
    n_events : int, default=None
        Number of rows to read; ``None`` reads to the end.
    start : int, default=0
        First row to read.
    chunksize : int, default=100_000
        Rows read and checked at a time; the result does not depend on it.
    n_constituents : int, default=None
        Constituent slots P kept per jet (see :func:`read_root`).
    jet_radius : float, default=1.0
        R0 of τ21, used only when the summaries are computed from the constituents.
    invalid : {"raise", "drop"}, default="raise"
        Raise at the first invalid value, or drop and count the events holding one.

    Returns
    -------
    EventTable
        ``metadata`` as for :func:`read_root` (``source`` is ``"parquet"``, no ``tree``).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        In one line with the path: a file that is not parquet, truncated or damaged,
        without a required column, or holding an invalid value.
    ImportError
        Without pyarrow: ``pip install "hepcluster[io]"``.

    See Also
    --------
    EventTable.to_parquet : Write this layout.
    read_root : The layout, column by column.

    Examples
    --------
    >>> import os, tempfile
    >>> import pytest
    >>> _ = pytest.importorskip("pyarrow")
    >>> from hepcluster.datasets import make_dijet_events, read_parquet
    >>> events = make_dijet_events(40, 10, random_state=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "events.parquet")
    >>> events.to_parquet(path)
    >>> table = read_parquet(path)
    >>> len(table), table.n_signal, bool((table.constituents == events.constituents).all())
    (50, 10, True)
    """
    pq = import_optional("pyarrow.parquet", extra="io")
    ak = import_optional("awkward", extra="io")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"parquet file not found: {os.fspath(path)!r}")
    if path.is_dir():
        raise ValueError(f"{os.fspath(path)} is a directory, not a parquet file.")
    file = _call(path, "is not a readable parquet file", pq.ParquetFile, path)
    with file:
        schema = file.schema_arrow
        stored = (schema.metadata or {}).get(METADATA_KEY.encode())
        layout = parse_layout(None if stored is None else stored.decode(), path)
        columns = _column_names(schema)
        names, has_summaries = plan_branches(columns, path, "the file")
        reader = ColumnarEvents(path, n_constituents, invalid, has_summaries, "read_parquet")
        bounds = entry_bounds(file.metadata.num_rows, start, n_events, chunksize, path)
        chunk_start, chunk_stop = bounds[0][0], bounds[-1][1]
        # whole row groups before the first entry are skipped; batches cut at the bounds
        sizes = [file.metadata.row_group(k).num_rows for k in range(file.num_row_groups)]
        ends = np.cumsum(sizes)
        first_group = int(np.searchsorted(ends, chunk_start, side="right"))
        position = int(ends[first_group - 1]) if first_group else 0
        top = sorted({columns[name][0] for name in names})
        batches = {
            column: file.iter_batches(
                batch_size=chunksize,
                row_groups=range(first_group, file.num_row_groups),
                columns=[column],
                use_threads=False,
            )
            for column in top
        }
        with progress(total=len(bounds), desc="read_parquet", unit="chunk") as bar:
            while position < chunk_stop:
                batch = {}
                for column, iterator in batches.items():
                    data = _call(
                        path,
                        f"rows from {position} of column {column!r} cannot be read",
                        next,
                        iterator,
                        None,
                    )
                    batch[column] = ak.from_arrow(data.column(0))
                size = len(next(iter(batch.values())))
                if size == 0:
                    break
                low, high = max(chunk_start - position, 0), min(chunk_stop - position, size)
                if low < high:
                    arrays = {}
                    for name in names:
                        column, field = columns[name]
                        values = batch[column][low:high]
                        arrays[name] = values if field is None else values[field]
                    reader.add(position + low, arrays)
                    bar.update(1)
                position += size
    metadata = {"source": "parquet", "path": os.fspath(path.resolve())}
    return reader.table(metadata, jet_radius=jet_radius, layout=layout)


def write_parquet(table, path, *, chunksize=_CHUNK):
    """Write ``table`` as parquet in the layout of :func:`read_parquet` (pyarrow).

    One row group per ``chunksize`` events; the constituents as lists of float32 (real
    constituents only), the per-jet summaries as fixed-size lists of 2; the metadata and
    P in the schema metadata ``hepcluster_event_table`` (JSON).
    """
    pa = import_optional("pyarrow", extra="io")
    pq = import_optional("pyarrow.parquet", extra="io")
    if not isinstance(table, EventTable):
        raise TypeError(f"write_parquet writes an EventTable, got {type(table).__name__}.")
    layout = layout_json(table)
    writer = None
    try:
        for first in range(0, len(table), chunksize):
            arrow = _arrow_table(jet_columns(table[first : first + chunksize]), pa)
            if writer is None:
                schema = arrow.schema.with_metadata({METADATA_KEY: layout})
                writer = pq.ParquetWriter(path, schema)
            writer.write_table(arrow.replace_schema_metadata(schema.metadata))
    finally:
        if writer is not None:
            writer.close()


def _arrow_table(columns, pa):
    arrays = {}
    for name, column in columns.items():
        if isinstance(column, np.ndarray) and column.ndim == 2:
            arrays[name] = pa.FixedSizeListArray.from_arrays(
                pa.array(column.ravel()), column.shape[1]
            )
        elif isinstance(column, np.ndarray):
            arrays[name] = pa.array(column)
        else:  # an awkward list array
            import awkward as ak

            counts = np.asarray(ak.num(column, axis=1), dtype=np.int32)
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
            values = np.asarray(ak.flatten(column), dtype=np.float32)
            arrays[name] = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))
    return pa.table(arrays)
