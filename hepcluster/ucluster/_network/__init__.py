"""The Keras network of UCluster: ABCNet, its layers, the losses and the training loop.

Private: :class:`~hepcluster.ucluster.UClusterEmbedding` builds the network from its own
parameters (``task``, ``embedding_dim``, ``n_neighbors``, ``width``) and exposes the
fitted Keras model as ``network_``; :class:`~hepcluster.ucluster.DeepKMeans` trains it
further through the embedding's public methods. Keeping the architecture behind the
estimators lets it change without a deprecation, and keeps Keras out of the public API.

- :mod:`.layers` — the graph attention layer (GAPLayer, §2 of arXiv:2010.07106) and
  the layers on packed particles;
- :mod:`.models` — ABCNet for the jet and event tasks (:func:`.models.build_abcnet`);
- :mod:`.losses` — the focal loss, the clustering loss and the optimal-transport
  assignment;
- :mod:`.training` — the mini-batch loop, seeding and device placement;
- :mod:`.backend` — a quiet import of Keras/TensorFlow and the devices it sees (no
  Keras needed to import it).

This package imports nothing from the estimators (import-linter contract in
``pyproject.toml``); nothing outside :mod:`hepcluster.ucluster` imports it.
"""
