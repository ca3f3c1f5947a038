"""ResultIO: one exact save/load round trip for every result object."""

import json
from dataclasses import dataclass, field

import numpy as np
import pytest

from hepcluster.utils._errors import InvalidFileError
from hepcluster.utils._results import ResultIO, _content_checksum, read_checksum, write_json


@dataclass(eq=False)
class _Inner(ResultIO):
    statistics: np.ndarray
    name: str = "inner"


@dataclass(eq=False)
class _Outer(ResultIO):
    bins: np.ndarray
    counts: np.ndarray
    statistic: float
    label: str
    missing: object = None
    metadata: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)
    results: dict = field(default_factory=dict)


def _assert_same(a, b):
    """Recursive exact equality: types, dtypes, shapes and values (NaN equal to NaN)."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same(x, y)
    elif isinstance(a, ResultIO):
        _assert_same(a.to_dict(), b.to_dict())
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def _example():
    rng = np.random.default_rng(0)
    return _Outer(
        bins=np.linspace(3000.0, 4600.0, 17),
        counts=rng.poisson(5.0, size=(2, 3, 16)).astype(np.int32),
        statistic=float("nan"),
        label="scan",
        metadata={
            "edges": (3000.0, 4600.0),
            "nested": {"seed": None, "inf": float("inf"), "names": ["a", "b"], 3: "int key"},
            "array": np.array([[1.5, -2.0]], dtype=np.float32),
            "flags": np.array([True, False]),
            "strings": np.array(["x", "yz"]),
            "numpy_int": np.int64(7),
            "numpy_float": np.float32(0.5),
            "empty": np.zeros((0, 4)),
            "__ndarray__": "a user key that looks like a tag",
        },
        failures=[{"task": 1, "seed": 12, "reason": "ValueError: boom"}],
        results={"dijet_fit": _Inner(np.array([0.1, np.nan])), "scan": _Inner(np.ones(2), "s")},
    )


def test_save_load_round_trip_is_exact(tmp_path):
    result = _example()
    path = result.save(tmp_path / "result.npz")
    again = _Outer.load(path)
    _assert_same(result.to_dict(), again.to_dict())
    assert isinstance(again.results["scan"], _Inner)


def test_to_dict_from_dict_round_trip():
    result = _example()
    again = _Outer.from_dict(result.to_dict())
    _assert_same(result.to_dict(), again.to_dict())


def test_save_appends_npz_and_load_finds_it(tmp_path):
    path = _Inner(np.arange(3)).save(tmp_path / "no_suffix")
    assert path.endswith("no_suffix.npz")
    np.testing.assert_array_equal(_Inner.load(tmp_path / "no_suffix").statistics, np.arange(3))


def test_top_level_arrays_are_plain_npz_entries(tmp_path):
    path = _example().save(tmp_path / "r.npz")
    with np.load(path) as data:
        np.testing.assert_array_equal(data["bins"], np.linspace(3000.0, 4600.0, 17))
        assert data["counts"].dtype == np.int32


def test_files_of_another_format_are_refused(tmp_path):
    # arrays under their field names, other fields as plain JSON, no format tag: the
    # package was never released with such files, so none is read
    path = tmp_path / "old.npz"
    scalars = {"statistic": 1.5, "label": "x", "metadata": {"k": [1, 2]}}
    np.savez_compressed(path, bins=np.arange(3.0), counts=np.ones(2), _scalars=json.dumps(scalars))
    with pytest.raises(InvalidFileError, match="file format None"):
        _Outer.load(path)
    with pytest.raises(InvalidFileError, match="no checksum"):
        read_checksum(path)


def test_object_arrays_and_arbitrary_objects_are_refused(tmp_path):
    with pytest.raises(TypeError, match="dtype object"):
        _Inner(np.array([1, "a", None], dtype=object)).save(tmp_path / "a.npz")
    with pytest.raises(TypeError, match="cannot save a value of type 'set'"):
        _Outer(np.ones(1), np.ones(1), 0.0, "x", metadata={"s": {1}}).save(tmp_path / "b.npz")


def _write_valid_file(path, cls, scalars):
    # a file of the current format (checksum included) holding the given JSON part
    text = json.dumps(scalars)
    name = f"{cls.__module__}:{cls.__qualname__}"
    np.savez_compressed(
        path,
        _scalars=text,
        _format=3,
        _class=name,
        _checksum=_content_checksum({}, text, name),
    )


def test_only_hepcluster_result_classes_are_loaded(tmp_path):
    path = tmp_path / "evil.npz"
    _write_valid_file(
        path, _Inner, {"statistics": {"__result__": "not_imported_module:Thing", "fields": {}}}
    )
    with pytest.raises(ValueError, match="outside hepcluster"):
        _Inner.load(path)
    _write_valid_file(path, _Inner, {"statistics": {"__result__": "os:system", "fields": {}}})
    with pytest.raises(ValueError, match="not a result class"):
        _Inner.load(path)


def test_write_json_is_strict(tmp_path):
    path = tmp_path / "s.json"
    write_json({"z": float("-inf"), "a": np.arange(2), "b": np.bool_(True)}, path)
    assert json.loads(path.read_text()) == {"z": None, "a": [0, 1], "b": True}
