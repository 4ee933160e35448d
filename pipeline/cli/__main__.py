"""`python -m pipeline.cli.commands` runs the command line."""

import sys

from pipeline.cli.commands import main

sys.exit(main())
