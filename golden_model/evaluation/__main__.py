"""``python -m golden_model.evaluation`` (the same as ``python -m golden_model.evaluate``)."""

import sys

from . import main

sys.exit(main())
