"""Saving and loading of result dataclasses: arrays in ``.npz``, the rest as JSON."""

import json
from dataclasses import fields

import numpy as np


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


class ResultIO:
    """Mixin for result dataclasses: ``to_dict``/``from_dict`` and ``save``/``load``.

    Subclasses list their array-valued fields in ``_ARRAY_FIELDS``; every other field
    must be JSON-serialisable. ``load(save(r))`` reproduces ``r`` exactly.
    """

    _ARRAY_FIELDS = ()

    def to_dict(self):
        """All fields as a dict (round-trips with :meth:`from_dict`)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, values):
        """Rebuild a result from :meth:`to_dict` output."""
        return cls(**values)

    def save(self, path):
        """Write the result to a ``.npz`` file (read it back with :meth:`load`)."""
        arrays = {name: getattr(self, name) for name in self._ARRAY_FIELDS}
        scalars = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in self._ARRAY_FIELDS
        }
        np.savez_compressed(path, **arrays, _scalars=json.dumps(scalars, default=str))

    @classmethod
    def load(cls, path):
        """Read a result written by :meth:`save`."""
        with np.load(path) as data:
            values = {name: data[name] for name in cls._ARRAY_FIELDS}
            values.update(json.loads(str(data["_scalars"])))
        return cls(**values)
