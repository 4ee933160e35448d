"""mention instruments: the legal instrument each report names ("MOFCOM Announcement No. 18 of 2025").

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from collections.abc import Sequence
from importlib import import_module

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS_END = ("m.recalls_on, m.reviewed\n", "m.recalls_on, m.reviewed, m.instrument\n")


def _mentions_view(instrument: bool) -> str:
    """v_mentions as revision 0017 made it, with `instrument` when asked."""
    reviews = import_module("storage.migrations.versions.0017_reviews")
    body: str = reviews._views(reviewed=True)["v_mentions"]
    old, new = COLUMNS_END
    assert old in body, f"v_mentions no longer ends its columns with {old!r}"
    return body.replace(old, new) if instrument else body


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("mentions", sa.Column("instrument", sa.Text(), nullable=True))
    op.execute("DROP VIEW IF EXISTS v_mentions")
    op.execute(f"CREATE VIEW v_mentions AS {_mentions_view(instrument=True)}")


def downgrade() -> None:
    """Revert this revision."""
    op.execute("DROP VIEW IF EXISTS v_mentions")
    op.execute(f"CREATE VIEW v_mentions AS {_mentions_view(instrument=False)}")
    op.execute("ALTER TABLE mentions DROP COLUMN instrument")
