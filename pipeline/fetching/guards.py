"""What stops the reading of a hostile body: the parse errors and the deadline of one page."""

from __future__ import annotations

import math
import time

from models.errors import NewstrackError

# Reading one page may take this long: a real 3.6 MB page of 50,000 paragraphs takes about 25 s.
PAGE_SECONDS = 120.0
DEADLINE_EVERY = 256  # loop turns between two looks at the clock


class ParseError(NewstrackError):
    """A body could not be read as what it was supposed to be."""


class TooDeep(ParseError):
    """HTML nested deeper than MAX_NESTING tags."""


class PageTooSlow(ParseError):
    """Reading one page took longer than its deadline."""


class Deadline:
    """A point in time a page's reading must not pass; loops look at it every few turns."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.turns = 0

    def check(self) -> None:
        """Raise PageTooSlow once the deadline has passed (the clock is read every few calls)."""
        self.turns += 1
        if self.turns % DEADLINE_EVERY == 0 and time.monotonic() > self.at:
            raise PageTooSlow(f"reading took longer than {self.seconds:g} s")

    def passed(self) -> None:
        """Raise PageTooSlow if the deadline has passed (reads the clock now: between steps)."""
        if time.monotonic() > self.at:
            raise PageTooSlow(f"reading took longer than {self.seconds:g} s")


UNBOUNDED = Deadline(math.inf)  # for reading outside a page's deadline (feed fragments)
