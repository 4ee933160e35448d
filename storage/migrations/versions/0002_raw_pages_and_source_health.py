"""Raw pages kept compressed for re-extraction; source health: last error and feed body hash.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("raw_html", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("raw_content_type", sa.Text(), nullable=True))
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("body_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("body_hash")
        batch_op.drop_column("last_error")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("raw_content_type")
        batch_op.drop_column("raw_html")
