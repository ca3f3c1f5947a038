"""One saving and loading mixin for every result object: arrays in ``.npz``, the rest JSON.

:class:`ResultIO` gives a result dataclass ``to_dict``/``from_dict`` and ``save``/``load``
with an exact round trip: numpy arrays (anywhere, also inside dicts and lists) keep their
dtype and shape, tuples stay tuples, dict keys keep their type, numpy scalars stay numpy
scalars, NaN and infinities survive, and nested result objects come back as themselves.
Files written by earlier versions (top-level arrays plus a plain JSON ``_scalars`` entry)
still load.
"""

import dataclasses
import importlib
import json
import os
import sys

import numpy as np

__all__ = ["ResultIO", "write_json"]

# Format version written into every file (absent in files of earlier versions).
_FORMAT = 2
# Keys of the tagged JSON objects that stand for values JSON cannot hold.
_ARRAY = "__ndarray__"
_TUPLE = "__tuple__"
_ITEMS = "__items__"
_RESULT = "__result__"


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

    Attributes
    ----------
    _ARRAY_FIELDS : tuple of str
        Kept for compatibility; array fields are found automatically.

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

    _ARRAY_FIELDS = ()

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
        for name, value in self._io_fields().items():
            if isinstance(value, np.ndarray):
                # top-level arrays under their own name, readable with a plain np.load
                scalars[name] = {_ARRAY: encoder.array(value, name=name)}
            else:
                scalars[name] = encoder.encode(value)
        path = os.fspath(path)
        np.savez_compressed(
            path,
            **encoder.arrays,
            _scalars=np.asarray(json.dumps(scalars)),
            _format=np.asarray(_FORMAT),
        )
        return path if path.endswith(".npz") else path + ".npz"

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
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        scalars = json.loads(str(arrays.pop("_scalars")))
        arrays.pop("_format", None)
        values = {name: _decode(value, arrays) for name, value in scalars.items()}
        referenced = _referenced_arrays(scalars)
        # files of earlier versions: top-level arrays under their field names, untagged
        for name, array in arrays.items():
            if name not in referenced and not name.startswith("_"):
                values[name] = array
        return cls._from_io_fields(values)


def _referenced_arrays(value, found=None):
    found = set() if found is None else found
    if isinstance(value, dict):
        if _ARRAY in value:
            found.add(value[_ARRAY])
        for item in value.values():
            _referenced_arrays(item, found)
    elif isinstance(value, list):
        for item in value:
            _referenced_arrays(item, found)
    return found
