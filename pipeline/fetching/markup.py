"""HTML trees read safely: parsed with a nesting limit, their text cleaned of control characters."""

from __future__ import annotations

import re
import warnings

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, Tag, XMLParsedAsHTMLWarning

from pipeline.fetching.guards import TooDeep

MAX_NESTING = 512  # tags inside tags: real pages stay far below; deeper is a hostile page, refused
# Terminal control sequences, and lone control characters: ANSI CSI and OSC sequences whole, then
# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides and isolates.
CONTROL_SEQUENCES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, erasing
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC: window titles, links
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)


def strip_controls(text: str) -> str:
    """Text without terminal escape sequences and control characters; tabs and newlines stay."""
    return CONTROL_SEQUENCES.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def clean_line(text: str) -> str:
    """One line of text: control characters dropped, whitespace runs made one space."""
    return re.sub(r"\s+", " ", strip_controls(text)).strip()


def parse_html(markup: str) -> BeautifulSoup:
    """Parse decoded HTML; a tree nested deeper than MAX_NESTING is refused (TooDeep)."""
    with warnings.catch_warnings():  # bs4 warns when short markup looks like a URL or file name
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(markup, "lxml")
    depth = _nesting(soup)
    if depth > MAX_NESTING:
        soup.decompose()
        raise TooDeep(f"HTML nested {depth} tags deep (more than {MAX_NESTING}): refused")
    return soup


def _nesting(soup: BeautifulSoup) -> int:
    """How many tags deep the tree goes, in one pass in document order (no recursion)."""
    depths: dict[int, int] = {id(soup): 0}
    deepest = 0
    for tag in soup.find_all(True):
        depth = depths.get(id(tag.parent), 0) + 1
        depths[id(tag)] = depth
        deepest = max(deepest, depth)
    return deepest


def select_text(soup: BeautifulSoup, selector: str | None) -> str:
    """The cleaned text of the first tag a CSS selector finds ("" without selector or match)."""
    if not selector:
        return ""
    found = soup.select_one(selector)
    return clean_line(found.get_text(" ")) if found is not None else ""


def meta_content(soup: BeautifulSoup, name: str) -> str:
    """The cleaned content of a <meta> tag by its property or name ("" when there is none)."""
    tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
    content = tag.get("content") if isinstance(tag, Tag) else None
    return clean_line(content) if isinstance(content, str) else ""
