"""Canned queries shipped with newstrack (storage/sql/*.sql), listed and run by name."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any

from pipeline.errors import UsageError

PARAM = re.compile(r"^--\s*param\s+(\w+)\s*=\s*(.+?)\s*$")
DAYS_AGO = re.compile(r"^days_ago\((\d+)\)$")


@dataclass(frozen=True)
class CannedQuery:
    """A named query: its description, SQL and parameter defaults."""

    name: str
    description: str
    sql: str
    defaults: dict[str, str]

    def parameters(self, given: dict[str, str]) -> dict[str, Any]:
        """The given parameters, with defaults for the others ("days_ago(30)" is a date)."""
        values: dict[str, Any] = {name: _value(default) for name, default in self.defaults.items()}
        values.update(given)
        return values


def canned_queries() -> dict[str, CannedQuery]:
    """Every shipped query, by name."""
    queries = {}
    for path in sorted(files("storage").joinpath("sql").iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".sql"):
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        comments = [line for line in lines if line.startswith("--")]
        defaults = {m.group(1): m.group(2) for line in comments if (m := PARAM.match(line))}
        description = next(
            (line.lstrip("- ").strip() for line in comments if not PARAM.match(line)), ""
        )
        sql = "\n".join(line for line in lines if not line.startswith("--")).strip()
        name = path.name.removesuffix(".sql")
        queries[name] = CannedQuery(name, description, sql, defaults)
    return queries


def canned_query(name: str) -> CannedQuery:
    """The shipped query of a name; an unknown name lists the known ones."""
    queries = canned_queries()
    if name not in queries:
        raise UsageError(f"no canned query {name!r}; known: {', '.join(queries)}")
    return queries[name]


def _value(default: str) -> str:
    """A default's value: a literal, or days_ago(N) as an ISO date N days before today (UTC)."""
    match = DAYS_AGO.match(default)
    if match:
        return (datetime.now(UTC).date() - timedelta(days=int(match.group(1)))).isoformat()
    return default
