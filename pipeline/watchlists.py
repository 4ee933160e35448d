"""watchlists.yaml: who gets which events by e-mail, and when."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from models.vocabulary import UnknownNameError, Vocabulary
from pipeline.config import load_yaml, strip_lines, where
from pipeline.errors import ConfigError

VERSION = 1
ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
VARIABLE = re.compile(r"\$\{(\w+)\}")
FILTER_KEYS = (
    "elements", "groups", "measures", "actions", "actors", "targets", "modality", "min_sources"
)  # fmt: skip
WATCHLIST_KEYS = frozenset(
    {"name", "description", "recipients", "filters", "schedule", "timezone", "group_by"}
)
MODALITIES = ("asserted", "reported", "threatened", "negated", "hypothetical")


@dataclass(frozen=True)
class Filters:
    """Which events a watchlist wants; an empty list means any."""

    elements: frozenset[str] = frozenset()  # canonical names, groups expanded
    measures: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()
    actors: frozenset[str] = frozenset()
    targets: frozenset[str] = frozenset()
    modality: frozenset[str] = frozenset()
    min_sources: int = 1


@dataclass(frozen=True)
class Watchlist:
    """A named set of filters, its recipients, and the cron.yaml job that says when it is sent."""

    name: str
    recipients: tuple[str, ...]
    filters: Filters = field(default_factory=Filters)
    schedule: str = "digest-daily"
    timezone: str = "UTC"
    group_by: str = "element"  # or "measure"
    description: str = ""

    @property
    def zone(self) -> ZoneInfo:
        """The time zone its digests are dated in."""
        return ZoneInfo(self.timezone)


def load_watchlists(
    path: Path, vocabulary: Vocabulary, environ: Mapping[str, str] | None = None
) -> list[Watchlist]:
    """Read and validate watchlists.yaml; `${VAR}` in recipients comes from the environment."""
    document = load_yaml(path)
    env = os.environ if environ is None else environ
    if not isinstance(document, dict) or document.get("version") != VERSION:
        raise ConfigError(
            f"{where(path, document)}: expected `version: {VERSION}` and `watchlists`"
        )
    items = document.get("watchlists") or []
    if not isinstance(items, list):
        raise ConfigError(f"{where(path, document)}: `watchlists` must be a list")
    watchlists: list[Watchlist] = []
    for item in items:
        watchlist = _watchlist(path, item, vocabulary, env)
        if watchlist.name in (known.name for known in watchlists):
            raise ConfigError(f"{where(path, item)}: watchlist {watchlist.name!r}: duplicate name")
        watchlists.append(watchlist)
    return watchlists


def _watchlist(path: Path, item: Any, vocabulary: Vocabulary, env: Mapping[str, str]) -> Watchlist:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise ConfigError(f"{where(path, item)}: every watchlist needs a `name`")
    name = item["name"]

    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{where(path, item)}: watchlist {name!r}: {key}: {problem}")

    unknown = sorted(set(item) - WATCHLIST_KEYS - {"__line__"})
    if unknown:
        raise fail(unknown[0], f"unknown key; known: {', '.join(sorted(WATCHLIST_KEYS))}")
    recipients = item.get("recipients")
    if isinstance(recipients, str):
        recipients = [recipients]
    if not isinstance(recipients, list) or not recipients:
        raise fail("recipients", "give at least one address")
    addresses = []
    for recipient in recipients:
        address = _expand(str(recipient), env, lambda problem: fail("recipients", problem))
        for part in (piece.strip() for piece in address.split(",")):
            if not ADDRESS.match(part):
                raise fail("recipients", f"{part!r} is not an e-mail address")
            addresses.append(part)
    timezone = str(item.get("timezone", "UTC"))
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise fail("timezone", f"{timezone!r} is not an IANA time zone") from None
    group_by = item.get("group_by", "element")
    if group_by not in ("element", "measure"):
        raise fail("group_by", f"{group_by!r}; one of element, measure")
    return Watchlist(
        name=name,
        recipients=tuple(dict.fromkeys(addresses)),
        filters=_filters(item.get("filters") or {}, vocabulary, fail),
        schedule=str(item.get("schedule", "digest-daily")),
        timezone=timezone,
        group_by=group_by,
        description=str(item.get("description") or ""),
    )


def _expand(text: str, env: Mapping[str, str], fail: Any) -> str:
    def value(match: re.Match[str]) -> str:
        if match.group(1) not in env or not env[match.group(1)].strip():
            raise fail(f"${{{match.group(1)}}} is not set in the environment")
        return env[match.group(1)]

    return VARIABLE.sub(value, text)


def _filters(raw: Any, vocabulary: Vocabulary, fail: Any) -> Filters:
    if not isinstance(raw, dict):
        raise fail("filters", "expected a mapping")
    unknown = sorted(set(raw) - set(FILTER_KEYS) - {"__line__"})
    if unknown:
        raise fail(f"filters.{unknown[0]}", f"unknown filter; known: {', '.join(FILTER_KEYS)}")

    def words(key: str) -> list[str]:
        value = raw.get(key) or []
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail(f"filters.{key}", "expected a list of names")
        return value

    elements: set[str] = set()
    for key in ("elements", "groups"):
        for word in words(key):
            try:
                elements.update(vocabulary.resolve_elements(word))
            except UnknownNameError as error:
                raise fail(f"filters.{key}", str(error)) from None
    measures = {phrase.measure for phrase in vocabulary.measure_phrases}
    actions = set(vocabulary.action_lemmas.values())
    chosen: dict[str, set[str]] = {}
    for key, allowed in (
        ("measures", measures),
        ("actions", actions),
        ("modality", set(MODALITIES)),
    ):
        given = set(words(key))
        bad = sorted(given - allowed)
        if bad:
            raise fail(f"filters.{key}", f"{bad[0]!r}; one of {', '.join(sorted(allowed))}")
        chosen[key] = given
    for key in ("actors", "targets"):
        codes = set()
        for word in words(key):
            try:
                codes.add(vocabulary.resolve_jurisdiction(word))
            except UnknownNameError as error:
                raise fail(f"filters.{key}", str(error)) from None
        chosen[key] = codes
    min_sources = raw.get("min_sources", 1)
    if isinstance(min_sources, bool) or not isinstance(min_sources, int) or min_sources < 1:
        raise fail("filters.min_sources", f"{min_sources!r} is not a whole number from 1")
    return Filters(
        elements=frozenset(elements),
        measures=frozenset(chosen["measures"]),
        actions=frozenset(chosen["actions"]),
        actors=frozenset(chosen["actors"]),
        targets=frozenset(chosen["targets"]),
        modality=frozenset(chosen["modality"]),
        min_sources=min_sources,
    )


def add_watchlist(path: Path, entry: dict[str, Any], vocabulary: Vocabulary) -> None:
    """Add a watchlist to the file (created if missing), after checking it as the loader would."""
    document = _raw(path)
    if any(item.get("name") == entry["name"] for item in document["watchlists"]):
        raise ConfigError(f"{path}: watchlist {entry['name']!r} exists; remove it first")
    _watchlist(path, entry, vocabulary, {**os.environ})
    document["watchlists"].append(entry)
    _write(path, document)


def remove_watchlist(path: Path, name: str) -> None:
    """Remove a watchlist from the file by name."""
    document = _raw(path)
    kept = [item for item in document["watchlists"] if item.get("name") != name]
    if len(kept) == len(document["watchlists"]):
        raise ConfigError(f"{path}: no watchlist {name!r}")
    document["watchlists"] = kept
    _write(path, document)


def _raw(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"version": VERSION, "watchlists": []}
    document = strip_lines(load_yaml(path))
    if not isinstance(document, dict) or not isinstance(document.get("watchlists", []), list):
        raise ConfigError(f"{path}: expected `version: {VERSION}` and a list `watchlists`")
    document.setdefault("watchlists", [])
    return document


def _write(path: Path, document: dict[str, Any]) -> None:
    """Replace the file in one step, so a reader never sees half of it."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(
        "# newstrack watchlists (rewritten by `newstrack watchlist add/remove`)\n"
        + yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    temporary.replace(path)


def recipient_variables(path: Path) -> list[str]:
    """The environment variables (`${VAR}`) that the recipients of a watchlists file name."""
    document = load_yaml(path)
    items = document.get("watchlists") if isinstance(document, dict) else None
    names: list[str] = []
    for item in items if isinstance(items, list) else []:
        recipients = item.get("recipients") if isinstance(item, dict) else None
        for recipient in recipients if isinstance(recipients, list) else [recipients]:
            names += VARIABLE.findall(str(recipient or ""))
    return list(dict.fromkeys(names))
