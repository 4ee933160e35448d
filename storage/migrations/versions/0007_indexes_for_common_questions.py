"""Indexes for the common questions: events by status and by when they were reported, articles by date.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_events_status", "events", "status"),
    ("ix_events_first_seen", "events", "first_seen"),
    ("ix_events_last_seen", "events", "last_seen"),
    ("ix_articles_published_at", "articles", "published_at"),
)


def upgrade() -> None:
    """Apply this revision."""
    for name, table, column in INDEXES:
        op.create_index(name, table, [column], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
