"""`python -m pipeline.cli` runs the command line."""

import sys

from pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main())
