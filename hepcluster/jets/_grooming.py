"""Soft-drop grooming: a numba kernel and its public wrapper.

Soft drop (A. J. Larkoski, S. Marzani, G. Soyez, J. Thaler, JHEP 05 (2014) 146,
arXiv:1402.2657) reclusters the constituents of a jet with the Cambridge/Aachen algorithm
and then undoes the clustering from the last merge backwards: at each step the two parents
j1, j2 are kept together (and grooming stops) if

    min(pT_1, pT_2) / (pT_1 + pT_2) > z_cut (ΔR_12 / R0)^β,

otherwise the softer parent is dropped and the harder one is declustered next. The jet
left is the groomed jet. With β = 0 this is the modified mass-drop tagger (mMDT; M.
Dasgupta, A. Fregoso, S. Marzani, G. P. Salam, arXiv:1307.0007) used by CMS and ATLAS with
z_cut = 0.1: soft wide-angle radiation (initial-state radiation, the underlying event) is
removed and the W, Z and top mass peaks sharpen.

Clustering follows FastJet's ``JetDefinition(cambridge_algorithm, 1000.)`` as fjcontrib's
``SoftDrop`` reclusters (M. Cacciari, G. P. Salam, G. Soyez, arXiv:1111.6097), run by the
shared kernel of :mod:`hepcluster.jets._cluster_sequence` with its merge history: distance
ΔR² in rapidity–azimuth, E-scheme recombination; the declustering uses the scalar-pT
symmetry measure and follows the harder (larger pT) branch. :func:`fastjet_softdrop` runs
fjcontrib's SoftDrop through the ``fastjet`` package (``backend="fastjet"``) on the same
definition.
"""

import math
import numbers

import numpy as np
from numba import njit, prange

from ._cluster_sequence import (
    CAMBRIDGE_AACHEN,
    delta_r2,
    gather,
    merge_closest_pair,
    start_clustering,
    workspace,
)
from ._kinematics import as_constituent_array, four_momentum_kinematics

__all__ = ["softdrop", "softdrop_mass"]

#: Soft-drop parameters of the CMS and ATLAS groomed-mass taggers for R = 0.8 jets:
#: z_cut = 0.1, β = 0 (the mMDT), R0 = 0.8 (A. J. Larkoski et al., arXiv:1402.2657).
DEFAULT_Z_CUT = 0.1
DEFAULT_BETA = 0.0
DEFAULT_R0 = 0.8

#: Implementations of soft drop that :func:`softdrop` can use.
BACKENDS = ("numba", "fastjet")

#: Jets handled by one task of the parallel loop (fixed: results never depend on threads).
_CHUNK = 64


@njit(cache=True, inline="always")
def _groom_one(row, z_cut, beta, r0, out, work):
    """Soft-drop four-momentum of one jet into ``out``; ``work`` is a clustering workspace."""
    pt, eta, phi, px, py, pz, e, kt2, y, aphi, nn, nndist, node, history, parents = work
    n = gather(row, pt, eta, phi)
    for c in range(4):
        out[c] = 0.0
    if n == 0:
        return
    # Cambridge/Aachen: merge the geometrically closest pair until one pseudojet is left.
    i = start_clustering(
        n, CAMBRIDGE_AACHEN, pt, eta, phi, px, py, pz, e, kt2, y, aphi, nn, nndist, node,
        history, parents,
    )  # fmt: skip
    m = n
    while m > 1:
        m, i = merge_closest_pair(
            i, m, 2 * n - m, CAMBRIDGE_AACHEN, px, py, pz, e, kt2, y, aphi, nn, nndist, node,
            history, parents,
        )  # fmt: skip

    # Declustering from the root, following the harder branch until the condition holds.
    current = 2 * n - 2
    while parents[current, 0] >= 0:
        p1 = parents[current, 0]
        p2 = parents[current, 1]
        pt1 = math.hypot(history[p1, 0], history[p1, 1])
        pt2 = math.hypot(history[p2, 0], history[p2, 1])
        total = pt1 + pt2
        if total <= 0.0:
            break
        z = min(pt1, pt2) / total
        if beta == 0.0:
            threshold = z_cut
        else:
            delta_r = math.sqrt(
                delta_r2(history[p1, 4], history[p1, 5], history[p2, 4], history[p2, 5])
            )
            threshold = z_cut * (delta_r / r0) ** beta
        if z > threshold:
            break
        current = p1 if pt1 >= pt2 else p2
    for c in range(4):
        out[c] = history[current, c]


@njit(cache=True, parallel=True)
def softdrop_kernel(constituents, z_cut, beta, r0):
    """Soft-drop groomed four-momentum of every jet.

    Parameters
    ----------
    constituents : ndarray of shape (n_jets, P, 3), float64, C-contiguous
        pT, η, φ of the constituents; rows with pT = 0 are padding.
    z_cut, beta, r0 : float
        Soft-drop parameters.

    Returns
    -------
    ndarray of shape (n_jets, 4)
        (px, py, pz, E) of the groomed jets; zero for jets without constituents.
    """
    n_jets, width = constituents.shape[0], constituents.shape[1]
    out = np.empty((n_jets, 4))
    n_chunks = (n_jets + _CHUNK - 1) // _CHUNK
    for c in prange(n_chunks):
        work = workspace(width)
        for jet in range(c * _CHUNK, min((c + 1) * _CHUNK, n_jets)):
            _groom_one(constituents[jet], z_cut, beta, r0, out[jet], work)
    return out


def fastjet_softdrop(constituents, z_cut, beta, r0):
    """Soft-drop four-momenta from fjcontrib's SoftDrop through the ``fastjet`` package.

    One ``fastjet.ClusterSequence`` over all jets (each jet one "event" of an awkward array;
    Cambridge/Aachen with R = 1000, one exclusive jet per event), then
    ``exclusive_jets_softdrop_grooming`` with the scalar-z symmetry measure and the
    larger-pT recursion — the definition of :func:`softdrop_kernel`. Needs awkward.

    Parameters
    ----------
    constituents : ndarray of shape (n_jets, P, 3), float64
    z_cut, beta, r0 : float

    Returns
    -------
    ndarray of shape (n_jets, 4)
    """
    import awkward as ak
    import fastjet

    n_jets = constituents.shape[0]
    out = np.zeros((n_jets, 4))
    real = constituents[:, :, 0] > 0.0
    counts = real.sum(axis=1)
    if n_jets == 0 or not counts.any():
        return out
    keep = counts > 0
    pt, eta, phi = constituents[keep][real[keep]].T
    particles = ak.unflatten(
        ak.zip(
            {
                "px": pt * np.cos(phi),
                "py": pt * np.sin(phi),
                "pz": pt * np.sinh(eta),
                "E": pt * np.cosh(eta),
            }
        ),
        counts[keep],
    )
    sequence = fastjet.ClusterSequence(
        particles, fastjet.JetDefinition(fastjet.cambridge_algorithm, 1000.0)
    )
    groomed = sequence.exclusive_jets_softdrop_grooming(
        njets=1, beta=float(beta), symmetry_cut=float(z_cut), R0=float(r0)
    )
    for column, name in enumerate(("px", "py", "pz", "E")):
        out[keep, column] = ak.to_numpy(ak.sum(groomed.constituents[name], axis=1))
    return out


def _check_parameters(z_cut, beta, R0, backend):
    for name, value, lower in (("z_cut", z_cut, 0.0), ("beta", beta, 0.0), ("R0", R0, None)):
        if not isinstance(value, numbers.Real) or not np.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}.")
        if lower is not None and value < lower:
            raise ValueError(f"{name} must be >= {lower:g}, got {value!r}.")
    if R0 <= 0.0:
        raise ValueError(f"R0 must be > 0, got {R0!r}.")
    if z_cut >= 0.5:
        raise ValueError(
            f"z_cut must be < 0.5 (the softer of two branches carries at most half the pT), "
            f"got {z_cut!r}."
        )
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}.")


def softdrop(
    constituents, *, z_cut=DEFAULT_Z_CUT, beta=DEFAULT_BETA, R0=DEFAULT_R0, backend="numba"
):
    """Four-momenta of soft-drop groomed jets.

    Parameters
    ----------
    constituents : array-like of shape (n_jets, 3 * P) or (n_jets, P, 3)
        Massless constituents as (pT [GeV], η, φ); pT = 0 marks padding.
    z_cut : float, default=0.1
        Soft-drop threshold on the momentum fraction of the softer branch, in [0, 0.5).
    beta : float, default=0.0
        Angular exponent β ≥ 0 (0: the modified mass-drop tagger).
    R0 : float, default=0.8
        Characteristic radius of the angular term (the jet radius).
    backend : {"numba", "fastjet"}, default="numba"
        ``"numba"``: the compiled kernel of this module; ``"fastjet"``: fjcontrib's
        SoftDrop through the ``fastjet`` package (needs awkward), the same definition.

    Returns
    -------
    ndarray of shape (n_jets, 4)
        (px, py, pz, E) of the groomed jets in GeV; the zero four-vector for a jet
        without constituents.

    Raises
    ------
    ValueError
        On invalid constituents (see :func:`as_constituent_array`) or parameters.

    See Also
    --------
    softdrop_mass : The groomed mass.

    Notes
    -----
    The constituents are reclustered with the Cambridge/Aachen algorithm (ΔR² in
    rapidity–azimuth, E-scheme) and declustered from the last merge: the softer branch is
    dropped while ``min(pT_1, pT_2) / (pT_1 + pT_2) <= z_cut (ΔR_12 / R0)^β`` and the
    harder one is declustered next; the first pair that passes is the groomed jet. A jet
    whose every step fails ends as its hardest constituent (mass 0). The defaults are the
    CMS/ATLAS choice for R = 0.8 jets. The kernel agrees with fjcontrib's SoftDrop to
    rounding (tested).

    References
    ----------
    .. [1] A. J. Larkoski, S. Marzani, G. Soyez and J. Thaler, "Soft Drop", JHEP 05 (2014)
       146, arXiv:1402.2657.
    .. [2] M. Dasgupta, A. Fregoso, S. Marzani and G. P. Salam, "Towards an understanding
       of jet substructure", JHEP 09 (2013) 029, arXiv:1307.0007.

    Examples
    --------
    A hard two-prong jet with a soft wide-angle particle: soft drop removes the soft one.

    >>> import numpy as np
    >>> from hepcluster.jets import softdrop
    >>> jet = np.array([[400.0, 0.0, 0.0, 300.0, 0.2, 0.0, 5.0, 0.0, 0.7]])
    >>> softdrop(jet).round(1)
    array([[700. ,   0. ,  60.4, 706. ]])
    """
    _check_parameters(z_cut, beta, R0, backend)
    X = as_constituent_array(constituents)
    if backend == "fastjet":
        return fastjet_softdrop(X, float(z_cut), float(beta), float(R0))
    return softdrop_kernel(X, float(z_cut), float(beta), float(R0))


def softdrop_mass(
    constituents, *, z_cut=DEFAULT_Z_CUT, beta=DEFAULT_BETA, R0=DEFAULT_R0, backend="numba"
):
    """Soft-drop groomed jet mass.

    Parameters
    ----------
    constituents : array-like of shape (n_jets, 3 * P) or (n_jets, P, 3)
        Massless constituents as (pT [GeV], η, φ); pT = 0 marks padding.
    z_cut, beta, R0, backend
        See :func:`softdrop` (defaults z_cut = 0.1, β = 0, R0 = 0.8).

    Returns
    -------
    ndarray of shape (n_jets,)
        Groomed mass in GeV (0 for a jet without constituents).

    See Also
    --------
    softdrop : The groomed four-momenta.

    References
    ----------
    .. [1] A. J. Larkoski, S. Marzani, G. Soyez and J. Thaler, "Soft Drop", JHEP 05 (2014)
       146, arXiv:1402.2657.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.jets import jet_kinematics, softdrop_mass
    >>> jet = np.array([[400.0, 0.0, 0.0, 300.0, 0.2, 0.0, 5.0, 0.0, 0.7]])
    >>> jet_kinematics(jet).mass.round(1), softdrop_mass(jet).round(1)
    (array([80.8]), array([69.4]))
    """
    return four_momentum_kinematics(
        softdrop(constituents, z_cut=z_cut, beta=beta, R0=R0, backend=backend)
    ).mass
