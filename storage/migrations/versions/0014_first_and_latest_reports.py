"""measure_periods: the first and latest article on each measure, for `newstrack status`.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision; `newstrack consolidate` fills the columns of existing measures."""
    op.add_column("measure_periods", sa.Column("first_article_id", sa.Integer(), nullable=True))
    op.add_column("measure_periods", sa.Column("latest_article_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    # A plain DROP COLUMN (SQLite 3.35 and later): rebuilding the table would break its views.
    op.drop_column("measure_periods", "latest_article_id")
    op.drop_column("measure_periods", "first_article_id")
