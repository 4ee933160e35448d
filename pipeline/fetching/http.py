"""HTTP fetching: bounded in time and size, every connection checked, outcomes classified."""

from __future__ import annotations

import random
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpx

from models.fetched import FetchOutcome, FetchResult
from models.urls import without_credentials
from pipeline.config.settings import HttpSettings
from pipeline.fetching.network import (
    ALLOW_LOOPBACK,
    AddressRefusedError,
    CheckedTransport,
    Resolver,
    connection_deadline,
    is_loopback_url,
    system_resolver,
)

# Only these are redirects; httpx's `is_redirect` is true for every 3xx, 304 included.
CHALLENGE_SNIFF_BYTES = 4096
CHALLENGE_MARKERS = (
    b"<title>just a moment...</title>",
    b"<title>attention required! | cloudflare</title>",
    b"<title>access denied</title>",
    b"cf-browser-verification",
    b"_cf_chl_opt",
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Bodies are inflated here, this many bytes at a time at most, so the size cap holds as they are.
DECODE_STEP = 64 * 1024
DECODERS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}

# The URLs of the source being fetched: loopback addresses are allowed only if they are loopback.
_source_urls: ContextVar[tuple[str, ...] | None] = ContextVar("newstrack_source", default=None)


class BodyTooLargeError(Exception):
    """The decoded body passed the size cap."""


class UnsupportedEncodingError(Exception):
    """A Content-Encoding that is not decoded: one never asked for, or several stacked."""


def build_client(
    settings: HttpSettings,
    transport: httpx.BaseTransport | None = None,
    resolver: Resolver = system_resolver,
) -> httpx.Client:
    """An HTTP client with newstrack's identity and timeouts; redirects are followed by `fetch`.

    Without a `transport`, connections go only to public addresses (see pipeline.fetching.network);
    `resolver` answers for DNS there.
    """
    if transport is None:
        transport = CheckedTransport(resolver, allow_private=settings.allow_private_addresses)
    return httpx.Client(
        transport=transport,
        headers={
            "User-Agent": settings.user_agent,
            # Not "br": a brotli body cannot be inflated in bounded steps here.
            "Accept-Encoding": "gzip, deflate",
        },
        timeout=httpx.Timeout(
            settings.read_timeout, connect=settings.connect_timeout, pool=settings.connect_timeout
        ),
        follow_redirects=False,
    )


@contextmanager
def fetching_for(source_urls: Sequence[str]) -> Iterator[None]:
    """Fetches in the block are for a source with these URLs: loopback only if they all are."""
    token = _source_urls.set(tuple(source_urls))
    try:
        yield
    finally:
        _source_urls.reset(token)


def allows_loopback(url: str) -> bool:
    """Whether fetching `url` may reach loopback: the source's own URLs (or `url`) are loopback."""
    urls = _source_urls.get() or (url,)
    return all(is_loopback_url(own) for own in urls)


def fetch(
    client: httpx.Client,
    url: str,
    settings: HttpSettings,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    pacer: HostPacer | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[FetchResult], None] | None = None,
) -> FetchResult:
    """GET one URL, retrying timeouts, 408, 429 and 5xx with jittered backoff; never raises.

    Network and HTTP trouble is classified into an `FetchOutcome`, not raised. A Retry-After longer
    than `settings.max_retry_after` is not waited for: the result says when to come back.
    Each attempt that is retried is handed to `on_retry` first, so it can be logged.
    Only public addresses are reached, and loopback ones for a loopback source (`fetching_for`;
    outside it, when `url` itself is loopback).
    """
    for attempt in range(settings.retries + 1):
        result = _fetch_once(client, url, settings, etag, last_modified, pacer)
        if result.outcome is not FetchOutcome.TEMPORARY or attempt == settings.retries:
            return replace(result, attempts=attempt + 1)
        delay = retry_delay(result, attempt, settings)
        if delay is None:
            return replace(result, attempts=attempt + 1)
        if on_retry is not None:
            on_retry(replace(result, attempts=attempt + 1))
        sleep(delay)
    raise AssertionError("unreachable: the last attempt returns")


def retry_delay(result: FetchResult, attempt: int, settings: HttpSettings) -> float | None:
    """Seconds to wait before retrying: Retry-After if sent (None beyond the cap), else backoff."""
    wanted = parse_retry_after(result.headers.get("retry-after"))
    if wanted is not None and wanted > settings.max_retry_after:
        return None
    base = wanted if wanted is not None else settings.backoff * 2**attempt
    return base * random.uniform(1.0, 1.5)  # jitter: never earlier than asked


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((moment - (now or datetime.now(UTC))).total_seconds(), 0.0)


class HostPacer:
    """Politeness per host: at most N requests at once, and a minimum interval between starts."""

    def __init__(
        self,
        max_per_host: int = 2,
        min_interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_per_host = max_per_host
        self.min_interval = min_interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._next_start: dict[str, float] = {}
        self._intervals: dict[str, float] = {}

    def slow_down(self, url: str, seconds: float) -> None:
        """Space this host's requests at least `seconds` apart (a robots.txt Crawl-delay)."""
        host = (urlsplit(url).hostname or "").lower()
        with self._lock:
            self._intervals[host] = max(self._intervals.get(host, 0.0), seconds)

    @contextmanager
    def slot(self, url: str) -> Iterator[None]:
        """Hold one of the host's request slots, starting no sooner than its interval allows."""
        host = (urlsplit(url).hostname or "").lower()
        with self._lock:
            semaphore = self._slots.setdefault(host, threading.BoundedSemaphore(self.max_per_host))
        with semaphore:
            with self._lock:
                now = self._clock()
                start = max(now, self._next_start.get(host, now))
                interval = max(self.min_interval, self._intervals.get(host, 0.0))
                self._next_start[host] = start + interval
            if start > now:
                self._sleep(start - now)
            yield


def _fetch_once(
    client: httpx.Client,
    url: str,
    settings: HttpSettings,
    etag: str | None,
    last_modified: str | None,
    pacer: HostPacer | None,
) -> FetchResult:
    """One GET with its redirects, each hop checked and paced."""
    started = time.monotonic()
    deadline: float | None = None
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current = url
    visited = {url}
    extensions = {ALLOW_LOOPBACK: allows_loopback(url)}

    def result(
        outcome: FetchOutcome,
        *,
        status_code: int | None = None,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        error: str | None = None,
        refused_address: str | None = None,
    ) -> FetchResult:
        return FetchResult(
            url=url,
            final_url=current,
            outcome=outcome,
            status_code=status_code,
            body=body,
            headers=headers or {},
            error=error,
            duration_ms=int((time.monotonic() - started) * 1000),
            refused_address=refused_address,
        )

    for _hop in range(settings.max_redirects + 1):
        try:
            scheme = urlsplit(current).scheme
            if scheme not in ("http", "https"):
                return result(
                    FetchOutcome.HARD, error=f"refusing non-http URL {without_credentials(current)}"
                )
            with pacer.slot(current) if pacer is not None else nullcontext():
                # The clock starts once a slot is ours: waiting for a busy host is not slowness.
                if deadline is None:
                    deadline = time.monotonic() + settings.total_timeout
                timeout = _hop_timeout(settings, deadline - time.monotonic())
                with (
                    connection_deadline(deadline),
                    client.stream(
                        "GET",
                        without_credentials(current),
                        headers=headers,
                        auth=_credentials(current),
                        timeout=timeout,
                        extensions=extensions,
                    ) as response,
                ):
                    if response.status_code in REDIRECT_STATUSES:
                        location = response.headers.get("location", "")
                        target = urljoin(current, location)
                        if not location:
                            return result(
                                FetchOutcome.HARD,
                                status_code=response.status_code,
                                error="redirect without Location",
                            )
                        if target in visited:
                            return result(
                                FetchOutcome.HARD,
                                status_code=response.status_code,
                                error=f"redirect loop at {without_credentials(target)}",
                            )
                        visited.add(target)
                        current = target
                        continue
                    response_headers = {
                        key.lower(): value for key, value in response.headers.items()
                    }
                    status = response.status_code
                    if status == 304:
                        return result(
                            FetchOutcome.NOT_MODIFIED, status_code=status, headers=response_headers
                        )
                    if status >= 400:
                        blocked = response_headers.get("cf-mitigated") == "challenge"
                        return result(
                            FetchOutcome.BLOCKED if blocked else _classify_status(status),
                            status_code=status,
                            headers=response_headers,
                            error=f"HTTP {status}" + (" (bot challenge)" if blocked else ""),
                        )
                    body = _read_capped(response, settings.max_body_bytes, deadline)
                    if is_challenge_page(body):
                        return result(
                            FetchOutcome.BLOCKED,
                            status_code=status,
                            headers=response_headers,
                            error="a bot challenge page instead of the content",
                        )
                    return result(
                        FetchOutcome.SUCCESS,
                        status_code=status,
                        body=body,
                        headers=response_headers,
                    )
        except BodyTooLargeError:
            return result(
                FetchOutcome.HARD, error=f"body larger than {settings.max_body_bytes} bytes"
            )
        except UnsupportedEncodingError as error:
            return result(FetchOutcome.HARD, error=str(error))
        except AddressRefusedError as error:
            return result(
                FetchOutcome.HARD,
                error=f"refusing {without_credentials(current)}: {error}",
                refused_address=error.address,
            )
        except TimeoutError:
            return result(
                FetchOutcome.TEMPORARY, error=f"took longer than {settings.total_timeout:g} s"
            )
        except httpx.UnsupportedProtocol as error:  # e.g. "http:///path": no host
            return result(FetchOutcome.HARD, error=f"invalid URL: {error}")
        except httpx.TimeoutException as error:
            if deadline is not None and time.monotonic() >= deadline:
                return result(
                    FetchOutcome.TEMPORARY, error=f"took longer than {settings.total_timeout:g} s"
                )
            return result(FetchOutcome.TEMPORARY, error=f"timeout: {type(error).__name__}")
        except httpx.TransportError as error:
            message = f"{type(error).__name__}: {error}".rstrip(": ")
            return result(FetchOutcome.TEMPORARY, error=without_credentials(message))
        except (httpx.DecodingError, zlib.error) as error:
            return result(FetchOutcome.TEMPORARY, error=f"undecodable body: {error}")
        except (httpx.InvalidURL, ValueError) as error:  # ValueError: urlsplit on "http://[x"
            return result(FetchOutcome.HARD, error=without_credentials(f"invalid URL: {error}"))
        except httpx.RequestError as error:
            return result(
                FetchOutcome.TEMPORARY,
                error=without_credentials(f"{type(error).__name__}: {error}"),
            )
    return result(FetchOutcome.HARD, error=f"more than {settings.max_redirects} redirects")


def is_challenge_page(body: bytes) -> bool:
    """Whether a body is a bot-challenge interstitial (Cloudflare and the like), not content."""
    head = body[:CHALLENGE_SNIFF_BYTES].lower()
    return any(marker in head for marker in CHALLENGE_MARKERS)


def _hop_timeout(settings: HttpSettings, remaining: float) -> httpx.Timeout:
    """Per-hop timeouts that never outlast what is left of the request's total time."""
    if remaining <= 0:
        raise TimeoutError
    connect = min(settings.connect_timeout, remaining)
    return httpx.Timeout(min(settings.read_timeout, remaining), connect=connect, pool=connect)


def _read_capped(response: httpx.Response, max_bytes: int, deadline: float) -> bytes:
    """The body as sent, inflated in bounded steps: never more than the cap and one step."""
    encodings = content_encodings(response.headers.get("content-encoding", ""))
    declared = response.headers.get("content-length")
    if not encodings and declared and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLargeError
    inflate = BoundedInflater(encodings[0]) if encodings else None
    chunks: list[bytes] = []
    size = 0
    for raw in response.iter_raw():
        for chunk in inflate.feed(raw) if inflate is not None else (raw,):
            size += len(chunk)
            if size > max_bytes:
                raise BodyTooLargeError
            chunks.append(chunk)
        if time.monotonic() > deadline:
            raise TimeoutError
    rest = inflate.finish() if inflate is not None else b""
    size += len(rest)
    if size > max_bytes:
        raise BodyTooLargeError
    chunks.append(rest)
    return b"".join(chunks)


def content_encodings(header: str) -> list[str]:
    """The codings a body was sent in, checked: at most one, and only one that was asked for."""
    codings = [part.strip().lower() for part in header.split(",")]
    codings = [coding for coding in codings if coding and coding != "identity"]
    if len(codings) > 1:
        raise UnsupportedEncodingError(f"refusing a body encoded several times ({header.strip()})")
    if codings and codings[0] not in DECODERS:
        raise UnsupportedEncodingError(f"refusing a body in an encoding not asked for ({header})")
    return codings


class BoundedInflater:
    """Inflates gzip or deflate data, handing it out DECODE_STEP bytes at a time at most."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._decompressor = zlib.decompressobj(DECODERS[coding])
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The inflated bytes of `data`, step by step, so the caller can stop at its cap."""
        if not self._started and data:
            self._started = True
            data = self._first(data)
        pending = bool(data)
        while pending:
            chunk = self._decompressor.decompress(data, DECODE_STEP)
            data = self._decompressor.unconsumed_tail
            if chunk:
                yield chunk
            if self._decompressor.eof:
                return  # anything after the end of the stream is ignored, as browsers do
            pending = bool(data) or len(chunk) == DECODE_STEP  # a full step: more may be due

    def finish(self) -> bytes:
        """What is left once all data is in: at most what inflating the last step held back."""
        return self._decompressor.flush() if self._started else b""

    def _first(self, data: bytes) -> bytes:
        """Pick zlib or raw deflate from the first bytes: servers send both as "deflate"."""
        if self._coding == "deflate":
            probe = zlib.decompressobj(zlib.MAX_WBITS)
            try:
                probe.decompress(data[:2])
            except zlib.error:
                self._decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
        return data


def _credentials(url: str) -> httpx.BasicAuth | None:
    """The URL's user and password as basic auth: they go in a header, never in the URL sent."""
    parsed = httpx.URL(url)
    if not parsed.username and not parsed.password:
        return None
    return httpx.BasicAuth(parsed.username, parsed.password)


def _classify_status(status: int) -> FetchOutcome:
    if status in (408, 429) or status >= 500:
        return FetchOutcome.TEMPORARY
    if status in (404, 410):
        return FetchOutcome.HARD
    return FetchOutcome.SOFT
