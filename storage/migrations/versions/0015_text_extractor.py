"""articles.extractor becomes articles.text_extractor: it names what found the text, not the event extractor.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision; a plain RENAME COLUMN on both databases keeps the rows and the views."""
    op.execute("ALTER TABLE articles RENAME COLUMN extractor TO text_extractor")


def downgrade() -> None:
    """Revert this revision."""
    op.execute("ALTER TABLE articles RENAME COLUMN text_extractor TO extractor")
