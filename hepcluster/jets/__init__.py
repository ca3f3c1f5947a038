"""Jet kinematics and substructure.

Jets are given by their massless constituents, either as the constituent matrix
(n_jets, 3·P) laid out (pT_1, η_1, φ_1, pT_2, …) or as an (n_jets, P, 3) array; pT = 0 marks
padding. :func:`as_constituent_array` validates both layouts.

- Kinematics: :func:`jet_four_momenta`, :func:`jet_kinematics`,
  :func:`four_momentum_kinematics`, :func:`dijet_mass`.
- Substructure: :func:`nsubjettiness` and :func:`tau21` with exclusive-kT axes
  (J. Thaler, K. Van Tilburg, arXiv:1011.2268), compiled with numba, or through
  fjcontrib's Nsubjettiness in fastjet with ``backend="fastjet"``.
- Grooming: :func:`softdrop` and :func:`softdrop_mass` (A. J. Larkoski, S. Marzani,
  G. Soyez, J. Thaler, arXiv:1402.2657), compiled with numba, or fjcontrib's SoftDrop with
  ``backend="fastjet"``.
"""

from ._grooming import softdrop, softdrop_mass
from ._kinematics import (
    JetKinematics,
    as_constituent_array,
    dijet_mass,
    four_momentum_kinematics,
    jet_four_momenta,
    jet_kinematics,
)
from ._nsubjettiness import nsubjettiness, tau21

__all__ = [
    "JetKinematics",
    "as_constituent_array",
    "dijet_mass",
    "four_momentum_kinematics",
    "jet_four_momenta",
    "jet_kinematics",
    "nsubjettiness",
    "softdrop",
    "softdrop_mass",
    "tau21",
]
