"""One configured source: what to fetch and how to read its pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from models.register import RegisterQuery


@dataclass(frozen=True)
class ArticleSelectors:
    """CSS selectors that find an article page's parts; None means generic extraction."""

    title: str | None = None
    text: str | None = None
    published: str | None = None
    timezone: str = "UTC"  # the zone of page times written without an offset

    @property
    def zone(self) -> ZoneInfo:
        """The time zone of page times written without an offset."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class SourceConfig:
    """One configured source."""

    name: str
    kind: str
    urls: tuple[str, ...]
    group: str = "default"
    enabled: bool = True
    max_articles: int | None = None
    http_cache: bool = True
    obey_robots: bool = True
    link_selector: str | None = None
    link_pattern: str | None = None  # a regular expression article links must match
    item_selector: str | None = None  # the element around each listed link that shows its time
    next_selector: str | None = None
    listing_pages: int = 1
    article: ArticleSelectors = field(default_factory=ArticleSelectors)
    query: RegisterQuery | None = None  # a federal_register source's search
