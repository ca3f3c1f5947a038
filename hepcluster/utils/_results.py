"""One saving and loading mixin for every result object: arrays in ``.npz``, the rest JSON.

:class:`ResultIO` gives a result dataclass ``to_dict``/``from_dict`` and ``save``/``load``
with an exact round trip: numpy arrays (anywhere, also inside dicts and lists) keep their
dtype and shape, tuples stay tuples, dict keys keep their type, numpy scalars stay numpy
scalars, NaN and infinities survive, and nested result objects come back as themselves.

Every file carries the name of its class and a SHA-256 checksum of its content, checked on
load: a file that was cut short, zeroed, edited by hand, or that holds another kind of
result (or is no result at all: a PNG, an event file) raises
:class:`~hepcluster.utils._errors.InvalidFileError` naming the file and the cause. Values
that change from run to run without changing the result (run times, listed in a class's
``_IO_VOLATILE``) are stored outside the checksummed content, and the archive itself is
written without time stamps, so that two files of the same result differ at most in that
one member and have the same checksum.
"""

import dataclasses
import hashlib
import importlib
import json
import os
import sys
import tempfile
import zipfile
import zlib

import numpy as np

from ._errors import InvalidFileError

__all__ = ["ResultIO", "read_checksum", "write_json"]

# Format version written into every file, with its ``_class`` and ``_checksum`` members;
# :meth:`ResultIO.load` reads this version only.
_FORMAT = 3
# Time stamp of every archive member: results of equal content are equal files.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
# Keys of the tagged JSON objects that stand for values JSON cannot hold.
_ARRAY = "__ndarray__"
_TUPLE = "__tuple__"
_ITEMS = "__items__"
_RESULT = "__result__"


def text_table(header, rows):
    """The lines of a plain-text table, every column right-aligned to its widest cell.

    Parameters
    ----------
    header : sequence of str
    rows : sequence of sequences of str

    Returns
    -------
    list of str
    """
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    return [
        "  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True))
        for line in (header, *rows)
    ]


def html_table(caption, header, rows):
    """An HTML table (for ``_repr_html_`` of results in notebooks), every cell escaped.

    Parameters
    ----------
    caption : str or sequence of str
        One line, or several shown on separate lines.
    header : sequence of str
    rows : sequence of sequences of str

    Returns
    -------
    str
    """
    import html

    lines = [caption] if isinstance(caption, str) else list(caption)
    caption = "<br>".join(html.escape(line) for line in lines)
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return (
        f"<table><caption>{caption}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def write_json(value, path):
    """Write ``value`` as strict JSON: NaN and infinities become ``null``, numpy scalars numbers.

    Parameters
    ----------
    value : dict, list or scalar
    path : str or path-like

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "summary.json"
    >>> write_json({"z": float("nan"), "n": np.int64(3), "zs": [1.0, float("inf")]}, path)
    >>> json.loads(path.read_text())
    {'z': None, 'n': 3, 'zs': [1.0, None]}
    """
    with open(path, "w") as file:
        json.dump(_strict(value), file, indent=2, allow_nan=False)


def _strict(value):
    if isinstance(value, dict):
        return {str(key): _strict(item) for key, item in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_strict(item) for item in value]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    return value


class _Encoder:
    """Turns a value into JSON-ready data, moving arrays into ``self.arrays``."""

    def __init__(self):
        self.arrays = {}

    def array(self, value, name=None):
        value = np.asarray(value)
        if value.dtype.hasobject:
            raise TypeError(
                "ResultIO cannot save arrays of dtype object (they would need pickle); "
                "store lists or arrays of a numeric or string dtype."
            )
        key = name if name is not None else f"_array_{len(self.arrays)}"
        self.arrays[key] = value
        return key

    def encode(self, value):
        if isinstance(value, ResultIO):
            cls = type(value)
            return {
                _RESULT: f"{cls.__module__}:{cls.__qualname__}",
                "fields": {name: self.encode(item) for name, item in value._io_fields().items()},
            }
        if isinstance(value, np.ndarray):
            return {_ARRAY: self.array(value)}
        if isinstance(value, np.generic):
            return {_ARRAY: self.array(value), "scalar": True}
        if isinstance(value, tuple):
            return {_TUPLE: [self.encode(item) for item in value]}
        if isinstance(value, list):
            return [self.encode(item) for item in value]
        if isinstance(value, dict):
            if all(isinstance(key, str) for key in value) and not _is_tagged(value):
                return {key: self.encode(item) for key, item in value.items()}
            return {_ITEMS: [[self.encode(key), self.encode(item)] for key, item in value.items()]}
        if value is None or isinstance(value, bool | int | float | str):
            return value
        raise TypeError(
            f"ResultIO cannot save a value of type {type(value).__name__!r}; use arrays, "
            "numbers, strings, None, lists, tuples, dicts or result objects."
        )


def _is_tagged(mapping):
    return any(key in mapping for key in (_ARRAY, _TUPLE, _ITEMS, _RESULT))


def _decode(value, arrays):
    if isinstance(value, list):
        return [_decode(item, arrays) for item in value]
    if not isinstance(value, dict):
        return value
    if _ARRAY in value:
        array = arrays[value[_ARRAY]]
        return array[()] if value.get("scalar") else array
    if _TUPLE in value:
        return tuple(_decode(item, arrays) for item in value[_TUPLE])
    if _ITEMS in value:
        return {
            _hashable(_decode(key, arrays)): _decode(item, arrays) for key, item in value[_ITEMS]
        }
    if _RESULT in value:
        cls = _result_class(value[_RESULT])
        return cls._from_io_fields(
            {name: _decode(item, arrays) for name, item in value["fields"].items()}
        )
    return {key: _decode(item, arrays) for key, item in value.items()}


def _hashable(key):
    return key.item() if isinstance(key, np.ndarray) and key.ndim == 0 else key


def _result_class(name):
    """The ResultIO subclass ``module:qualname``.

    Only hepcluster's own modules are imported; a class elsewhere must already be imported
    (so that loading a file never runs foreign code), and it must be a ResultIO subclass.
    """
    module_name, _, qualname = name.partition(":")
    if module_name == "hepcluster" or module_name.startswith("hepcluster."):
        obj = importlib.import_module(module_name)
    elif module_name in sys.modules:
        obj = sys.modules[module_name]
    else:
        raise ValueError(
            f"refusing to load a result of class {name!r}: its module is outside hepcluster "
            "and not imported."
        )
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    if not (isinstance(obj, type) and issubclass(obj, ResultIO)):
        raise ValueError(f"{name!r} is not a result class.")
    return obj


def _content_checksum(arrays, scalars_text, class_name):
    """SHA-256 of a result's class, JSON part and arrays (names, dtypes, shapes, bytes)."""
    digest = hashlib.sha256()
    digest.update(f"{class_name}\0{scalars_text}".encode())
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"\0{name}\0{array.dtype.str}\0{array.shape}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _describe(head):
    """What a file that is not a zip archive looks like, from its first bytes."""
    if head.startswith(b"\x89PNG"):
        return "it is a PNG image"
    if head.startswith(b"\x89HDF"):
        return "it is an HDF5 file (an event table?), not a result"
    if head.startswith(b"\x93NUMPY"):
        return "it is a single .npy array, not a .npz result"
    if head.lstrip().startswith((b"{", b"[")):
        return "it is JSON text, not a .npz result"
    if not head.strip(b"\0"):
        return "it holds only zero bytes"
    return "it is not a zip archive"


def _read_archive(path, what="hepcluster result"):
    """Every member of a ``.npz`` file, or an error naming the file and what is wrong."""
    try:
        with open(path, "rb") as file:
            head = file.read(16)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such result file: {path}") from None
    except IsADirectoryError:
        raise InvalidFileError(f"{path} is a folder, not a result file (.npz).") from None
    except OSError as error:
        raise OSError(f"{path} cannot be read: {error.strerror or error}.") from None
    if not head:
        raise InvalidFileError(f"{path} is not a {what} file: it is empty.")
    if not head.startswith(b"PK"):
        raise InvalidFileError(f"{path} is not a {what} file (.npz): {_describe(head)}.")
    try:
        # an open file, so that a damaged archive leaves no file handle behind
        with open(path, "rb") as file, np.load(file, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError, KeyError) as error:
        raise InvalidFileError(
            f"{path} is damaged or cut short ({type(error).__name__}: {error})."
        ) from None


def read_checksum(path):
    """The content checksum stored in a result file (equal for equal results).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    str
        The hexadecimal SHA-256 of the file's content without its volatile values (run
        times).

    Raises
    ------
    InvalidFileError
        If the file is no hepcluster result (it has no checksum).
    """
    path = os.fspath(path)
    arrays = _read_archive(path)
    if "_checksum" not in arrays:
        raise InvalidFileError(f"{path} is not a hepcluster result file: it has no checksum.")
    return str(arrays["_checksum"])


def _write_archive(path, members):
    """Write a compressed ``.npz`` atomically, without time stamps (equal content, equal bytes)."""
    folder = os.path.dirname(path) or "."
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.")
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, value in members.items():
                info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                with archive.open(info, "w", force_zip64=True) as file:
                    np.lib.format.write_array(file, np.asanyarray(value), allow_pickle=False)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def _check_types(cls, values, bad):
    """Every field present, none unknown, and each of the type it is annotated with.

    The annotations checked are arrays, strings, numbers, dicts and lists.
    """
    if not dataclasses.is_dataclass(cls):
        return
    expected_types = {
        np.ndarray: (np.ndarray,),
        str: (str,),
        float: (float, int, np.floating, np.integer),
        int: (int, np.integer),
        dict: (dict,),
        list: (list,),
    }
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    required = {
        name
        for name, f in fields.items()
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    missing = sorted(required - set(values))
    if missing:
        raise bad(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    unexpected = sorted(set(values) - set(fields))
    if unexpected:
        raise bad(f"unexpected field{'s' if len(unexpected) > 1 else ''} {', '.join(unexpected)}")
    for name, value in values.items():
        if name not in fields:
            continue
        allowed = expected_types.get(fields[name].type)
        if allowed is not None and value is not None and not isinstance(value, allowed):
            raise bad(
                f"field {name} holds a {type(value).__name__}, expected "
                f"{fields[name].type.__name__}"
            )


class ResultIO:
    """Mixin for result dataclasses: ``to_dict``/``from_dict`` and ``save``/``load``.

    A subclass is a :func:`~dataclasses.dataclass` whose fields hold numpy arrays,
    numbers, strings, ``None``, and lists, tuples and dicts of these (nested to any depth),
    or other :class:`ResultIO` objects. Classes that are not dataclasses override
    :meth:`_io_fields` and :meth:`_from_io_fields`.

    ``load(save(r))`` reproduces ``r`` exactly: every array with its dtype and shape,
    tuples as tuples, numpy scalars as numpy scalars, non-string dict keys, NaN and ±inf.
    Arrays of dtype object are refused (they would need pickle, which :meth:`load` never
    uses).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from dataclasses import dataclass, field
    >>> import numpy as np
    >>> from hepcluster.utils._results import ResultIO
    >>> @dataclass
    ... class Toy(ResultIO):
    ...     values: np.ndarray
    ...     name: str
    ...     metadata: dict = field(default_factory=dict)
    >>> toy = Toy(np.arange(3), "toy", {"bins": (1.0, 2.0), "seed": None})
    >>> path = toy.save(pathlib.Path(tempfile.mkdtemp()) / "toy.npz")
    >>> again = Toy.load(path)
    >>> again.values, again.metadata
    (array([0, 1, 2]), {'bins': (1.0, 2.0), 'seed': None})
    """

    # (field, key) pairs of dict fields whose values change from run to run without
    # changing the result (run times): saved outside the checksummed content.
    _IO_VOLATILE = ()

    # --- hooks --------------------------------------------------------------------------

    def _io_fields(self):
        """The values that define the result, by name (the dataclass fields)."""
        if not dataclasses.is_dataclass(self):
            raise TypeError(
                f"{type(self).__name__} is not a dataclass; override _io_fields and "
                "_from_io_fields to use ResultIO."
            )
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def _from_io_fields(cls, values):
        """Rebuild a result from the values of :meth:`_io_fields`."""
        return cls(**values)

    # --- public -------------------------------------------------------------------------

    def to_dict(self):
        """All fields as a dict of their values (round-trips with :meth:`from_dict`).

        Returns
        -------
        dict
            Field name to value; arrays and nested objects are the result's own (no copy).
        """
        return self._io_fields()

    @classmethod
    def from_dict(cls, values):
        """Rebuild a result from :meth:`to_dict` output.

        Parameters
        ----------
        values : dict

        Returns
        -------
        ResultIO
        """
        return cls._from_io_fields(dict(values))

    def save(self, path):
        """Write the result to a compressed ``.npz`` file (read it back with :meth:`load`).

        Parameters
        ----------
        path : str or path-like
            Where to write; numpy appends ``.npz`` when the name lacks it.

        Returns
        -------
        str
            The path of the file written.

        Raises
        ------
        TypeError
            If a value cannot be stored without pickle (arrays of dtype object, arbitrary
            objects).
        """
        encoder = _Encoder()
        scalars = {}
        volatile = {}
        fields = dict(self._io_fields())
        for name, key in self._IO_VOLATILE:
            if isinstance(fields.get(name), dict) and key in fields[name]:
                fields[name] = dict(fields[name])
                volatile.setdefault(name, {})[key] = fields[name].pop(key)
        for name, value in fields.items():
            if isinstance(value, np.ndarray):
                # top-level arrays under their own name, readable with a plain np.load
                scalars[name] = {_ARRAY: encoder.array(value, name=name)}
            else:
                scalars[name] = encoder.encode(value)
        path = os.fspath(path)
        if not path.endswith(".npz"):
            path += ".npz"
        scalars_text = json.dumps(scalars)
        class_name = f"{type(self).__module__}:{type(self).__qualname__}"
        checksum = _content_checksum(encoder.arrays, scalars_text, class_name)
        members = {
            **encoder.arrays,
            "_scalars": np.asarray(scalars_text),
            "_format": np.asarray(_FORMAT),
            "_class": np.asarray(class_name),
            "_checksum": np.asarray(checksum),
        }
        if volatile:
            members["_volatile"] = np.asarray(json.dumps(volatile))
        _write_archive(path, members)
        return path

    @classmethod
    def load(cls, path):
        """Read a result written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like
            The file; ``.npz`` is appended when a file of the given name does not exist.

        Returns
        -------
        ResultIO
            An object of this class equal, field by field, to the one saved.
        """
        path = os.fspath(path)
        if not os.path.exists(path) and os.path.exists(path + ".npz"):
            path += ".npz"
        arrays = _read_archive(path, cls.__name__)

        def bad(why):
            return InvalidFileError(f"{path} is not a valid {cls.__name__} file: {why}.")

        if "_scalars" not in arrays:
            raise bad("it has no '_scalars' member, so hepcluster did not write it")
        try:
            scalars_text = str(arrays.pop("_scalars"))
            scalars = json.loads(scalars_text)
            file_format = int(arrays.pop("_format")) if "_format" in arrays else None
            class_name = str(arrays.pop("_class")) if "_class" in arrays else None
            checksum = str(arrays.pop("_checksum")) if "_checksum" in arrays else None
            volatile = json.loads(str(arrays.pop("_volatile"))) if "_volatile" in arrays else {}
        except (ValueError, TypeError) as error:
            raise bad(f"its header is damaged ({error})") from None
        if not isinstance(scalars, dict) or not isinstance(volatile, dict):
            raise bad("its '_scalars' member is not a JSON object")
        if file_format != _FORMAT:
            raise bad(
                f"it has file format {file_format}, this version reads format {_FORMAT} only"
            )
        if checksum is None or class_name is None:
            raise bad("its checksum or class name is missing")
        if checksum != _content_checksum(arrays, scalars_text, class_name):
            raise bad("checksum mismatch, the file was edited or damaged after it was written")
        if class_name != f"{cls.__module__}:{cls.__qualname__}":
            try:
                stored = _result_class(class_name)
            except (ImportError, ValueError):
                stored = None
            if stored is None or not issubclass(stored, cls):
                raise bad(f"it holds a {class_name.rpartition(':')[2]}, not a {cls.__name__}")
        try:
            values = {name: _decode(value, arrays) for name, value in scalars.items()}
        except (KeyError, TypeError, ValueError, AttributeError, ImportError) as error:
            raise bad(f"its content is damaged ({type(error).__name__}: {error})") from None
        for name, entries in volatile.items():
            if isinstance(values.get(name), dict) and isinstance(entries, dict):
                values[name] = {**values[name], **entries}
        _check_types(cls, values, bad)
        try:
            return cls._from_io_fields(values)
        except (TypeError, ValueError, KeyError, IndexError) as error:
            raise bad(f"its content is inconsistent ({error})") from None
