import logging
import os
import subprocess
import sys

import pytest

import hepcluster
from hepcluster._logging import configure_logging
from hepcluster.utils import import_optional, progress, progress_enabled


def test_config_context_restores_the_previous_setting():
    hepcluster.set_config(progress_bar=True)
    with hepcluster.config_context(progress_bar=False):
        assert hepcluster.get_config()["progress_bar"] is False
        assert not progress_enabled()
    assert hepcluster.get_config()["progress_bar"] is True
    hepcluster.set_config(progress_bar="auto")


def test_set_config_rejects_unknown_values():
    with pytest.raises(ValueError, match="progress_bar"):
        hepcluster.set_config(progress_bar="sometimes")


def test_disabled_progress_bar_writes_nothing(capsys):
    with hepcluster.config_context(progress_bar=False):
        assert list(progress(range(3), desc="x")) == [0, 1, 2]
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out == ""


def test_enabled_progress_bar_reports_progress(capsys):
    assert sum(progress(range(3), desc="toys", enabled=True)) == 3
    assert "toys" in capsys.readouterr().err


def test_progress_follows_the_environment(monkeypatch):
    from hepcluster import _config

    monkeypatch.setenv("HEPCLUSTER_PROGRESS", "0")
    assert _config._progress_from_environment() is False
    monkeypatch.setenv("HEPCLUSTER_PROGRESS", "on")
    assert _config._progress_from_environment() is True


def test_missing_optional_dependency_names_the_extra():
    with pytest.raises(ImportError, match=r'pip install "hepcluster\[generate\]"'):
        import_optional("a_module_that_does_not_exist", extra="generate")


def test_package_logger_is_silent_by_default_and_configurable(caplog):
    logger = logging.getLogger("hepcluster")
    assert any(isinstance(h, logging.NullHandler) for h in logger.handlers)
    configure_logging(1)
    assert logger.level == logging.DEBUG
    configure_logging(0)
    configure_logging(0)
    consoles = [h for h in logger.handlers if getattr(h, "_hepcluster_console", False)]
    assert len(consoles) == 1
    assert logger.level == logging.INFO


def test_auto_progress_bars_follow_tqdm_and_tqdm_disable():
    # tqdm reads TQDM_* variables when it is imported: check in fresh interpreters.
    script = (
        "import io, sys, hepcluster; from hepcluster.utils import progress\n"
        "class Terminal(io.StringIO):\n    def isatty(self): return True\n"
        "print(progress(range(3), file=io.StringIO()).disable is True)\n"
        "print(progress(range(3), file=Terminal()).disable is True)\n"
        "hepcluster.set_config(progress_bar=True)\n"
        "print(progress(range(3), file=io.StringIO()).disable is True)\n"
    )

    def run(**env):
        environment = {**os.environ, **env}
        environment.pop("TQDM_DISABLE", None) if not env else None
        output = subprocess.run(
            [sys.executable, "-c", script], env=environment, capture_output=True, text=True
        )
        return output.stdout.split()

    # no bar where the output is not a terminal, a bar on a terminal; an explicit
    # hepcluster setting shows one anywhere, but tqdm's own TQDM_DISABLE always wins
    assert run() == ["True", "False", "False"]
    assert run(TQDM_DISABLE="1") == ["True", "True", "True"]
