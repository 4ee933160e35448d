"""Reading vocabulary files: the error a malformed one raises, and named word lists checked by type."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, get_args, get_origin, get_type_hints

import yaml

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Lists = TypeVar("Lists", bound="DataclassInstance")
# libyaml's parser when PyYAML was built with it (its wheels are): the same documents, read faster
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class VocabularyError(ValueError):
    """A vocabulary file is malformed."""


def read_document(path: Path) -> dict[str, Any]:
    """The mapping a YAML vocabulary file holds."""
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except (OSError, yaml.YAMLError) as error:
        raise VocabularyError(f"{path}: {error}") from None
    if not isinstance(document, dict):
        raise VocabularyError(f"{path}: expected a mapping")
    return document


def read_named_lists(kind: type[Lists], path: Path) -> Lists:
    """A dataclass of named lists filled from the keys of a file, each checked against its type."""
    document = read_document(path)
    hints = get_type_hints(kind)
    values: dict[str, object] = {}
    for item in dataclasses.fields(kind):
        if item.name not in document:
            raise VocabularyError(f"{path.name}: the list {item.name!r} is missing")
        value = _typed(document[item.name], hints[item.name])
        if value is None:
            raise VocabularyError(
                f"{path.name}: {item.name!r} is not {_described(hints[item.name])}"
            )
        values[item.name] = value
    return kind(**values)


def _typed(value: object, hint: Any) -> object | None:
    """The value as the type asks (tuples of strings, string maps), or None when it does not fit."""
    origin, arguments = get_origin(hint), get_args(hint)
    if hint is str:
        return value if isinstance(value, str) else None
    if hint is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if origin is tuple and isinstance(value, list):
        items = [_typed(item, arguments[0]) for item in value]
        return None if any(item is None for item in items) else tuple(items)
    if origin is dict and isinstance(value, dict):
        pairs = [(_typed(k, arguments[0]), _typed(v, arguments[1])) for k, v in value.items()]
        return None if any(k is None or v is None for k, v in pairs) else dict(pairs)
    return None


def _described(hint: Any, plural: bool = False) -> str:
    """A type in words: "a list of strings", "a mapping of strings to whole numbers"."""
    origin, arguments = get_origin(hint), get_args(hint)
    if origin is tuple:
        return f"{'lists' if plural else 'a list'} of {_described(arguments[0], True)}"
    if origin is dict:
        keys, values = (_described(argument, True) for argument in arguments)
        return f"{'mappings' if plural else 'a mapping'} of {keys} to {values}"
    if hint is int:
        return "whole numbers" if plural else "a whole number"
    return "strings" if plural else "a string"
