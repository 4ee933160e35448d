"""HTML trees read safely: parsed with a nesting limit, their text cleaned of control characters."""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, Tag, XMLParsedAsHTMLWarning
from lxml import etree, html

from pipeline.fetching.guards import TooDeep

MAX_NESTING = 512  # tags inside tags: real pages stay far below; deeper is a hostile page, refused
# Terminal control sequences, and lone control characters: ANSI CSI and OSC sequences whole, then
# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides and isolates.
CONTROL_SEQUENCES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, erasing
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC: window titles, links
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)
# The same escape sequences in markup, where none may reach into a tag: "<" and ">" end them.
MARKUP_SEQUENCES = re.compile(
    r"(?:\x1b\[|\x9b)[0-;=?]*[ -.]*[@-~]?"  # CSI
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c<>]*(?:\x07|\x1b\\|\x9c)?"  # OSC
)
SEQUENCE_STARTS = ("\x1b", "\x9b", "\x9d")
# libxml2 stops building a tree this deep (lxml's default, without huge_tree): a tree holding a
# tag this deep may have lost what was nested below it.
LXML_DEPTH = 256
_CUT_SHORT = etree.XPath("boolean(" + "/*" * LXML_DEPTH + ")")
_THREAD = threading.local()
JSON_LD_TYPE = "application/ld+json"
MARKED_TAGS = frozenset({"html", "title", "meta", "script", "time"})  # the tags PageMarks reads


def strip_controls(text: str) -> str:
    """Text without terminal escape sequences and control characters; tabs and newlines stay."""
    return CONTROL_SEQUENCES.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def strip_sequences(markup: str) -> str:
    """Markup without terminal escape sequences, whose parameters would outlive their controls."""
    if not any(start in markup for start in SEQUENCE_STARTS):
        return markup
    return MARKUP_SEQUENCES.sub("", markup)


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


def parse_tree(markup: str) -> html.HtmlElement | None:
    """The lxml tree trafilatura reads from the markup; None when it refuses it or cuts it short.

    A page nested LXML_DEPTH deep may have lost its innermost tags: it is for parse_html to read
    (or to refuse as TooDeep).
    """
    import trafilatura  # (0.2 s) imported where pages are read: a reading process, not the run

    own_lxml_dictionary()
    tree = trafilatura.load_html(markup)
    if tree is None or _CUT_SHORT(tree):
        return None
    return tree


def own_lxml_dictionary() -> None:
    """Give this thread a string dictionary of lxml's own before trafilatura's parser runs in it.

    On its first parse lxml gives a thread the dictionary of the parser it parses with. With
    trafilatura's one parser for all threads, that is the dictionary of the thread that used it
    last: two threads then add names to one dictionary at once and corrupt memory (a crash). A
    first parse with a parser of its own gives the thread a dictionary of its own, which lxml then
    lends trafilatura's parser in this thread.
    """
    if not getattr(_THREAD, "own_dictionary", False):
        etree.fromstring("<p></p>", etree.HTMLParser())
        _THREAD.own_dictionary = True


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


@dataclass(frozen=True)
class PageMarks:
    """What a page says of itself beside its text: <title>, lang, <meta>, JSON-LD and <time>."""

    title: str = ""
    lang: str | None = None  # the <html lang>
    by_property: Mapping[str, str] = field(default_factory=dict)  # first <meta> of each property
    by_name: Mapping[str, str] = field(default_factory=dict)  # first <meta> of each name
    json_ld: tuple[str, ...] = ()  # the text of each JSON-LD script
    times: tuple[str, ...] = ()  # the datetime of each <time>

    def meta(self, name: str) -> str:
        """The cleaned content of a <meta> by its property, else its name ("" when there is none)."""
        content = self.by_property.get(name)
        return clean_line(self.by_name.get(name, "") if content is None else content)


def soup_marks(soup: BeautifulSoup) -> PageMarks:
    """The marks of a BeautifulSoup tree, read in one pass over it (faster than bs4's name filter)."""
    return _marks(
        (tag.name, tag.attrs, tag.get_text)
        for tag in soup.descendants
        if isinstance(tag, Tag) and tag.name in MARKED_TAGS
    )


def tree_marks(tree: html.HtmlElement) -> PageMarks:
    """The marks of an lxml tree, read in one pass over its whole document."""
    root = tree.getroottree().getroot()
    return _marks(
        (element.tag, element.attrib, partial(_element_text, element))
        for element in root.iter(*MARKED_TAGS)
    )


def _element_text(element: html.HtmlElement) -> str:
    return "".join(element.itertext())


def _marks(tags: Iterable[tuple[str, Mapping[str, object], Callable[[], str]]]) -> PageMarks:
    """Marks from the tags of MARKED_TAGS in document order: name, attributes, text."""
    title: str | None = None
    lang: object = None
    seen_html = False
    by_property: dict[str, str] = {}
    by_name: dict[str, str] = {}
    json_ld: list[str] = []
    times: list[str] = []
    for name, attributes, text in tags:
        if name == "meta":
            content = attributes.get("content")
            for key, found in (("property", by_property), ("name", by_name)):
                value = attributes.get(key)
                if isinstance(value, str):
                    found.setdefault(value, content if isinstance(content, str) else "")
        elif name == "title" and title is None:
            title = text()
        elif name == "html" and not seen_html:
            seen_html, lang = True, attributes.get("lang")
        elif name == "script" and attributes.get("type") == JSON_LD_TYPE:
            json_ld.append(text())
        elif name == "time" and isinstance(moment := attributes.get("datetime"), str):
            times.append(moment)
    return PageMarks(
        title or "",
        lang if isinstance(lang, str) else None,
        by_property,
        by_name,
        tuple(json_ld),
        tuple(times),
    )
