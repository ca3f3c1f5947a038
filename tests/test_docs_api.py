"""docs/api.rst documents every exported name, and names nothing the package lacks.

The public surface is ``__all__`` of ``hepcluster`` and of each public module below it (a
module whose dotted path has no component starting with ``_``); a module without
``__all__`` exports the public names it defines. An object re-exported by several modules
(``hepcluster.DijetFitBackground`` and ``hepcluster.fits.DijetFitBackground``) is documented
once, under any of its names.
"""

import importlib
import importlib.util
import pkgutil
import re
import types
import zlib
from pathlib import Path

import pytest

import hepcluster

API_RST = Path(__file__).parents[1] / "docs" / "api.rst"
INVENTORIES = Path(__file__).parents[1] / "docs" / "_intersphinx"
WRITE_INVENTORIES = Path(__file__).parents[1] / "docs" / "_tools" / "write_inventories.py"


def public_modules():
    """``hepcluster`` and every module below it whose path has no private component."""
    names = ["hepcluster"]
    for info in pkgutil.walk_packages(hepcluster.__path__, prefix="hepcluster."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def exported_names(module):
    if hasattr(module, "__all__"):
        names = module.__all__
    else:
        names = [
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and not isinstance(value, types.ModuleType)
            and getattr(value, "__module__", None) == module.__name__
        ]
    return [name for name in names if not (name.startswith("__") and name.endswith("__"))]


def documented_entries():
    """``(module, name)`` of every autosummary entry in api.rst, in order."""
    entries = []
    module = None
    in_autosummary = False
    for line in API_RST.read_text().splitlines():
        directive = re.match(r"\.\. (?:current)?module:: (\S+)", line)
        if directive:
            module = directive.group(1)
            in_autosummary = False
        elif line.startswith(".. autosummary::"):
            in_autosummary = True
        elif in_autosummary and line.strip() and not line.startswith(" "):
            in_autosummary = False
        elif in_autosummary and line.strip() and not line.strip().startswith(":"):
            entries.append((module, line.strip()))
    return entries


def test_api_rst_parses_into_entries():
    entries = documented_entries()
    assert ("hepcluster", "ClusterScanner") in entries
    assert len(entries) == len(set(entries)), "an entry is listed twice"


@pytest.mark.parametrize(("module", "name"), documented_entries())
def test_every_api_rst_entry_is_exported(module, name):
    exported = exported_names(importlib.import_module(module))
    assert name in exported, f"api.rst lists {module}.{name}, which {module} does not export"


def test_every_exported_name_is_in_api_rst():
    documented = []
    for module, name in documented_entries():  # an entry the package lacks fails above
        if name in exported_names(importlib.import_module(module)):
            documented.append(getattr(importlib.import_module(module), name))
    missing = []
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        for name in exported_names(module):
            value = getattr(module, name)
            if not any(value is entry for entry in documented):
                missing.append(f"{module_name}.{name}")
    assert not missing, "exported but not in docs/api.rst: " + ", ".join(missing)


def _inventory_text(payload):
    """Header and decompressed body of an objects.inv (zlib builds may compress differently)."""
    lines = payload.split(b"\n", 4)
    return b"\n".join(lines[:4]), zlib.decompress(lines[4])


def test_local_intersphinx_inventories_are_up_to_date():
    # docs/_tools/write_inventories.py writes them; rerun it after changing its tables.
    spec = importlib.util.spec_from_file_location("write_inventories", WRITE_INVENTORIES)
    write_inventories = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(write_inventories)
    for project, payload in write_inventories.inventories().items():
        path = INVENTORIES / f"{project}.inv"
        assert path.is_file(), f"{path.name} is missing: run docs/_tools/write_inventories.py"
        assert _inventory_text(path.read_bytes()) == _inventory_text(payload), (
            f"{path.name} is stale: run docs/_tools/write_inventories.py"
        )
