"""Canned queries shipped with newstrack (storage/sql/*.sql), listed and run by name."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib.resources import files

from models.errors import UsageError
from models.vocabulary import ACTIONS, MEASURES, Vocabulary

# "-- param NAME: TYPE = DEFAULT"; without "= DEFAULT" the parameter is required.
PARAM = re.compile(r"^--\s*param\s+(\w+)\s*(?::\s*(\w+))?\s*(?:=\s*(.+?))?\s*$")
DAYS_AGO = re.compile(r"^days_ago\((\d+)\)$")
TYPES = ("date", "element", "country", "measure", "action", "int", "text")


@dataclass(frozen=True)
class Parameter:
    """A canned query's parameter: its name, type and default (None: required)."""

    name: str
    type: str
    default: str | None

    def describe(self) -> str:
        """NAME:TYPE=DEFAULT, as `sql --list` shows it."""
        return f"{self.name}:{self.type}" + ("" if self.default is None else f"={self.default}")


@dataclass(frozen=True)
class CannedQuery:
    """A named query: its description, SQL and typed parameters."""

    name: str
    description: str
    sql: str
    parameters: tuple[Parameter, ...]

    def values(self, given: dict[str, str], vocabulary: Vocabulary) -> dict[str, object]:
        """The given parameters checked against their types, with defaults for the others."""
        known = {parameter.name: parameter for parameter in self.parameters}
        for name in given:
            if name not in known:
                raise UsageError(
                    f"{self.name} has no parameter {name!r}{_did_you_mean(name, known)}; "
                    f"known: {', '.join(known) or 'none'}"
                )
        values: dict[str, object] = {}
        for parameter in self.parameters:
            if parameter.name in given:
                values[parameter.name] = _converted(parameter, given[parameter.name], vocabulary)
            elif parameter.default is not None:
                values[parameter.name] = _default(parameter.default)
            else:
                raise UsageError(f"{self.name} needs -p {parameter.name}=VALUE ({parameter.type})")
        return values


def canned_queries() -> dict[str, CannedQuery]:
    """Every shipped query, by name."""
    queries = {}
    for path in sorted(files("storage").joinpath("sql").iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".sql"):
            continue
        name = path.name.removesuffix(".sql")
        lines = path.read_text(encoding="utf-8").splitlines()
        header = [line for line in lines if line.startswith("--")]
        parameters = tuple(
            _parameter(name, match) for line in header if (match := PARAM.match(line))
        )
        description = next(
            (line.lstrip("- ").strip() for line in header if not PARAM.match(line)), ""
        )
        sql = "\n".join(line for line in lines if not line.startswith("--")).strip()
        queries[name] = CannedQuery(name, description, sql, parameters)
    return queries


def canned_query(name: str) -> CannedQuery:
    """The shipped query of a name; an unknown name lists the known ones."""
    queries = canned_queries()
    if name not in queries:
        raise UsageError(
            f"no canned query {name!r}{_did_you_mean(name, queries)}; known: {', '.join(queries)}"
        )
    return queries[name]


def _parameter(query: str, match: re.Match[str]) -> Parameter:
    name, kind, default = match.group(1), match.group(2) or "text", match.group(3)
    if kind not in TYPES:
        raise UsageError(f"{query}.sql: parameter {name!r} has unknown type {kind!r}")
    return Parameter(name, kind, default)


def _converted(parameter: Parameter, value: str, vocabulary: Vocabulary) -> object:
    """A -p value as its parameter's type wants it; a value that is not one is a usage error."""
    try:
        return CONVERTERS[parameter.type](value, vocabulary)
    except ValueError as error:  # the vocabulary's UnknownNameError among them
        raise UsageError(f"-p {parameter.name}={value}: {error}") from None


def _date(value: str, _: Vocabulary) -> str:
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise ValueError("not a date (YYYY-MM-DD)") from None


def _element(value: str, vocabulary: Vocabulary) -> str:
    elements = vocabulary.resolve_elements(value)
    if len(elements) > 1:
        raise ValueError(
            f"a group of {len(elements)} elements ({', '.join(elements)}); give one of them "
            "(status --element takes a group)"
        )
    return elements[0]


def _one_of(choices: tuple[str, ...]) -> Callable[[str, Vocabulary], str]:
    def convert(value: str, _: Vocabulary) -> str:
        word = value.strip().lower().replace("-", "_")
        if word not in choices:
            raise ValueError(f"not one of {', '.join(choices)}{_did_you_mean(word, choices)}")
        return word

    return convert


def _int(value: str, _: Vocabulary) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError("not a whole number") from None


CONVERTERS: dict[str, Callable[[str, Vocabulary], object]] = {
    "date": _date,
    "element": _element,
    "country": lambda value, vocabulary: vocabulary.resolve_jurisdiction(value),
    "measure": _one_of(MEASURES),
    "action": _one_of(ACTIONS),
    "int": _int,
    "text": lambda value, _: value,
}


def _default(default: str) -> str:
    """A default's value: a literal, or days_ago(N) as an ISO date N days before today (UTC)."""
    match = DAYS_AGO.match(default)
    if match:
        return (datetime.now(UTC).date() - timedelta(days=int(match.group(1)))).isoformat()
    return default


def _did_you_mean(word: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""
