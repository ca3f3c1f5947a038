import matplotlib
import pytest

import hepcluster

# Plots in tests are drawn off-screen.
matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _quiet_progress_bars():
    with hepcluster.config_context(progress_bar=False):
        yield
