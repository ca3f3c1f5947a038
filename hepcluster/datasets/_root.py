"""Event tables in ROOT files (TTree or RNTuple), read and written with uproot."""

import os
from pathlib import Path

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

DEFAULT_TREE = "events"
"""Name of the tree :func:`write_root` writes and :func:`read_root` looks for first."""
_CHUNK = 100_000


def _uproot():
    return import_optional("uproot", extra="io")


def _call(path, what, function, *args, **kwargs):
    """Run an uproot call; any library error becomes a one-line ``ValueError``."""
    try:
        return function(*args, **kwargs)
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as err:  # uproot raises many types on damaged files
        raise ValueError(
            f"{os.fspath(path)}: {what} (truncated or damaged file?): "
            f"{type(err).__name__}: {one_line(err)}"
        ) from err


def _find_tree(file, tree, path):
    """The TTree or RNTuple named ``tree``, or the only one (``"events"`` first)."""
    classes = {key.split(";")[0]: name for key, name in file.classnames().items()}
    trees = [key for key, name in classes.items() if name in ("TTree", "ROOT::RNTuple")]
    if tree is None:
        if DEFAULT_TREE in trees:
            tree = DEFAULT_TREE
        elif len(trees) == 1:
            tree = trees[0]
        else:
            raise ValueError(
                f"{os.fspath(path)} holds {len(trees)} trees {trees}; name one with tree=."
            )
    elif tree not in trees:
        raise ValueError(
            f"{os.fspath(path)} has no tree {tree!r} (found trees: {trees}, "
            f"objects: {sorted(classes)})."
        )
    return tree, _call(path, f"tree {tree!r} cannot be read", file.__getitem__, tree)


@validate(
    {
        "path": PATH,
        "tree": [str, None],
        **READER_CONSTRAINTS,
    }
)
def read_root(
    path,
    *,
    tree=None,
    n_events=None,
    start=0,
    chunksize=_CHUNK,
    n_constituents=None,
    jet_radius=1.0,
    invalid="raise",
):
    """Read an event table from a ROOT file (a TTree or an RNTuple) with uproot.

    One entry per event. Branches (names as below; a nested field ``jet1_constituents.pt``
    of an RNTuple counts as ``jet1_constituents_pt``):

    ========================== ==================== =====================================
    branch                     per entry            meaning
    ========================== ==================== =====================================
    ``jet1_constituents_pt``   list of numbers      pT [GeV] of the constituents of the
                                                    leading jet (any order; pT = 0 is
                                                    padding)
    ``jet1_constituents_eta``  same length          η of those constituents
    ``jet1_constituents_phi``  same length          φ [rad]
    ``jet2_constituents_*``    as above             the sub-leading jet
    ``mjj``                    number               m_jj [GeV] of the two jets
    ``jet_pt``                 2 numbers            (leading, sub-leading) jet pT [GeV]
    ``jet_eta``, ``jet_phi``   2 numbers            their η and φ [rad]
    ``jet_mass``, ``tau21``    2 numbers            their mass [GeV] and τ21
    ``is_signal``              bool or 0/1          truth label (default: background)
    ``event_id``               integer              (default: the entry number)
    ``weight``                 number               event weight (default: 1)
    ========================== ==================== =====================================

    The six constituent branches are required. Lists may be jagged (``double[]`` with a
    counter branch, as uproot writes awkward lists) or of fixed size (``float[100]``). The
    six summary branches ``mjj … tau21`` come all together (they are read as they are,
    e.g. the kinematics of the full jets) or not at all: then they are computed from the
    constituents (:meth:`EventTable.from_constituents`, which also orders the two jets by
    pT). Per-jet branches are of fixed size 2 (``double[2]``) or lists of two numbers.

    Entries are read ``chunksize`` at a time. Every value is checked as by the HDF5
    readers (:func:`read_lhco`, :meth:`EventTable.read_hdf5`): a NaN or infinite value,
    a negative pT, a constituent no 13 TeV collision makes (pT or energy above √s,
    ``|φ| > 2π``), a non-positive m_jj or jet pT, a truth label other than 0 or 1, or pT, η
    and φ lists of different lengths are a one-line ``ValueError`` naming the file, the
    entry and the branch (with ``invalid="drop"``, the events holding the first five
    kinds are dropped and counted instead). Events with a jet without constituents are
    cut and counted.

    Parameters
    ----------
    path : str or path-like
        The ROOT file.
    tree : str, default=None
        Name of the TTree or RNTuple; ``None`` takes ``"events"`` or the only tree.
    n_events : int, default=None
        Number of entries to read; ``None`` reads to the end.
    start : int, default=0
        First entry to read.
    chunksize : int, default=100_000
        Entries read and checked at a time; the result does not depend on it.
    n_constituents : int, default=None
        Constituent slots P kept per jet, the hardest ones (the number dropped is counted
        in ``metadata["n_constituents_truncated"]``); ``None`` keeps the P of a file
        written by :meth:`EventTable.to_root`, or else the longest list of the file.
    jet_radius : float, default=1.0
        R0 of τ21, used only when the summaries are computed.
    invalid : {"raise", "drop"}, default="raise"
        Raise at the first invalid value, or drop and count the events holding one
        (``metadata["n_dropped_invalid"]`` and ``metadata["invalid_counts"]``).

    Returns
    -------
    EventTable
        Constituents sorted by decreasing pT, zero padded to P. ``metadata`` holds
        ``source``, ``path``, ``tree``, ``n_read`` (entries read: the sum of the dropped,
        the cut and the returned events), ``n_dropped_invalid``, ``invalid_counts``,
        ``n_cut_fewer_than_two_jets``, ``n_constituents_truncated``, ``n_jets_truncated``,
        ``n_constituents``, ``summaries`` and ``file_metadata`` (the metadata stored by
        :meth:`EventTable.to_root`, ``None`` for other files).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        In one line with the path: a file that is not ROOT, truncated or damaged, without
        the tree or a required branch, or holding an invalid value (see above).
    ImportError
        Without uproot: ``pip install "hepcluster[io]"``.

    See Also
    --------
    EventTable.to_root : Write this layout.
    read_parquet : The same layout in a parquet file.

    Examples
    --------
    >>> import os, tempfile
    >>> import pytest
    >>> _ = pytest.importorskip("uproot")
    >>> from hepcluster.datasets import make_dijet_events, read_root
    >>> events = make_dijet_events(40, 10, random_state=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "events.root")
    >>> events.to_root(path)
    >>> table = read_root(path)
    >>> len(table), table.n_signal, bool((table.mjj == events.mjj).all())
    (50, 10, True)
    """
    uproot = _uproot()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"ROOT file not found: {os.fspath(path)!r}")
    if path.is_dir():
        raise ValueError(f"{os.fspath(path)} is a directory, not a ROOT file.")
    file = _call(path, "is not a readable ROOT file", uproot.open, path)
    with file:
        tree_name, events = _find_tree(file, tree, path)
        layout = None
        keys = _call(path, "is not a readable ROOT file", file.keys)
        if METADATA_KEY in {key.split(";")[0] for key in keys}:
            text = _call(path, f"{METADATA_KEY} cannot be read", file.__getitem__, METADATA_KEY)
            layout = parse_layout(str(text), path)
        # uproot reads a tree's branch list lazily: a truncated file fails here
        tree_keys = _call(path, f"tree {tree_name!r} cannot be read", events.keys)
        branches = {key.replace(".", "_"): key for key in tree_keys}
        names, has_summaries = plan_branches(branches, path, f"tree {tree_name!r}")
        n_entries = int(events.num_entries)
        reader = ColumnarEvents(path, n_constituents, invalid, has_summaries, "read_root")
        bounds = entry_bounds(n_entries, start, n_events, chunksize, path)
        for first, stop in progress(bounds, desc="read_root", unit="chunk"):
            arrays = {}
            for name in names:
                arrays[name] = _call(
                    path,
                    f"entries [{first}, {stop}) of branch {name!r} cannot be read",
                    events[branches[name]].array,
                    entry_start=first,
                    entry_stop=stop,
                    library="ak",
                )
            reader.add(first, arrays)
    metadata = {"source": "ROOT", "path": os.fspath(path.resolve()), "tree": tree_name}
    return reader.table(metadata, jet_radius=jet_radius, layout=layout)


def write_root(table, path, *, tree=DEFAULT_TREE, chunksize=_CHUNK):
    """Write ``table`` as a ROOT TTree in the layout of :func:`read_root` (uproot).

    The constituents become jagged branches (real constituents only, pT > 0), the
    per-jet summaries ``double[2]`` branches; the metadata and P go to a TObjString
    ``hepcluster_event_table`` (JSON), so that :func:`read_root` gives the table back.
    """
    uproot = _uproot()
    import awkward as ak

    if not isinstance(table, EventTable):
        raise TypeError(f"write_root writes an EventTable, got {type(table).__name__}.")
    layout = layout_json(table)
    with uproot.recreate(path) as file:
        output = None
        for first in range(0, len(table), chunksize):
            columns = _grouped(jet_columns(table[first : first + chunksize]), ak)
            if output is None:
                types = {
                    name: column.type if isinstance(column, ak.Array) else column_type(column)
                    for name, column in columns.items()
                }
                output = file.mktree(tree, types)
            output.extend(columns)
        file[METADATA_KEY] = layout


def column_type(array):
    """The uproot branch type of a numpy column: its dtype, with the shape of one entry."""
    return (array.dtype, array.shape[1:]) if array.ndim > 1 else array.dtype


def _grouped(columns, ak):
    """Zip each jet's three constituent lists, so that they share one counter branch."""
    grouped = {}
    for name, column in columns.items():
        if name.startswith("jet") and "_constituents_" in name:
            group, feature = name.split("_constituents_")
            grouped.setdefault(f"{group}_constituents", {})[feature] = column
        else:
            grouped[name] = column
    return {
        name: ak.zip(value) if isinstance(value, dict) else value
        for name, value in grouped.items()
    }
