"""Defaults of UCluster, with the section of the paper they come from.

V. Mikuni, F. Canelli, "Unsupervised clustering for collider physics", Phys. Rev. D 103
(2021) 092007, arXiv:2010.07106. The schedules' numbers (α, learning rate) live in
:mod:`hepcluster.ucluster._schedules`, the auxiliary mass bins in
:mod:`hepcluster.ucluster._features`.
"""

N_NEIGHBORS = 10
"""k nearest neighbours of every GAPLayer (§2)."""

FOCAL_GAMMA = 2.0
"""γ of the focal loss of the auxiliary task (§2)."""

BETA = 10.0
"""Weight β of the clustering loss in L = L_focal + β L_cluster (§2)."""

EMBEDDING_DIM = {"jets": 3, "events": 2}
"""Embedding dimension E: 3 for W/Z/top jets (§3), 2 for the LHCO events (§4)."""

N_CLUSTERS = 3
"""Clusters k of the jet task (W, Z, top; §3)."""

PRETRAIN_EPOCHS = 10
"""Epochs of pre-training on the focal loss alone (§2)."""

JOINT_EPOCHS = 90
"""Epochs of joint training after pre-training, 100 epochs in total (§2)."""

BATCH_SIZE = 1024
"""Mini-batch size (§2)."""
