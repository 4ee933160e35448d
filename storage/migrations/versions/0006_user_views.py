"""Views with plain names: one row per element of an event, per mention, per element and day.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEWS = {
    "v_event_elements": """
        SELECT ee.element, ee.symbol, ee.element_group, ee.form, e.id AS event_id, e.actor,
               e.actor_body, e.action, e.measure, e.status, e.announced_on, e.effective_on,
               e.expires_on, e.article_count, e.source_count, e.first_seen, e.last_seen
        FROM event_elements AS ee JOIN events AS e ON e.id = ee.event_id
    """,
    "v_mentions": """
        SELECT m.id AS mention_id, m.event_id, e.actor, e.action, e.measure, e.status,
               a.id AS article_id, a.title, a.url, s.name AS source, a.published_at,
               m.sentence, m.start_char, m.end_char, m.reported_label, m.modality, m.confidence,
               m.announced_on, m.effective_on, m.expires_on
        FROM mentions AS m
        JOIN events AS e ON e.id = m.event_id
        JOIN articles AS a ON a.id = m.article_id
        LEFT JOIN sources AS s ON s.id = a.source_id
    """,
    "v_element_timeline": """
        SELECT ee.element, {day} AS day, count(DISTINCT e.id) AS events,
               count(DISTINCT m.id) AS mentions, count(DISTINCT a.source_id) AS sources
        FROM event_elements AS ee
        JOIN events AS e ON e.id = ee.event_id
        JOIN mentions AS m ON m.event_id = e.id
        JOIN articles AS a ON a.id = m.article_id
        GROUP BY ee.element, {day}
    """,
}


def upgrade() -> None:
    """Apply this revision."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    # The day an article reporting the event was published (else fetched), in UTC.
    day = (
        "CAST(COALESCE(a.published_at, a.fetched_at) AT TIME ZONE 'UTC' AS date)"
        if postgresql
        else "date(COALESCE(a.published_at, a.fetched_at))"
    )
    for name, body in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS {body.format(day=day)}")


def downgrade() -> None:
    """Revert this revision."""
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
