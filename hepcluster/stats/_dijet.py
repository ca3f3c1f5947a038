"""The n-parameter dijet functions of ATLAS and CMS resonance searches."""

import numpy as np

SQRT_S = 13000.0
"""Centre-of-mass energy of the LHC Run 2 collisions in GeV (13 TeV).

The energy of the LHC Olympics R&D data set (arXiv:2402.17714, §3.1): the default scale
x = m_jj / √s of the dijet function, and the physical bound of the event readers (no
particle of a collision carries more energy, :mod:`hepcluster.datasets`).
"""


def dijet_function(mjj, params, *, x_scale=SQRT_S):
    r"""Evaluate the 3-, 4- or 5-parameter dijet function.

    .. math::

        f(x) = p_0 \frac{(1 - x)^{p_1}}{x^{p_2 + p_3 \ln x + p_4 \ln^2 x}},
        \qquad x = m_{jj} / \text{x\_scale}

    Parameters
    ----------
    mjj : array-like
        Dijet invariant mass in GeV.
    params : sequence of 3, 4 or 5 floats
        ``(p0, p1, p2[, p3[, p4]])``.
    x_scale : float, default=13000.0
        Scale of x: √s (Cluster Scanning, arXiv:2402.17714 App. A) or 1000 GeV (UCluster).

    Returns
    -------
    ndarray
        Differential density at ``mjj`` (events per GeV when ``p0`` is normalised so).

    Examples
    --------
    >>> from hepcluster.stats import dijet_function
    >>> float(dijet_function(3000.0, (1.0, 10.0, 5.0)))  # doctest: +ELLIPSIS
    110.83...
    """
    params = np.asarray(params, dtype=np.float64)
    if params.shape not in ((3,), (4,), (5,)):
        raise ValueError(f"the dijet function has 3, 4 or 5 parameters, got {params.shape}.")
    x = np.asarray(mjj, dtype=np.float64) / x_scale
    log_x = np.log(x)
    exponent = params[2] * np.ones_like(x)
    if params.size >= 4:
        exponent = exponent + params[3] * log_x
    if params.size == 5:
        exponent = exponent + params[4] * log_x**2
    return params[0] * np.exp(params[1] * np.log1p(-x) - exponent * log_x)
