"""watchlists.yaml: who gets which events by e-mail, and when."""

from __future__ import annotations

import fcntl
import io
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedSeq
from ruamel.yaml.error import YAMLError

from models.errors import ConfigError
from models.filters import Filters
from models.vocabulary import UnknownNameError, Vocabulary
from pipeline.config.numbers import MIN_SOURCES
from pipeline.config.yaml_loader import (
    NAME_RULE,
    is_name,
    is_time_zone,
    load_yaml,
    where,
    whole_number,
)

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
NEW_FILE = f"""# newstrack watchlists: `newstrack watchlist add/remove` edit this file and keep its comments.
version: {VERSION}
watchlists:
"""


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
    path: Path, vocabulary: Vocabulary, variables: Mapping[str, str] | None = None
) -> list[Watchlist]:
    """Read and validate watchlists.yaml; with `variables`, `${VAR}` in recipients is filled in.

    Without it (listing, editing) recipients stay as written, so a variable only sending needs
    does not have to be set.
    """
    document = load_yaml(path)
    if not isinstance(document, dict) or document.get("version") != VERSION:
        raise ConfigError(
            f"{where(path, document)}: expected `version: {VERSION}` and `watchlists`"
        )
    items = document.get("watchlists") or []
    if not isinstance(items, list):
        raise ConfigError(f"{where(path, document)}: `watchlists` must be a list")
    watchlists: list[Watchlist] = []
    for item in items:
        watchlist = _watchlist(path, item, vocabulary, variables)
        if watchlist.name in (known.name for known in watchlists):
            raise ConfigError(f"{where(path, item)}: watchlist {watchlist.name!r}: duplicate name")
        watchlists.append(watchlist)
    return watchlists


def _watchlist(
    path: Path, item: Any, vocabulary: Vocabulary, env: Mapping[str, str] | None
) -> Watchlist:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise ConfigError(f"{where(path, item)}: every watchlist needs a `name`")
    name = item["name"]

    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{where(path, item)}: watchlist {name!r}: {key}: {problem}")

    if not is_name(name):
        raise fail("name", f"must be {NAME_RULE}")

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
        if env is None and VARIABLE.search(str(recipient)):
            addresses.append(str(recipient).strip())  # filled in when sending
            continue
        address = _expand(str(recipient), env or {}, lambda problem: fail("recipients", problem))
        for part in (piece.strip() for piece in address.split(",")):
            if not ADDRESS.match(part):
                raise fail("recipients", f"{part!r} is not an e-mail address")
            addresses.append(part)
    timezone = str(item.get("timezone", "UTC"))
    if not is_time_zone(timezone):
        raise fail("timezone", f"{timezone!r} is not an IANA time zone")
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
    min_sources = whole_number(
        raw.get("min_sources", 1), MIN_SOURCES, lambda problem: fail("filters.min_sources", problem)
    )
    return Filters(
        elements=frozenset(elements),
        measures=frozenset(chosen["measures"]),
        actions=frozenset(chosen["actions"]),
        actors=frozenset(chosen["actors"]),
        targets=frozenset(chosen["targets"]),
        modality=frozenset(chosen["modality"]),
        min_sources=min_sources,
    )


def unset_variables(watchlist: Watchlist, variables: Mapping[str, str]) -> list[str]:
    """The `${VAR}` names among a watchlist's recipients that `variables` leaves empty."""
    return [
        match.group(1)
        for recipient in watchlist.recipients
        for match in VARIABLE.finditer(recipient)
        if not variables.get(match.group(1), "").strip()
    ]


def add_watchlist(path: Path, entry: dict[str, Any], vocabulary: Vocabulary) -> None:
    """Add a watchlist to the file (created if missing), checked as the loader would check it."""
    with _editing(path, vocabulary) as document:
        items = document["watchlists"]
        if any(item.get("name") == entry["name"] for item in items):
            raise ConfigError(f"{path}: watchlist {entry['name']!r} exists; remove it first")
        _watchlist(path, entry, vocabulary, None)
        items.append(_flow_lists(entry))


def remove_watchlist(path: Path, name: str, vocabulary: Vocabulary) -> None:
    """Remove a watchlist from the file by name."""
    with _editing(path, vocabulary) as document:
        items = document["watchlists"]
        found = [index for index, item in enumerate(items) if item.get("name") == name]
        if not found:
            raise ConfigError(f"{path}: no watchlist {name!r}")
        for index in reversed(found):
            del items[index]


@contextmanager
def _editing(path: Path, vocabulary: Vocabulary) -> Iterator[Any]:
    """The file's document, read and written back under a lock so no concurrent edit is lost.

    The round trip keeps the file's comments, key order and layout; the new text replaces the
    file in one rename, so a reader never sees half of it. A file that does not load as it is
    is never edited: the error names its broken entry, and the file stays as it was.
    """
    lock_path = path.with_name(f".{path.name}.lock")
    with open(lock_path, "a", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the lock file is closed
        if path.exists():
            load_watchlists(path, vocabulary)  # `${VAR}` recipients need not be set to edit
        document = _round_trip_document(path)
        yield document
        _write(path, document)


def _round_trip_document(path: Path) -> Any:
    text = NEW_FILE
    if path.exists():  # loaded by `_editing` first: nothing the round trip should never read
        text = path.read_text(encoding="utf-8")
    try:
        document = _round_trip().load(text)
    except YAMLError as error:
        raise ConfigError(f"{path}: {error}") from None
    if not document.get("watchlists"):
        document["watchlists"] = CommentedSeq()  # block style, whatever an empty list was
    return document


def _flow_lists(value: Any) -> Any:
    """A new entry with its lists written inline (`elements: [gallium]`), as the shipped file does."""
    if isinstance(value, dict):
        return {key: _flow_lists(item) for key, item in value.items()}
    if isinstance(value, list):
        inline = CommentedSeq(_flow_lists(item) for item in value)
        inline.fa.set_flow_style()
        return inline
    return value


def _round_trip() -> YAML:
    """A YAML reader and writer that keeps comments, order, quotes and the shipped indentation."""
    round_trip = YAML()
    round_trip.preserve_quotes = True
    round_trip.indent(mapping=2, sequence=4, offset=2)
    round_trip.width = 4096  # never fold a long description onto a new line
    return round_trip


def _write(path: Path, document: Any) -> None:
    """Replace the file in one step, so a reader never sees half of it."""
    text = io.StringIO()
    _round_trip().dump(document, text)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text.getvalue())
            stream.flush()
            os.fsync(stream.fileno())
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


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
