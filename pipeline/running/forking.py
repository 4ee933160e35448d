"""When this process may fork, and how many cores it has to share among its processes."""

from __future__ import annotations

import os
import sys
import threading


def fork_is_safe() -> bool:
    """Whether this process may fork: on Linux, with no other thread (a fork copies only this one,
    and a lock another thread held would stay held in the copy)."""
    return sys.platform == "linux" and threading.active_count() == 1


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
