"""Progress for long runs: a live line on a terminal, plain log lines otherwise."""

from __future__ import annotations

import logging
import sys
import threading
from typing import TextIO

log = logging.getLogger("newstrack")


class Progress:
    """Counts work done; redraws one line on a terminal, logs every `every` items elsewhere."""

    def __init__(
        self,
        label: str,
        total: int | None = None,
        stream: TextIO | None = None,
        every: int = 25,
        live: bool = True,
    ) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.every = every
        self.stream = stream or sys.stderr
        self.live = live and self.stream.isatty()  # not live: another process draws the line
        self._lock = threading.Lock()

    def advance(self, note: str = "") -> None:
        """Count one item (safe from several threads)."""
        with self._lock:
            self._advance(note)

    def _advance(self, note: str) -> None:
        self.done += 1
        of_total = f"/{self.total}" if self.total else ""
        if self.live:
            self.stream.write(f"\r\033[K{self.label}: {self.done}{of_total} {note[:60]}")
            self.stream.flush()
        elif self.done % self.every == 0:
            log.info("%s: %d%s", self.label, self.done, of_total)

    def finish(self) -> None:
        """End the live line."""
        if self.live and self.done:
            self.stream.write("\r\033[K")
            self.stream.flush()


def log_to_stderr(level: int) -> None:
    """Plain log lines on standard error for newstrack's own logger only, at `level`."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(level)
