"""Statistics shared by every search: binning, local and global significances, tail models.

The bottom layer of hepcluster (above ``utils`` only): the m_jj binning convention, the
local significance and maximum local significance (MLS) of binned excesses
(arXiv:2402.17714, Eqs. 3.2–3.3), empirical p-values and global significances of null
samples (Eq. 3.4), a generalised-Pareto model of their upper tail, and the dijet functions
of resonance searches (App. A).
"""

from ._binning import CLUSTER_SCANNING_BINS, bin_index, check_bin_edges, histogram
from ._binomial import clopper_pearson
from ._dijet import SQRT_S, dijet_function
from ._pvalues import empirical_p_value, global_significance
from ._significance import STATISTICS, local_significance, max_local_significance
from ._tail import NullTailModel, fit_null_tail, tail_significance

__all__ = [
    "CLUSTER_SCANNING_BINS",
    "SQRT_S",
    "STATISTICS",
    "NullTailModel",
    "bin_index",
    "check_bin_edges",
    "clopper_pearson",
    "dijet_function",
    "empirical_p_value",
    "fit_null_tail",
    "global_significance",
    "histogram",
    "local_significance",
    "max_local_significance",
    "tail_significance",
]
