"""Full-text search over articles and evidence: FTS5 tables on SQLite, GIN indexes on PostgreSQL.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each searchable table: the search table (or index) and the columns it reads.
SEARCHED = {
    "articles": ("search_articles", ("title", "text")),
    "mentions": ("search_mentions", ("sentence",)),
}


def _sqlite_up(table: str, search: str, columns: tuple[str, ...]) -> None:
    """An FTS5 table over the table's text, kept in step by triggers, filled once here."""
    listed = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    op.execute(
        f"CREATE VIRTUAL TABLE {search} USING fts5({listed}, content='{table}', "
        "content_rowid='id', tokenize='porter unicode61')"
    )
    forget = f"INSERT INTO {search}({search}, rowid, {listed}) VALUES ('delete', old.id, {old});"
    learn = f"INSERT INTO {search}(rowid, {listed}) VALUES (new.id, {new});"
    op.execute(f"CREATE TRIGGER {search}_insert AFTER INSERT ON {table} BEGIN {learn} END")
    op.execute(f"CREATE TRIGGER {search}_delete AFTER DELETE ON {table} BEGIN {forget} END")
    changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in columns)
    op.execute(
        f"CREATE TRIGGER {search}_update AFTER UPDATE ON {table} WHEN {changed} "
        f"BEGIN {forget} {learn} END"
    )
    op.execute(f"INSERT INTO {search}({search}) VALUES ('rebuild')")


def _postgres_document(columns: tuple[str, ...]) -> str:
    """The text PostgreSQL searches, as the index and the queries both spell it."""
    joined = " || ' ' || ".join(f"coalesce({c}, '')" for c in columns)
    return f"to_tsvector('english', {joined})"


def upgrade() -> None:
    """Apply this revision."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, (search, columns) in SEARCHED.items():
        if postgresql:
            op.execute(
                f"CREATE INDEX {search} ON {table} USING gin ({_postgres_document(columns)})"
            )
        else:
            _sqlite_up(table, search, columns)


def downgrade() -> None:
    """Revert this revision."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    for _, (search, _) in SEARCHED.items():
        if postgresql:
            op.execute(f"DROP INDEX IF EXISTS {search}")
            continue
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {search}_{event}")
        op.execute(f"DROP TABLE IF EXISTS {search}")
