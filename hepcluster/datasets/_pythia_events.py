"""Pythia8 + FastJet generation of dijet events (extra ``[generate]``).

Events are generated in chunks of fixed size; every chunk gets its own Pythia instance and a
seed drawn up front from ``random_state``, so the events depend on ``random_state`` and
``chunk_size`` only, never on ``n_jobs``. Chunks run in worker processes through joblib
(:mod:`._pythia_loop`), with a progress bar in events.
"""

import logging
from dataclasses import dataclass
from numbers import Integral

import numpy as np

from ..utils import import_optional
from ..utils._validation import COUNT, PATH, POSITIVE, POSITIVE_COUNT, validate
from ._clustering import concatenate_columns, event_table_from_columns
from ._lhco import LHCO_N_PARTICLES, write_lhco
from ._pythia_loop import MIN_JET_PT, chunk_sizes, event_chunk, run_chunks
from ._pythia_settings import (
    MAX_SEED,
    mpi_settings,
    pythia_version,
    qcd_settings,
    signal_settings,
)
from ._synthetic import as_generator

logger = logging.getLogger(__name__)


@validate(
    {
        "n_background": [COUNT],
        "n_signal": [COUNT],
        "m_resonance": [POSITIVE],
        "m_x": [POSITIVE],
        "m_y": [POSITIVE],
        "pt_hat_min": [POSITIVE],
        "pt_hat_bias": ["boolean"],
        "min_leading_jet_pt": [POSITIVE, None],
        "sqrt_s": [POSITIVE],
        "n_constituents": [POSITIVE_COUNT],
        "jet_radius": [POSITIVE],
        "max_jet_eta": [POSITIVE],
        "mpi": ["boolean"],
        "n_jobs": [Integral, None],
        "chunk_size": [POSITIVE_COUNT],
        "random_state": ["random_state"],
        "path": [*PATH, None],
        "lhco_path": [*PATH, None],
    }
)
def generate_pythia_events(
    n_background,
    n_signal,
    *,
    m_resonance=3500.0,
    m_x=500.0,
    m_y=100.0,
    pt_hat_min=1000.0,
    pt_hat_bias=True,
    min_leading_jet_pt=None,
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
    pt_hat_bias : bool, default=True
        Sample QCD events ∝ (pT̂/pT̂_min)⁴ more often at high pT̂, each with the
        compensating weight (see Notes); ``False`` gives unweighted events, as in the
        LHC Olympics R&D sample.
    min_leading_jet_pt : float or None, default=None
        Keep only events whose leading jet has pT above this (GeV); the LHCO R&D trigger
        is 1200. Cut events are counted (``n_cut_leading_jet_pt``) and replaced.
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
        Events per chunk; each chunk is one task with its own Pythia instance (initialised
        once per chunk) and seed. The events depend on it.
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
    - signal: see ``signal_settings`` — ``NewGaugeBoson:ffbar2Wprime = on`` with the
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
    plan = plan_generation(
        n_background,
        n_signal,
        m_resonance=m_resonance,
        m_x=m_x,
        m_y=m_y,
        pt_hat_min=pt_hat_min,
        pt_hat_bias=pt_hat_bias,
        min_leading_jet_pt=min_leading_jet_pt,
        sqrt_s=sqrt_s,
        n_constituents=n_constituents,
        jet_radius=jet_radius,
        max_jet_eta=max_jet_eta,
        mpi=mpi,
        chunk_size=chunk_size,
        random_state=random_state,
        keep_particles=lhco_path is not None,
    )
    results = run_chunks(
        event_chunk,
        plan.chunk_arguments(range(plan.n_chunks)),
        n_events=n_background + n_signal,
        n_jobs=n_jobs,
        desc="generate_pythia_events",
        unit="event",
    )
    columns = concatenate_columns([result["columns"] for result in results], n_constituents)
    is_signal = plan.is_signal()
    weight = np.concatenate([result["weight"] for result in results])
    metadata = plan.metadata([chunk_counts(result) for result in results])
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


_COUNT_NAMES = (
    "n_tried",
    "n_failed",
    "n_cut_fewer_than_two_jets",
    "n_cut_leading_jet_pt",
    "n_constituents_truncated",
    "n_jets_truncated",
)


def chunk_counts(result):
    """The counts of one chunk's result (what its metadata needs, without the arrays)."""
    counts = {name: int(result[name]) for name in _COUNT_NAMES}
    counts["sigma_gen_mb"] = float(result["sigma_gen_mb"])
    return counts


@dataclass(frozen=True)
class GenerationPlan:
    """The chunks of a Pythia generation: processes, sizes, seeds and settings.

    Seeds are drawn up front from ``random_state``, one per chunk, so a chunk's events
    depend only on its index: the same whatever the number of workers or shards.
    """

    tasks: tuple  # (process, size) per chunk
    seeds: tuple
    settings: dict
    config: dict
    parameters: dict

    @property
    def n_chunks(self):
        """Number of chunks."""
        return len(self.tasks)

    @property
    def n_events(self):
        """Number of events of the whole sample."""
        return sum(size for _, size in self.tasks)

    def chunk_arguments(self, indices):
        """Arguments of :func:`event_chunk` for the chunks ``indices``."""
        return [
            (self.settings[self.tasks[i][0]], self.tasks[i][1], self.seeds[i], self.config)
            for i in indices
        ]

    def is_signal(self):
        """Truth label of every event, chunk after chunk."""
        return np.concatenate(
            [np.full(size, process == "signal", dtype=bool) for process, size in self.tasks]
        )

    def metadata(self, counts):
        """The EventTable metadata, given :func:`chunk_counts` of every chunk in order."""
        totals = {}
        for process in ("background", "signal"):
            mine = [
                chunk
                for (name, _), chunk in zip(self.tasks, counts, strict=True)
                if name == process
            ]
            if not mine:
                continue
            totals[process] = {
                name: sum(chunk[name] for chunk in mine)
                for name in (
                    "n_tried",
                    "n_failed",
                    "n_cut_fewer_than_two_jets",
                    "n_cut_leading_jet_pt",
                )
            }
            # Pythia's estimate of the generated cross section (mb), averaged over chunks.
            totals[process]["sigma_gen_mb"] = float(np.mean([c["sigma_gen_mb"] for c in mine]))
            logger.info("generate_pythia_events: %s events: %s", process, totals[process])
        return {
            "generator": "hepcluster.datasets.generate_pythia_events",
            "pythia_version": self.parameters["pythia_version"],
            **{k: v for k, v in self.parameters.items() if k != "pythia_version"},
            "min_jet_pt": MIN_JET_PT,
            "chunk_seeds": list(self.seeds),
            "pythia_settings": self.settings,
            "counts": totals,
            "n_cut_fewer_than_two_jets": sum(
                c["n_cut_fewer_than_two_jets"] for c in totals.values()
            ),
            "n_cut_leading_jet_pt": sum(c["n_cut_leading_jet_pt"] for c in totals.values()),
            "n_constituents_truncated": sum(c["n_constituents_truncated"] for c in counts),
            "n_jets_truncated": sum(c["n_jets_truncated"] for c in counts),
        }


def _chunk_seeds(root, tasks):
    """One Pythia seed per chunk, from the chunk's process and its index within the process.

    A chunk's events do not depend on how many chunks there are, so a smaller sample with
    the same ``chunk_size`` and ``random_state`` is the first chunks of a larger one.
    """
    return [
        int(
            np.random.default_rng([root, int(process == "signal"), position]).integers(1, MAX_SEED)
        )
        for (process, _), position in zip(tasks, process_positions(tasks), strict=True)
    ]


def process_positions(tasks):
    """Index of every chunk among the chunks of its own process (background, signal)."""
    seen = {}
    positions = []
    for process, _ in tasks:
        positions.append(seen.get(process, 0))
        seen[process] = positions[-1] + 1
    return positions


def plan_generation(
    n_background,
    n_signal,
    *,
    m_resonance,
    m_x,
    m_y,
    pt_hat_min,
    pt_hat_bias,
    min_leading_jet_pt,
    sqrt_s,
    n_constituents,
    jet_radius,
    max_jet_eta,
    mpi,
    chunk_size,
    random_state,
    keep_particles=False,
):
    """Check the physics parameters and lay out the chunks of a generation."""
    if n_background + n_signal == 0:
        raise ValueError("n_background + n_signal must be positive.")
    if m_x + m_y >= m_resonance:
        raise ValueError(f"m_x + m_y = {m_x + m_y} GeV must be below m_resonance.")
    if m_resonance >= sqrt_s:
        raise ValueError("m_resonance must be below sqrt_s.")
    pythia8 = import_optional("pythia8mc", extra="generate")
    settings = {
        "background": qcd_settings(float(pt_hat_min), pt_hat_bias) + mpi_settings(mpi),
        "signal": signal_settings(float(m_resonance), float(m_x), float(m_y)) + mpi_settings(mpi),
    }
    config = {
        "sqrt_s": float(sqrt_s),
        "jet_radius": float(jet_radius),
        "max_jet_eta": float(max_jet_eta),
        "n_constituents": n_constituents,
        "keep_particles": keep_particles,
        "min_leading_jet_pt": None if min_leading_jet_pt is None else float(min_leading_jet_pt),
    }
    tasks = tuple(
        (process, size)
        for process, total in (("background", n_background), ("signal", n_signal))
        for size in chunk_sizes(total, chunk_size)
    )
    root = int(as_generator(random_state).integers(np.iinfo(np.int64).max))
    seeds = tuple(_chunk_seeds(root, tasks))
    parameters = {
        "pythia_version": pythia_version(pythia8),
        "n_background": n_background,
        "n_signal": n_signal,
        "m_resonance": float(m_resonance),
        "m_x": float(m_x),
        "m_y": float(m_y),
        "pt_hat_min": float(pt_hat_min),
        "pt_hat_bias": bool(pt_hat_bias),
        "min_leading_jet_pt": config["min_leading_jet_pt"],
        "sqrt_s": float(sqrt_s),
        "jet_radius": float(jet_radius),
        "max_jet_eta": float(max_jet_eta),
        "mpi": bool(mpi),
        "chunk_size": chunk_size,
    }
    return GenerationPlan(tasks, seeds, settings, config, parameters)
