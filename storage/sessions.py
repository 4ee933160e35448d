"""Sessions: one unit of work per transaction, and statements both databases understand."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models import Base


@contextmanager
def unit_of_work(
    session_factory: sessionmaker[Session], dry_run: bool = False
) -> Iterator[Session]:
    """One transaction: committed on success, rolled back on error or in a dry run."""
    with session_factory() as session:
        session.begin()
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        if dry_run:
            session.rollback()
        else:
            session.commit()


def dialect_insert(session: Session, model: type[Base]) -> Any:
    """An INSERT that understands ON CONFLICT on both SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(model)
    from sqlalchemy.dialects import sqlite  # PostgreSQL's dialect is not loaded for SQLite

    return sqlite.insert(model)
