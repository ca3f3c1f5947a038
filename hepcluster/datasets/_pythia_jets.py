"""Pythia8 + FastJet generation of boosted W, Z, top and QCD jets (extra ``[generate]``).

Like :func:`generate_pythia_events`, jets are generated in chunks with one Pythia instance
and one seed each, in worker processes (:mod:`._pythia_loop`), with a progress bar in jets.
"""

import logging
from numbers import Integral, Real

import numpy as np

from ..utils import import_optional
from ..utils._validation import POSITIVE, POSITIVE_COUNT, Interval, validate
from ._pythia_loop import chunk_sizes, jet_chunk, run_chunks
from ._pythia_settings import JET_PARTON_ID, JET_PROCESSES, MAX_SEED, mpi_settings
from ._synthetic import as_generator

logger = logging.getLogger(__name__)


@validate(
    {
        "n_per_class": [POSITIVE_COUNT],
        "classes": ["array-like"],
        "pt_min": [POSITIVE],
        "pt_max": [Interval(Real, 0, None, closed="neither")],
        "sqrt_s": [POSITIVE],
        "jet_radius": [POSITIVE],
        "n_constituents": [POSITIVE_COUNT],
        "mpi": ["boolean"],
        "n_jobs": [Integral, None],
        "chunk_size": [POSITIVE_COUNT],
        "random_state": ["random_state"],
    }
)
def generate_pythia_jets(
    n_per_class,
    *,
    classes=("W", "Z", "top"),
    pt_min=900.0,
    pt_max=1100.0,
    sqrt_s=13000.0,
    jet_radius=0.8,
    n_constituents=100,
    mpi=False,
    n_jobs=None,
    chunk_size=200,
    random_state=None,
):
    """Generate boosted W, Z, top and QCD jets with Pythia8 (like the hls4ml data set).

    Pythia8 events with a boosted boson or top (hadronic decays forced) or QCD dijets,
    hadronised, clustered with anti-kT R = ``jet_radius``; signal jets are the jets within
    ΔR < 0.6 of the boson or top (its last copy before the decay), QCD jets the two
    leading jets; only jets with ``pt_min < pT < pt_max`` and ``|η| < 2.5`` are kept.
    Requires the extra ``[generate]``.

    Parameters
    ----------
    n_per_class : int
        Number of jets of each class.
    classes : sequence of {"W", "Z", "top", "QCD"}, default=("W", "Z", "top")
        Classes to generate, in the order of the output.
    pt_min, pt_max : float, default=900.0, 1100.0
        Jet pT window in GeV; the hard-process pT̂ is generated in
        [0.9 pt_min, 1.1 pt_max].
    sqrt_s : float, default=13000.0
        Centre-of-mass energy in GeV.
    jet_radius : float, default=0.8
        Anti-kT radius R.
    n_constituents : int, default=100
        Constituent slots P per jet (the hardest constituents).
    mpi : bool, default=False
        Simulate multiparton interactions (the underlying event), which add a few GeV
        to the jet masses; off by default as in :func:`generate_pythia_events`.
    n_jobs : int, default=None
        Worker processes (joblib); the jets do not depend on it.
    chunk_size : int, default=200
        Jets per chunk (one Pythia instance and seed each).
    random_state : int, RandomState instance, Generator or None, default=None
        Seed of the per-chunk Pythia seeds.

    Returns
    -------
    X : ndarray of shape (n_per_class * n_classes, 3 * n_constituents)
        Constituent matrix ``(pT_1, η_1, φ_1, …)``, sorted by decreasing pT, zero padded.
    y : ndarray of shape (n_per_class * n_classes,), dtype object
        Class name of each jet.

    Raises
    ------
    ImportError
        If pythia8mc is not installed, naming ``pip install "hepcluster[generate]"``.
    ValueError
        On invalid parameters.

    See Also
    --------
    make_jets : Fast synthetic jets with the same classes.
    read_hls4ml : The hls4ml LHC jet data set.

    Notes
    -----
    Processes: W from ``WeakBosonAndParton:qqbar2Wg, qg2Wq`` and Z from
    ``WeakBosonAndParton:qqbar2gmZg, qg2gmZq`` (``WeakZ0:gmZmode = 2``), both with
    ``24:onIfAny`` / ``23:onIfAny = 1 2 3 4 5`` (hadronic decays); top from
    ``Top:gg2ttbar, qqbar2ttbar`` with hadronic W decays; QCD from ``HardQCD:all``; all
    with ``PhaseSpace:pTHatMin/pTHatMax``. The jet masses peak near 80.4, 91.2 and
    172.8 GeV (UCluster, arXiv:2010.07106, uses the hls4ml jets of pT ≈ 1 TeV).

    References
    ----------
    .. [1] C. Bierlich et al., "A comprehensive guide to the physics and usage of
       PYTHIA 8.3", SciPost Phys. Codebases 8 (2022), arXiv:2203.11601.

    Examples
    --------
    >>> from hepcluster.datasets import generate_pythia_jets
    >>> X, y = generate_pythia_jets(10, random_state=0)  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (30, 300)
    """
    classes = list(classes)
    unknown = set(classes) - set(JET_PROCESSES)
    if unknown or not classes:
        raise ValueError(f"classes must be taken from {sorted(JET_PROCESSES)}, got {classes!r}.")
    if not pt_max > pt_min:
        raise ValueError(f"pt_max must exceed pt_min, got {pt_min!r} and {pt_max!r}.")
    import_optional("pythia8mc", extra="generate")

    config = {
        "sqrt_s": float(sqrt_s),
        "jet_radius": float(jet_radius),
        "n_constituents": n_constituents,
        "pt_min": float(pt_min),
        "pt_max": float(pt_max),
    }
    phase_space = [
        f"PhaseSpace:pTHatMin = {0.9 * pt_min!r}",
        f"PhaseSpace:pTHatMax = {1.1 * pt_max!r}",
        *mpi_settings(mpi),
    ]
    tasks = [(name, size) for name in classes for size in chunk_sizes(n_per_class, chunk_size)]
    seeds = as_generator(random_state).integers(1, MAX_SEED, size=len(tasks)).tolist()
    results = run_chunks(
        jet_chunk,
        [
            (JET_PROCESSES[name] + phase_space, JET_PARTON_ID[name], size, seed, config)
            for (name, size), seed in zip(tasks, seeds, strict=True)
        ],
        n_events=n_per_class * len(classes),
        n_jobs=n_jobs,
        desc="generate_pythia_jets",
        unit="jet",
    )
    for name in classes:
        mine = [r for (task, _), r in zip(tasks, results, strict=True) if task == name]
        logger.info(
            "generate_pythia_jets: %d %s jets selected from %d Pythia events (%d failed).",
            n_per_class,
            name,
            sum(r["n_tried"] for r in mine),
            sum(r["n_failed"] for r in mine),
        )
    X = np.concatenate([result["constituents"] for result in results])
    y = np.repeat(np.asarray(classes, dtype=object), n_per_class)
    return X.reshape(X.shape[0], 3 * n_constituents), y
