"""The source registry (sources.yaml): what to fetch and how to read it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import soupsieve

from models.errors import ConfigError, UnknownSourceError
from models.source import ArticleSelectors, SourceConfig
from pipeline.config.federal_register import register_query
from pipeline.config.numbers import ARTICLES_PER_SOURCE, Whole
from pipeline.config.yaml_loader import (
    NAME_RULE,
    is_name,
    is_time_zone,
    load_yaml,
    where,
    whole_number,
)

KINDS = ("rss", "html_listing", "federal_register")
SELECTOR_KEYS = ("title", "text", "published")
LISTING_KEYS = ("links", "link_pattern", "item", "next", "pages")
LISTING_PAGES = Whole(1, 100)  # listing pages followed through `listing.next`
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
    "api",
}


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
    if not is_name(name):
        raise ConfigError(f"{place}: `name` must be {NAME_RULE}, got {name!r}")
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
    if max_articles is not None:
        max_articles = whole_number(max_articles, ARTICLES_PER_SOURCE, _fail(place, "max_articles"))
    switches = {key: item.get(key, True) for key in ("enabled", "http_cache", "obey_robots")}
    for key, value in switches.items():
        if not isinstance(value, bool):
            raise ConfigError(f"{place}: `{key}` must be true or false")
    listing = _mapping(place, item, "listing")
    listing_place = f"{where(path, listing)} (source {name!r})"  # where its fields are
    bad = sorted(set(listing) - set(LISTING_KEYS) - {"__line__"})
    if bad:
        raise ConfigError(f"{listing_place}: unknown listing field(s) {', '.join(bad)}")
    link_selector = _selector(listing_place, listing, "listing", "links")
    link_pattern = _pattern(listing_place, listing.get("link_pattern"))
    item_selector = _selector(listing_place, listing, "listing", "item")
    next_selector = _selector(listing_place, listing, "listing", "next")
    listing_pages = whole_number(
        listing.get("pages", 1), LISTING_PAGES, _fail(place, "listing.pages")
    )
    if listing_pages > 1 and not isinstance(next_selector, str):
        raise ConfigError(f"{place}: `listing.pages` above 1 needs `listing.next`, a CSS selector")
    if kind == "html_listing" and link_selector is None and link_pattern is None:
        raise ConfigError(
            f"{place}: an html_listing source needs `listing: {{links: CSS selector}}` "
            "or `listing: {link_pattern: regular expression}`"
        )
    article = _mapping(place, item, "article")
    bad = sorted(set(article) - set(SELECTOR_KEYS) - {"timezone", "__line__"})
    if bad:
        raise ConfigError(f"{place}: unknown article selector(s) {', '.join(bad)}")
    timezone = article.get("timezone", "UTC")
    if not is_time_zone(timezone):
        raise ConfigError(
            f"{place}: `article.timezone` must be an IANA time zone such as Asia/Shanghai, "
            f"got {timezone!r}"
        )
    article_place = f"{where(path, article)} (source {name!r})"  # where its fields are
    selectors = {key: _selector(article_place, article, "article", key) for key in SELECTOR_KEYS}
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
        link_pattern=link_pattern,
        item_selector=item_selector,
        next_selector=next_selector,
        listing_pages=listing_pages,
        article=ArticleSelectors(**selectors, timezone=timezone),
        query=register_query(path, item, place),
    )


def _selector(place: str, section: dict[str, Any], section_name: str, key: str) -> str | None:
    """A CSS selector field, compiled now as page reading will compile it: a bad one stops the load."""
    selector = section.get(key)
    if selector is None:
        return None
    label = f"{section_name}.{key}"
    if not isinstance(selector, str) or not selector.strip():
        raise ConfigError(f"{place}: `{label}` must be a CSS selector, got {selector!r}")
    try:
        soupsieve.compile(selector)
    except Exception as error:  # SelectorSyntaxError; a pseudo-element, a bad escape, deep nesting
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        raise ConfigError(
            f"{place}: `{label}`: {selector!r} is not a CSS selector: {reason}"
        ) from None
    return selector


def _pattern(place: str, pattern: Any) -> str | None:
    """`listing.link_pattern`, compiled now: a bad regular expression stops the load."""
    if pattern is None:
        return None
    if not isinstance(pattern, str) or not pattern.strip():
        raise ConfigError(f"{place}: `listing.link_pattern` must be a regular expression")
    try:
        re.compile(pattern)
    except re.error as error:
        raise ConfigError(
            f"{place}: `listing.link_pattern`: {pattern!r} is not a regular expression: {error}"
        ) from None
    return pattern


def _fail(place: str, label: str) -> Callable[[str], ConfigError]:
    """How a bad value of a field is reported: file, line, source and field."""
    return lambda problem: ConfigError(f"{place}: `{label}`: {problem}")


def _mapping(place: str, item: dict[str, Any], key: str) -> dict[str, Any]:
    value = item.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{place}: `{key}` must be a mapping")
    return value
