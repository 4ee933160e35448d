"""robots.txt: one policy per run, each host's file fetched once, answered as RFC 9309 says."""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from models.fetched import FetchOutcome, FetchResult

MAX_ROBOTS_BYTES = 500 * 1024  # RFC 9309's minimum parsing limit; Google ignores what follows
DEFAULT_MAX_AGE = 24 * 60 * 60.0  # RFC 9309: a cached copy should not be used for longer
UNREACHABLE_MAX_AGE = 10 * 60.0  # a transient failure must not block a host for a whole day
DEFAULT_PORTS = {"http": 80, "https": 443}
_FRACTIONAL_DELAY = re.compile(r"^\s*crawl-delay\s*:\s*(\d*\.\d+)\s*(?:#.*)?$", re.IGNORECASE)


@dataclass(frozen=True)
class _Rules:
    """One host's answer: a parsed file, or the same verdict for every path."""

    parser: RobotFileParser | None = None
    verdict: bool = True  # used only when there is no parser


ALLOW_ALL = _Rules(verdict=True)
DISALLOW_ALL = _Rules(verdict=False)


@dataclass
class _Host:
    """What is known about one origin; its lock makes concurrent callers share one fetch."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    rules: _Rules | None = None
    expires: float = 0.0
    last_good: _Rules | None = None  # the last file actually read, kept through outages


class RobotsPolicy:
    """Whether newstrack may fetch a URL, by its host's robots.txt; thread-safe, one per run."""

    def __init__(
        self,
        fetch_robots: Callable[[str], FetchResult],
        agent: str,
        *,
        enabled: bool = True,
        max_age: float = DEFAULT_MAX_AGE,
        unreachable_max_age: float = UNREACHABLE_MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not agent.strip():
            raise ValueError("a robots.txt policy needs a user agent token")
        self.agent = agent
        self.enabled = enabled
        self.max_age = max_age
        self.unreachable_max_age = unreachable_max_age
        self._fetch = fetch_robots
        self._clock = clock
        self._lock = threading.Lock()
        self._hosts: dict[str, _Host] = {}

    def allowed(self, url: str) -> bool:
        """True when robots.txt lets our agent fetch `url`; URLs with no http(s) host are refused."""
        if not self.enabled:
            return True
        rules = self._rules(url)
        if rules is None:
            return False  # no robots.txt to consult, and fetch would refuse such a URL anyway
        if rules.parser is None:
            return rules.verdict
        return rules.parser.can_fetch(self.agent, url)

    def crawl_delay(self, url: str) -> float | None:
        """Seconds the host asks between our requests (Crawl-delay), or None when it asks nothing."""
        if not self.enabled:
            return None
        rules = self._rules(url)
        if rules is None or rules.parser is None:
            return None
        delay = rules.parser.crawl_delay(self.agent)
        return None if delay is None else float(delay)

    def _rules(self, url: str) -> _Rules | None:
        """The rules for the URL's origin, fetching robots.txt when unknown or expired."""
        robots = robots_url(url)
        if robots is None:
            return None
        with self._lock:
            host = self._hosts.setdefault(robots, _Host())
        # Only this host's callers wait while its file is fetched; other hosts go on.
        with host.lock:
            if host.rules is None or self._clock() >= host.expires:
                return self._refresh(host, robots)
            return host.rules

    def _refresh(self, host: _Host, robots: str) -> _Rules:
        """Fetch robots.txt and decide, with RFC 9309's reading of each outcome."""
        result = self._fetch(robots)
        if result.outcome is FetchOutcome.SUCCESS:
            rules, max_age = _Rules(parse_robots(result.body)), self.max_age
            host.last_good = rules
        elif _unavailable(result):
            rules, max_age = ALLOW_ALL, self.max_age
            host.last_good = rules
        elif result.refused_address is not None:
            # Never fetched, nor will its pages be: the fetch of each says why, not robots.txt.
            # Not kept: a loopback source on the same host may read the file in earnest.
            rules, max_age = ALLOW_ALL, 0.0
        else:
            # Unreachable (5xx, 429, timeouts, broken redirects, a body over the fetch cap): the
            # rules are unknown, so refuse everything, unless an earlier copy is known (RFC 9309).
            rules, max_age = host.last_good or DISALLOW_ALL, self.unreachable_max_age
        host.rules, host.expires = rules, self._clock() + max_age
        return rules


def robots_url(url: str) -> str | None:
    """The robots.txt URL for a page's origin (scheme, host, port); None without an http(s) host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # "http://[x" or a port out of range
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal
    if port is not None and port != DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}/robots.txt"


def parse_robots(body: bytes) -> RobotFileParser:
    """Parse the first 500 KiB of a robots.txt body as RFC 9309 reads it."""
    if len(body) > MAX_ROBOTS_BYTES:
        # Cut at the last whole line: half a "Disallow: /path" would be a broader rule.
        body = body[:MAX_ROBOTS_BYTES].rpartition(b"\n")[0]
    text = body.decode("utf-8-sig", errors="replace")  # RFC 9309: UTF-8; a BOM is no text
    parser = RobotFileParser()
    parser.parse(_normalized(text.splitlines()))
    _longest_match_first(parser)
    return parser


def _unavailable(result: FetchResult) -> bool:
    """A final 4xx (404, 410, 401, 403…): RFC 9309 lets crawlers treat the file as absent."""
    status = result.status_code
    final = result.outcome in (FetchOutcome.HARD, FetchOutcome.SOFT)  # 408 and 429 are temporary
    return final and status is not None and 400 <= status < 500


def _normalized(lines: Iterable[str]) -> Iterator[str]:
    """Lines RobotFileParser reads the way RFC 9309 means them."""
    for line in lines:
        if not line.strip():
            continue  # RobotFileParser ends a group at a blank line; RFC 9309 ignores them
        fractional = _FRACTIONAL_DELAY.match(line)
        if fractional:
            # RobotFileParser drops non-integer delays; rounding up keeps within what was asked.
            yield f"Crawl-delay: {math.ceil(float(fractional.group(1)))}"
        else:
            yield line


def _longest_match_first(parser: RobotFileParser) -> None:
    """Order each group's rules longest path first, Allow first on ties, as RFC 9309 ranks them.

    RobotFileParser applies the first rule that matches, so "Allow: /" before
    "Disallow: /private" would allow everything; in this order the first match is the most
    specific. The groups are internals of RobotFileParser, hence the defensive lookups.
    """
    fields = vars(parser)
    for group in [*fields.get("entries", []), fields.get("default_entry")]:
        rules = getattr(group, "rulelines", None)
        if rules is not None:
            rules.sort(key=lambda rule: (-len(rule.path), not rule.allowance))
