"""Defaults of the synthetic generators: plain literals, read by the command line cheaply.

The dijet sample stands in for the LHC Olympics 2020 R&D data set (arXiv:2101.08320:
a W′ of 3.5 TeV decaying to X (500 GeV) and Y (100 GeV)); the jets for the hls4ml jet
data set used by UCluster (arXiv:2010.07106).
"""

M_RESONANCE = 3500.0
"""W′ mass in GeV."""

M_X = 500.0
"""X mass in GeV."""

M_Y = 100.0
"""Y mass in GeV."""

N_CONSTITUENTS = 100
"""Constituent slots per jet, zero padded."""

JET_CLASSES = ("W", "Z", "top")
"""Classes of :func:`~hepcluster.datasets.make_jets` (UCluster's jet task, §3)."""
