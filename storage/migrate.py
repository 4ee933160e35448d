"""Apply the schema migrations that a database lacks."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("storage") / "migrations"))
    return config


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it has no schema yet."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> bool:
    """Bring the database to a revision (the newest by default); return whether anything ran."""
    target = head_revision() if revision == "head" else revision
    if current_revision(engine) == target:
        return False
    config = _alembic_config()
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, target)
        connection.commit()
    return True


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database back to an older revision."""
    config = _alembic_config()
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
        connection.commit()


def newstrack_owns(name: str | None, kind: str, parent: object) -> bool:
    """Whether a database object is newstrack's model: the job queue's `procrastinate_*` are not,
    nor the full-text search tables and indexes (`search_*`, made by migration 0018 only)."""
    return not (name or "").startswith(("procrastinate", "search_"))
