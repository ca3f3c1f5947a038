"""
Synthetic dijet events: QCD and a W′ → XY resonance
====================================================

The LHC Olympics 2020 R&D data set cannot be downloaded everywhere, so hepcluster generates
events with the same structure in seconds: QCD dijets whose m_jj follows the 4-parameter dijet
function, and a W′ (3.5 TeV) decaying to X (500 GeV) and Y (100 GeV), each to two quarks.

The jets are built from their constituents, and every summary (jet mass, τ21, m_jj) is
computed from the constituents exactly as for real data.
"""

# %%
# Generate events
# ---------------
# 20,000 QCD events and 2,000 signal events; ``random_state`` makes the run reproducible.
import matplotlib.pyplot as plt
import numpy as np

from hepcluster.datasets import make_dijet_events
from hepcluster.plotting import plot_jet_observable, plot_mjj

events = make_dijet_events(20_000, 2_000, mjj_range=(2800.0, 5000.0), random_state=0)
print(events)

# %%
# The resonance sits on a falling spectrum
# ----------------------------------------
plot_mjj(events, bins=np.linspace(2800, 5000, 45))
plt.show()

# %%
# Jet substructure separates signal from QCD
# ------------------------------------------
# Signal jets peak at the X and Y masses and are two-prong (low τ21); QCD jets have a broad
# mass distribution and are one-prong.
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
plot_jet_observable(events, observable="jet_mass", bins=80, range=(0, 800), ax=axes[0])
plot_jet_observable(events, observable="tau21", bins=40, range=(0, 1), ax=axes[1])
fig.tight_layout()
plt.show()

# %%
# Jets for the jet-level estimators
# ---------------------------------
# Jet-level estimators see the constituent matrix; every jet carries the m_jj of its event.
X, mjj, event_id = events.jets()
print(X.shape, mjj.shape, event_id[:4])
