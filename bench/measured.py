"""Run a command and write its peak resident memory in MB to a file: python bench/measured.py FILE CMD...

A child's ru_maxrss counts the memory of the process that started it (vfork and exec keep the
parent's high-water mark), so a large process cannot measure its children directly. This small
process starts the command itself and passes its exit code on.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def main() -> int:
    """Run the command, record its peak memory, exit as it did."""
    peak_file, command = Path(sys.argv[1]), sys.argv[2:]
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    peak_file.write_text(f"{usage.ru_maxrss / 1024:.1f}\n", encoding="utf-8")
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    raise SystemExit(main())
