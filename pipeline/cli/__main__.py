"""`python -m pipeline.cli` runs the command line."""

import sys

from pipeline.cli import main

sys.exit(main())
