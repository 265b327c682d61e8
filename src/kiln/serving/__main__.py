"""``python -m kiln.serving``: the scoring process (see ``kiln.serving.process``)."""

import sys

from kiln.serving.process import main

sys.exit(main())
