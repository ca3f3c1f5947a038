"""Constants of the statistics layer: plain literals, read by the command line cheaply.

``hepcluster ucluster --help`` and the other subcommands show these defaults without
importing numpy or scipy, so this module holds literals only (no imports).
"""

STATISTICS = ("poisson", "poisson-midp", "gaussian")
"""Local significances of a bin: Poisson (Eq. 3.2 of arXiv:2402.17714), mid-p, Gaussian."""

CLUSTER_SCANNING_BINS = tuple(3000.0 + 100.0 * i for i in range(17))
"""Cluster Scanning's evaluation region: 16 bins of 100 GeV over 3.0–4.6 TeV, as edges in GeV.

The m_jj range and bin width of arXiv:2402.17714, §3.1 (the LHC Olympics R&D data set).
"""
