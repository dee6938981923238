"""``python -m studies`` is ``explore``."""

import sys

from studies.cli import main

sys.exit(main())
