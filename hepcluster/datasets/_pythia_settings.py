"""Pythia8 configuration: the processes, their settings, and one configured Pythia instance.

Settings of the QCD dijet background (``HardQCD:all`` with a pT-hat bias), of the
W′ → X Y → (qq̄′)(qq̄) signal of the LHC Olympics R&D sample (arXiv:2101.08320), and of
the boosted W, Z, top and QCD jets of :func:`generate_pythia_jets`.
"""

from ..utils import import_optional

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
# Pythia draws seeds in [1, 900 000 000].
MAX_SEED = 900_000_000
JET_PROCESSES = {
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
JET_PARTON_ID = {"W": 24, "Z": 23, "top": 6, "QCD": None}


def qcd_settings(pt_hat_min, pt_hat_bias=True):
    """Pythia8 settings of the QCD dijet background (``HardQCD:all``, pT-hat bias optional).

    Without the bias the events are unweighted, as in the LHC Olympics R&D sample.
    """
    settings = ["HardQCD:all = on", f"PhaseSpace:pTHatMin = {pt_hat_min!r}"]
    if pt_hat_bias:
        settings += [
            "PhaseSpace:bias2Selection = on",
            f"PhaseSpace:bias2SelectionPow = {QCD_PT_HAT_BIAS_POWER!r}",
            f"PhaseSpace:bias2SelectionRef = {pt_hat_min!r}",
        ]
    return settings


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


def mpi_settings(mpi):
    return [] if mpi else ["PartonLevel:MPI = off"]


def make_pythia(settings, seed, sqrt_s):
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


def pythia_version(pythia8):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pythia8mc")
    except PackageNotFoundError:  # pragma: no cover - installed without package metadata
        return getattr(pythia8, "__version__", "unknown")
