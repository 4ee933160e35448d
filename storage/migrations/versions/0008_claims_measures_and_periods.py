"""Each mention keeps its own claim; events carry modality, conflicts and the measure they change.

Adds the claim columns of `mentions` and `mention_elements`, filled from the events they report;
`events.modality`, `events.conflicts` and `events.changes_event_id`; the `measure_periods`
timeline; and the views `v_measure_periods` and `v_event_claims`. The user views are recreated
with the new columns. `newstrack consolidate` fills the timeline of a database made before this.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from collections.abc import Sequence
from importlib import import_module

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_VIEWS = ("v_events", "v_event_elements", "v_mentions", "v_element_timeline")
NEW_VIEWS = (*OLD_VIEWS, "v_measure_periods", "v_event_claims")


def _views(postgresql: bool) -> dict[str, str]:
    def joined(column: str) -> str:
        if postgresql:
            return f"string_agg({column}, ', ' ORDER BY {column})"
        return f"group_concat({column}, ', ')"

    day = (
        "CAST(COALESCE(a.published_at, a.fetched_at) AT TIME ZONE 'UTC' AS date)"
        if postgresql
        else "date(COALESCE(a.published_at, a.fetched_at))"
    )
    as_text = "CAST({0} AS TEXT)"
    claims = " UNION ALL ".join(
        f"""
        SELECT m.event_id, '{field}' AS field, {as_text.format("m." + field)} AS value,
               count(*) AS mentions, count(DISTINCT a.source_id) AS sources
        FROM mentions AS m JOIN articles AS a ON a.id = m.article_id
        WHERE m.{field} IS NOT NULL
        GROUP BY m.event_id, m.{field}
        """
        for field in (
            "announced_on",
            "effective_on",
            "expires_on",
            "recalls_on",
            "modality",
            "target",
        )
    )
    # The measure's own event and the events that change it, each found through an index.
    chain = (
        "SELECT p.measure_id AS event_id UNION ALL "
        "SELECT c.id FROM events AS c WHERE c.changes_event_id = p.measure_id"
    )
    return {
        "v_events": f"""
            SELECT e.id, e.actor, e.actor_body, e.action, e.measure, e.status, e.modality,
                   (SELECT {joined("element")} FROM (SELECT element FROM event_elements
                        WHERE event_id = e.id ORDER BY element) AS x) AS elements,
                   (SELECT {joined("target")} FROM (SELECT target FROM event_targets
                        WHERE event_id = e.id ORDER BY target) AS y) AS targets,
                   e.announced_on, e.effective_on, e.expires_on, e.instrument,
                   e.article_count, e.source_count, e.first_seen, e.last_seen, e.conflicts,
                   e.changes_event_id, e.summary
            FROM events AS e
        """,
        "v_event_elements": """
            SELECT ee.element, ee.symbol, ee.element_group, ee.form, e.id AS event_id, e.actor,
                   e.actor_body, e.action, e.measure, e.status, e.announced_on, e.effective_on,
                   e.expires_on, e.article_count, e.source_count, e.first_seen, e.last_seen
            FROM event_elements AS ee JOIN events AS e ON e.id = ee.event_id
        """,
        "v_mentions": f"""
            SELECT m.id AS mention_id, m.event_id, e.actor, e.action, e.measure, e.status,
                   a.id AS article_id, a.title, a.url, s.name AS source, a.published_at,
                   m.sentence, m.start_char, m.end_char, m.reported_label, m.modality,
                   m.confidence, m.announced_on, m.effective_on, m.expires_on,
                   (SELECT {joined("element")} FROM (SELECT element FROM mention_elements
                        WHERE mention_id = m.id ORDER BY element) AS x) AS elements,
                   m.target, m.target_count, m.target_unit, m.recalls_on
            FROM mentions AS m
            JOIN events AS e ON e.id = m.event_id
            JOIN articles AS a ON a.id = m.article_id
            LEFT JOIN sources AS s ON s.id = a.source_id
        """,
        "v_element_timeline": f"""
            SELECT ee.element, {day} AS day, count(DISTINCT e.id) AS events,
                   count(DISTINCT m.id) AS mentions, count(DISTINCT a.source_id) AS sources
            FROM event_elements AS ee
            JOIN events AS e ON e.id = ee.event_id
            JOIN mentions AS m ON m.event_id = e.id
            JOIN articles AS a ON a.id = m.article_id
            GROUP BY ee.element, {day}
        """,
        "v_measure_periods": f"""
            SELECT p.measure_id, f.actor, f.actor_body, f.measure, p.state, p.starts_on,
                   p.ends_on, p.event_id, e.action,
                   (SELECT {joined("element")} FROM (SELECT DISTINCT element
                        FROM event_elements WHERE event_id IN ({chain})
                        ORDER BY element) AS x) AS elements,
                   (SELECT {joined("target")} FROM (SELECT DISTINCT target
                        FROM event_targets WHERE event_id IN ({chain})
                        ORDER BY target) AS y) AS targets,
                   p.source_count, p.article_count, e.summary
            FROM measure_periods AS p
            JOIN events AS f ON f.id = p.measure_id
            JOIN events AS e ON e.id = p.event_id
        """,
        "v_event_claims": f"""
            SELECT claims.event_id, claims.field, claims.value, claims.mentions, claims.sources
            FROM ({claims}) AS claims
        """,
    }


def upgrade() -> None:
    """Apply this revision."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in OLD_VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {name}")
    columns = {
        "mentions": (
            sa.Column("actor_body", sa.String(length=80), nullable=True),
            sa.Column("target", sa.String(length=200), nullable=True),
            sa.Column("target_count", sa.Integer(), nullable=True),
            sa.Column("target_unit", sa.String(length=40), nullable=True),
            sa.Column("recalls_on", sa.Date(), nullable=True),
        ),
        "events": (
            sa.Column("modality", sa.String(length=20), nullable=True),
            sa.Column("conflicts", sa.Text(), server_default="", nullable=False),
            sa.Column("changes_event_id", sa.Integer(), nullable=True),
        ),
    }
    for table, added in columns.items():
        for column in added:  # plain ALTER TABLE on both databases: SQLite rebuilds nothing
            op.add_column(table, column)
    op.create_index(op.f("ix_events_changes_event_id"), "events", ["changes_event_id"])
    op.create_index("ix_events_kind", "events", ["actor", "action", "measure"])
    op.create_table(
        "mention_elements",
        sa.Column("mention_id", sa.Integer(), nullable=False),
        sa.Column("element", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mentions.id"],
            name=op.f("fk_mention_elements_mention_id_mentions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mention_id", "element", name=op.f("pk_mention_elements")),
    )
    op.create_table(
        "measure_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("source_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("article_count", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["measure_id"],
            ["events.id"],
            name=op.f("fk_measure_periods_measure_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_measure_periods_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measure_periods")),
    )
    for indexed in ("measure_id", "event_id", "state"):
        op.create_index(f"ix_measure_periods_{indexed}", "measure_periods", [indexed])
    # Each mention's claim, as well as the events it reports can tell it.
    op.execute(
        "INSERT INTO mention_elements (mention_id, element) "
        "SELECT m.id, ee.element FROM mentions AS m "
        "JOIN event_elements AS ee ON ee.event_id = m.event_id"
    )
    op.execute(
        "UPDATE mentions SET "
        "actor_body = (SELECT actor_body FROM events WHERE id = mentions.event_id), "
        "target = (SELECT min(target) FROM event_targets WHERE event_id = mentions.event_id), "
        "target_count = (SELECT min(count) FROM event_targets WHERE event_id = mentions.event_id), "
        "target_unit = (SELECT min(count_unit) FROM event_targets "
        "WHERE event_id = mentions.event_id)"
    )
    for name, body in _views(postgresql).items():
        op.execute(f"CREATE VIEW {name} AS {body}")


def downgrade() -> None:
    """Revert this revision."""
    for name in reversed(NEW_VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    for column in ("state", "event_id", "measure_id"):
        op.drop_index(f"ix_measure_periods_{column}", table_name="measure_periods")
    op.drop_table("measure_periods")
    op.drop_table("mention_elements")
    op.drop_index("ix_events_kind", table_name="events")
    op.drop_index(op.f("ix_events_changes_event_id"), table_name="events")
    dropped = {
        "events": ("changes_event_id", "conflicts", "modality"),
        "mentions": ("recalls_on", "target_unit", "target_count", "target", "actor_body"),
    }
    for table, names in dropped.items():
        for name in names:  # ALTER TABLE ... DROP COLUMN: SQLite 3.35 and later need no rebuild
            op.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
    import_module("storage.migrations.versions.0001_initial_schema").create_views()
    postgresql = op.get_bind().dialect.name == "postgresql"
    day = (
        "CAST(COALESCE(a.published_at, a.fetched_at) AT TIME ZONE 'UTC' AS date)"
        if postgresql
        else "date(COALESCE(a.published_at, a.fetched_at))"
    )
    for name, body in import_module("storage.migrations.versions.0006_user_views").VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS {body.format(day=day)}")
