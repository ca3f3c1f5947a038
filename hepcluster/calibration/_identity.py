"""What identifies a calibration: the estimator's full parameters and the data its toys read.

A checkpoint resumes, and ``CalibrationResult.merge`` combines, only the pseudo-experiments
of one calibration. ``repr(estimator)`` cannot say which: scikit-learn elides long
parameters (``...``), so two pipelines that differ in the middle of their bin edges print
alike; event ids cannot either, since every generated table of one size shares them. The
fingerprints below hash the parameters themselves and every array a pseudo-experiment
reads.
"""

from dataclasses import fields, is_dataclass

import joblib
import numpy as np


def _canonical(value):
    """A nested, picklable description of ``value`` that holds no fitted state."""
    if hasattr(value, "get_params") and not isinstance(value, type):
        params = value.get_params(deep=False)
        return (
            f"{type(value).__module__}.{type(value).__qualname__}",
            {name: _canonical(params[name]) for name in sorted(params)},
        )
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_canonical(item) for item in value])
    if isinstance(value, dict):
        return {str(name): _canonical(value[name]) for name in sorted(value, key=str)}
    if isinstance(value, np.random.RandomState):
        return ("RandomState", value.get_state(legacy=True))
    if isinstance(value, np.random.Generator):
        return ("Generator", value.bit_generator.state)
    return value


def estimator_fingerprint(estimator):
    """Hash of every parameter of ``estimator``, nested estimators and Pipeline steps included.

    Fitted attributes do not enter: a calibration clones the estimator anyway.

    Parameters
    ----------
    estimator : estimator or Pipeline

    Returns
    -------
    str
        A hexadecimal digest; equal for estimators whose parameters are equal.

    Examples
    --------
    >>> from hepcluster import ClusterScanner
    >>> from hepcluster.calibration._identity import estimator_fingerprint
    >>> a = estimator_fingerprint(ClusterScanner(n_clusters=10))
    >>> a == estimator_fingerprint(ClusterScanner(n_clusters=10))
    True
    >>> a == estimator_fingerprint(ClusterScanner(n_clusters=11))
    False
    """
    return joblib.hash(_canonical(estimator), hash_name="sha1")


def _arrays(value):
    """The content of a data container (array, dataclass such as SparseImages, or None)."""
    if is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__qualname__,
            {field.name: _arrays(getattr(value, field.name)) for field in fields(value)},
        )
    if hasattr(value, "tocsr") and hasattr(value, "indptr"):  # scipy.sparse
        matrix = value.tocsr()
        return ("csr", matrix.shape, matrix.indptr, matrix.indices, matrix.data)
    if value is None or np.isscalar(value):
        return value
    return np.ascontiguousarray(value)


def data_fingerprint(*arrays):
    """Hash of the data a calibration's pseudo-experiments read.

    Parameters
    ----------
    *arrays : array-like, dataclass of arrays (e.g. SparseImages), sparse matrix or None
        Features, m_jj, weights, truth labels, row-to-event maps, ...

    Returns
    -------
    str
        A hexadecimal digest; it changes when any value, dtype or shape changes.

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.calibration._identity import data_fingerprint
    >>> data_fingerprint(np.arange(3.0)) == data_fingerprint(np.arange(3.0))
    True
    >>> data_fingerprint(np.arange(3.0)) == data_fingerprint(np.arange(3.0) + 1e-12)
    False
    """
    return joblib.hash([_arrays(value) for value in arrays], hash_name="sha1")
