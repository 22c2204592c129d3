"""``python -m adoptsim.cli``: the ``adoptsim`` command."""

import sys

from adoptsim.cli import main

sys.exit(main())
