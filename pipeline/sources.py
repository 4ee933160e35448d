"""The source registry (sources.yaml): what to fetch and how to read it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, available_timezones

from pipeline.config import load_yaml, where
from pipeline.errors import ConfigError, UnknownSourceError

KINDS = ("rss", "html_listing")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
SELECTOR_KEYS = ("title", "text", "published")
SOURCE_KEYS = {
    "name",
    "kind",
    "urls",
    "group",
    "enabled",
    "max_articles",
    "article",
    "listing",
    "http_cache",
    "obey_robots",
}


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
    next_selector: str | None = None
    listing_pages: int = 1
    article: ArticleSelectors = field(default_factory=ArticleSelectors)


def load_sources(path: Path) -> list[SourceConfig]:
    """Read and validate a sources.yaml; every error names the file, line and field."""
    document = load_yaml(path)
    if not isinstance(document, dict) or not isinstance(document.get("sources"), list):
        raise ConfigError(f"{path}: expected a mapping with a `sources:` list")
    version = document.get("version", 1)
    if version != 1:
        raise ConfigError(
            f"{path}: unsupported version {version!r} (this newstrack reads version 1)"
        )
    sources: list[SourceConfig] = []
    seen: set[str] = set()
    for item in document["sources"]:
        source = _parse_source(path, item)
        if source.name in seen:
            raise ConfigError(f"{where(path, item)}: duplicate source name {source.name!r}")
        seen.add(source.name)
        sources.append(source)
    return sources


def select_sources(sources: list[SourceConfig], names: list[str]) -> list[SourceConfig]:
    """Pick sources by name or group; unknown names are an error that lists the known ones."""
    if not names:
        return [source for source in sources if source.enabled]
    by_name = {source.name: source for source in sources}
    groups = {source.group for source in sources}
    chosen: dict[str, SourceConfig] = {}
    for name in names:
        if name in by_name:
            chosen[name] = by_name[name]
        elif name in groups:
            chosen.update({s.name: s for s in sources if s.group == name and s.enabled})
        else:
            known = ", ".join(sorted(by_name))
            raise UnknownSourceError(f"unknown source {name!r}; known sources: {known}")
    return list(chosen.values())


def selectors_for(sources: list[SourceConfig], url: str) -> ArticleSelectors:
    """The article selectors of the first source on the page's site (www.cnbc.com ~ search.cnbc.com)."""
    site = _site(url)
    for source in sources:
        sites = {_site(source_url) for source_url in source.urls}
        if site in sites and (source.article.text or source.article.title):
            return source.article
    return ArticleSelectors()


def _site(url: str) -> str:
    """The last two labels of a URL's host: a cheap stand-in for its registered domain."""
    return ".".join((urlsplit(url).hostname or "").split(".")[-2:])


def _parse_source(path: Path, item: Any) -> SourceConfig:
    if not isinstance(item, dict):
        raise ConfigError(f"{path}: each entry of `sources` must be a mapping, got {item!r}")
    place = where(path, item)
    unknown = sorted(set(item) - SOURCE_KEYS - {"__line__"})
    if unknown:
        raise ConfigError(f"{place}: unknown field(s) {', '.join(unknown)}")
    name = item.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ConfigError(f"{place}: `name` must be lower-case letters, digits, '-', '_' or '.'")
    place = f"{place} (source {name!r})"
    kind = item.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{place}: `kind` must be one of {', '.join(KINDS)}, got {kind!r}")
    urls = item.get("urls")
    if not isinstance(urls, list) or not urls:
        raise ConfigError(f"{place}: `urls` must be a non-empty list")
    for url in urls:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"{place}: {url!r} is not an http(s) URL")
    max_articles = item.get("max_articles")
    if max_articles is not None and (not isinstance(max_articles, int) or max_articles < 1):
        raise ConfigError(f"{place}: `max_articles` must be a positive integer")
    switches = {key: item.get(key, True) for key in ("enabled", "http_cache", "obey_robots")}
    for key, value in switches.items():
        if not isinstance(value, bool):
            raise ConfigError(f"{place}: `{key}` must be true or false")
    listing = _mapping(place, item, "listing")
    link_selector = listing.get("links")
    next_selector = listing.get("next")
    listing_pages = listing.get("pages", 1)
    if not isinstance(listing_pages, int) or isinstance(listing_pages, bool) or listing_pages < 1:
        raise ConfigError(f"{place}: `listing.pages` must be a positive integer")
    if listing_pages > 1 and not isinstance(next_selector, str):
        raise ConfigError(f"{place}: `listing.pages` above 1 needs `listing.next`, a CSS selector")
    if kind == "html_listing" and not isinstance(link_selector, str):
        raise ConfigError(
            f"{place}: an html_listing source needs `listing: {{links: CSS selector}}`"
        )
    article = _mapping(place, item, "article")
    bad = sorted(set(article) - set(SELECTOR_KEYS) - {"timezone", "__line__"})
    if bad:
        raise ConfigError(f"{place}: unknown article selector(s) {', '.join(bad)}")
    timezone = article.get("timezone", "UTC")
    if not isinstance(timezone, str) or timezone not in available_timezones():
        raise ConfigError(
            f"{place}: `article.timezone` must be an IANA time zone such as Asia/Shanghai, "
            f"got {timezone!r}"
        )
    return SourceConfig(
        name=name,
        kind=kind,
        urls=tuple(urls),
        group=str(item.get("group", "default")),
        enabled=switches["enabled"],
        max_articles=max_articles,
        http_cache=switches["http_cache"],
        obey_robots=switches["obey_robots"],
        link_selector=link_selector,
        next_selector=next_selector,
        listing_pages=listing_pages,
        article=ArticleSelectors(
            **{key: article.get(key) for key in SELECTOR_KEYS}, timezone=timezone
        ),
    )


def _mapping(place: str, item: dict[str, Any], key: str) -> dict[str, Any]:
    value = item.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{place}: `{key}` must be a mapping")
    return value
