"""Packed particles: the real particles of a set of samples, without padding (numpy).

A constituent matrix reserves P slots per jet, most of them padding at P = 100 (a W jet
of 1 TeV has ~45 particles). UCluster's networks never see padding: the per-particle
inputs are stored packed, one row per real particle, and every mini-batch is a packed
block with the small integer layout the Keras layers need
(:mod:`hepcluster.ucluster._network.layers`). The cost of training is then proportional to the
number of real particles, whatever the number of slots of the input.
"""

import numpy as np

__all__ = ["PackedSamples", "batch_layout", "pack_particles"]


def batch_layout(counts, min_slots=1):
    """Integer layout of a packed batch of samples with ``counts`` particles each.

    Parameters
    ----------
    counts : array-like of int, shape (B,)
        Particles of each sample (≥ 1), packed sample after sample.
    min_slots : int, default=1
        Smallest width S of the slot grid (the k of the neighbour search).

    Returns
    -------
    dict
        ``slots`` (B, S) int32: row of the i-th particle of each sample, N (the number of
        particles) for padding, with S = max(max(counts), min_slots); ``index`` (N,)
        int32: ``sample · S + i`` of each particle; ``segment`` (N,) int32: its sample;
        ``position`` (N,): its i.

    Examples
    --------
    >>> from hepcluster.ucluster._packing import batch_layout
    >>> layout = batch_layout([2, 1], min_slots=3)
    >>> layout["slots"].tolist(), layout["index"].tolist()
    ([[0, 1, 3], [2, 3, 3]], [0, 1, 3])
    """
    counts = np.asarray(counts, dtype=np.int64)
    n_samples = len(counts)
    total = int(counts.sum())
    n_slots = max(int(counts.max()) if n_samples else 0, int(min_slots), 1)
    first = np.cumsum(counts) - counts
    position = np.arange(total) - np.repeat(first, counts)
    segment = np.repeat(np.arange(n_samples), counts)
    index = segment * n_slots + position
    slots = np.full(n_samples * n_slots, total, dtype=np.int32)
    slots[index] = np.arange(total, dtype=np.int32)
    return {
        "slots": slots.reshape(n_samples, n_slots),
        "index": index.astype(np.int32),
        "segment": segment.astype(np.int32),
        "position": position,
    }


def pack_particles(features, mask, min_slots=1):
    """Pack padded per-particle features: the rows of the real particles and the layout.

    Parameters
    ----------
    features : array-like of shape (B, P, F)
    mask : array-like of shape (B, P)
        Non-zero for real particles. Every sample needs at least one.
    min_slots : int, default=1
        See :func:`batch_layout`.

    Returns
    -------
    dict
        ``features`` (N, F) float32 and the layout of :func:`batch_layout`.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.ucluster._packing import pack_particles
    >>> batch = pack_particles(np.ones((2, 4, 3)), [[1, 1, 0, 0], [1, 1, 1, 0]])
    >>> batch["features"].shape, batch["slots"].shape
    ((5, 3), (2, 3))
    """
    features = np.asarray(features)
    real = np.asarray(mask) > 0
    layout = batch_layout(real.sum(axis=1), min_slots)
    layout.pop("position")
    return {"features": features[real].astype(np.float32), **layout}


class PackedSamples:
    """The network inputs of a set of samples, with the real particles packed.

    Parameters
    ----------
    features : ndarray of shape (N, F), float32
        Per-particle features of all real particles, sample after sample.
    coordinates : ndarray of shape (N, C), float32
        Coordinates of the first neighbour search.
    counts : ndarray of shape (n,), int
        Real particles of each sample (≥ 1).
    slot : ndarray of shape (N,), int
        Slot of each particle in the padded input (to unpack per-particle outputs).
    n_slots : int
        Slots P of the padded input.
    globals : ndarray of shape (n, G), float32, or None
        Global features of each sample (event task).
    targets : ndarray of shape (n,) or (N,), int32, or None
        Auxiliary target of each sample (jets) or of each particle (events).
    per_particle_targets : bool, default=False
        Whether ``targets`` has one entry per particle.
    """

    def __init__(
        self,
        features,
        coordinates,
        counts,
        slot,
        n_slots,
        globals=None,
        targets=None,
        per_particle_targets=False,
    ):
        self.features = features
        self.coordinates = coordinates
        self.counts = np.asarray(counts, dtype=np.int64)
        self.slot = slot
        self.n_slots = int(n_slots)
        self.globals = globals
        self.targets = targets
        self.per_particle_targets = bool(per_particle_targets)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)])

    @classmethod
    def from_inputs(cls, inputs, targets=None):
        """Pack :class:`~hepcluster.ucluster._features.NetworkInputs` (and their targets).

        Parameters
        ----------
        inputs : NetworkInputs
        targets : ndarray of shape (n,) or (n, P), optional
            Per-sample targets, or per-particle targets (entries of padding ignored).
        """
        real = inputs.mask > 0
        per_particle = targets is not None and np.ndim(targets) == 2
        if targets is not None:
            targets = np.asarray(targets)
            targets = (targets[real] if per_particle else targets).astype(np.int32)
        return cls(
            features=np.ascontiguousarray(inputs.features[real], dtype=np.float32),
            coordinates=np.ascontiguousarray(inputs.coordinates[real], dtype=np.float32),
            counts=real.sum(axis=1),
            slot=np.nonzero(real)[1].astype(np.int32),
            n_slots=real.shape[1],
            globals=None if inputs.globals is None else inputs.globals.astype(np.float32),
            targets=targets,
            per_particle_targets=per_particle,
        )

    def __len__(self):
        return len(self.counts)

    @property
    def n_particles(self):
        """Real particles in all samples."""
        return int(self.offsets[-1])

    def _rows(self, samples):
        counts = self.counts[samples]
        first = np.cumsum(counts) - counts
        return np.repeat(self.offsets[samples] - first, counts) + np.arange(int(counts.sum()))

    def take(self, samples):
        """The packed inputs of a subset of the samples, in the given order."""
        samples = np.asarray(samples, dtype=np.int64)
        rows = self._rows(samples)
        targets = self.targets
        if targets is not None:
            targets = targets[rows] if self.per_particle_targets else targets[samples]
        return PackedSamples(
            self.features[rows],
            self.coordinates[rows],
            self.counts[samples],
            self.slot[rows],
            self.n_slots,
            None if self.globals is None else self.globals[samples],
            targets,
            self.per_particle_targets,
        )

    @staticmethod
    def concatenate(parts):
        """One :class:`PackedSamples` holding the samples of ``parts`` in order."""
        parts = list(parts)
        if len(parts) == 1:
            return parts[0]

        def join(name):
            values = [getattr(part, name) for part in parts]
            return None if values[0] is None else np.concatenate(values)

        return PackedSamples(
            join("features"),
            join("coordinates"),
            join("counts"),
            join("slot"),
            max(part.n_slots for part in parts),
            join("globals"),
            join("targets"),
            parts[0].per_particle_targets,
        )

    def batch(self, samples, min_slots=1):
        """The arrays of one packed mini-batch (inputs of the network and the targets).

        Parameters
        ----------
        samples : array-like of int
            Samples of the batch, in order.
        min_slots : int, default=1
            Smallest width of the slot grid (k of the neighbour search).

        Returns
        -------
        dict of ndarray
            ``features``, ``coordinates``, ``slots``, ``index``, ``segment`` and, where
            present, ``globals`` and ``target``.
        """
        samples = np.asarray(samples, dtype=np.int64)
        rows = self._rows(samples)
        layout = batch_layout(self.counts[samples], min_slots)
        batch = {
            "features": self.features[rows],
            "coordinates": self.coordinates[rows],
            "slots": layout["slots"],
            "index": layout["index"],
            "segment": layout["segment"],
        }
        if self.globals is not None:
            batch["globals"] = self.globals[samples]
        if self.targets is not None:
            batch["target"] = (
                self.targets[rows] if self.per_particle_targets else self.targets[samples]
            )
        return batch

    def unpack(self, values, samples):
        """Per-particle values (N_batch, C) of a batch on the padded grid (B, P, C)."""
        samples = np.asarray(samples, dtype=np.int64)
        rows = self._rows(samples)
        segment = np.repeat(np.arange(len(samples)), self.counts[samples])
        out = np.zeros((len(samples), self.n_slots, *values.shape[1:]), dtype=values.dtype)
        out[segment, self.slot[rows]] = values
        return out
