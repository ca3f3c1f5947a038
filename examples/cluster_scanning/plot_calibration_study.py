"""
Calibrated significance: Cluster Scanning against the dijet fit
================================================================

A local maximum significance (MLS) is not what a search publishes: the look-elsewhere
effect over bins and clusters makes large local values common. Cluster Scanning
(I. Oleksiyuk et al., arXiv:2402.17714, §3.1.3–3.1.4) calibrates its test statistic on
bootstrap pseudo-experiments:

1. background-only pseudo-experiments give the null distribution of the statistic, and an
   observed value becomes a global p-value p = N_{≥t} / N_tot;
2. signal-injected pseudo-experiments give the median global significance per injected
   signal, the curve on which methods are compared (Fig. 5, Fig. 10 of the paper).

An empirical p-value cannot go below 1/N_tot: 200 toys establish at most 2.58σ, the
paper's 3,900 reach 3.47σ. Beyond the largest null value this example uses a
generalised-Pareto model of the null tail, whose values are *extrapolated* and carry a
68 % interval; everything shown says whether it is computed, a bound or extrapolated.
The tail model needs at least 500 background-only pseudo-experiments, the sizes at
which its intervals were shown to cover. This runs in about three minutes on two CPU cores.
"""

# %%
# Events
# ------
# QCD dijet events and a pool of W′ → X Y signal events from the fast synthetic generator.
import matplotlib.pyplot as plt
from sklearn.pipeline import Pipeline

from hepcluster import ClusterScanner, DijetFitBackground, JetImageTransformer
from hepcluster.calibration import compare_methods, run_pseudo_experiments
from hepcluster.datasets import make_dijet_events
from hepcluster.plotting import plot_null_distribution

events = make_dijet_events(30_000, 2_000, mjj_range=(2800.0, 5000.0), random_state=3)
print(events)

# %%
# The two methods
# ---------------
# Cluster Scanning (jet images, k-means in 3.0–3.1 TeV, 16 bins up to 4.6 TeV; a small
# ensemble to keep the example quick) and the 4-parameter dijet function, fitted as a
# binned Poisson likelihood, on the same bins. Calibration fits and applies the jet
# images once and refits only the scanner per pseudo-experiment; it calls each method's
# ``test_statistic`` (the MLS), never ``score``.
scanning = Pipeline(
    [
        ("images", JetImageTransformer(sparse_output=True)),
        ("scan", ClusterScanner(n_clusters=50, n_ensemble=1, max_iter=30)),
    ]
)
fit = DijetFitBackground(n_params=4)

# %%
# Pseudo-experiments
# ------------------
# Both methods see the same bootstrap samples (the same ``random_state``): background
# events are resampled with Poisson(1) multiplicities, signal events drawn from the pool.
options = dict(
    n_background_only=500,
    signal_injections=[300, 600, 1200],
    n_per_injection=7,
    random_state=0,
)
calibrations = {
    "cluster_scanning": run_pseudo_experiments(
        scanning, events, name="Cluster Scanning", **options
    ),
    "dijet_fit": run_pseudo_experiments(fit, events, name="dijet fit", **options),
}
for result in calibrations.values():
    print(result)

# %%
# The null distribution and its tail
# -----------------------------------
# Above the threshold of the tail model, the generalised Pareto fit (dashed) describes the
# largest background-only statistics; it is what extrapolates beyond them.
tail = calibrations["cluster_scanning"].tail_model()
print(tail)
ax = plot_null_distribution(calibrations["cluster_scanning"])
plt.show()

# %%
# From a local MLS to a global significance
# -----------------------------------------
# An observed statistic is calibrated against the null sample. A value beyond every
# background-only toy is extrapolated by the tail model, with its interval.
null = calibrations["cluster_scanning"].null_statistics
for observed in (null.mean(), null.max() * 1.3):
    estimate = calibrations["cluster_scanning"].significance_estimate(observed)
    print(f"local MLS {observed:.2f} -> global Z = {estimate.format()}")

# %%
# Comparing the methods
# ---------------------
# Median global significance against the injected signal, the significance improvement
# Z_CS / Z_fit and the signal events each method needs for a median 3σ.
comparison = compare_methods(calibrations)
print(comparison.to_markdown())
fig, axes = plt.subplots(1, 2, figsize=(14, 5.5))
comparison.plot(ax=axes)
fig.tight_layout()
plt.show()
