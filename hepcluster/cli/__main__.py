"""``python -m hepcluster.cli``: the ``hepcluster`` command."""

import sys

from . import main

sys.exit(main())
