"""``python -m hepcluster``: the ``hepcluster`` command."""

import sys

from .cli import main

sys.exit(main())
