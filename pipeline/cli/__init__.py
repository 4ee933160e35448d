"""The `newstrack` command line: one module per group of commands over a small base."""

from pipeline.cli.commands import main

__all__ = ["main"]
