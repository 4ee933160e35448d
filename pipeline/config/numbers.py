"""Kinds of number newstrack accepts: finite, whole where they count, and bounded.

One definition per kind serves the three borders numbers cross: the command line
(`pipeline.cli.arguments`), the environment (`pipeline.config.settings`) and the YAML files
(`pipeline.config.yaml_loader`). Each border words the error its own way, naming the option, the
variable or the file, line and field; the range comes from here, so it reads the same everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR  # seconds: the longest timeout, wait or interval newstrack accepts


class NumberError(ValueError):
    """A value that is not a number of the kind asked for; the message says which kind."""


@dataclass(frozen=True)
class Whole:
    """A whole number from `low` to `high`; with `zero` set, 0 is accepted too and means that."""

    low: int
    high: int
    zero: str | None = None  # what 0 means ("no cap") when 0 is below `low` and still allowed

    def describe(self) -> str:
        """The range in words, for errors and help."""
        text = f"a whole number from {self.low} to {self.high}"
        return f"{text}, or 0 for {self.zero}" if self.zero else text

    def from_text(self, text: str) -> int:
        """The number a command-line word or an environment value gives (`1e6` is 1000000)."""
        word = text.strip()
        try:
            number = int(word)
        except ValueError:
            try:
                real = float(word)
            except ValueError:
                raise self._error(text) from None
            if not math.isfinite(real) or not real.is_integer():
                raise self._error(text) from None
            number = int(real)
        return self._bounded(number, text)

    def from_yaml(self, value: object) -> int:
        """The number a YAML value gives: an integer, never a boolean (`true` is not 1)."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._error(value)
        return self._bounded(value, value)

    def _bounded(self, number: int, given: object) -> int:
        if self.low <= number <= self.high or (number == 0 and self.zero):
            return number
        raise self._error(given)

    def _error(self, given: object) -> NumberError:
        return NumberError(f"expected {self.describe()}, got {given!r}")


@dataclass(frozen=True)
class Seconds:
    """A finite duration in seconds: more than 0 (or 0 with `allow_zero`), at most `high`."""

    high: float = DAY
    allow_zero: bool = False

    def describe(self) -> str:
        """The range in words, for errors and help."""
        low = "from 0" if self.allow_zero else "more than 0"
        return f"a number of seconds {low} up to {self.high:g}"

    def from_text(self, text: str) -> float:
        """The duration a command-line word or an environment value gives; nan and inf are not."""
        try:
            number = float(text.strip())
        except ValueError:
            raise self._error(text) from None
        return self._bounded(number, text)

    def _bounded(self, number: float, given: object) -> float:
        if not math.isfinite(number) or number > self.high:
            raise self._error(given)
        if number < 0 or (number == 0 and not self.allow_zero):
            raise self._error(given)
        return number

    def _error(self, given: object) -> NumberError:
        return NumberError(f"expected {self.describe()}, got {given!r}")


@dataclass(frozen=True)
class Share:
    """A proportion from 0 to 1, such as a confidence threshold."""

    def describe(self) -> str:
        """The range in words, for errors and help."""
        return "a number from 0 to 1"

    def from_text(self, text: str) -> float:
        """The proportion a command-line word or an environment value gives."""
        try:
            number = float(text.strip())
        except ValueError:
            raise NumberError(f"expected {self.describe()}, got {text!r}") from None
        if not 0.0 <= number <= 1.0:  # also refuses nan
            raise NumberError(f"expected {self.describe()}, got {text!r}")
        return number


# Kinds that more than one border takes, defined once.
ARTICLES_PER_SOURCE = Whole(1, 10_000)  # NEWSTRACK_MAX_ARTICLES, a source's `max_articles`
MIN_SOURCES = Whole(1, 1_000)  # a watchlist's `filters.min_sources`, `watchlist add --min-sources`
