"""`python -m hyperseg_vfx.cli ...`: the same as the `hyperseg-vfx` executable."""

import sys

from . import main

sys.exit(main())
