"""Boilerplate removal: tags that hold no article text (menus, share boxes, scripts) dropped."""

from __future__ import annotations

import re
from functools import cache

from bs4 import Tag

from models.vocabulary.words import load_page_words
from pipeline.fetching.guards import UNBOUNDED, Deadline

DROPPED_TAGS = (
    "script",
    "style",
    "noscript",
    "iframe",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "svg",
    "button",
    "figure",
)
KEPT_TAGS = ("html", "body", "article", "main")  # never boilerplate, whatever their classes say


@cache
def boilerplate_pattern() -> re.Pattern[str]:
    """Any of the vocabulary's boilerplate hints, in any case, anywhere in a tag's classes or id."""
    hints = load_page_words().boilerplate
    return re.compile("|".join(re.escape(hint) for hint in hints), re.IGNORECASE)


def drop_boilerplate(root: Tag, deadline: Deadline = UNBOUNDED) -> None:
    """Remove boilerplate tags in one document-order pass: a tag inside a removed one is skipped.

    Asking a removed tag anything (even `.decomposed`, which bs4 answers by searching the tag's
    subtree) would make deep pages quadratic; its parent being marked removed says it all.
    """
    removed: set[int] = set()
    doomed: list[Tag] = []
    for tag in root.find_all(True):
        deadline.check()
        if id(tag.parent) in removed:
            removed.add(id(tag))
        elif _is_boilerplate(tag):
            removed.add(id(tag))
            doomed.append(tag)
    for tag in doomed:  # none is inside another: each subtree is walked once
        tag.decompose()


def _is_boilerplate(tag: Tag) -> bool:
    if tag.name in DROPPED_TAGS:
        return True
    if tag.name in KEPT_TAGS:
        return False
    classes: object = tag.get("class") or []
    names = classes if isinstance(classes, list) else [str(classes)]
    marks = " ".join([*names, str(tag.get("id", ""))])
    return bool(marks.strip()) and boilerplate_pattern().search(marks) is not None
