"""The YAML loader of cron.yaml, sources.yaml and watchlists.yaml: every problem named by file and line."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from models.errors import ConfigError
from pipeline.config.numbers import NumberError, Whole

MAX_EXPANDED = 100_000  # nodes that aliases may repeat; more is an alias bomb ("billion laughs")
# The names of sources and watchlists: they become file names (digest previews), log lines and
# database keys, so no '/', no leading '.', no line break, no space; 100 fits every column.
NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,99}")
NAME_RULE = "1 to 100 lower-case letters, digits, '-', '_' or '.', starting with a letter or digit"


class _LineLoader(yaml.SafeLoader):
    """Safe loader that remembers the line of every mapping as the key `__line__`."""

    expanded = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Count the nodes each alias repeats; refuse self-containing aliases and alias bombs."""
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            node = self.anchors.get(event.anchor)
            if node is not None:
                self.expanded += _size(node, {}, event.start_mark)
                if self.expanded > MAX_EXPANDED:
                    raise yaml.composer.ComposerError(
                        None,
                        None,
                        f"aliases repeat more than {MAX_EXPANDED} nodes",
                        event.start_mark,
                    )
        return super().compose_node(parent, index)


def _size(node: yaml.Node, sizes: dict[int, int | None], mark: yaml.Mark) -> int:
    """How many nodes a node stands for once its aliases are expanded."""
    if id(node) in sizes:
        known = sizes[id(node)]
        if known is None:
            raise yaml.composer.ComposerError(None, None, "an alias contains itself", mark)
        return known
    sizes[id(node)] = None  # being counted: meeting it again means a cycle
    children: list[yaml.Node] = []
    if isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    elif isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    total = 1 + sum(_size(child, sizes, mark) for child in children)
    sizes[id(node)] = total
    return total


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = {str(key): value for key, value in loader.construct_mapping(node, deep=True).items()}
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: Path) -> Any:
    """Read a YAML file whose mappings carry `__line__`; errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read: {error}") from None
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as error:
        mark, opened = error.problem_mark, error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown place"
        context = ""
        if opened is not None and error.context and (mark is None or opened.line != mark.line):
            context = f" ({error.context} at line {opened.line + 1})"
        raise ConfigError(f"{path}: {where}: {error.problem or error}{context}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: {error}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to read") from None


def is_name(value: object) -> TypeGuard[str]:
    """Whether a value is a valid source or watchlist name (NAME_RULE)."""
    return isinstance(value, str) and NAME.fullmatch(value) is not None


def is_time_zone(value: object) -> TypeGuard[str]:
    """Whether a value names an IANA time zone ("Asia/Shanghai"): one lookup, not a directory walk."""
    if not isinstance(value, str):
        return False
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as "America"
        return False
    return True


def where(path: Path, item: Any) -> str:
    """Name a place in a file for an error message."""
    line = item.get("__line__") if isinstance(item, dict) else None
    return f"{path}: line {line}" if line else str(path)


def whole_number(value: Any, kind: Whole, fail: Callable[[str], ConfigError]) -> int:
    """A whole number a YAML file gives (never `true`), or the error `fail` words, with the range.

    The one check of numbers in newstrack's YAML files (cron.yaml, sources.yaml, watchlists.yaml).
    """
    try:
        return kind.from_yaml(value)
    except NumberError as error:
        raise fail(str(error)) from None


def strip_lines(value: Any) -> Any:
    """Remove the `__line__` bookkeeping keys from loaded data."""
    if isinstance(value, dict):
        return {key: strip_lines(item) for key, item in value.items() if key != "__line__"}
    if isinstance(value, list):
        return [strip_lines(item) for item in value]
    return value
