"""Pythia8 + FastJet generation of dijet events and boosted jets (extra ``[generate]``).

Events are generated in chunks of fixed size; every chunk gets its own Pythia instance and a
seed drawn up front from ``random_state``, so the events depend on ``random_state`` and
``chunk_size`` only, never on ``n_jobs``. Chunks run in worker processes through joblib.
Pythia8's awkward-array interface (``Pythia.nextBatch``) hands whole batches of events to
numpy, and :mod:`._clustering` clusters them in one FastJet call.
"""

import logging
import numbers

import numpy as np

from ..utils import import_optional, progress
from ._clustering import (
    cluster_dijets,
    cluster_jets,
    concatenate_columns,
    dijet_columns,
    event_table_from_columns,
    gather_constituents,
)
from ._lhco import LHCO_N_PARTICLES, write_lhco
from ._synthetic import as_generator

logger = logging.getLogger(__name__)

QCD_PT_HAT_BIAS_POWER = 4.0
"""Exponent of the pT-hat bias of the QCD sample: events are sampled ∝ (pT̂/pT̂_min)^4 more
often and carry the compensating weight ``pythia.info.weight()``."""

SIGNAL_PARTICLE_IDS = {"X": 9000001, "Y": 9000002}
"""PDG codes given to the new states X (charged, X⁺ → u d̄, c s̄) and Y (neutral,
Y → u ū, d d̄, s s̄, c c̄) of the W′ → X Y signal."""

# Relative widths of the W′, X and Y (narrow: the peaks are set by the detector-free
# reconstruction, not by the widths), and the mass window generated around each.
_RELATIVE_WIDTH = 0.01
_WPRIME_MASS_WINDOW = 0.5
_DAUGHTER_MASS_WINDOW = 0.05
# Neutrinos leave no trace in a detector; every other final-state particle is clustered.
_INVISIBLE_IDS = (12, 14, 16)
# Pythia draws seeds in [1, 900 000 000].
_MAX_SEED = 900_000_000
# A chunk gives up when the selection keeps less than one event in this many.
_MAX_TRIES_PER_EVENT = 50
_MIN_JET_PT = 20.0
# Jets of generate_pythia_jets: parton matching radius and largest |η|.
_MATCH_RADIUS = 0.6
_JET_MAX_ETA = 2.5
_JET_PROCESSES = {
    "W": [
        "WeakBosonAndParton:qqbar2Wg = on",
        "WeakBosonAndParton:qg2Wq = on",
        "24:onMode = off",
        "24:onIfAny = 1 2 3 4 5",
    ],
    "Z": [
        "WeakBosonAndParton:qqbar2gmZg = on",
        "WeakBosonAndParton:qg2gmZq = on",
        "WeakZ0:gmZmode = 2",
        "23:onMode = off",
        "23:onIfAny = 1 2 3 4 5",
    ],
    "top": [
        "Top:gg2ttbar = on",
        "Top:qqbar2ttbar = on",
        "24:onMode = off",
        "24:onIfAny = 1 2 3 4 5",
    ],
    "QCD": ["HardQCD:all = on"],
}
_JET_PARTON_ID = {"W": 24, "Z": 23, "top": 6, "QCD": None}


def qcd_settings(pt_hat_min):
    """Pythia8 settings of the QCD dijet background (``HardQCD:all`` with a pT-hat bias)."""
    return [
        "HardQCD:all = on",
        f"PhaseSpace:pTHatMin = {pt_hat_min!r}",
        "PhaseSpace:bias2Selection = on",
        f"PhaseSpace:bias2SelectionPow = {QCD_PT_HAT_BIAS_POWER!r}",
        f"PhaseSpace:bias2SelectionRef = {pt_hat_min!r}",
    ]


def signal_settings(m_resonance, m_x, m_y):
    """Pythia8 settings of the W′ → X Y, X → qq̄′, Y → qq̄ signal.

    The W′ (PDG 34) of ``NewGaugeBoson:ffbar2Wprime`` gets mass ``m_resonance`` and a
    forced width of 1 %, and a single open decay channel to two new states defined here:
    X (PDG 9000001, charge +1 so that W′⁺ → X⁺ Y conserves charge) with mass ``m_x``
    decaying to u d̄ or c s̄, and Y (PDG 9000002, neutral) with mass ``m_y`` decaying to
    u ū, d d̄, s s̄ or c c̄. X and Y are narrow (1 %) resonances; meMode 103 makes Pythia
    use the branching ratios as given.
    """
    x_id, y_id = SIGNAL_PARTICLE_IDS["X"], SIGNAL_PARTICLE_IDS["Y"]
    settings = [
        "NewGaugeBoson:ffbar2Wprime = on",
        f"34:m0 = {m_resonance!r}",
        "34:doForceWidth = on",
        f"34:mWidth = {_RELATIVE_WIDTH * m_resonance!r}",
        f"34:mMin = {(1 - _WPRIME_MASS_WINDOW) * m_resonance!r}",
        f"34:mMax = {(1 + _WPRIME_MASS_WINDOW) * m_resonance!r}",
        "34:onMode = off",
        f"34:addChannel = 1 1.0 103 {x_id} {y_id}",
    ]
    for pid, name, anti_name, charge_type, mass, channels in (
        (x_id, "Xplus", "Xminus", 3, m_x, ["2 -1", "4 -3"]),
        (y_id, "Y", "void", 0, m_y, ["2 -2", "1 -1", "3 -3", "4 -4"]),
    ):
        low, high = (1 - _DAUGHTER_MASS_WINDOW) * mass, (1 + _DAUGHTER_MASS_WINDOW) * mass
        settings += [
            f"{pid}:all = {name} {anti_name} 1 {charge_type} 0 {mass!r} "
            f"{_RELATIVE_WIDTH * mass!r} {low!r} {high!r} 0.0",
            f"{pid}:isResonance = on",
            f"{pid}:mayDecay = on",
        ]
        fraction = 1.0 / len(channels)
        settings += [f"{pid}:addChannel = 1 {fraction!r} 103 {products}" for products in channels]
    return settings


def generate_pythia_events(
    n_background,
    n_signal,
    *,
    m_resonance=3500.0,
    m_x=500.0,
    m_y=100.0,
    pt_hat_min=1000.0,
    sqrt_s=13000.0,
    n_constituents=100,
    jet_radius=1.0,
    max_jet_eta=2.5,
    mpi=False,
    n_jobs=None,
    chunk_size=500,
    random_state=None,
    path=None,
    lhco_path=None,
):
    """Generate QCD dijet and W′ → X Y → (qq̄)(qq̄) events with Pythia8 and cluster them.

    An LHC Olympics-like sample (arXiv:2101.08320) at particle level: QCD events from
    ``HardQCD:all`` with a pT-hat threshold and bias, and the W′ → X Y signal with
    configurable masses; hadronised events (without multiparton interactions by default,
    as the LHCO R&D sample), all visible final-state particles (neutrinos excluded) clustered with
    anti-kT of radius ``jet_radius`` (FastJet, massless particles from (pT, η, φ) like
    :func:`read_lhco`), jets with ``|η| < max_jet_eta``, the two leading jets kept.
    Requires the extra ``[generate]``.

    Parameters
    ----------
    n_background : int
        Number of QCD events in the output (events failing the selection are replaced).
    n_signal : int
        Number of signal events in the output.
    m_resonance : float, default=3500.0
        W′ mass in GeV.
    m_x, m_y : float, default=500.0, 100.0
        Masses of X and Y in GeV.
    pt_hat_min : float, default=1000.0
        Lower limit of the QCD hard-scattering pT̂ in GeV (``PhaseSpace:pTHatMin``).
        1 TeV puts the QCD m_jj threshold near 2 TeV, below the 2.5–7 TeV region that
        Cluster Scanning scans and close to the LHCO trigger (leading jet pT > 1.2 TeV).
        Only the background depends on it.
    sqrt_s : float, default=13000.0
        Centre-of-mass energy of the pp collisions in GeV.
    n_constituents : int, default=100
        Constituent slots P kept per jet (the hardest constituents).
    jet_radius : float, default=1.0
        Anti-kT radius R.
    max_jet_eta : float, default=2.5
        Jets with ``|η| ≥ max_jet_eta`` are ignored; events with fewer than two central jets are
        cut (and replaced).
    mpi : bool, default=False
        Simulate multiparton interactions (the underlying event, ``PartonLevel:MPI``).
        The LHCO R&D sample was generated without them; with them the R = 1.0 jets
        gain ~10 GeV of mass from soft particles (the Y-jet peak moves to ~110 GeV) and
        generation is about twice slower.
    n_jobs : int, default=None
        Worker processes (joblib); ``None`` means 1 unless in a joblib context, −1 all
        cores. The events do not depend on it.
    chunk_size : int, default=500
        Events per chunk; each chunk is one task with its own Pythia instance (~0.3 s of
        initialisation) and seed. The events depend on it.
    random_state : int, RandomState instance, Generator or None, default=None
        Seed of the per-chunk Pythia seeds.
    path : str or path-like, default=None
        If given, the event table is also written there (:meth:`EventTable.to_hdf5`).
    lhco_path : str or path-like, default=None
        If given, the visible final-state particles of the kept events (the hardest 700)
        are also written there in the LHCO R&D layout (:func:`write_lhco`, with labels).

    Returns
    -------
    EventTable
        Background events first (event ids ``0 … n_background − 1``), then signal.
        ``weight`` is ``pythia.info.weight()`` (the pT-hat bias weight for QCD, 1 for the
        signal); ``metadata`` holds the Pythia settings, chunk seeds, numbers of events
        tried, failed and cut, and Pythia's cross-section estimates.

    Raises
    ------
    ImportError
        If pythia8mc is not installed, naming ``pip install "hepcluster[generate]"``.
    ValueError
        On invalid counts, masses or parameters.
    RuntimeError
        If Pythia fails to initialise or the selection keeps almost no event.

    See Also
    --------
    make_dijet_events : Fast synthetic events with the same structure.
    read_lhco : The LHCO R&D data set, reclustered in the same way.

    Notes
    -----
    Pythia configuration (verified with pythia8mc 8.317.2):

    - background: ``HardQCD:all = on``, ``PhaseSpace:pTHatMin = pt_hat_min``,
      ``PhaseSpace:bias2Selection = on``, ``bias2SelectionPow = 4``,
      ``bias2SelectionRef = pt_hat_min``. Events are sampled ∝ (pT̂/pT̂_min)⁴ more
      often at high pT̂, so that the high-m_jj tail is populated; each event carries the
      compensating weight, and weighted histograms follow the physical spectrum.
    - signal: see :func:`signal_settings` — ``NewGaugeBoson:ffbar2Wprime = on`` with the
      W′ decaying only to X⁺ Y (new PDG codes 9000001 and 9000002 defined through
      ``id:all``), X⁺ → u d̄ / c s̄ and Y → u ū / d d̄ / s s̄ / c c̄.
    - every chunk: ``Beams:eCM = sqrt_s``, ``Random:setSeed = on``,
      ``Random:seed = <chunk seed>``, ``Print:quiet = on``, and
      ``PartonLevel:MPI = off`` unless ``mpi=True``; everything else is Pythia's default
      (Monash tune, parton showers, string hadronisation, hadron decays).

    Jet kinematics and m_jj are those of the full anti-kT jets; τ21 is computed from the
    P stored constituents. Measured end to end on one core of a shared 2-core VM
    (``benchmarks/bench_generators.py``): ~300–400 QCD and ~500–650 signal events/s
    without MPI, ~150 and ~200 events/s with ``mpi=True``; Pythia's event generation
    takes ~80 % of the time.

    References
    ----------
    .. [1] C. Bierlich et al., "A comprehensive guide to the physics and usage of
       PYTHIA 8.3", SciPost Phys. Codebases 8 (2022), arXiv:2203.11601.
    .. [2] G. Kasieczka et al., "The LHC Olympics 2020", Rep. Prog. Phys. 84 (2021)
       124201, arXiv:2101.08320.
    .. [3] M. Cacciari, G. P. Salam, G. Soyez, "FastJet user manual", Eur. Phys. J. C 72
       (2012) 1896, arXiv:1111.6097.

    Examples
    --------
    >>> from hepcluster.datasets import generate_pythia_events
    >>> events = generate_pythia_events(20, 20, random_state=0)  # doctest: +SKIP
    >>> events.n_signal, events.constituents.shape  # doctest: +SKIP
    (20, (40, 2, 100, 3))
    """
    _check_count("n_background", n_background)
    _check_count("n_signal", n_signal)
    _check_count("n_constituents", n_constituents, minimum=1)
    _check_count("chunk_size", chunk_size, minimum=1)
    if n_background + n_signal == 0:
        raise ValueError("n_background + n_signal must be positive.")
    for name, value in (
        ("m_resonance", m_resonance),
        ("m_x", m_x),
        ("m_y", m_y),
        ("pt_hat_min", pt_hat_min),
        ("sqrt_s", sqrt_s),
        ("jet_radius", jet_radius),
        ("max_jet_eta", max_jet_eta),
    ):
        _check_positive(name, value)
    if m_x + m_y >= m_resonance:
        raise ValueError(f"m_x + m_y = {m_x + m_y} GeV must be below m_resonance.")
    if m_resonance >= sqrt_s:
        raise ValueError("m_resonance must be below sqrt_s.")
    pythia8 = import_optional("pythia8mc", extra="generate")

    settings = {
        "background": qcd_settings(float(pt_hat_min)) + _mpi_settings(mpi),
        "signal": signal_settings(float(m_resonance), float(m_x), float(m_y)) + _mpi_settings(mpi),
    }
    config = {
        "sqrt_s": float(sqrt_s),
        "jet_radius": float(jet_radius),
        "max_jet_eta": float(max_jet_eta),
        "n_constituents": n_constituents,
        "keep_particles": lhco_path is not None,
    }
    tasks = [
        (process, size)
        for process, total in (("background", n_background), ("signal", n_signal))
        for size in _chunk_sizes(total, chunk_size)
    ]
    rng = as_generator(random_state)
    seeds = rng.integers(1, _MAX_SEED, size=len(tasks)).tolist()
    results = _run_chunks(
        _event_chunk,
        [
            (settings[process], size, seed, config)
            for (process, size), seed in zip(tasks, seeds, strict=True)
        ],
        n_events=n_background + n_signal,
        n_jobs=n_jobs,
        desc="generate_pythia_events",
        unit="event",
    )

    columns = concatenate_columns([result["columns"] for result in results], n_constituents)
    is_signal = np.concatenate(
        [np.full(size, process == "signal") for process, size in tasks]
    ).astype(bool)
    weight = np.concatenate([result["weight"] for result in results])
    counts = {}
    for process in ("background", "signal"):
        mine = [
            result for (name, _), result in zip(tasks, results, strict=True) if name == process
        ]
        if not mine:
            continue
        counts[process] = {
            name: sum(result[name] for result in mine)
            for name in ("n_tried", "n_failed", "n_cut_fewer_than_two_jets")
        }
        # Pythia's estimate of the generated cross section (mb), averaged over chunks.
        counts[process]["sigma_gen_mb"] = float(np.mean([r["sigma_gen_mb"] for r in mine]))
        logger.info("generate_pythia_events: %s events: %s", process, counts[process])
    metadata = {
        "generator": "hepcluster.datasets.generate_pythia_events",
        "pythia_version": _pythia_version(pythia8),
        "n_background": n_background,
        "n_signal": n_signal,
        "m_resonance": float(m_resonance),
        "m_x": float(m_x),
        "m_y": float(m_y),
        "pt_hat_min": float(pt_hat_min),
        "sqrt_s": float(sqrt_s),
        "jet_radius": float(jet_radius),
        "max_jet_eta": float(max_jet_eta),
        "mpi": bool(mpi),
        "min_jet_pt": _MIN_JET_PT,
        "chunk_size": chunk_size,
        "chunk_seeds": seeds,
        "pythia_settings": settings,
        "counts": counts,
        "n_cut_fewer_than_two_jets": sum(c["n_cut_fewer_than_two_jets"] for c in counts.values()),
        "n_constituents_truncated": sum(r["n_constituents_truncated"] for r in results),
        "n_jets_truncated": sum(r["n_jets_truncated"] for r in results),
    }
    table = event_table_from_columns(
        columns,
        is_signal=is_signal,
        event_id=np.arange(n_background + n_signal),
        weight=weight,
        metadata=metadata,
    )
    if lhco_path is not None:
        particles = np.concatenate([result["particles"] for result in results])
        n_dropped = sum(result["n_particles_truncated"] for result in results)
        table.metadata["lhco_path"] = str(lhco_path)
        table.metadata["lhco_n_particles_truncated"] = n_dropped
        logger.info(
            "generate_pythia_events: %d particles beyond the %d hardest per event not written "
            "to %s.",
            n_dropped,
            LHCO_N_PARTICLES,
            lhco_path,
        )
        write_lhco(lhco_path, particles, labels=is_signal.astype(float))
    if path is not None:
        table.to_hdf5(path)
    return table


def generate_pythia_jets(
    n_per_class,
    classes=("W", "Z", "top"),
    *,
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
    _check_count("n_per_class", n_per_class, minimum=1)
    _check_count("n_constituents", n_constituents, minimum=1)
    _check_count("chunk_size", chunk_size, minimum=1)
    classes = list(classes)
    unknown = set(classes) - set(_JET_PROCESSES)
    if unknown or not classes:
        raise ValueError(f"classes must be taken from {sorted(_JET_PROCESSES)}, got {classes!r}.")
    for name, value in (("pt_min", pt_min), ("sqrt_s", sqrt_s), ("jet_radius", jet_radius)):
        _check_positive(name, value)
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
        *_mpi_settings(mpi),
    ]
    tasks = [(name, size) for name in classes for size in _chunk_sizes(n_per_class, chunk_size)]
    seeds = as_generator(random_state).integers(1, _MAX_SEED, size=len(tasks)).tolist()
    results = _run_chunks(
        _jet_chunk,
        [
            (_JET_PROCESSES[name] + phase_space, _JET_PARTON_ID[name], size, seed, config)
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


def _check_count(name, value, minimum=0):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")


def _check_positive(name, value):
    if not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}.")


def _mpi_settings(mpi):
    return [] if mpi else ["PartonLevel:MPI = off"]


def _chunk_sizes(total, chunk_size):
    return [min(chunk_size, total - start) for start in range(0, total, chunk_size)]


def _pythia_version(pythia8):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pythia8mc")
    except PackageNotFoundError:  # pragma: no cover - installed without package metadata
        return getattr(pythia8, "__version__", "unknown")


def _run_chunks(function, arguments, *, n_events, n_jobs, desc, unit):
    """Run ``function(*args)`` for every chunk in worker processes, in order."""
    from sklearn.utils.parallel import Parallel, delayed

    results = []
    with progress(total=n_events, desc=desc, unit=unit) as bar:
        outputs = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(function)(*args) for args in arguments
        )
        for output in outputs:
            results.append(output)
            bar.update(output["n_items"])
    return results


def _make_pythia(settings, seed, sqrt_s):
    pythia8 = import_optional("pythia8mc", extra="generate")
    pythia = pythia8.Pythia("", False)
    for setting in [
        f"Beams:eCM = {sqrt_s!r}",
        "Print:quiet = on",
        "Next:numberCount = 0",
        "Random:setSeed = on",
        f"Random:seed = {seed}",
        *settings,
    ]:
        if not pythia.readString(setting):
            raise ValueError(f"Pythia rejected the setting {setting!r}.")
    if not pythia.init():
        raise RuntimeError(f"Pythia failed to initialise with the settings {settings}.")
    return pythia


def _visible_final_state(batch):
    """Flat (pT, η, φ) and counts of the visible final-state particles of a batch."""
    import awkward as ak

    particles = batch.prt
    event = np.repeat(np.arange(len(particles)), ak.to_numpy(ak.num(particles)))
    pid = np.abs(ak.to_numpy(ak.flatten(particles.id)))
    status = ak.to_numpy(ak.flatten(particles.status))
    px, py, pz = (ak.to_numpy(ak.flatten(particles.p[name])) for name in ("px", "py", "pz"))
    pt = np.hypot(px, py)
    visible = (status > 0) & ~np.isin(pid, _INVISIBLE_IDS) & (pt > 0)
    counts = np.bincount(event[visible], minlength=len(particles)).astype(np.int64)
    pt, px, py, pz = pt[visible], px[visible], py[visible], pz[visible]
    return pt, np.arcsinh(pz / pt), np.arctan2(py, px), counts


def _batches(pythia, n_wanted, select):
    """Draw batches from Pythia until ``select`` has accepted ``n_wanted`` items.

    ``select(batch, n_missing)`` returns how many items it accepted from the batch.
    Returns the number of events tried and the number Pythia failed to generate.
    """
    n_tried = n_failed = n_accepted = 0
    while n_accepted < n_wanted:
        if n_tried >= _MAX_TRIES_PER_EVENT * n_wanted + 100:
            raise RuntimeError(
                f"the selection kept {n_accepted} of {n_tried} Pythia events; "
                "check the cuts and masses."
            )
        n_request = max(n_wanted - n_accepted, 1)
        batch = pythia.nextBatch(n_request)
        n_tried += n_request
        n_failed += n_request - len(batch)
        if len(batch):
            n_accepted += select(batch, n_wanted - n_accepted)
    return n_tried, n_failed


def _event_chunk(settings, n_events, seed, config):
    """Generate, cluster and select ``n_events`` dijet events in one process."""
    import awkward as ak

    pythia = _make_pythia(settings, seed, config["sqrt_s"])
    parts, weights, particle_lists = [], [], []
    tally = {"cut": 0, "truncated": 0, "jets_truncated": 0, "particles_truncated": 0}

    def select(batch, n_missing):
        pt, eta, phi, counts = _visible_final_state(batch)
        clustering = cluster_dijets(
            pt,
            eta,
            phi,
            counts,
            jet_radius=config["jet_radius"],
            n_constituents=config["n_constituents"],
            min_jet_pt=_MIN_JET_PT,
            max_jet_eta=config["max_jet_eta"],
        )
        tally["cut"] += int((~clustering.keep).sum())
        kept = np.flatnonzero(clustering.keep)[:n_missing]
        clustering = clustering._replace(
            keep=np.isin(np.arange(len(counts)), kept),
            constituents=clustering.constituents[: len(kept)],
            jet_p4=clustering.jet_p4[: len(kept)],
        )
        tally["truncated"] += clustering.n_constituents_truncated
        tally["jets_truncated"] += clustering.n_jets_truncated
        parts.append(dijet_columns(clustering, jet_radius=config["jet_radius"]))
        event_weights = ak.to_numpy(ak.firsts(batch.info.weights)).astype(np.float64)
        weights.append(event_weights[kept])
        if config["keep_particles"]:
            lists, n_dropped = _hardest_particles(pt, eta, phi, counts, kept)
            particle_lists.append(lists)
            tally["particles_truncated"] += n_dropped
        return len(kept)

    n_tried, n_failed = _batches(pythia, n_events, select)
    result = {
        "n_items": n_events,
        "columns": concatenate_columns(parts, config["n_constituents"]),
        "weight": np.concatenate(weights),
        "n_tried": n_tried,
        "n_failed": n_failed,
        "n_cut_fewer_than_two_jets": tally["cut"],
        "n_constituents_truncated": tally["truncated"],
        "n_jets_truncated": tally["jets_truncated"],
        "sigma_gen_mb": float(pythia.infoPython().sigmaGen()),
    }
    if config["keep_particles"]:
        result["particles"] = np.concatenate(particle_lists)
        result["n_particles_truncated"] = tally["particles_truncated"]
    return result


def _hardest_particles(pt, eta, phi, counts, events):
    """(n, 700, 3) float32 arrays of the hardest particles of the given events."""
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = np.zeros((len(events), LHCO_N_PARTICLES, 3), dtype=np.float32)
    n_dropped = 0
    for row, event in enumerate(events):
        block = slice(starts[event], starts[event] + counts[event])
        order = np.argsort(-pt[block], kind="stable")
        n_dropped += max(order.shape[0] - LHCO_N_PARTICLES, 0)
        order = order[:LHCO_N_PARTICLES]
        out[row, : order.shape[0]] = np.stack(
            [pt[block][order], eta[block][order], phi[block][order]], axis=1
        )
    return out, n_dropped


def _parton_directions(batch, parton_id):
    """(η, φ) of the last copies of the bosons/tops with |id| = ``parton_id``, per event."""
    import awkward as ak

    particles = batch.prt
    first_daughter = ak.where(particles.daughter1 > 0, particles.daughter1, 0)
    daughter_id = particles.id[first_daughter]
    last_copy = (abs(particles.id) == parton_id) & (abs(daughter_id) != parton_id)
    momenta = particles.p[last_copy]
    pt = np.hypot(momenta.px, momenta.py)
    return np.arcsinh(momenta.pz / pt), np.arctan2(momenta.py, momenta.px)


def _jet_chunk(settings, parton_id, n_jets, seed, config):
    """Generate ``n_jets`` jets of one class in one process."""
    import awkward as ak

    pythia = _make_pythia(settings, seed, config["sqrt_s"])
    blocks = []

    def select(batch, n_missing):
        pt, eta, phi, counts = _visible_final_state(batch)
        jets, constituent_index = cluster_jets(
            pt, eta, phi, counts, jet_radius=config["jet_radius"], min_jet_pt=_MIN_JET_PT
        )
        p4 = jets[:, :2] if parton_id is None else jets
        index = constituent_index[:, :2] if parton_id is None else constituent_index
        jet_pt = np.hypot(p4.px, p4.py)
        jet_eta = np.arcsinh(p4.pz / jet_pt)
        jet_phi = np.arctan2(p4.py, p4.px)
        good = (jet_pt > config["pt_min"]) & (jet_pt < config["pt_max"])
        good = good & (abs(jet_eta) < _JET_MAX_ETA)
        if parton_id is not None:
            parton_eta, parton_phi = _parton_directions(batch, parton_id)
            pairs_jet = ak.cartesian([jet_eta, parton_eta], nested=True)
            pairs_phi = ak.cartesian([jet_phi, parton_phi], nested=True)
            d_eta = pairs_jet["0"] - pairs_jet["1"]
            d_phi = (pairs_phi["0"] - pairs_phi["1"] + np.pi) % (2 * np.pi) - np.pi
            matched = ak.any(d_eta**2 + d_phi**2 < _MATCH_RADIUS**2, axis=2)
            good = good & matched
        flat_good = ak.to_numpy(ak.flatten(good))
        event = np.repeat(np.arange(len(counts)), ak.to_numpy(ak.num(good)))[flat_good]
        event = event[:n_missing]
        indices = ak.flatten(index, axis=1)[np.flatnonzero(flat_good)[:n_missing]]
        constituents, _, _ = gather_constituents(
            pt, eta, phi, counts, event, indices, config["n_constituents"]
        )
        blocks.append(constituents)
        return constituents.shape[0]

    n_tried, n_failed = _batches(pythia, n_jets, select)
    return {
        "n_items": n_jets,
        "constituents": np.concatenate(blocks),
        "n_tried": n_tried,
        "n_failed": n_failed,
    }
