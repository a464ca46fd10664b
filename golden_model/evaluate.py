"""``python -m golden_model.evaluate``: the command of the digits evaluation.

The code lives in the package :mod:`golden_model.evaluation` (one module per job); this module
keeps the documented command and the old import path working.
"""

import sys

from .evaluation import main, run  # noqa: F401  (sets the BLAS thread count before NumPy)

if __name__ == "__main__":
    sys.exit(main())
