"""
Jet images of QCD and signal jets
=================================

Cluster Scanning (I. Oleksiyuk et al., arXiv:2402.17714) clusters *jet images*: the
constituents of a jet drawn on a 40 × 40 grid in (η, φ) after the jet has been centred,
rotated so that its principal axis is horizontal, and flipped so that its hardest quadrant
is the upper right. Pixel intensities are scaled as I → I^0.5 and smeared by one pixel.

This example builds the images of synthetic QCD jets and of the two-prong jets of a
W′ → X Y → (qq)(qq) signal, and compares their average images.
"""

# %%
# Events and jets
# ---------------
# The two leading jets of each event are interleaved in the constituent matrix: jet ``i``
# belongs to event ``i // 2``, so the per-event truth label is repeated twice.
import matplotlib.pyplot as plt
import numpy as np

from hepcluster.datasets import make_dijet_events
from hepcluster.images import JetImageTransformer
from hepcluster.plotting import plot_jet_images

events = make_dijet_events(5_000, 1_000, random_state=0)
X, mjj, event_id = events.jets()
is_signal = np.repeat(events.is_signal, 2)
print(f"{X.shape[0]} jets with up to {X.shape[1] // 3} constituents each")

# %%
# From constituents to images
# ---------------------------
# ``JetImageTransformer`` is a scikit-learn transformer: it fits nothing and returns one
# 1600-pixel row per jet, normalised to unit sum.
transformer = JetImageTransformer()
images = transformer.fit_transform(X)
print(images.shape, images.sum(axis=1)[:3])

# %%
# Average images
# --------------
# QCD jets are one-prong: their average is a single core with soft radiation around it.
# Signal jets come from boosted X (500 GeV) and Y (100 GeV) bosons decaying to two quarks:
# after the rotation both prongs lie on the horizontal axis. The pT-weighted centre sits
# next to the harder prong, which the flip keeps on the positive side, so the softer
# prong shows up as a second lobe to the left.
names = {False: "QCD", True: "signal"}
plot_jet_images(images, labels=is_signal, class_names=names)
plt.show()

# %%
# Single jets
# -----------
# Individual images are sparse: a jet has at most one non-zero pixel per constituent
# before the smearing spreads it out.
pick = np.concatenate([np.flatnonzero(~is_signal)[:3], np.flatnonzero(is_signal)[:3]])
plot_jet_images(images[pick], labels=is_signal[pick], average=False, class_names=names)
plt.show()

# %%
# What each step does
# -------------------
# The same transformer with steps switched off shows what each one adds for the signal
# jets: centring alone gives a round blob (the prongs point in every direction), the
# rotation lines the prongs up horizontally, and the flip puts the harder prong on one
# side, separating the softer one.
steps = {
    "centred": dict(rotate=False, flip=False),
    "+ rotated": dict(flip=False),
    "+ flipped": {},
}
fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), layout="constrained")
for axis, (title, params) in zip(axes, steps.items(), strict=True):
    step_images = JetImageTransformer(**params).fit_transform(X[is_signal])
    plot_jet_images(step_images, ax=axis, colorbar=False)
    axis.set_title(f"signal, {title}")
plt.show()

# %%
# Sparse images for clustering
# ----------------------------
# Cluster Scanning labels millions of jets in every pseudo-experiment. The sparse images
# (before smearing) and :func:`~hepcluster.images.nearest_centroid` give the same k-means
# labels as the dense 1600-pixel rows, with a few dozen numbers per jet.
sparse = transformer.transform_sparse(X)
print(sparse, f"-> {sparse.nnz / len(sparse):.1f} stored pixels per jet instead of 1600")
