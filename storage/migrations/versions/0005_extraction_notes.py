"""Extraction notes: why an article was screened out, skipped or failed, not only errors.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.alter_column("extraction_error", new_column_name="extraction_note")


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.alter_column("extraction_note", new_column_name="extraction_error")
