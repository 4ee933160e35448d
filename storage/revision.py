"""Whether a database's schema is the newest, asked without loading Alembic."""

from __future__ import annotations

import re
from importlib.resources import files

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

# `revision: str = "0013"` and `down_revision: str | None = "0012"` in each migration file.
ASSIGNMENT = re.compile(r"^(down_revision|revision)\b[^=\n]*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)


def newest_revision() -> str | None:
    """The head of the migration chain, read from the revision files; None when it is unclear."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (files("storage") / "migrations" / "versions").iterdir():
        if not path.name.endswith(".py") or path.name == "__init__.py":
            continue
        text_of_file = path.read_text("utf-8")
        found = {match[1]: match[2] for match in ASSIGNMENT.finditer(text_of_file)}
        if "revision" in found:
            revisions.add(found["revision"])
        if "down_revision" in found:
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def is_newest(engine: Engine) -> bool:
    """Whether the database is at the newest revision; False when in any doubt."""
    newest = newest_revision()
    if newest is None:
        return False
    try:
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:  # no schema yet
        return False
    return [row[0] for row in stored] == [newest]
