"""reviews: analysts' verdicts and corrections, and which events and mentions they touched.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from collections.abc import Sequence
from importlib import import_module

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REVIEWED_VIEWS = {"v_events": ("e.summary\n", "e.summary, e.reviewed\n")}
REVIEWED_VIEWS["v_mentions"] = ("m.recalls_on\n", "m.recalls_on, m.reviewed\n")


def _views(reviewed: bool) -> dict[str, str]:
    """v_events and v_mentions as revision 0008 made them, with `reviewed` when asked."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    bodies = import_module("storage.migrations.versions.0008_claims_measures_and_periods")
    found = {}
    for name, (old, new) in REVIEWED_VIEWS.items():
        body = bodies._views(postgresql)[name]
        assert old in body, f"{name} no longer ends its columns with {old!r}"
        found[name] = body.replace(old, new) if reviewed else body
    return found


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_url", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("field", sa.String(length=20), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("reviewer", sa.String(length=80), nullable=False),
        sa.Column(
            "reviewed_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    op.create_index(op.f("ix_reviews_article_url"), "reviews", ["article_url"])
    for table in ("events", "mentions"):
        op.add_column(table, sa.Column("reviewed", sa.Text(), server_default="", nullable=False))
    for name, body in _views(reviewed=True).items():
        op.execute(f"DROP VIEW IF EXISTS {name}")
        op.execute(f"CREATE VIEW {name} AS {body}")


def downgrade() -> None:
    """Revert this revision."""
    for name, body in _views(reviewed=False).items():
        op.execute(f"DROP VIEW IF EXISTS {name}")
        op.execute(f"CREATE VIEW {name} AS {body}")
    for table in ("mentions", "events"):
        op.execute(f"ALTER TABLE {table} DROP COLUMN reviewed")
    op.drop_index(op.f("ix_reviews_article_url"), table_name="reviews")
    op.drop_table("reviews")
