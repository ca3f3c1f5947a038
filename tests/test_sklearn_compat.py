"""The supported scikit-learn range: pyproject's bounds, the installed release, the oldest."""

import subprocess
import textwrap
import time
import venv
from pathlib import Path

import pytest
import sklearn
from packaging.specifiers import SpecifierSet

from hepcluster.utils import _sklearn_compat
from hepcluster.utils._sklearn_compat import SUPPORTED_SKLEARN

ROOT = Path(__file__).resolve().parents[1]
MINIMUM = "1.6.1"
"""The oldest scikit-learn release tested: the first bug-fix release of the lower bound."""


def _dependency_specifier():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (line,) = [dep for dep in project["dependencies"] if dep.startswith("scikit-learn")]
    return SpecifierSet(line.removeprefix("scikit-learn"))


def test_pyproject_bounds_are_the_compatibility_modules():
    assert _dependency_specifier() == SpecifierSet(",".join(SUPPORTED_SKLEARN))


def test_installed_scikit_learn_is_in_the_supported_range():
    assert sklearn.__version__ in SpecifierSet(",".join(SUPPORTED_SKLEARN))
    assert MINIMUM in SpecifierSet(",".join(SUPPORTED_SKLEARN))


def test_compatibility_module_exports_what_it_names():
    for name in _sklearn_compat.__all__:
        assert getattr(_sklearn_compat, name) is not None, name


@pytest.mark.parametrize("native", [True, False])
def test_check_sample_weight_refuses_all_zero_weights_on_every_release(monkeypatch, native):
    import numpy as np

    if not native:  # a release before scikit-learn 1.9, without allow_all_zero_weights
        options = _sklearn_compat._SAMPLE_WEIGHT_OPTIONS - {"allow_all_zero_weights"}
        monkeypatch.setattr(_sklearn_compat, "_SAMPLE_WEIGHT_OPTIONS", options)
        monkeypatch.setattr(
            _sklearn_compat,
            "_check_sample_weight",
            lambda weight, X, **kw: np.ones(len(X)) if weight is None else np.asarray(weight),
        )
    check = _sklearn_compat.check_sample_weight
    with pytest.raises(ValueError, match="at least one non-zero"):
        check(np.zeros(3), np.empty(3))
    np.testing.assert_array_equal(check(np.zeros(3), np.empty(3), allow_all_zero_weights=True), 0)
    np.testing.assert_array_equal(check(None, np.empty(2)), [1.0, 1.0])


_END_TO_END = textwrap.dedent(
    """
    import numpy as np
    import sklearn
    from sklearn.pipeline import make_pipeline
    from sklearn.utils.estimator_checks import (
        check_estimators_pickle,
        check_fit_idempotent,
        check_get_params_invariance,
        check_parameters_default_constructible,
    )

    import hepcluster
    from hepcluster import ClusterScanner, JetImageTransformer
    from hepcluster.datasets import make_dijet_events

    assert sklearn.__version__ == "{version}", sklearn.__version__
    events = make_dijet_events(300, 30, n_constituents=20, random_state=0)
    X, mjj, _ = events.jets()
    scanner = ClusterScanner(5, n_ensemble=2, random_state=0)
    pipeline = make_pipeline(JetImageTransformer(12, sparse_output=True), scanner)
    pipeline.fit(X, mjj)
    statistic = pipeline[-1].test_statistic(pipeline[:-1].transform(X), mjj)
    assert np.isfinite(statistic) and statistic >= 0.0, statistic
    for check in (
        check_parameters_default_constructible,
        check_get_params_invariance,
        check_fit_idempotent,
        check_estimators_pickle,
    ):
        check("ClusterScanner", ClusterScanner(3, bins=4, train_window=None, n_ensemble=2))
    print("ok", hepcluster.__version__, sklearn.__version__)
    """
)


@pytest.mark.slow
def test_minimum_supported_scikit_learn_runs_end_to_end(tmp_path):
    # A virtual environment over this one's packages with only scikit-learn downgraded.
    start = time.perf_counter()
    venv.EnvBuilder(system_site_packages=True, with_pip=True).create(tmp_path / "env")
    python = tmp_path / "env" / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", f"scikit-learn=={MINIMUM}"],
        check=True,
        timeout=600,
    )
    result = subprocess.run(
        [python, "-c", _END_TO_END.format(version=MINIMUM)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "HEPCLUSTER_PROGRESS": "0", "PATH": "/usr/bin:/bin"},
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.startswith("ok"), result.stdout
    print(f"scikit-learn {MINIMUM}: {time.perf_counter() - start:.0f} s")
