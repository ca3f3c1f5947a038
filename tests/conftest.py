"""Shared test set-up: off-screen plots, quiet progress bars, skips that name the extra."""

import pytest

import hepcluster

# Optional dependency -> the hepcluster extra that installs it.
EXTRAS = {
    "keras": "ucluster",
    "tensorflow": "ucluster",
    "pythia8mc": "generate",
    "dask": "dask",
    "distributed": "dask",
    "matplotlib": "plot",
}

try:
    import matplotlib
except ImportError:  # the tests that draw skip (extra "plot")
    pass
else:
    # Plots in tests are drawn off-screen.
    matplotlib.use("Agg")


def requires(module):
    """Import an optional dependency or skip the test, naming the extra that installs it."""
    extra = EXTRAS[module]
    return pytest.importorskip(module, reason=f'needs {module}: pip install "hepcluster[{extra}]"')


@pytest.fixture(autouse=True)
def one_ucluster_run(monkeypatch):
    """One DeepKMeans run per fit instead of the "fast" schedule's three restarts.

    The tests of everything but the restarts would take three times as long; the
    restarts are tested with an explicit ``n_restarts`` (a test that needs the schedule's
    own value calls ``monkeypatch.undo()``).
    """
    from hepcluster.ucluster._defaults import SCHEDULES

    monkeypatch.setitem(SCHEDULES["fast"], "n_restarts", 1)


@pytest.fixture
def plot():
    """matplotlib.pyplot, or a skip naming the ``plot`` extra."""
    requires("matplotlib")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


@pytest.fixture(autouse=True)
def _quiet_progress_bars():
    with hepcluster.config_context(progress_bar=False):
        yield
