"""Data pipeline of UCluster: in-memory or streamed samples, packed mini-batches.

Pure numpy (no Keras). The training and inference loops of
:mod:`hepcluster.ucluster._network.training` read *datasets*: objects whose ``chunks(rng)``
yields :class:`~hepcluster.ucluster._packing.PackedSamples`, again at every epoch. An
in-memory fit is one chunk; a :class:`JetStream` is read chunk by chunk from its source
(an hls4ml file, or any re-iterable of constituent matrices), so that a data set larger
than memory never exists in memory as a whole: only a buffer of a few chunks does.
"""

import itertools
import os
import queue
import threading
from pathlib import Path

import numpy as np

from ._packing import PackedSamples

__all__ = ["InMemoryDataset", "JetStream", "StreamedDataset", "iter_batches", "prefetch"]

BUFFER_CHUNKS = 8
"""Chunks of a stream mixed in memory before mini-batches are drawn from them."""

HLS4ML_CHUNK_SIZE = 4096
"""Jets per chunk read from an hls4ml file."""


class JetStream:
    """Constituent matrices read chunk by chunk: data sets larger than memory.

    UCluster reads its training data several times (feature statistics, every epoch of
    pre-training and joint training, the embedding for k-means); a stream gives it the
    chunks again at every pass, so only a few chunks are in memory at once. Pass a
    stream wherever a UCluster estimator takes ``X`` (``fit``, ``transform``,
    ``predict``); the outputs are arrays in the order of the chunks.

    Parameters
    ----------
    chunks : callable or re-iterable
        A function that returns a new iterable of chunks at every call (e.g.
        ``lambda: read_my_chunks(path)``), or a collection of chunks (a list or tuple of
        arrays, or any object whose ``iter()`` starts over). Each chunk is a constituent
        matrix of shape (n_i, 3·P) (or (n_i, P, 3); (n_i, 2·3·P) for the event task),
        all with the same width. A generator object can be read only once and is refused.
    shuffle_buffer : int, default=8
        Chunks mixed in memory before mini-batches are drawn from them (training only).
    labels : array-like of shape (n_samples,), optional
        Truth labels of the samples in stream order, kept for metrics only
        (:meth:`labels`).

    Attributes
    ----------
    n_chunks : int or None
        Number of chunks when the source can tell without reading (hls4ml files).

    See Also
    --------
    JetStream.from_hls4ml : A stream over hls4ml jet files.

    Notes
    -----
    Chunks are read in their order; when the source allows random access (hls4ml files)
    the order of the chunks is shuffled at every training epoch, and in any case the
    samples of ``shuffle_buffer`` consecutive chunks are shuffled together. A source that
    is sorted by class (e.g. all W jets first) therefore needs random access or a buffer
    that spans several classes. Inconsistent chunk widths are found in the first pass
    over the data, before any training.

    Examples
    --------
    >>> from hepcluster.datasets import make_jets
    >>> from hepcluster.ucluster import JetStream
    >>> X, y = make_jets(20, n_constituents=10, random_state=0)
    >>> stream = JetStream([X[:30], X[30:]])
    >>> [chunk.shape for chunk in stream]
    [(30, 30), (30, 30)]
    """

    def __init__(self, chunks, *, shuffle_buffer=BUFFER_CHUNKS, labels=None):
        if isinstance(chunks, (str, os.PathLike)):
            raise TypeError(
                "JetStream(chunks) takes chunks of arrays; for an hls4ml file use "
                "JetStream.from_hls4ml(path)."
            )
        if not callable(chunks):
            try:
                iterator = iter(chunks)
            except TypeError:
                raise TypeError(
                    "JetStream needs a function returning an iterable of chunks, or a "
                    f"re-iterable collection of chunks; got {type(chunks).__name__}."
                ) from None
            if iterator is chunks:
                raise TypeError(
                    "a generator or iterator can be read only once, but UCluster reads "
                    "its data once per epoch: pass a function that returns a new one, "
                    "e.g. JetStream(lambda: my_chunks())."
                )
        if int(shuffle_buffer) < 1:
            raise ValueError(f"shuffle_buffer must be >= 1, got {shuffle_buffer!r}.")
        self._chunks = chunks
        self.shuffle_buffer = int(shuffle_buffer)
        self._labels = None if labels is None else np.asarray(labels)
        self.n_chunks = None

    @classmethod
    def from_hls4ml(
        cls,
        path_or_paths,
        *,
        classes=("g", "q", "W", "Z", "top"),
        n_constituents=None,
        chunk_size=HLS4ML_CHUNK_SIZE,
        shuffle_buffer=BUFFER_CHUNKS,
    ):
        """A stream over the jets of hls4ml files, read ``chunk_size`` jets at a time.

        Parameters
        ----------
        path_or_paths : str, path-like or sequence of them
            Files in the layout of :func:`~hepcluster.datasets.read_hls4ml`.
        classes : sequence of {"g", "q", "W", "Z", "top"}, default: all five
            Classes to keep (UCluster's jet study uses ``("W", "Z", "top")``).
        n_constituents : int, default=None
            Slots P of every chunk (the hardest P constituents); ``None`` keeps the
            slots of the first file.
        chunk_size : int, default=4096
            Rows read at once (before the class selection).
        shuffle_buffer : int, default=8

        Returns
        -------
        JetStream

        Raises
        ------
        FileNotFoundError, ValueError
            On a missing file, a file without the datasets or the particle features
            ``j1_pt, j1_eta, j1_phi`` and the class labels, or unknown classes; all
            checked here, before any training.
        """
        source = _Hls4mlSource(path_or_paths, classes, n_constituents, chunk_size)
        stream = cls(source, shuffle_buffer=shuffle_buffer)
        stream.n_chunks = source.n_blocks
        return stream

    def __iter__(self):
        """The chunks in stream order, as arrays."""
        source = self._chunks
        return iter(source() if callable(source) else source)

    def _ordered(self, rng):
        """The chunks, in an order shuffled by ``rng`` where the source allows it."""
        source = self._chunks
        if rng is not None and hasattr(source, "read_block"):
            return (source.read_block(i) for i in rng.permutation(source.n_blocks))
        return iter(self)

    def labels(self):
        """Truth labels of the samples in stream order (hls4ml class names), or None."""
        if self._labels is not None:
            return self._labels
        source = self._chunks
        return source.labels() if hasattr(source, "labels") else None

    def __repr__(self):
        source = self._chunks
        what = repr(source) if hasattr(source, "read_block") else type(source).__name__
        return f"JetStream({what})"


class _Hls4mlSource:
    """Blocks of rows of hls4ml files, checked when the stream is made."""

    def __init__(self, path_or_paths, classes, n_constituents, chunk_size):
        import h5py

        from ..datasets._hls4ml import HLS4ML_CLASSES

        paths = (
            [path_or_paths]
            if isinstance(path_or_paths, (str, os.PathLike))
            else list(path_or_paths)
        )
        if not paths:
            raise ValueError("path_or_paths names no file.")
        classes = list(classes)
        unknown = set(classes) - set(HLS4ML_CLASSES)
        if unknown or not classes:
            raise ValueError(
                f"classes must be taken from {list(HLS4ML_CLASSES)}, got {classes!r}."
            )
        if int(chunk_size) < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size!r}.")
        if n_constituents is not None and int(n_constituents) < 1:
            raise ValueError(f"n_constituents must be >= 1, got {n_constituents!r}.")
        self.paths = [Path(path) for path in paths]
        self.classes = classes
        self.chunk_size = int(chunk_size)
        self._names = np.asarray(list(HLS4ML_CLASSES), dtype=object)
        self._files = []
        for path in self.paths:
            if not path.is_file():
                raise FileNotFoundError(f"hls4ml file not found: {os.fspath(path)!r}")
            with h5py.File(path, "r") as file:
                particles = _dataset(file, "jetConstituentList", path)
                jets = _dataset(file, "jets", path)
                particle_names = _names(file, "particleFeatureNames", path)
                jet_names = _names(file, "jetFeatureNames", path)
                if particles.ndim != 3 or jets.ndim != 2 or particles.shape[0] != jets.shape[0]:
                    raise ValueError(
                        f"{os.fspath(path)!r}: jetConstituentList {particles.shape} and jets "
                        f"{jets.shape} must be (n, P, F) and (n, F') with the same n."
                    )
                features = [
                    _index(particle_names, name, "particleFeatureNames", path, particles.shape[2])
                    for name in (b"j1_pt", b"j1_eta", b"j1_phi")
                ]
                labels = [
                    _index(
                        jet_names,
                        HLS4ML_CLASSES[name].encode(),
                        "jetFeatureNames",
                        path,
                        jets.shape[1],
                    )
                    for name in HLS4ML_CLASSES
                ]
                n_rows, n_slots = particles.shape[:2]
                self._files.append((path, n_rows, n_slots, features, labels))
        self.n_constituents = int(n_constituents or self._files[0][2])
        self.blocks = [
            (f, start)
            for f, (_, n_rows, _, _, _) in enumerate(self._files)
            for start in range(0, n_rows, self.chunk_size)
        ]
        self.n_blocks = len(self.blocks)

    def __repr__(self):
        return (
            f"hls4ml: {[os.fspath(p) for p in self.paths]}, classes={self.classes}, "
            f"n_constituents={self.n_constituents}, chunk_size={self.chunk_size}"
        )

    def __iter__(self):
        return (self.read_block(i) for i in range(self.n_blocks))

    def _selected(self, jets, label_index):
        one_hot = jets[:, label_index]
        defined = (np.sum(one_hot == 1, axis=1) == 1) & (np.sum(one_hot != 0, axis=1) == 1)
        names = self._names[np.argmax(one_hot, axis=1)]
        return defined & np.isin(names, self.classes), names

    def read_block(self, i):
        import h5py

        f, start = self.blocks[i]
        path, n_rows, _, features, labels = self._files[f]
        stop = min(start + self.chunk_size, n_rows)
        with h5py.File(path, "r") as file:
            keep, _ = self._selected(file["jets"][start:stop], labels)
            particles = file["jetConstituentList"][start:stop][keep][:, :, features]
        constituents = _sorted_and_resized(particles.astype(np.float32), self.n_constituents)
        return constituents.reshape(len(constituents), 3 * self.n_constituents)

    def labels(self):
        import h5py

        parts = []
        for path, _, _, _, labels in self._files:
            with h5py.File(path, "r") as file:
                keep, names = self._selected(file["jets"][()], labels)
            parts.append(names[keep])
        return np.concatenate(parts)


def _dataset(file, name, path):
    if name not in file:
        raise ValueError(
            f"{os.fspath(path)!r} has no dataset {name!r}; an hls4ml jet file has "
            "jetConstituentList, particleFeatureNames, jets and jetFeatureNames "
            f"(it holds {sorted(file.keys())})."
        )
    return file[name]


def _names(file, name, path):
    names = _dataset(file, name, path)[()]
    return [n if isinstance(n, bytes) else str(n).encode() for n in np.atleast_1d(names)]


def _index(names, feature, dataset, path, n_features):
    if feature not in names:
        raise ValueError(
            f"{os.fspath(path)!r}: feature {feature.decode()!r}, which UCluster needs, is not "
            f"among the {dataset} ({[n.decode(errors='replace') for n in names]})."
        )
    index = names.index(feature)
    if index >= n_features:
        raise ValueError(
            f"{os.fspath(path)!r}: feature {feature.decode()!r} is name {index} of {dataset} "
            f"but the data have only {n_features} features."
        )
    return index


def _sorted_and_resized(constituents, n_slots):
    """(n, P, 3) constituents sorted by decreasing pT, cut or zero padded to ``n_slots``."""
    real = constituents[:, :, 0] > 0
    constituents = np.where(real[:, :, None], constituents, 0.0).astype(np.float32)
    order = np.argsort(-constituents[:, :, 0], axis=1, kind="stable")[:, :n_slots]
    constituents = np.take_along_axis(constituents, order[:, :, None], axis=1)
    missing = n_slots - constituents.shape[1]
    if missing > 0:
        constituents = np.pad(constituents, ((0, 0), (0, missing), (0, 0)))
    return constituents


class InMemoryDataset:
    """Packed samples held in memory: one chunk, shuffled sample by sample."""

    def __init__(self, packed):
        self.packed = packed
        self.n_samples = len(packed)
        self.shuffle_buffer = 1

    def chunks(self, rng=None):
        yield self.packed


class StreamedDataset:
    """A :class:`JetStream` whose chunks are turned into packed samples as they are read.

    Parameters
    ----------
    stream : JetStream
    convert : callable
        ``convert(chunk) → PackedSamples`` (validation, features and targets).
    n_samples : int
        Samples in the stream (from the first pass).
    """

    def __init__(self, stream, convert, n_samples):
        self.stream = stream
        self.convert = convert
        self.n_samples = int(n_samples)
        self.shuffle_buffer = stream.shuffle_buffer

    def chunks(self, rng=None):
        for chunk in self.stream._ordered(rng):
            if len(chunk):
                yield self.convert(chunk)


def iter_batches(dataset, batch_size, *, min_slots=1, rng=None, with_samples=False):
    """Mini-batches of a dataset: dicts of arrays (see :meth:`PackedSamples.batch`).

    Parameters
    ----------
    dataset : InMemoryDataset or StreamedDataset
    batch_size : int
    min_slots : int, default=1
        Smallest width of the slot grid (k of the neighbour search).
    rng : numpy.random.Generator or None, default=None
        Shuffles the samples (and, for random-access streams, the chunks); ``None`` keeps
        the order of the data (inference).
    with_samples : bool, default=False
        Yield ``(batch, packed, samples)``, the packed block and the samples of the batch
        in it, instead of the batch alone.

    Yields
    ------
    dict of ndarray, or tuple
        Every sample once per pass; all batches have ``batch_size`` samples but the last.
    """
    carry = None
    chunks = dataset.chunks(rng)
    while True:
        group = list(itertools.islice(chunks, dataset.shuffle_buffer))
        if not group:
            break
        packed = PackedSamples.concatenate(([carry] if carry is not None else []) + group)
        n_samples = len(packed)
        order = rng.permutation(n_samples) if rng is not None else np.arange(n_samples)
        n_full = n_samples - n_samples % batch_size
        for start in range(0, n_full, batch_size):
            samples = order[start : start + batch_size]
            batch = packed.batch(samples, min_slots)
            yield (batch, packed, samples) if with_samples else batch
        carry = packed.take(order[n_full:]) if n_full < n_samples else None
    if carry is not None:
        samples = np.arange(len(carry))
        batch = carry.batch(samples, min_slots)
        yield (batch, carry, samples) if with_samples else batch


_DONE = object()


def prefetch(iterable, size=2):
    """Iterate ``iterable`` in a background thread, ``size`` items ahead.

    Preparing a packed batch (numpy) then overlaps with the training step of the one
    before. Exceptions of the producer are raised in the consumer; the order of the
    items is unchanged.
    """
    items = queue.Queue(maxsize=size)
    stop = threading.Event()

    def produce():
        try:
            for item in iterable:
                if stop.is_set():
                    return
                items.put(item)
        except BaseException as exc:  # re-raised in the consumer
            items.put(exc)
            return
        items.put(_DONE)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                items.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.01)
