"""scikit-learn's common estimator checks over every public estimator of hepcluster."""

import pytest
from _width_checks import IMAGE_WIDTH_CHECKS, SIGNED_PT_CHECKS, UCLUSTER_WIDTH_CHECKS
from sklearn.utils.estimator_checks import parametrize_with_checks

import hepcluster
from hepcluster.scanning import ClusterScanner
from hepcluster.ucluster import UClusterEmbedding  # for the DeepKMeans entry below (no TF)
from hepcluster.utils import all_estimators

# Estimators whose defaults only make sense on physics data get a generic configuration
# here (small, fast, absolute windows switched off); every other one is checked as built.
CHECK_PARAMS = {
    # The checks' random data are no dijet spectra: equal bins over the data and the
    # 3-parameter function, which any positive histogram constrains.
    "DijetFitBackground": {"n_params": 3, "bins": 8},
    # Absolute m_jj windows make no sense on the checks' random targets: equal bins over
    # the range of y, the first bin as training window, a small fast ensemble.
    "ClusterScanner": {
        "n_clusters": 3,
        "bins": 4,
        "train_window": None,
        "n_ensemble": 2,
        "max_iter": 20,
        "random_state": 0,
    },
    # One scanner per bin of the checks' y range (4 equal bins), each fitted in its own bin.
    "WindowScan": {
        "scanner": ClusterScanner(
            n_clusters=3, bins=4, train_window=None, n_ensemble=2, max_iter=20
        ),
        "random_state": 0,
    },
    # UCluster trains a graph network in every fit: a tiny one (a quarter of ABCNet's
    # widths, 4 neighbours, one epoch each for pre-training and joint training, run
    # eagerly) keeps each of the dozens of fits well under a second; seeded because the
    # idempotence and pickling checks compare two fits.
    "UClusterEmbedding": {
        "width": 0.25,
        "n_neighbors": 4,
        "pretrain_epochs": 1,
        "batch_size": 32,
        "random_state": 0,
    },
    # The checks shift their random data to non-negative values, which turns the row that
    # held the minimum into a jet without any pT > 0 when P = 1; the default raises on such
    # empty jets (tested in tests/test_images.py), all-zero images keep the checks generic.
    "JetImageTransformer": {"empty_jets": "zero"},
    "DeepKMeans": {
        "embedding": UClusterEmbedding(
            width=0.25, n_neighbors=4, pretrain_epochs=1, batch_size=32
        ),
        "epochs": 1,
        "batch_size": 32,
        "n_init": 1,
        # One run instead of the "fast" schedule's three: the checks exercise the API,
        # not the choice between runs (tested in tests/test_ucluster_estimators.py).
        "n_restarts": 1,
        "random_state": 0,
    },
}

# UCluster reads a constituent matrix (3·P columns, a pT ≥ 0 per constituent and at least
# one particle per jet) and raises a clear ValueError otherwise (tested). These checks feed
# 2, 4, 5 or 10 columns, or a row whose only pT is 0; tests/test_ucluster_estimators.py
# runs all of them on a test-only subclass that pads the width, so they are still covered.
_UCLUSTER_WIDTH_CHECKS = dict.fromkeys(
    UCLUSTER_WIDTH_CHECKS, "needs a constituent matrix: 3·P columns, a particle in every jet"
)

# Checks an estimator must skip, each with the reason (see the developer guide).
EXPECTED_FAILED_CHECKS = {
    "UClusterEmbedding": _UCLUSTER_WIDTH_CHECKS,
    "DeepKMeans": {
        **_UCLUSTER_WIDTH_CHECKS,
        # 2-D blobs read as one-particle jets lose their structure (a lone particle has
        # Δη = Δφ = 0 to its jet axis), so the clustering-quality check cannot pass.
        "check_clustering": "2-D blobs are not jets; the clusters of W/Z/top are tested",
    },
    # m_jj is y; X only carries one row per event and its values are never read, so an
    # object in X is no error.
    "DijetFitBackground": {
        "check_dtype_object": "the values of X are never read (m_jj is y)",
    },
    # Mini-batch k-means: zero weights equal removal, but integer weights and repeated
    # rows stop at different steps (the step budget counts rows), as for scikit-learn's
    # MiniBatchKMeans, which is marked the same way. The scan itself (spectra, MLS) is
    # weight-exact: tests/test_scanning.py checks it.
    "ClusterScanner": {
        "check_sample_weight_equivalence_on_dense_data": (
            "k-means mini-batches: sample_weight is not equivalent to repeating samples"
        ),
    },
    # The same mini-batch k-means in every window.
    "WindowScan": {
        "check_sample_weight_equivalence_on_dense_data": (
            "k-means mini-batches: sample_weight is not equivalent to repeating samples"
        ),
    },
    # These checks feed matrices with 2, 4, 5 or 10 columns; a constituent matrix has
    # 3·P columns (pT, η, φ per constituent), so fit raises a clear ValueError by design.
    # tests/test_images.py runs the same checks on a test-only subclass that pads the
    # width, so everything but the width check is still covered.
    "JetImageTransformer": {
        **dict.fromkeys(
            IMAGE_WIDTH_CHECKS, "needs a width that is a multiple of 3 (constituent matrix)"
        ),
        **dict.fromkeys(
            SIGNED_PT_CHECKS, "needs pT ≥ 0; η, φ are signed, so positive_only is False"
        ),
    },
}


# Estimators whose fit needs an optional extra: (module, extra); their checks skip without it.
NEEDS_EXTRA = {
    "UClusterEmbedding": ("keras", "ucluster"),
    "DeepKMeans": ("keras", "ucluster"),
}


def _instances():
    return [cls(**CHECK_PARAMS.get(name, {})) for name, cls in all_estimators()]


@parametrize_with_checks(
    _instances(),
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(type(est).__name__, {}),
)
def test_sklearn_compatible_estimator(estimator, check):
    if type(estimator).__name__ in NEEDS_EXTRA:
        module, extra = NEEDS_EXTRA[type(estimator).__name__]
        pytest.importorskip(module, reason=f'needs {module}: pip install "hepcluster[{extra}]"')
    check(estimator)


def test_registry_covers_every_exported_estimator():
    registered = {name for name, _ in all_estimators()}
    exported = {
        name
        for name in hepcluster.__all__
        if isinstance(getattr(hepcluster, name), type)
        and hasattr(getattr(hepcluster, name), "get_params")
    }
    assert exported <= registered


def test_check_params_name_only_registered_estimators():
    registered = {name for name, _ in all_estimators()}
    assert set(CHECK_PARAMS) <= registered
    assert set(EXPECTED_FAILED_CHECKS) <= registered
    assert set(NEEDS_EXTRA) <= registered
