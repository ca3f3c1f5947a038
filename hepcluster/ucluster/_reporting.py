"""Per-epoch reporting of UCluster's trainings: progress bar, log lines, throughput."""

import logging
import time

from ..utils import progress

logger = logging.getLogger("hepcluster.ucluster")

__all__ = ["EpochReporter"]


class EpochReporter:
    """Progress bar over epochs, a log line per epoch and the training throughput.

    Parameters
    ----------
    n_samples : int
        Samples (jets or events) per epoch, for the throughput.
    epochs : int
        Total number of epochs (length of the bar).
    desc : str
        Label of the bar and of the log lines.
    unit : str, default="jet"
        What a sample is, for the log lines.

    Attributes
    ----------
    history : dict of list
        Per epoch: the logged values (losses, learning rate, α), ``"seconds"`` and
        ``"samples_per_second"``.
    """

    def __init__(self, n_samples, epochs, desc, unit="jet"):
        self.n_samples = int(n_samples)
        self.epochs = int(epochs)
        self.desc = desc
        self.unit = unit
        self.history = {}
        self._bar = None
        self._start = None

    def on_train_begin(self):
        self._bar = progress(total=self.epochs, desc=self.desc, unit="epoch")

    def on_epoch_begin(self, epoch):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs):
        seconds = time.perf_counter() - self._start
        values = {key: float(value) for key, value in logs.items()}
        values["seconds"] = seconds
        values["samples_per_second"] = self.n_samples / seconds if seconds > 0 else float("inf")
        for key, value in values.items():
            self.history.setdefault(key, []).append(value)
        summary = ", ".join(f"{key}={value:.4g}" for key, value in logs.items())
        logger.info(
            "%s epoch %d/%d: %s (%.1f s, %.0f %ss/s)",
            self.desc,
            epoch + 1,
            self.epochs,
            summary,
            seconds,
            values["samples_per_second"],
            self.unit,
        )
        self._bar.set_postfix_str(f"loss={values['loss']:.4g}", refresh=False)
        self._bar.update(1)

    def on_train_end(self):
        if self._bar is not None:
            self._bar.close()
