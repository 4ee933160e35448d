"""article facts: what an official register says of a document (its number, type, dates, agencies).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("articles", sa.Column("facts", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    op.execute("ALTER TABLE articles DROP COLUMN facts")
