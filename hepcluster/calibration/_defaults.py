"""Defaults of the pseudo-experiments: plain literals, read by the command line cheaply.

Background-only and signal-injected bootstrap pseudo-experiments as in arXiv:2402.17714,
§4 (the paper runs far more; these defaults keep a laptop calibration to minutes).
"""

N_BACKGROUND_ONLY = 100
"""Background-only pseudo-experiments (the null distribution of the test statistic)."""

SIGNAL_INJECTIONS = ()
"""Numbers of signal events injected; none by default."""

N_PER_INJECTION = 20
"""Pseudo-experiments per injection level."""

BOOTSTRAP = "poisson"
"""Resampling of the background events: Poisson weights."""
