"""Doctest collection: modules that import an optional extra at load are left out without it.

``pip install . pytest && pytest`` must pass without the extras; the tests that need them
skip naming the extra (tests/conftest.py), and so do these modules' doctests.
"""

import importlib.util

collect_ignore = []
if importlib.util.find_spec("keras") is None:  # extra "ucluster"
    collect_ignore += [
        "hepcluster/ucluster/_layers.py",
        "hepcluster/ucluster/_losses.py",
        "hepcluster/ucluster/_models.py",
    ]

# Doctests that draw or train a network need the "plot" or "ucluster" extra: without it they
# are skipped, naming the extra, like the tests.
_DOCTEST_EXTRAS = (
    ("matplotlib", "plot", lambda name, source: ".plot(" in source or "plot_" in source),
    ("keras", "ucluster", lambda name, source: name.startswith("hepcluster.ucluster")),
    ("pythia8mc", "generate", lambda name, source: "generate_pythia" in source),
)


def pytest_collection_modifyitems(config, items):
    """Skip the doctests whose extra is missing."""
    import pytest
    from _pytest.doctest import DoctestItem

    missing = [
        (module, extra, needs)
        for module, extra, needs in _DOCTEST_EXTRAS
        if importlib.util.find_spec(module) is None
    ]
    if not missing:
        return
    for item in items:
        if not isinstance(item, DoctestItem):
            continue
        source = "".join(example.source for example in item.dtest.examples)
        for module, extra, needs in missing:
            if needs(item.dtest.name, source):
                reason = f'needs {module}: pip install "hepcluster[{extra}]"'
                item.add_marker(pytest.mark.skip(reason=reason))
                break
