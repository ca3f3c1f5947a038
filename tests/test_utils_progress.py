"""The progress helper leaves the decision to tqdm: ``disable=None`` and ``TQDM_DISABLE``."""

import os
import subprocess
import sys

import pytest

import hepcluster
from hepcluster.utils import progress, progress_enabled

# tqdm reads TQDM_* variables when it is imported, so every case runs in a fresh interpreter.
_SCRIPT = """
import io, sys, hepcluster
from hepcluster.utils import progress
class Terminal(io.StringIO):
    def isatty(self):
        return True
setting = sys.argv[1]
hepcluster.set_config(progress_bar={"auto": "auto", "on": True, "off": False}[setting])
print(progress(range(3), file=io.StringIO()).disable is True)
print(progress(range(3), file=Terminal()).disable is True)
"""


def _disabled(setting, **env):
    environment = {key: value for key, value in os.environ.items() if key != "TQDM_DISABLE"}
    environment.update(env)
    output = subprocess.run(
        [sys.executable, "-c", _SCRIPT, setting],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    # (bar disabled on a non-terminal, bar disabled on a terminal)
    return tuple(word == "True" for word in output.stdout.split())


@pytest.mark.parametrize(
    ("setting", "env", "expected"),
    [
        ("auto", {}, (True, False)),  # tqdm's disable=None: a bar only on a terminal
        ("auto", {"TQDM_DISABLE": "1"}, (True, True)),
        ("on", {}, (False, False)),  # asked for: a bar even into a file
        ("on", {"TQDM_DISABLE": "1"}, (True, True)),  # the environment wins
        ("off", {}, (True, True)),
    ],
)
def test_progress_bar_follows_tqdm_and_tqdm_disable(setting, env, expected):
    assert _disabled(setting, **env) == expected


def test_explicit_disable_keyword_wins():
    with hepcluster.config_context(progress_bar=True):
        assert progress(range(2), disable=True).disable is True


def test_progress_enabled_reflects_the_environment(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    with hepcluster.config_context(progress_bar=True):
        assert progress_enabled() is True
        monkeypatch.setenv("TQDM_DISABLE", "1")
        assert progress_enabled() is False
    assert progress_enabled(enabled=False) is False
