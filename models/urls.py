"""URL canonicalisation, so one article has one URL however it was linked."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

TRACKING_PARAMETERS = frozenset(
    {"fbclid", "gclid", "mc_cid", "mc_eid", "ref", "cmpid", "__source", "taid", "smid", "ito"}
)
DEFAULT_PORTS = {"http": 80, "https": 443}
# "scheme://user:password@": the userinfo ends at the last "@" before the path, query or fragment.
USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s]*@")


def canonicalize_url(url: str) -> str:
    """Lower-case scheme and host; drop default ports, fragments, trailing slashes and trackers."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    netloc = host = f"[{host}]" if ":" in host else host  # IPv6 literals keep their brackets
    if parts.port is not None and DEFAULT_PORTS.get(scheme) != parts.port:
        netloc = f"{host}:{parts.port}"
    path = quote(unquote(parts.path), safe="/:@!$&'()*+,;=-._~") or "/"
    if len(path) > 1:
        path = path.rstrip("/") or "/"  # /news/a/ and /news/a are one article on news sites
    query = urlencode(
        [
            (key, value)
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
            if not _is_tracking(key)
        ]
    )
    return urlunsplit((scheme, netloc, path, query, ""))


def without_credentials(text: str) -> str:
    """A URL, or a message naming URLs, without their user names and passwords.

    What is stored, logged or printed of a URL: credentials are for the request alone.
    """
    return USERINFO.sub(r"\1", text)


def absolute_url(base: str, link: str) -> str | None:
    """Resolve a link found on a page; None when it is not an http(s) link."""
    try:
        joined = urljoin(base, link.strip())
        parts = urlsplit(joined)
        usable = parts.scheme in ("http", "https") and parts.port != 0  # .port checks the port
    except ValueError:  # "http://[broken", "http://host:99999/": not a URL at all
        return None
    return joined if usable else None


def _is_tracking(key: str) -> bool:
    lowered = key.lower()
    return lowered.startswith("utm_") or lowered in TRACKING_PARAMETERS
