"""Run every gallery example (slow: the documentation build in CI does not execute them)."""

import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").rglob("plot_*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(path, tmp_path, monkeypatch, plot):
    if path.stem.startswith("plot_ucluster"):
        pytest.importorskip("keras", reason='needs TensorFlow: pip install "hepcluster[ucluster]"')
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(path), run_name="__main__")


def test_every_example_is_a_gallery_script():
    for path in EXAMPLES:
        assert path.read_text().startswith('"""'), f"{path.name} needs a docstring title"
