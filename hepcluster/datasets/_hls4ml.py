"""Reader and writer of the hls4ml LHC jet data set (HDF5, features looked up by name)."""

import logging
import os
from pathlib import Path

import numpy as np

from ._event_table import (
    count_invalid,
    describe_invalid,
    invalid_constituents,
    open_hdf5,
    read_dataset,
)

logger = logging.getLogger(__name__)

HLS4ML_CLASSES = {"g": "j_g", "q": "j_q", "W": "j_w", "Z": "j_z", "top": "j_t"}
"""Class names of :func:`read_hls4ml` and the one-hot jet features that label them."""

# Per-particle features of the published files, in their order; written by write_hls4ml.
_PARTICLE_FEATURES = (
    "j1_px",
    "j1_py",
    "j1_pz",
    "j1_e",
    "j1_erel",
    "j1_pt",
    "j1_ptrel",
    "j1_eta",
    "j1_etarel",
    "j1_etarot",
    "j1_phi",
    "j1_phirel",
    "j1_phirot",
    "j1_deltaR",
    "j1_costheta",
    "j1_costhetarel",
)
_JET_FEATURES = ("j_pt", "j_eta", "j_mass", "j_multiplicity", *HLS4ML_CLASSES.values(), "j_undef")
_PT_ETA_PHI = (b"j1_pt", b"j1_eta", b"j1_phi")


def write_hls4ml(path, constituents, labels):
    """Write jets in the layout of the hls4ml LHC jet data set (for tests and examples).

    The file holds the datasets ``jetConstituentList`` (n_jets, P, 16) with
    ``particleFeatureNames``, and ``jets`` with ``jetFeatureNames``, as the published files.

    Parameters
    ----------
    path : str or path-like
        HDF5 file to create; an existing file is overwritten.
    constituents : array-like of shape (n_jets, P, 3) or (n_jets, 3 * P)
        ``(pT [GeV], η, φ)`` of the constituents of every jet, zero padded.
    labels : array-like of shape (n_jets,)
        Class of every jet, one of ``"g", "q", "W", "Z", "top"``.

    Raises
    ------
    ValueError
        On a wrong shape or an unknown class.

    See Also
    --------
    read_hls4ml : Read such files.

    Notes
    -----
    Of the 16 particle features, ``j1_px, j1_py, j1_pz, j1_e`` (massless particles),
    ``j1_pt, j1_eta, j1_phi``, ``j1_erel, j1_ptrel`` (fractions of the jet's E and pT),
    ``j1_etarel, j1_phirel, j1_deltaR`` (relative to the jet axis) and ``j1_costheta``
    (cos of the polar angle) are filled; ``j1_etarot, j1_phirot, j1_costhetarel`` are
    written as zeros. The ``jets`` dataset holds only ``j_pt, j_eta, j_mass,
    j_multiplicity``, the one-hot labels ``j_g, j_q, j_w, j_z, j_t`` and ``j_undef``
    (the published files have 59 jet features; readers look them up by name).

    Examples
    --------
    >>> import os, tempfile
    >>> from hepcluster.datasets import make_jets, read_hls4ml, write_hls4ml
    >>> X, y = make_jets(5, random_state=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "jets.h5")
    >>> write_hls4ml(path, X, y)
    >>> X_read, y_read = read_hls4ml(path, classes=("W", "Z", "top"))
    >>> X_read.shape, list(y_read[:2])
    ((15, 300), ['W', 'W'])
    """
    import h5py

    from ..jets import as_constituent_array, jet_four_momenta, jet_kinematics

    constituents = as_constituent_array(constituents)
    n_jets, n_slots, _ = constituents.shape
    labels = np.asarray(labels, dtype=object).ravel()
    if labels.shape != (n_jets,):
        raise ValueError(f"labels must have shape ({n_jets},), got {labels.shape}.")
    unknown = set(labels) - set(HLS4ML_CLASSES)
    if unknown:
        raise ValueError(
            f"labels must be among {list(HLS4ML_CLASSES)}, got {sorted(map(str, unknown))}."
        )
    pt, eta, phi = constituents[:, :, 0], constituents[:, :, 1], constituents[:, :, 2]
    real = pt > 0
    jet = jet_kinematics(constituents)
    jet_p4 = jet_four_momenta(constituents)
    px, py, pz, energy = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)
    etarel = eta - jet.eta[:, None]
    phirel = np.angle(np.exp(1j * (phi - jet.phi[:, None])))
    momentum = np.sqrt(px**2 + py**2 + pz**2)
    features = {
        "j1_px": px,
        "j1_py": py,
        "j1_pz": pz,
        "j1_e": energy,
        "j1_erel": energy / jet_p4[:, 3:4],
        "j1_pt": pt,
        "j1_ptrel": pt / jet.pt[:, None],
        "j1_eta": eta,
        "j1_etarel": etarel,
        "j1_phi": phi,
        "j1_phirel": phirel,
        "j1_deltaR": np.hypot(etarel, phirel),
        "j1_costheta": pz / np.where(real, momentum, 1.0),
    }
    particle_table = np.zeros((n_jets, n_slots, len(_PARTICLE_FEATURES)), dtype=np.float32)
    for k, name in enumerate(_PARTICLE_FEATURES):
        if name in features:
            particle_table[:, :, k] = np.where(real, features[name], 0.0)
    jet_table = np.zeros((n_jets, len(_JET_FEATURES)), dtype=np.float32)
    jet_table[:, 0] = jet.pt
    jet_table[:, 1] = jet.eta
    jet_table[:, 2] = jet.mass
    jet_table[:, 3] = real.sum(axis=1)
    for k, name in enumerate(HLS4ML_CLASSES):
        jet_table[:, 4 + k] = labels == name
    with h5py.File(path, "w") as file:
        file.create_dataset("jetConstituentList", data=particle_table)
        file.create_dataset(
            "particleFeatureNames", data=np.array([n.encode() for n in _PARTICLE_FEATURES])
        )
        file.create_dataset("jets", data=jet_table)
        file.create_dataset("jetFeatureNames", data=np.array([n.encode() for n in _JET_FEATURES]))


def read_hls4ml(
    path_or_paths,
    *,
    n_constituents=None,
    classes=("g", "q", "W", "Z", "top"),
    invalid="raise",
    return_metadata=False,
):
    """Read jets of the hls4ml LHC jet data set as a constituent matrix and class names.

    Parameters
    ----------
    path_or_paths : str, path-like or sequence of them
        One or several HDF5 files of the data set (e.g. the ``jetImage_*_150p_*.h5``
        files); their jets are concatenated in order.
    n_constituents : int, default=None
        Constituent slots P of the output: the hardest P constituents of each jet are kept,
        with zero padding. ``None`` keeps the number of particle slots of the files (the
        largest one when files differ).
    classes : sequence of {"g", "q", "W", "Z", "top"}, default=("g", "q", "W", "Z", "top")
        Classes to keep; jets of other classes are dropped (UCluster uses W, Z and top).
    invalid : {"raise", "drop"}, default="raise"
        What to do with jets of these classes holding an invalid constituent — NaN or
        infinite ``j1_pt, j1_eta, j1_phi``, a negative pT, a pT or energy pT·cosh η above
        √s = 13 TeV (which covers ``|η| > 10`` for pT above 1.2 GeV), or ``|φ| > 2π``: ``"raise"``
        a ``ValueError`` naming the file, the jet and the constituent; ``"drop"`` the jets,
        counted in the metadata and logged as a warning. Padding is pT = 0 only. Jets and
        constituents are numbered from 0 as in ``jetConstituentList``.
    return_metadata : bool, default=False
        Also return a dict of what was read, dropped and truncated.

    Returns
    -------
    X : ndarray of shape (n_jets, 3 * P), float32
        Constituent matrix ``(pT_1, η_1, φ_1, pT_2, …)``, constituents sorted by decreasing
        pT, zero padded, built from the features ``j1_pt, j1_eta, j1_phi``.
    y : ndarray of shape (n_jets,), dtype object
        Class name of every jet, from the one-hot features ``j_g, j_q, j_w, j_z, j_t``.
    metadata : dict
        Only with ``return_metadata=True``: ``paths``, ``classes``, ``invalid``,
        ``n_read`` (jets in the files), ``n_dropped_unlabelled`` (not exactly one class),
        ``n_dropped_other_classes``, ``n_dropped_invalid`` with ``invalid_counts`` by kind
        (``{"negative_pt": 2, …}``), ``n_jets`` (returned), ``n_constituents`` (P),
        ``n_constituents_truncated`` and ``n_jets_truncated`` (real constituents beyond
        the P hardest, and the jets that had them) and ``pt_fraction_truncated`` (their
        share of the returned jets' scalar constituent pT sum). Truncation is also logged.

    Raises
    ------
    FileNotFoundError
        If a file does not exist.
    ValueError
        Always with the path and the cause in one line (the library error is chained):
        if a file is not HDF5, is truncated or damaged, lacks a dataset
        (``jetConstituentList``, ``particleFeatureNames``, ``jets``, ``jetFeatureNames``)
        or features (all missing ones are named), holds an invalid constituent and
        ``invalid="raise"``, ``classes`` holds an unknown name, or no jet is left.

    See Also
    --------
    write_hls4ml : Write jets in this layout.
    make_jets : Synthetic W, Z, top and QCD jets.

    Notes
    -----
    Features are looked up by their names (``particleFeatureNames``, ``jetFeatureNames``)
    rather than by position, so files with another feature order read the same. Jets
    whose one-hot label is not exactly one class are dropped and counted in the log.
    UCluster (V. Mikuni, F. Canelli, arXiv:2010.07106) uses the W, Z and top jets of this
    data set with pT ≈ 1 TeV, anti-kT R = 0.8 and up to 100 particles.

    References
    ----------
    .. [1] M. Pierini, J. M. Duarte, N. Tran, M. Freytsis, "hls4ml LHC jet dataset
       (150 particles)", Zenodo (2020), doi:10.5281/zenodo.3602260.
    .. [2] E. A. Moreno et al., "JEDI-net: a jet identification algorithm based on
       interaction networks", Eur. Phys. J. C 80 (2020) 58, arXiv:1908.05318.

    Examples
    --------
    >>> import os, tempfile
    >>> from hepcluster.datasets import make_jets, read_hls4ml, write_hls4ml
    >>> X, y = make_jets(5, random_state=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "jets.h5")
    >>> write_hls4ml(path, X, y)
    >>> X_top, y_top = read_hls4ml(path, classes=["top"], n_constituents=30)
    >>> X_top.shape, set(y_top)
    ((5, 90), {'top'})
    >>> X_top, y_top, metadata = read_hls4ml(
    ...     path, classes=["top"], n_constituents=10, return_metadata=True
    ... )
    >>> metadata["n_read"], metadata["n_dropped_other_classes"], metadata["n_jets"]
    (15, 10, 5)
    >>> metadata["n_constituents_truncated"] > 0, 0 < metadata["pt_fraction_truncated"] < 1
    (True, True)
    """
    paths = (
        [path_or_paths] if isinstance(path_or_paths, (str, os.PathLike)) else list(path_or_paths)
    )
    if not paths:
        raise ValueError("path_or_paths names no file.")
    classes = list(classes)
    unknown = set(classes) - set(HLS4ML_CLASSES)
    if unknown or not classes:
        raise ValueError(f"classes must be taken from {list(HLS4ML_CLASSES)}, got {classes!r}.")
    if n_constituents is not None and (
        not isinstance(n_constituents, (int, np.integer))
        or isinstance(n_constituents, bool)
        or n_constituents < 1
    ):
        raise ValueError(f"n_constituents must be a positive integer, got {n_constituents!r}.")
    if invalid not in ("raise", "drop"):
        raise ValueError(f"invalid must be 'raise' or 'drop', got {invalid!r}.")
    metadata = {
        "source": "hls4ml LHC jets HDF5",
        "paths": [os.fspath(Path(path).resolve()) for path in paths],
        "classes": classes,
        "invalid": invalid,
        "n_read": 0,
        "n_dropped_unlabelled": 0,
        "n_dropped_other_classes": 0,
        "n_dropped_invalid": 0,
        "invalid_counts": {},
    }
    parts = [_read_file(Path(path), classes, invalid, metadata) for path in paths]
    n_slots = int(n_constituents or max(part[0].shape[1] for part in parts))
    resized = [_sorted_and_resized(constituents, n_slots) for constituents, _ in parts]
    X = np.concatenate([constituents for constituents, _ in resized])
    y = np.concatenate([labels for _, labels in parts])
    if y.shape[0] == 0:
        raise ValueError(f"no jet of the classes {classes} in {[os.fspath(p) for p in paths]}.")
    n_truncated = sum(truncation[0] for _, truncation in resized)
    n_jets_truncated = sum(truncation[1] for _, truncation in resized)
    pt_truncated = sum(truncation[2] for _, truncation in resized)
    pt_total = pt_truncated + float(X[:, :, 0].sum(dtype=np.float64))
    metadata.update(
        n_jets=int(y.shape[0]),
        n_constituents=n_slots,
        n_constituents_truncated=int(n_truncated),
        n_jets_truncated=int(n_jets_truncated),
        pt_fraction_truncated=pt_truncated / pt_total if pt_total > 0 else 0.0,
    )
    if n_truncated:
        logger.info(
            "read_hls4ml: kept the %d hardest constituents of each jet; %d constituents "
            "(%.3g%% of the constituent pT) dropped from %d of %d jets.",
            n_slots,
            n_truncated,
            100 * metadata["pt_fraction_truncated"],
            n_jets_truncated,
            y.shape[0],
        )
    if metadata["n_dropped_invalid"]:
        logger.warning(
            "read_hls4ml: dropped %d jet(s) with invalid constituents (invalid='drop'): %s.",
            metadata["n_dropped_invalid"],
            metadata["invalid_counts"],
        )
    X = X.reshape(X.shape[0], 3 * n_slots)
    return (X, y, metadata) if return_metadata else (X, y)


_DATASETS = ("jetConstituentList", "particleFeatureNames", "jets", "jetFeatureNames")


def _names(file, dataset, path):
    names = read_dataset(file, dataset, path)
    if names.ndim != 1:
        raise ValueError(
            f"{os.fspath(path)}: {dataset} must be a list of names, got shape {names.shape}."
        )
    return [name if isinstance(name, bytes) else str(name).encode() for name in names]


def _indices(names, wanted, dataset, path, n_features, needed_for):
    missing = [name.decode() for name in wanted if name not in names]
    if missing:
        raise ValueError(
            f"{os.fspath(path)}: {dataset} lacks {', '.join(map(repr, missing))}, needed for "
            f"{needed_for} (found: {[name.decode() for name in names]})."
        )
    indices = [names.index(name) for name in wanted]
    beyond = [
        name.decode() for name, index in zip(wanted, indices, strict=True) if index >= n_features
    ]
    if beyond:
        raise ValueError(
            f"{os.fspath(path)}: {', '.join(map(repr, beyond))} are among the {len(names)} "
            f"{dataset} but the data have only {n_features} features (damaged file?)."
        )
    return indices


def _read_file(path, classes, invalid, metadata):
    """Unsorted (n, P, 3) constituents and class names of the requested classes.

    Adds what it read and dropped to the counts in ``metadata``.
    """
    with open_hdf5(path, "hls4ml file") as file:
        missing = [name for name in _DATASETS if name not in file]
        if missing:
            raise ValueError(
                f"{os.fspath(path)} has no dataset {', '.join(map(repr, missing))} "
                f"(found: {sorted(file.keys())}); an hls4ml jet file has "
                "jetConstituentList, particleFeatureNames, jets and jetFeatureNames."
            )
        particles = file["jetConstituentList"]
        jets = file["jets"]
        particle_names = _names(file, "particleFeatureNames", path)
        jet_names = _names(file, "jetFeatureNames", path)
        if particles.ndim != 3 or jets.ndim != 2 or particles.shape[0] != jets.shape[0]:
            raise ValueError(
                f"{os.fspath(path)}: jetConstituentList {particles.shape} and jets "
                f"{jets.shape} must be (n, P, F) and (n, F') with the same n."
            )
        feature_index = _indices(
            particle_names,
            _PT_ETA_PHI,
            "particleFeatureNames",
            path,
            particles.shape[2],
            "the constituents' (pT, η, φ)",
        )
        label_index = _indices(
            jet_names,
            [feature.encode() for feature in HLS4ML_CLASSES.values()],
            "jetFeatureNames",
            path,
            jets.shape[1],
            "the one-hot class labels",
        )
        one_hot = read_dataset(file, "jets", path)[:, label_index]
        defined = (np.sum(one_hot == 1, axis=1) == 1) & (np.sum(one_hot != 0, axis=1) == 1)
        names = np.asarray(list(HLS4ML_CLASSES), dtype=object)
        y = names[np.argmax(one_hot, axis=1)]
        keep = defined & np.isin(y, classes)
        n_undefined = int((~defined).sum())
        if n_undefined:
            logger.info(
                "read_hls4ml: %d jet(s) of %s without exactly one class label dropped.",
                n_undefined,
                path,
            )
        # The whole list is read at once: a file of the data set is ~10⁴ jets (~100 MB).
        values = read_dataset(file, "jetConstituentList", path)
    constituents = values[keep][:, :, feature_index]
    jet_index = np.flatnonzero(keep)
    bad, column, code = invalid_constituents(constituents)
    if bad.any():
        found = count_invalid(code, bad)
        if invalid == "raise":
            row = int(np.flatnonzero(bad)[0])
            slot, feature = divmod(int(column[row]), 3)
            raise ValueError(
                f"{os.fspath(path)}: jet {jet_index[row]}, constituent {slot} "
                f"{_PT_ETA_PHI[feature].decode()} "
                f"{describe_invalid(constituents[row], column[row], code[row])}. "
                f"{int(bad.sum())} of the {keep.sum()} jets of classes {classes} have invalid "
                f"values ({', '.join(f'{k}: {v}' for k, v in found.items())}); "
                "read_hls4ml(..., invalid='drop') drops and counts such jets."
            )
        for name, count in found.items():
            metadata["invalid_counts"][name] = metadata["invalid_counts"].get(name, 0) + count
        metadata["n_dropped_invalid"] += int(bad.sum())
        constituents, jet_index = constituents[~bad], jet_index[~bad]
    metadata["n_read"] += int(keep.shape[0])
    metadata["n_dropped_unlabelled"] += n_undefined
    metadata["n_dropped_other_classes"] += int((defined & ~keep).sum())
    logger.info("read_hls4ml: %d jet(s) of classes %s from %s.", len(constituents), classes, path)
    return constituents.astype(np.float32), y[jet_index]


def _sorted_and_resized(constituents, n_slots):
    """Constituents sorted by decreasing pT in ``n_slots`` slots, and what was cut.

    Returns the (n, n_slots, 3) array and ``(n_truncated, n_jets_truncated, pt_truncated)``:
    real constituents dropped beyond ``n_slots``, jets that lost some, and their pT sum.
    """
    pt = constituents[:, :, 0]
    constituents = np.where((pt > 0)[:, :, None], constituents, 0.0).astype(np.float32)
    order = np.argsort(-constituents[:, :, 0], axis=1, kind="stable")
    constituents = np.take_along_axis(constituents, order[:, :, None], axis=1)
    beyond = constituents[:, n_slots:, 0]
    n_beyond = np.count_nonzero(beyond, axis=1)
    truncation = (
        int(n_beyond.sum()),
        int(np.count_nonzero(n_beyond)),
        float(beyond.sum(dtype=np.float64)),
    )
    constituents = constituents[:, :n_slots]
    if constituents.shape[1] < n_slots:
        padding = np.zeros(
            (constituents.shape[0], n_slots - constituents.shape[1], 3), dtype=np.float32
        )
        constituents = np.concatenate([constituents, padding], axis=1)
    return constituents, truncation
