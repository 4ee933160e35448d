"""The job queue of distributed mode (procrastinate's schema), on PostgreSQL only.

procrastinate keeps its jobs in the database that holds newstrack's data, so workers on any host
need nothing but that database. Its tables and functions are procrastinate's own (`procrastinate_*`);
this revision installs the schema of the pinned procrastinate version once. SQLite needs no queue.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from collections.abc import Sequence
from typing import Any

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    exists = connection.exec_driver_sql("SELECT to_regclass('procrastinate_jobs')").scalar()
    if exists is None:
        # Imported here: every command loads this file to learn the newest revision, and
        # procrastinate (with psycopg) would weigh on each of them, `cron tick` every minute.
        from procrastinate.schema import SchemaManager

        # Straight to psycopg, without parameters: the schema's `%` are not placeholders.
        _psycopg(connection).execute(SchemaManager.get_schema())


def downgrade() -> None:
    """Revert this revision: drop the queue and everything in it."""
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    _psycopg(connection).execute(
        """
        DO $$
        DECLARE object record;
        BEGIN
            FOR object IN SELECT oid::regprocedure AS name FROM pg_proc
                          WHERE proname LIKE 'procrastinate%' LOOP
                EXECUTE 'DROP FUNCTION IF EXISTS ' || object.name || ' CASCADE';
            END LOOP;
            FOR object IN SELECT tablename FROM pg_tables WHERE tablename LIKE 'procrastinate%' LOOP
                EXECUTE 'DROP TABLE IF EXISTS ' || quote_ident(object.tablename) || ' CASCADE';
            END LOOP;
            FOR object IN SELECT typname FROM pg_type
                          WHERE typname LIKE 'procrastinate%' AND typtype IN ('e', 'c') LOOP
                EXECUTE 'DROP TYPE IF EXISTS ' || quote_ident(object.typname) || ' CASCADE';
            END LOOP;
        END $$;
        """
    )


def _psycopg(connection: Any) -> Any:
    """The psycopg connection under SQLAlchemy's, in the same transaction."""
    return connection.connection.driver_connection
