"""``python -m therascope``: the same as the ``therascope`` command."""

import sys

from therascope.launcher import main

sys.exit(main())
