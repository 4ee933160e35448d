"""Watching processes from the outside, through /proc."""

from __future__ import annotations

from pathlib import Path


def gone(pid: int) -> bool:
    """Whether a process has ended (a zombie no one reaps has ended too)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")
