"""Defaults of the Cluster Scanning paper, the one place they are defined.

I. Oleksiyuk et al., "Cluster Scanning: a novel approach to resonance searches",
arXiv:2402.17714, §3: k = 50 clusters fitted in 3.0–3.1 TeV, 16 bins of 100 GeV in
3.0–4.6 TeV (:data:`hepcluster.stats.CLUSTER_SCANNING_BINS`), 20 % outliers dropped per
bin, θ = 3, an ensemble of 15 k-means initialisations with mini-batches of 2048 jets.
"""

#: Number of k-means clusters k.
N_CLUSTERS = 50
#: m_jj window [low, high) in GeV of the jets k-means is fitted on.
TRAIN_WINDOW = (3000.0, 3100.0)
#: Fraction f of clusters dropped per bin by the robust estimators (App. E).
OUTLIER_FRACTION = 0.2
#: θ, the selection threshold on the standardized spectra.
THRESHOLD = 3.0
#: Number of k-means initialisations whose MLS values are averaged.
N_ENSEMBLE = 15
#: Mini-batch size of the k-means.
BATCH_SIZE = 2048
#: Local significance of a bin (Eq. 3.2), one of hepcluster.stats STATISTICS.
STATISTIC = "poisson"
