"""Feed GUIDs on articles: an entry whose link changes is still the same article.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("guid", sa.String(length=500), nullable=True))
    op.create_index("ix_articles_source_guid", "articles", ["source_id", "guid"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_articles_source_guid", table_name="articles")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("guid")
