"""Saving and loading of result dataclasses: arrays in ``.npz``, the rest as JSON."""

import json
from dataclasses import fields

import numpy as np


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
