"""`python -m pipeline.cli` runs the command line."""

from pipeline.cli import command_line

if __name__ == "__main__":
    command_line()
