"""YAML loading that reports the file and line of every problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ConfigError


class _LineLoader(yaml.SafeLoader):
    """Safe loader that remembers the line of every mapping as the key `__line__`."""


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


def where(path: Path, item: Any) -> str:
    """Name a place in a file for an error message."""
    line = item.get("__line__") if isinstance(item, dict) else None
    return f"{path}: line {line}" if line else str(path)


def strip_lines(value: Any) -> Any:
    """Remove the `__line__` bookkeeping keys from loaded data."""
    if isinstance(value, dict):
        return {key: strip_lines(item) for key, item in value.items() if key != "__line__"}
    if isinstance(value, list):
        return [strip_lines(item) for item in value]
    return value
