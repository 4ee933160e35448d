"""The page vocabulary (pages.yaml): the class-name hints that mark a page's boilerplate."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

import yaml

from models.vocabulary import VocabularyError


@dataclass(frozen=True)
class PageWords:
    """What the markup of an article page is read for."""

    boilerplate_hints: tuple[str, ...]  # parts of class names and ids of boilerplate tags


def default_page_words() -> Path:
    """The page vocabulary shipped with newstrack."""
    return Path(str(files("models") / "vocabulary" / "pages.yaml"))


@cache
def load_page_words(path: Path | None = None) -> PageWords:
    """Read pages.yaml (the shipped one by default); a missing or empty list is an error."""
    path = path or default_page_words()
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise VocabularyError(f"{path}: {error}") from None
    hints = document.get("boilerplate") if isinstance(document, dict) else None
    if not isinstance(hints, list) or not hints or not all(isinstance(h, str) and h for h in hints):
        raise VocabularyError(f"{path}: boilerplate: expected a list of words")
    return PageWords(boilerplate_hints=tuple(hints))
