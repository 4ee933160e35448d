"""pending_consolidation: kinds of event whose new mentions wait to be grouped.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "pending_consolidation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=8), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("measure", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column(
            "queued_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_consolidation")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("pending_consolidation")
