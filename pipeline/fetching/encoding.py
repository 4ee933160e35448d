"""The charset of a fetched body: declared in a header or <meta>, else UTF-8, else detected."""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping

import charset_normalizer
from bs4 import BeautifulSoup
from bs4.dammit import EncodingDetector

from pipeline.fetching.markup import parse_html

# Labels browsers read as a larger charset (WHATWG Encoding): bytes valid in the superset are
# common under the smaller label, and decoding them with the smaller one garbles the text.
CHARSET_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso-8859-1": "windows-1252",
    "latin-1": "windows-1252",
    "latin1": "windows-1252",
    "us-ascii": "windows-1252",
    "ascii": "windows-1252",
}
# Charsets a web page may be read in: the WHATWG Encoding Standard's, by Python's codec names (plus
# the labels it folds into them). Python also has codecs that are no text encodings of a page at
# all ("undefined" always raises, "punycode" and "idna" are for host names, "rot13" and "base64"
# turn text or bytes into more of the same): a page declaring one is read as undeclared.
PAGE_ENCODINGS = frozenset(
    {
        "utf-8",
        "utf-16",
        "utf-16-be",
        "utf-16-le",
        "cp866",
        *(f"iso8859-{part}" for part in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16)),
        "koi8-r",
        "koi8-u",
        "mac-roman",
        "mac-cyrillic",
        "cp874",
        *(f"cp{number}" for number in range(1250, 1259)),
        "ascii",
        "gbk",
        "gb2312",
        "gb18030",
        "big5",
        "big5hkscs",
        "euc_jp",
        "iso2022_jp",
        "shift_jis",
        "cp932",
        "euc_kr",
        "cp949",
    }
)
DETECTION_BYTES = 65_536  # enough of a page to tell its charset


def html_of_body(body: bytes, headers: Mapping[str, str] | None) -> BeautifulSoup:
    """Parse HTML with the charset of the header, else of <meta>, else UTF-8, else windows-1252."""
    encoding = body_encoding(body, headers)
    return parse_html(body.decode(encoding or "utf-8", errors="replace"))


def body_encoding(body: bytes, headers: Mapping[str, str] | None) -> str | None:
    """The first charset that decodes the body: header, <meta>, UTF-8, detected, windows-1252.

    Only a page encoding (PAGE_ENCODINGS) counts: any other label is passed over.
    """
    content_type = (headers or {}).get("content-type", "")
    match = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
    declared = match.group(1) if match else None
    meta = EncodingDetector.find_declared_encoding(body, is_html=True)
    for candidate in (declared, meta, "utf-8", _detected_encoding, "windows-1252"):
        encoding = candidate(body) if callable(candidate) else candidate
        # detection is the costly step: called only when the others failed
        if not encoding:
            continue
        encoding = page_encoding(CHARSET_SUPERSETS.get(encoding.lower(), encoding))
        if encoding is None:  # unknown, or no text encoding of a page ("punycode", "rot13")
            continue
        try:
            body.decode(encoding)
        except UnicodeError:  # servers do send latin-1 as "utf-8"; lxml would obey
            continue
        return encoding
    return None


def page_encoding(label: str) -> str | None:
    """Python's name of the charset a label names, if web pages may be written in it."""
    try:
        name = codecs.lookup(label).name
    except (LookupError, ValueError):  # unknown, or a name with a NUL in it
        return None
    return name if name in PAGE_ENCODINGS else None


def _detected_encoding(body: bytes) -> str | None:
    """The charset charset-normalizer finds most likely for an undeclared, non-UTF-8 body.

    Short Latin texts fit several code pages equally well; windows-1252, the web's usual
    undeclared charset, wins such ties.
    """
    matches = list(charset_normalizer.from_bytes(body[:DETECTION_BYTES]))
    if not matches:
        return None
    tied = [match.encoding for match in matches if match.chaos <= matches[0].chaos]
    return "cp1252" if "cp1252" in tied else matches[0].encoding
