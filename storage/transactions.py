"""Transactions: one unit of work, committed on success and rolled back otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker


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
