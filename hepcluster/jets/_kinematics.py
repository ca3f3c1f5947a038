"""Constituent arrays and jet four-momentum kinematics (vectorised numpy).

Constituents are massless and given as (pT [GeV], η, φ); a jet is the E-scheme sum of its
constituents' four-momenta. Two layouts are accepted everywhere: the 2-D
"constituent matrix" of shape (n_jets, 3·P) laid out (pT_1, η_1, φ_1, pT_2, …) — the LHCO R&D
layout and the scikit-learn-facing contract — and the 3-D array of shape (n_jets, P, 3).
Rows with pT = 0 are padding and may sit anywhere.
"""

from typing import NamedTuple

import numpy as np

__all__ = [
    "JetKinematics",
    "as_constituent_array",
    "dijet_mass",
    "four_momentum_kinematics",
    "jet_four_momenta",
    "jet_kinematics",
]


class JetKinematics(NamedTuple):
    """Transverse momentum, pseudorapidity, azimuth and mass of jets (or any four-vectors).

    Attributes
    ----------
    pt : ndarray
        Transverse momentum in GeV.
    eta : ndarray
        Pseudorapidity η (±inf for a four-vector along the beam, 0 for a null one).
    phi : ndarray
        Azimuth in radians, wrapped to (−π, π].
    mass : ndarray
        Invariant mass in GeV, ``sqrt(max(E² − |p|², 0))``.

    See Also
    --------
    jet_kinematics, four_momentum_kinematics : the functions that return it.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.jets import four_momentum_kinematics
    >>> pt, eta, phi, mass = four_momentum_kinematics(np.array([[0.0, 50.0, 0.0, 130.0]]))
    >>> mass
    array([120.])
    """

    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    mass: np.ndarray


def as_constituent_array(X):
    """Validate jet constituents and return them as an (n_jets, P, 3) float64 array.

    Parameters
    ----------
    X : array-like of shape (n_jets, 3 * P) or (n_jets, P, 3)
        Constituents as (pT [GeV], η, φ [rad]): either the constituent matrix laid out
        (pT_1, η_1, φ_1, pT_2, …) or the 3-D array. Rows with pT = 0 are padding and may
        appear at any position.

    Returns
    -------
    constituents : ndarray of shape (n_jets, P, 3)
        C-contiguous float64 array with columns pT, η, φ. It is a view of ``X`` (not a copy)
        when ``X`` is already a C-contiguous float64 array.

    Raises
    ------
    ValueError
        If ``X`` is neither 2-D nor 3-D, if the width of a 2-D ``X`` is not a multiple of 3 or
        the last axis of a 3-D ``X`` is not 3, if it contains NaN or infinity, or if a pT is
        negative.

    Notes
    -----
    The 2-D layout is the one of the LHC Olympics 2020 R&D data set (G. Kasieczka et al.,
    arXiv:2101.08320) and the contract of every jet-level estimator of hepcluster; the 3-D
    layout is accepted as a convenience. φ is not required to lie in (−π, π]: every function
    of :mod:`hepcluster.jets` works with azimuth differences wrapped to [0, π].

    References
    ----------
    .. [1] G. Kasieczka et al., "The LHC Olympics 2020: a community challenge for anomaly
       detection in high energy physics", Rep. Prog. Phys. 84 (2021) 124201,
       arXiv:2101.08320.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.jets import as_constituent_array
    >>> matrix = np.array([[100.0, 0.1, 0.2, 50.0, -0.1, 0.3, 0.0, 0.0, 0.0]])
    >>> as_constituent_array(matrix).shape
    (1, 3, 3)
    >>> as_constituent_array(matrix[:, :8])
    Traceback (most recent call last):
    ...
    ValueError: The constituent matrix must have 3 * P columns (pT, eta, phi per constituent); got 8 columns, which is not a multiple of 3.
    """  # noqa: E501
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise ValueError(
            f"Constituents must be a numeric array of (pT, eta, phi); got dtype {X.dtype}."
        )
    if X.ndim == 2:
        if X.shape[1] % 3 != 0:
            raise ValueError(
                "The constituent matrix must have 3 * P columns (pT, eta, phi per "
                f"constituent); got {X.shape[1]} columns, which is not a multiple of 3."
            )
        X = X.reshape(X.shape[0], X.shape[1] // 3, 3)
    elif X.ndim == 3:
        if X.shape[2] != 3:
            raise ValueError(
                "A 3-D constituent array must have shape (n_jets, P, 3) with columns "
                f"(pT, eta, phi); got last axis of length {X.shape[2]}."
            )
    else:
        raise ValueError(
            "Constituents must be a 2-D constituent matrix (n_jets, 3 * P) or a 3-D array "
            f"(n_jets, P, 3); got an array with ndim={X.ndim} and shape {X.shape}."
        )
    X = np.ascontiguousarray(X, dtype=np.float64)
    if not np.isfinite(X).all():
        raise ValueError("Constituents contain NaN or infinity; pT, eta and phi must be finite.")
    if (X[:, :, 0] < 0.0).any():
        raise ValueError(
            "Constituents contain a negative pT; pT must be >= 0 (pT = 0 marks padding)."
        )
    return X


def _as_four_momenta(p4, name="p4"):
    """Validate an array of four-momenta (…, 4) laid out (px, py, pz, E)."""
    p4 = np.asarray(p4)
    if p4.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a numeric array of (px, py, pz, E); got {p4.dtype}.")
    if p4.ndim < 1 or p4.shape[-1] != 4:
        raise ValueError(
            f"{name} must have shape (..., 4) with columns (px, py, pz, E); got shape {p4.shape}."
        )
    p4 = np.asarray(p4, dtype=np.float64)
    if not np.isfinite(p4).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    return p4


def jet_four_momenta(constituents):
    """Four-momenta of jets as the sum of their massless constituents.

    Parameters
    ----------
    constituents : array-like of shape (n_jets, 3 * P) or (n_jets, P, 3)
        Constituents as (pT [GeV], η, φ); pT = 0 marks padding (see
        :func:`as_constituent_array`).

    Returns
    -------
    p4 : ndarray of shape (n_jets, 4)
        (px, py, pz, E) in GeV. A jet without constituents has the zero four-vector.

    Notes
    -----
    Each constituent is massless, p = pT (cos φ, sin φ, sinh η, cosh η), and the jet is their
    E-scheme sum, as in FastJet's default recombination (M. Cacciari, G. P. Salam, G. Soyez,
    arXiv:1111.6097).

    References
    ----------
    .. [1] M. Cacciari, G. P. Salam and G. Soyez, "FastJet user manual", Eur. Phys. J. C 72
       (2012) 1896, arXiv:1111.6097.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.jets import jet_four_momenta
    >>> jet = np.array([[100.0, 0.0, 0.0, 100.0, 0.0, np.pi / 2]])
    >>> jet_four_momenta(jet).round(6)
    array([[100., 100.,   0., 200.]])
    """
    X = as_constituent_array(constituents)
    pt = X[:, :, 0]
    real = pt > 0.0
    eta = np.where(real, X[:, :, 1], 0.0)
    phi = X[:, :, 2]
    p4 = np.empty((X.shape[0], 4))
    p4[:, 0] = (pt * np.cos(phi)).sum(axis=1)
    p4[:, 1] = (pt * np.sin(phi)).sum(axis=1)
    p4[:, 2] = (pt * np.sinh(eta)).sum(axis=1)
    p4[:, 3] = (pt * np.cosh(eta)).sum(axis=1)
    return p4


def four_momentum_kinematics(p4):
    """pT, η, φ and mass of four-momenta.

    Parameters
    ----------
    p4 : array-like of shape (..., 4)
        Four-momenta (px, py, pz, E) in GeV.

    Returns
    -------
    JetKinematics
        Named tuple of arrays of shape ``p4.shape[:-1]``: ``pt`` (GeV), ``eta``, ``phi``
        (radians, in (−π, π]) and ``mass`` (GeV).

    Raises
    ------
    ValueError
        If the last axis of ``p4`` is not of length 4 or ``p4`` contains NaN or infinity.

    Notes
    -----
    pT = sqrt(px² + py²), η = asinh(pz / pT), φ = atan2(py, px) and
    ``m = sqrt(max(E² − |p|², 0))``; the clip at zero absorbs rounding for (nearly) massless
    four-vectors. A four-vector with pT = 0 gets η = ±inf according to the sign of pz, and
    η = 0 when pz = 0 as well.

    References
    ----------
    .. [1] Particle Data Group, R. L. Workman et al., "Review of Particle Physics",
       section "Kinematics", Prog. Theor. Exp. Phys. 2022 (2022) 083C01.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.jets import four_momentum_kinematics
    >>> kin = four_momentum_kinematics(np.array([[30.0, 40.0, 0.0, 130.0]]))
    >>> kin.pt, kin.eta, kin.mass
    (array([50.]), array([0.]), array([120.]))
    """
    p4 = _as_four_momenta(p4)
    px, py, pz, e = p4[..., 0], p4[..., 1], p4[..., 2], p4[..., 3]
    pt = np.hypot(px, py)
    moving = pt > 0.0
    eta = np.where(
        moving,
        np.arcsinh(pz / np.where(moving, pt, 1.0)),
        np.copysign(np.where(pz == 0.0, 0.0, np.inf), pz),
    )
    phi = np.arctan2(py, px)
    phi = np.where(phi == -np.pi, np.pi, phi)
    mass = np.sqrt(np.maximum(e * e - (px * px + py * py + pz * pz), 0.0))
    return JetKinematics(pt=pt, eta=eta, phi=phi, mass=mass)


def jet_kinematics(constituents):
    """pT, η, φ and mass of jets built from their constituents.

    Parameters
    ----------
    constituents : array-like of shape (n_jets, 3 * P) or (n_jets, P, 3)
        Constituents as (pT [GeV], η, φ); pT = 0 marks padding.

    Returns
    -------
    JetKinematics
        Named tuple of arrays of shape (n_jets,): ``pt`` (GeV), ``eta``, ``phi`` (radians,
        in (−π, π]) and ``mass`` (GeV) of the jet four-momenta of :func:`jet_four_momenta`.

    Notes
    -----
    Equivalent to ``four_momentum_kinematics(jet_four_momenta(constituents))``. The jet mass is
    the observable whose peaks at m_X and m_Y the Cluster Scanning signal is built from
    (I. Oleksiyuk et al., arXiv:2402.17714) and the auxiliary target of UCluster
    (V. Mikuni, F. Canelli, arXiv:2010.07106). A jet without constituents has pT = η = φ =
    m = 0.

    References
    ----------
    .. [1] I. Oleksiyuk, J. A. Raine, M. Krämer, S. Voloshynovskiy and T. Golling, "Cluster
       Scanning: a novel approach to resonance searches", JHEP 06 (2024) 088,
       arXiv:2402.17714.
    .. [2] V. Mikuni and F. Canelli, "Unsupervised clustering for collider physics",
       Phys. Rev. D 103 (2021) 092007, arXiv:2010.07106.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.jets import jet_kinematics
    >>> jet = np.array([[100.0, 0.0, 0.0, 100.0, 0.0, np.pi / 2]])
    >>> kin = jet_kinematics(jet)
    >>> kin.pt.round(4), kin.phi.round(4), kin.mass.round(4)
    (array([141.4214]), array([0.7854]), array([141.4214]))
    """
    return four_momentum_kinematics(jet_four_momenta(constituents))


def dijet_mass(p4_jet1, p4_jet2):
    """Invariant mass of the sum of two four-momenta, m_jj.

    Parameters
    ----------
    p4_jet1, p4_jet2 : array-like of shape (n, 4)
        Four-momenta (px, py, pz, E) in GeV of the two jets of each event (any shapes
        (…, 4) that broadcast against each other are accepted).

    Returns
    -------
    mjj : ndarray of shape (n,)
        ``sqrt(max((E_1 + E_2)² − |p_1 + p_2|², 0))`` in GeV.

    Raises
    ------
    ValueError
        If either input does not end in an axis of length 4, contains NaN or infinity, or the
        two do not broadcast.

    Notes
    -----
    m_jj of the two leading jets is the resonant observable of the dijet search that Cluster
    Scanning scans (I. Oleksiyuk et al., arXiv:2402.17714, §3).

    References
    ----------
    .. [1] I. Oleksiyuk, J. A. Raine, M. Krämer, S. Voloshynovskiy and T. Golling, "Cluster
       Scanning: a novel approach to resonance searches", JHEP 06 (2024) 088,
       arXiv:2402.17714.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.jets import dijet_mass
    >>> jet1 = np.array([[1000.0, 0.0, 0.0, 1000.0]])
    >>> jet2 = np.array([[-1000.0, 0.0, 0.0, 1000.0]])
    >>> dijet_mass(jet1, jet2)
    array([2000.])
    """
    p1 = _as_four_momenta(p4_jet1, "p4_jet1")
    p2 = _as_four_momenta(p4_jet2, "p4_jet2")
    try:
        total = p1 + p2
    except ValueError as exc:
        raise ValueError(
            f"p4_jet1 of shape {p1.shape} and p4_jet2 of shape {p2.shape} do not broadcast."
        ) from exc
    return four_momentum_kinematics(total).mass
