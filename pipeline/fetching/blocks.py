"""The readable text of HTML: its innermost blocks, from the tag richest in paragraphs or trafilatura."""

from __future__ import annotations

from bs4 import BeautifulSoup, Tag
from lxml.html import HtmlElement

from pipeline.fetching.boilerplate import drop_boilerplate
from pipeline.fetching.guards import UNBOUNDED, Deadline
from pipeline.fetching.markup import clean_line, own_lxml_dictionary, parse_html, strip_controls

BLOCK_TAGS = ("p", "h2", "h3", "h4", "li", "blockquote")


def html_to_text(html: str) -> str:
    """Readable text of an HTML fragment: one paragraph or list item per line block."""
    if not html.strip():
        return ""
    return strip_controls(blocks_text(parse_html(html)))


def blocks_text(root: Tag, deadline: Deadline = UNBOUNDED) -> str:
    """Text of the innermost block tags (paragraphs, headings, items), a blank line apart.

    Which block tags hold another is found in one bottom-up pass over the tree, not by searching
    each one's subtree.
    """
    tags = root.find_all(True)
    holds_block: set[int] = set()
    for tag in reversed(tags):  # children before their parents
        deadline.check()
        if tag.name in BLOCK_TAGS or id(tag) in holds_block:
            holds_block.add(id(tag.parent))
    blocks = []
    for tag in tags:
        if tag.name in BLOCK_TAGS and id(tag) not in holds_block:
            deadline.check()
            blocks.append(clean_line(tag.get_text()))
    blocks = [block for block in blocks if block]
    if not blocks:
        return clean_line(root.get_text(" "))
    return "\n\n".join(blocks)


def trafilatura_text(html: str | HtmlElement, url: str) -> str:
    """Main text by trafilatura, paragraphs a blank line apart ("" when it finds none).

    Given the markup it parses it; given a tree (parse_tree's) it reads a copy, the tree unchanged.
    """
    import trafilatura  # see parse_tree

    own_lxml_dictionary()
    extracted = trafilatura.extract(
        html, url=url, favor_precision=True, include_comments=False, include_tables=False
    )
    if not extracted:
        return ""
    return "\n\n".join(clean_line(line) for line in extracted.splitlines() if line.strip())


def generic_text(soup: BeautifulSoup, deadline: Deadline = UNBOUNDED) -> str:
    """The text of the element holding most paragraph text: an article, main, or a <p>'s parent."""
    body = soup.body or soup
    drop_boilerplate(body, deadline)
    candidates = [
        *soup.select("[itemprop=articleBody]"),
        *soup.find_all("article"),
        *soup.find_all("main"),
    ]
    if not candidates:
        candidates = [tag.parent for tag in body.find_all("p") if isinstance(tag.parent, Tag)]
    paragraph_chars = _paragraph_chars(soup, deadline)
    best = max(
        {id(tag): tag for tag in candidates}.values(),  # a parent of many <p> counted once
        key=lambda tag: paragraph_chars.get(id(tag), 0),
        default=None,
    )
    return blocks_text(best, deadline) if best is not None else ""


def _paragraph_chars(soup: BeautifulSoup, deadline: Deadline) -> dict[int, int]:
    """For every tag (by id), the length of the text of the <p> tags inside it.

    Summed bottom-up in one pass, rather than searching each candidate's subtree again.
    """
    tags = soup.find_all(True)
    chars: dict[int, int] = {}
    for tag in reversed(tags):  # children before their parents
        deadline.check()
        own = chars.get(id(tag), 0) + (len(tag.get_text()) if tag.name == "p" else 0)
        if own:
            chars[id(tag)] = own
            chars[id(tag.parent)] = chars.get(id(tag.parent), 0) + own
    return chars
