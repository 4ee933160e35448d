"""A loopback HTTP server for tests: real sockets on 127.0.0.1, scripted (mis)behaviour per path.

    with serve({"/feed": respond(200, b"<rss/>"), "/old": redirect("/feed")}) as server:
        fetch(client, server.url("/old"), settings)
        assert server.requests[0].headers["user-agent"] == settings.user_agent

Every behaviour is bounded: sleeps and trickles end after a few seconds at most, and end at
once when the server stops; a handler's socket times out; the server answers a bounded number
of requests and then just closes connections.
"""

from __future__ import annotations

import functools
import socket
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpcore
import pytest

HANDLER_TIMEOUT = 5.0  # seconds a handler waits on a silent client
MAX_WAIT = 5.0  # the longest any behaviour sleeps or trickles

Behaviour = Callable[["Handler"], None]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it; header names are lower-cased."""

    method: str
    path: str
    headers: Mapping[str, str]


class Handler(BaseHTTPRequestHandler):
    """Dispatches each request to the behaviour routed for its path (404 when none)."""

    server: LoopbackHTTPServer
    timeout = HANDLER_TIMEOUT
    protocol_version = "HTTP/1.0"  # one request per connection: nothing lingers at shutdown

    def do_GET(self) -> None:
        """Record the request, then act out the routed behaviour."""
        if not self.server.admit():
            self.close_connection = True
            return
        self.server.record(
            RecordedRequest(
                method=self.command,
                path=self.path,
                headers={name.lower(): value for name, value in self.headers.items()},
            )
        )
        routes = self.server.routes
        behaviour = routes.get(self.path) or routes.get(self.path.split("?", 1)[0])
        try:
            (behaviour or respond(404, b"no such route"))(self)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True  # the client gave up first, as some tests intend

    def send(
        self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> None:
        """Send a whole response with a correct Content-Length."""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def pause(self, seconds: float) -> bool:
        """Sleep up to `seconds` (capped); False when the server is stopping."""
        return not self.server.stopping.wait(min(seconds, MAX_WAIT))

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests assert on `requests`, not on logs."""


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server on 127.0.0.1 that records requests and joins its threads on close."""

    daemon_threads = False  # tracked, so server_close() joins every handler thread
    block_on_close = True

    def __init__(self, routes: Mapping[str, Behaviour], max_requests: int) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes = dict(routes)
        self.max_requests = max_requests
        self.stopping = threading.Event()
        self.requests: list[RecordedRequest] = []
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._admitted = 0

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT, without a trailing slash."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def url(self, path: str) -> str:
        """The absolute URL of a path on this server."""
        return self.base_url + path

    def admit(self) -> bool:
        """Count one request; False once the request budget is spent."""
        with self._lock:
            self._admitted += 1
            return self._admitted <= self.max_requests

    def record(self, request: RecordedRequest) -> None:
        """Keep a request for the test to inspect."""
        with self._lock:
            self.requests.append(request)

    def paths(self) -> list[str]:
        """The paths requested so far, in order."""
        with self._lock:
            return [request.path for request in self.requests]

    def wait_idle(self) -> None:
        """Wait until every handler has answered (a slow one may outlive the client's timeout)."""
        # socketserver keeps the handler threads it joins on close (block_on_close).
        threads: list[threading.Thread] = list(getattr(self, "_threads", None) or [])
        for thread in threads:
            thread.join(MAX_WAIT)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Keep handler errors (clients hanging up mid-response) instead of printing them."""
        error = sys.exc_info()[1]
        if error is not None:
            with self._lock:
                self.errors.append(error)


@contextmanager
def serve(routes: Mapping[str, Behaviour], max_requests: int = 100) -> Iterator[LoopbackHTTPServer]:
    """Run a loopback server for the block; afterwards stop it and join every thread."""
    server = LoopbackHTTPServer(routes, max_requests)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()  # wakes sleeping and trickling handlers
        server.shutdown()
        server.server_close()
        thread.join(timeout=HANDLER_TIMEOUT + MAX_WAIT)


# Behaviours: each returns a callable that writes one response (or deliberately does not).


def respond(
    status: int = 200,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    content_type: str = "text/plain; charset=utf-8",
) -> Behaviour:
    """A fixed status, body and headers."""

    def behave(handler: Handler) -> None:
        handler.send(status, body, {"Content-Type": content_type, **(headers or {})})

    return behave


def with_etag(etag: str, body: bytes, content_type: str = "application/rss+xml") -> Behaviour:
    """200 with an ETag, or 304 when If-None-Match names it."""

    def behave(handler: Handler) -> None:
        offered = handler.headers.get("If-None-Match", "")
        if etag in [tag.strip().removeprefix("W/") for tag in offered.split(",")]:
            handler.send(304, b"", {"ETag": etag})
        else:
            handler.send(200, body, {"ETag": etag, "Content-Type": content_type})

    return behave


def with_last_modified(
    modified: float, body: bytes, content_type: str = "application/rss+xml"
) -> Behaviour:
    """200 with Last-Modified (a POSIX time), or 304 when If-Modified-Since is not older."""
    stamp = formatdate(modified, usegmt=True)

    def behave(handler: Handler) -> None:
        since = handler.headers.get("If-Modified-Since")
        try:
            fresh = since is not None and parsedate_to_datetime(since).timestamp() >= modified
        except (TypeError, ValueError):
            fresh = False
        if fresh:
            handler.send(304, b"", {"Last-Modified": stamp})
        else:
            handler.send(200, body, {"Last-Modified": stamp, "Content-Type": content_type})

    return behave


def redirect(location: str, status: int = 302) -> Behaviour:
    """A redirect to `location`, sent as given (relative or absolute)."""

    def behave(handler: Handler) -> None:
        handler.send(status, b"moved", {"Location": location, "Content-Type": "text/plain"})

    return behave


def redirect_chain(prefix: str, hops: int, final: Behaviour) -> dict[str, Behaviour]:
    """Routes prefix/0 → prefix/1 → … → prefix/{hops}, where `final` answers."""
    routes = {f"{prefix}/{n}": redirect(f"{prefix}/{n + 1}") for n in range(hops)}
    routes[f"{prefix}/{hops}"] = final
    return routes


def slow(delay: float, then: Behaviour) -> Behaviour:
    """Wait `delay` seconds (at most MAX_WAIT) before any byte, then behave as `then`."""

    def behave(handler: Handler) -> None:
        if handler.pause(delay):
            then(handler)

    return behave


def trickle(body: bytes, chunk_size: int = 8, pause: float = 0.1, limit: float = 3.0) -> Behaviour:
    """Headers at once, then the body a few bytes at a time; stops after `limit` seconds."""

    def behave(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.flush()
        ends = time.monotonic() + min(limit, MAX_WAIT)
        for start in range(0, len(body), chunk_size):
            handler.wfile.write(body[start : start + chunk_size])
            handler.wfile.flush()
            if time.monotonic() > ends or not handler.pause(pause):
                break
        handler.close_connection = True

    return behave


def endless(chunk: bytes = b"<p>more</p>" * 1000) -> Behaviour:
    """Headers without a length, then the same chunk again and again until the client gives up."""

    def behave(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.end_headers()
        ends = time.monotonic() + MAX_WAIT
        try:
            while time.monotonic() < ends and not handler.server.stopping.is_set():
                handler.wfile.write(chunk)
        except OSError:  # the client hung up, as it should
            pass
        handler.close_connection = True

    return behave


@functools.cache
def gzip_bomb_body(inflated_size: int = 50_000_000) -> bytes:
    """Gzip bytes that inflate to `inflated_size` zero bytes, built in 1 MB steps."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip container
    block = b"\0" * 1_000_000
    parts = []
    remaining = inflated_size
    while remaining > 0:
        parts.append(compressor.compress(block[: min(remaining, len(block))]))
        remaining -= len(block)
    parts.append(compressor.flush())
    return b"".join(parts)


def gzip_bomb(inflated_size: int = 50_000_000) -> Behaviour:
    """A small gzip body (Content-Encoding: gzip) that inflates to `inflated_size` bytes."""

    def behave(handler: Handler) -> None:
        handler.send(
            200,
            gzip_bomb_body(inflated_size),
            {"Content-Type": "text/html", "Content-Encoding": "gzip"},
        )

    return behave


def truncated(body: bytes, declared: int) -> Behaviour:
    """Declares Content-Length `declared`, sends only `body`, then closes."""

    def behave(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", str(declared))
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()
        handler.close_connection = True

    return behave


def hang_up() -> Behaviour:
    """Read the request, then close the connection without sending a byte."""

    def behave(handler: Handler) -> None:
        handler.close_connection = True

    return behave


# Hostile encodings and header pacing, and a page behind HTTP basic authentication.


@functools.cache
def brotli_bomb_body(inflated_size: int = 50_000_000) -> bytes:
    """Brotli bytes (a few hundred at most) that inflate to `inflated_size` zero bytes."""
    import brotli  # only the bomb needs it

    compressor = brotli.Compressor(quality=5)
    block = b"\0" * 1_000_000
    parts = []
    remaining = inflated_size
    while remaining > 0:
        parts.append(compressor.process(block[: min(remaining, len(block))]))
        remaining -= len(block)
    parts.append(compressor.finish())
    return b"".join(parts)


def brotli_bomb(inflated_size: int = 50_000_000) -> Behaviour:
    """A tiny body sent as Content-Encoding: br, whether asked for or not, inflating hugely."""

    def behave(handler: Handler) -> None:
        handler.send(
            200,
            brotli_bomb_body(inflated_size),
            {"Content-Type": "text/html", "Content-Encoding": "br"},
        )

    return behave


@functools.cache
def stacked_gzip_bomb_body(inflated_size: int = 50_000_000) -> bytes:
    """A gzip bomb gzipped once more: a few hundred bytes that inflate twice to `inflated_size`."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    return compressor.compress(gzip_bomb_body(inflated_size)) + compressor.flush()


def stacked_gzip_bomb(inflated_size: int = 50_000_000) -> Behaviour:
    """A body sent as Content-Encoding: gzip, gzip that inflates to `inflated_size` bytes."""

    def behave(handler: Handler) -> None:
        handler.send(
            200,
            stacked_gzip_bomb_body(inflated_size),
            {"Content-Type": "text/html", "Content-Encoding": "gzip, gzip"},
        )

    return behave


def trickled_headers(pause: float = 0.2, body: bytes = b"late") -> Behaviour:
    """The headers one byte per `pause` for MAX_WAIT seconds at most, then a short body."""

    def behave(handler: Handler) -> None:
        ends = time.monotonic() + MAX_WAIT
        send = handler.request.sendall
        send(b"HTTP/1.0 200 OK\r\nX-Padding: ")
        while time.monotonic() < ends and handler.pause(pause):
            send(b"a")
        send(b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        handler.close_connection = True

    return behave


def basic_auth(user: str, password: str, then: Behaviour) -> Behaviour:
    """`then` for requests with these basic-auth credentials, 401 for any other."""
    import base64

    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def behave(handler: Handler) -> None:
        if handler.headers.get("Authorization") == expected:
            then(handler)
        else:
            handler.send(401, b"who are you?", {"WWW-Authenticate": 'Basic realm="news"'})

    return behave


def record_connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hosts sockets are asked for, recorded; only loopback ones are really connected to."""
    opened: list[str] = []
    connect = httpcore.SyncBackend.connect_tcp

    def recorded(
        backend: httpcore.SyncBackend, host: str, port: int, *args: Any, **kwargs: Any
    ) -> Any:
        opened.append(host)
        if host not in ("127.0.0.1", "::1", "localhost"):  # no test traffic leaves loopback
            raise httpcore.ConnectError(f"a test connected to {host}")
        return connect(backend, host, port, *args, **kwargs)

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", recorded)
    return opened


@contextmanager
def serving_app(app: Any) -> Iterator[str]:
    """An ASGI app served by uvicorn on a free loopback port in a thread; yields its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):  # up to 5 s for the server to start
            if server.started:
                break
            time.sleep(0.01)
        assert server.started, "the board did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
