"""Importing Keras/TensorFlow quietly, and the devices TensorFlow sees.

TensorFlow prints a few lines from C++ when it is imported and when it first looks for a
GPU (the oneDNN notice, "Could not find cuda drivers", "failed call to cuInit … (303)",
the CPU-instruction notice); on a CPU machine all of them are harmless. Unless the user
asks for them, :func:`import_keras` imports Keras with those lines filtered out:

- if ``TF_CPP_MIN_LOG_LEVEL`` is not set, it is set to ``"2"`` (TensorFlow's own switch:
  no INFO or WARNING lines from C++) and the import plus the first GPU query run with
  the standard-error file descriptor captured; the known start-up notices are dropped
  and anything else is written back to standard error unchanged;
- if the user set ``TF_CPP_MIN_LOG_LEVEL`` (to any value), nothing is changed or
  filtered: that is how to see every message (``hepcluster -v ucluster …`` sets it to
  ``"0"`` unless it is set already).
"""

import contextlib
import os
import re
import sys
import tempfile

from ...utils import import_optional
from .._defaults import DEVICES

__all__ = [
    "DEVICES",
    "QUIET_LOG_LEVEL",
    "check_device",
    "has_gpu",
    "import_keras",
    "quiet_requested",
]

QUIET_LOG_LEVEL = "2"
"""``TF_CPP_MIN_LOG_LEVEL`` set when the user set none: errors only from TensorFlow's C++."""


"""Values of the ``device`` parameter of the UCluster estimators."""

# Start-up lines of TensorFlow and absl that say nothing about the user's computation:
# the absl pre-initialisation banner, notices about oneDNN, CPU instructions and TensorRT,
# and the CUDA discovery messages of a machine without a (usable) GPU.
_NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called"
    r"|oneDNN custom operations are on"
    r"|oneDNN supports DT_"
    r"|Could not find cuda drivers"
    r"|failed call to cuInit"
    r"|This TensorFlow binary is optimized to use available CPU instructions"
    r"|To enable the following instructions:"
    r"|rebuild TensorFlow with the appropriate compiler flags"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered"
    r"|TF-TRT Warning"
    r"|successful NUMA node read from SysFS"
    r"|cuda_diagnostics|cuda_executor.*(kernel driver|not found)"
)

_STATE = {"imported": False}


def quiet_requested():
    """True when the user left ``TF_CPP_MIN_LOG_LEVEL`` unset (start-up lines are dropped)."""
    return "TF_CPP_MIN_LOG_LEVEL" not in os.environ


@contextlib.contextmanager
def _filtered_stderr():
    """Capture file descriptor 2 and write back every line that is not start-up noise."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # pragma: no cover - no real standard error
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode(errors="replace")
            kept = [line for line in text.splitlines() if line.strip() and not _NOISE.search(line)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")


def import_keras():
    """Keras 3 (TensorFlow backend), imported without TensorFlow's start-up noise.

    Returns
    -------
    module
        :mod:`keras`.

    Raises
    ------
    ImportError
        If Keras is not installed (naming the ``ucluster`` extra), or is configured for
        another backend than TensorFlow.
    """
    if _STATE["imported"] or not quiet_requested() or "tensorflow" in sys.modules:
        keras = import_optional("keras", extra="ucluster")
    else:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = QUIET_LOG_LEVEL
        with _filtered_stderr():
            keras = import_optional("keras", extra="ucluster")
            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                # The first GPU query initialises CUDA; its messages are start-up noise.
                tf.config.list_physical_devices("GPU")
    _STATE["imported"] = True
    if keras.backend.backend() != "tensorflow":
        raise ImportError(
            "UCluster trains with TensorFlow; Keras is configured for the "
            f"{keras.backend.backend()!r} backend. Set KERAS_BACKEND=tensorflow."
        )
    return keras


def has_gpu():
    """Whether TensorFlow sees a GPU."""
    import_keras()
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def check_device(device):
    """Raise before any work when ``device="gpu"`` is asked for and TensorFlow sees none.

    Parameters
    ----------
    device : {"auto", "cpu", "gpu"}

    Raises
    ------
    RuntimeError
        On ``"gpu"`` without a GPU visible to TensorFlow.
    """
    if device == "gpu" and not has_gpu():
        raise RuntimeError(
            "device='gpu' was requested but TensorFlow sees no GPU (check the CUDA "
            "installation and CUDA_VISIBLE_DEVICES, or use device='auto' or 'cpu')."
        )


def device_scope(device):
    """Context placing the computation on ``"cpu"``, ``"gpu"`` or wherever Keras would."""
    if device == "auto":
        return contextlib.nullcontext()
    keras = import_keras()
    check_device(device)
    return keras.device(f"{device}:0")
