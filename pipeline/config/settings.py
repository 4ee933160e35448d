"""Settings: the one reader of the environment, frozen after start-up."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from models.errors import ConfigError
from pipeline import __version__
from pipeline.config.numbers import (
    ARTICLES_PER_SOURCE,
    DAY,
    NumberError,
    Seconds,
    Share,
    Whole,
)

DEFAULT_DATABASE_URL = "sqlite:///newstrack.db"
DEFAULT_USER_AGENT = f"newstrack/{__version__} (+https://github.com/newstrack/newstrack)"

# The variables each kind of command reads, so a rendered schedule (crontab, Kubernetes) can hand
# its jobs the environment they run with here.
DATABASE_VARIABLE = "NEWSTRACK_DB"
SQL_DATABASE_VARIABLE = "NEWSTRACK_SQL_DB"  # the role `newstrack sql` reads as, when set
SOURCES_VARIABLE = "NEWSTRACK_SOURCES"
WATCHLISTS_VARIABLE = "NEWSTRACK_WATCHLISTS"
DISTRIBUTED_VARIABLE = "NEWSTRACK_DISTRIBUTED"
FETCH_VARIABLES = (
    "NEWSTRACK_USER_AGENT", "NEWSTRACK_CONNECT_TIMEOUT", "NEWSTRACK_READ_TIMEOUT",
    "NEWSTRACK_TOTAL_TIMEOUT", "NEWSTRACK_MAX_BODY_BYTES", "NEWSTRACK_MAX_REDIRECTS",
    "NEWSTRACK_RETRIES", "NEWSTRACK_BACKOFF", "NEWSTRACK_MAX_RETRY_AFTER",
    "NEWSTRACK_PER_HOST_CONNECTIONS", "NEWSTRACK_PER_HOST_INTERVAL", "NEWSTRACK_FETCH_WORKERS",
    "NEWSTRACK_OBEY_ROBOTS", "NEWSTRACK_ALLOW_PRIVATE_ADDRESSES", "NEWSTRACK_MAX_ARTICLES",
    "NEWSTRACK_READING_PROCESSES",
)  # fmt: skip
EXTRACT_VARIABLES = ("NEWSTRACK_EVENT_THRESHOLD",)  # what the commands that read text read
MAIL_VARIABLES = (
    "NEWSTRACK_SMTP_HOST", "NEWSTRACK_SMTP_PORT", "NEWSTRACK_SMTP_SECURITY", "NEWSTRACK_SMTP_USER",
    "NEWSTRACK_SMTP_PASSWORD", "NEWSTRACK_SMTP_CA_FILE", "NEWSTRACK_MAIL_FROM",
    "NEWSTRACK_UNSUBSCRIBE_URL",
)  # fmt: skip
SECRET_VARIABLES = frozenset({"NEWSTRACK_SMTP_PASSWORD"})  # never printed without being asked
# The numbers the environment may give (see README "Settings"): finite, whole where they count,
# bounded; a value outside is a configuration error naming the variable and the range.
TIMEOUT = Seconds(DAY)  # more than 0, at most a day
PAUSE = Seconds(DAY, allow_zero=True)  # 0 (no wait) to a day
BODY_BYTES = Whole(1, 1024**3)  # at most 1 GiB held in memory per response
REDIRECTS = Whole(1, 30)
RETRIES = Whole(0, 10)
CONNECTIONS = Whole(1, 100)
WORKERS = Whole(1, 256)
READERS = Whole(0, 64)  # 0: pages are read in the fetching process
READING_VARIABLE = "NEWSTRACK_READING_PROCESSES"
SMTP_SECURITY = ("starttls", "ssl", "none")
SMTP_DEFAULT_PORT = {"starttls": 587, "ssl": 465, "none": 25}
SMTP_PORT = Whole(1, 65535)
STALLED_AFTER = 60.0  # seconds without a heartbeat before a worker's jobs are retried


@dataclass(frozen=True)
class HttpSettings:
    """HTTP client limits and identity."""

    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 60.0
    max_body_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    retries: int = 2
    backoff: float = 1.0
    max_retry_after: float = 120.0
    per_host_connections: int = 2
    per_host_interval: float = 2.0
    fetch_workers: int = 8
    allow_private_addresses: bool = False
    obey_robots: bool = True


@dataclass(frozen=True)
class Settings:
    """Everything newstrack reads from the environment, read once."""

    database_url: str = DEFAULT_DATABASE_URL
    sources_path: Path = Path("sources.yaml")
    http: HttpSettings = field(default_factory=HttpSettings)
    max_articles_per_source: int = 50
    # Processes that read fetched pages (None: one fewer than the usable cores; 0: the fetcher).
    reading_processes: int | None = None
    distributed: bool = False  # the scheduler queues jobs for workers instead of running them
    # Where `newstrack sql` runs queries, as a role that only reads (None: database_url, and SQL
    # a user typed only if that role cannot reach the server's files).
    sql_database_url: str | None = None
    watchlists_path: Path = Path("watchlists.yaml")
    unsubscribe_url: str | None = None  # the List-Unsubscribe link of digests, when set
    # The confidence a read needs to become an event (None: the trained decision's own threshold).
    event_threshold: float | None = None
    # The secret that lets `serve` take reviews (None: the board only reads).
    review_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from NEWSTRACK_* variables, falling back to defaults."""
        env = os.environ if environ is None else environ
        http = HttpSettings(
            user_agent=env.get("NEWSTRACK_USER_AGENT", DEFAULT_USER_AGENT),
            connect_timeout=read_seconds(env, "NEWSTRACK_CONNECT_TIMEOUT", TIMEOUT, 10.0),
            read_timeout=read_seconds(env, "NEWSTRACK_READ_TIMEOUT", TIMEOUT, 30.0),
            total_timeout=read_seconds(env, "NEWSTRACK_TOTAL_TIMEOUT", TIMEOUT, 60.0),
            max_body_bytes=read_whole(env, "NEWSTRACK_MAX_BODY_BYTES", BODY_BYTES, 10 * 1024**2),
            max_redirects=read_whole(env, "NEWSTRACK_MAX_REDIRECTS", REDIRECTS, 5),
            retries=read_whole(env, "NEWSTRACK_RETRIES", RETRIES, 2),
            backoff=read_seconds(env, "NEWSTRACK_BACKOFF", PAUSE, 1.0),
            max_retry_after=read_seconds(env, "NEWSTRACK_MAX_RETRY_AFTER", TIMEOUT, 120.0),
            per_host_connections=read_whole(env, "NEWSTRACK_PER_HOST_CONNECTIONS", CONNECTIONS, 2),
            per_host_interval=read_seconds(env, "NEWSTRACK_PER_HOST_INTERVAL", PAUSE, 2.0),
            fetch_workers=read_whole(env, "NEWSTRACK_FETCH_WORKERS", WORKERS, 8),
            obey_robots=_switch(env, "NEWSTRACK_OBEY_ROBOTS", True),
            allow_private_addresses=_switch(env, "NEWSTRACK_ALLOW_PRIVATE_ADDRESSES", False),
        )
        return cls(
            database_url=env.get("NEWSTRACK_DB", DEFAULT_DATABASE_URL),
            sources_path=Path(env.get("NEWSTRACK_SOURCES", "sources.yaml")),
            http=http,
            max_articles_per_source=read_whole(
                env, "NEWSTRACK_MAX_ARTICLES", ARTICLES_PER_SOURCE, 50
            ),
            reading_processes=(
                read_whole(env, READING_VARIABLE, READERS, 0)
                if env.get(READING_VARIABLE, "").strip()
                else None
            ),
            distributed=_switch(env, "NEWSTRACK_DISTRIBUTED", False),
            sql_database_url=env.get(SQL_DATABASE_VARIABLE, "").strip() or None,
            watchlists_path=Path(env.get(WATCHLISTS_VARIABLE, "watchlists.yaml")),
            unsubscribe_url=env.get("NEWSTRACK_UNSUBSCRIBE_URL") or None,
            event_threshold=_read_share(env, "NEWSTRACK_EVENT_THRESHOLD"),
            review_token=env.get("NEWSTRACK_REVIEW_TOKEN", "").strip() or None,
        )

    def with_overrides(self, **changes: object) -> Settings:
        """Return a copy with command-line overrides applied (None means keep)."""
        kept = {name: value for name, value in changes.items() if value is not None}
        return replace(self, **kept)  # type: ignore[arg-type]


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send: NEWSTRACK_SMTP_HOST, _PORT, _USER, _PASSWORD, _SECURITY, _CA_FILE."""

    host: str = "localhost"
    port: int = 25
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    security: str = "none"
    sender: str = "newstrack@localhost"
    ca_file: str | None = None  # a private certificate authority to trust, for STARTTLS or SSL
    timeout: float = 30.0

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> SmtpSettings:
        """Read the settings; a bad value is a configuration error naming its variable."""
        security = environ.get("NEWSTRACK_SMTP_SECURITY", "none").lower()
        if security not in SMTP_SECURITY:
            raise ConfigError(
                f"NEWSTRACK_SMTP_SECURITY={security!r}: one of {', '.join(SMTP_SECURITY)}"
            )
        port = read_whole(environ, "NEWSTRACK_SMTP_PORT", SMTP_PORT, SMTP_DEFAULT_PORT[security])
        return cls(
            host=environ.get("NEWSTRACK_SMTP_HOST", "localhost"),
            port=port,
            user=environ.get("NEWSTRACK_SMTP_USER") or None,
            password=environ.get("NEWSTRACK_SMTP_PASSWORD") or None,
            security=security,
            sender=environ.get("NEWSTRACK_MAIL_FROM", "newstrack@localhost"),
            ca_file=environ.get("NEWSTRACK_SMTP_CA_FILE") or None,
        )

    @property
    def where(self) -> str:
        """The server, as errors name it."""
        return f"{self.host}:{self.port} ({self.security})"


def environment() -> dict[str, str]:
    """The process's environment as it is now: for `${VAR}` in recipients and the mail settings."""
    return dict(os.environ)


def child_environment(settings: Settings) -> dict[str, str]:
    """The environment of a newstrack command started as a child: this one, on the same files."""
    return {
        **os.environ,
        DATABASE_VARIABLE: settings.database_url,
        SOURCES_VARIABLE: str(settings.sources_path),
    }


def stalled_after(environ: Mapping[str, str] | None = None) -> float:
    """Seconds of silence after which a worker counts as dead (NEWSTRACK_STALLED_AFTER)."""
    env = os.environ if environ is None else environ
    return read_seconds(env, "NEWSTRACK_STALLED_AFTER", TIMEOUT, STALLED_AFTER)


def read_variables(
    names: Iterable[str], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The named variables that are set to something, as the environment has them."""
    env = os.environ if environ is None else environ
    return {name: env[name] for name in names if env.get(name, "").strip()}


def read_whole(env: Mapping[str, str], name: str, kind: Whole, default: int) -> int:
    """A whole-number variable, or its default when unset or empty; else an error with its range."""
    return int(_read_number(env, name, kind, default))


def read_seconds(env: Mapping[str, str], name: str, kind: Seconds, default: float) -> float:
    """A duration variable, or its default when unset or empty; nan, inf or out of range is an error."""
    return float(_read_number(env, name, kind, default))


def _read_number(
    env: Mapping[str, str], name: str, kind: Whole | Seconds | Share, default: float
) -> float:
    """The one reader of numbers from the environment."""
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return kind.from_text(raw)
    except NumberError:
        raise ConfigError(f"{name}={raw!r}: expected {kind.describe()}") from None


def _read_share(env: Mapping[str, str], name: str) -> float | None:
    """A proportion variable, or None when unset or empty."""
    raw = env.get(name, "")
    return _read_number(env, name, Share(), 0.0) if raw.strip() else None


def _switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not true or false")
