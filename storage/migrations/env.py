"""Alembic environment: runs migrations on the connection newstrack hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from models import Base
from storage.migrate import newstrack_owns

# Any fixed number: every newstrack process that migrates PostgreSQL takes this advisory lock.
MIGRATION_LOCK_ID = 7_311_977_101


def run_migrations(connection: Connection) -> None:
    """Apply pending migrations in one transaction, serialised across processes."""
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_name=newstrack_owns,
        transactional_ddl=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("newstrack migrations run through `newstrack init`, not the alembic command")
run_migrations(connection)
