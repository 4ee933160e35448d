"""docs/schema.md documents every table, view and column of the database, and nothing else."""

from __future__ import annotations

import re

from sqlalchemy import inspect

from storage.engine import make_engine
from storage.migrate import newstrack_owns, upgrade

from .conftest import PROJECT

SECTION = re.compile(r"^## (\w+)\s*$")
COLUMN = re.compile(r"^\| `(\w+)` \|")


def _documented() -> dict[str, list[str]]:
    """Columns per table or view, as docs/schema.md lists them."""
    documented: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in (PROJECT / "docs" / "schema.md").read_text(encoding="utf-8").splitlines():
        if match := SECTION.match(line):
            current = documented.setdefault(match.group(1), [])
        elif (match := COLUMN.match(line)) and current is not None:
            current.append(match.group(1))
    return documented


def test_every_column_is_documented(database_url: str) -> None:
    """A new column or view fails here until docs/schema.md explains it."""
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        inspector = inspect(engine)
        actual = {
            name: sorted(column["name"] for column in inspector.get_columns(name))
            for name in [*inspector.get_table_names(), *inspector.get_view_names()]
            if name != "alembic_version" and newstrack_owns(name, "table", {})
        }
    finally:
        engine.dispose()
    documented = {name: sorted(columns) for name, columns in _documented().items()}
    assert documented == actual
