"""Replay of recorded responses through a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from models.errors import ConfigError
from pipeline.config.yaml_loader import load_yaml, where


@dataclass(frozen=True)
class RecordedResponse:
    """One recorded response: status, headers and body."""

    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def etag(self) -> str:
        """The recorded ETag, else one derived from the body, so conditional GETs work on replay."""
        recorded = {name.lower(): value for name, value in self.headers.items()}.get("etag")
        return recorded or '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'


def request_key(url: str) -> str:
    """Host, path and query of a URL: what a recorded response is looked up by."""
    parts = urlsplit(url)
    key = (parts.hostname or "").lower() + (parts.path or "/")
    return f"{key}?{parts.query}" if parts.query else key


def load_snapshot(folder: Path) -> dict[str, RecordedResponse]:
    """Read `manifest.yaml` and the bodies it names."""
    manifest = folder / "manifest.yaml"
    document = load_yaml(manifest)
    if not isinstance(document, dict) or not isinstance(document.get("responses"), list):
        raise ConfigError(f"{manifest}: expected a mapping with a `responses:` list")
    responses: dict[str, RecordedResponse] = {}
    for item in document["responses"]:
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            raise ConfigError(f"{where(manifest, item)}: each response needs a `url`")
        body = b""
        if item.get("file"):
            path = folder / str(item["file"])
            try:
                body = path.read_bytes()
            except OSError as error:
                raise ConfigError(
                    f"{where(manifest, item)}: cannot read {path}: {error.strerror}"
                ) from None
        headers = item.get("headers") or {}
        status = item.get("status", 200)
        if not isinstance(status, int) or not isinstance(headers, dict):
            raise ConfigError(
                f"{where(manifest, item)}: `status` must be a number and `headers` a mapping"
            )
        responses[request_key(item["url"])] = RecordedResponse(
            status=status,
            content_type=str(item.get("content_type", "text/html; charset=utf-8")),
            body=body,
            headers={str(k): str(v) for k, v in headers.items() if k != "__line__"},
        )
    return responses


class _Handler(BaseHTTPRequestHandler):
    server: _SnapshotHTTPServer

    def do_GET(self) -> None:
        host = self.headers.get("Host", "").split(":")[0]
        recorded = self.server.responses.get(request_key(f"http://{host}{self.path}"))
        if recorded is None:
            self._send(404, b"not in snapshot", {"Content-Type": "text/plain"})
            return
        if recorded.status == 200 and self.headers.get("If-None-Match") == recorded.etag:
            self._send(304, b"", {"ETag": recorded.etag})
            return
        headers = {"Content-Type": recorded.content_type, "ETag": recorded.etag}
        self._send(recorded.status, recorded.body, headers | recorded.headers)

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the fetch layer logs what matters."""


class _SnapshotHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, responses: dict[str, RecordedResponse]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.responses = responses


@contextmanager
def serve_snapshot(folder: Path) -> Iterator[str]:
    """Serve a snapshot folder on 127.0.0.1 for the duration of the block; yield its base URL."""
    server = _SnapshotHTTPServer(load_snapshot(folder))
    thread = threading.Thread(target=server.serve_forever, name="snapshot-server", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class ReplayTransport(httpx.BaseTransport):
    """Sends every request to one loopback server, keeping the original host in the Host header."""

    def __init__(self, server_url: str, inner: httpx.BaseTransport | None = None) -> None:
        self._server = httpx.URL(server_url)
        self._inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Rewrite the URL to the replay server and forward the request."""
        original = request.url
        rewritten = original.copy_with(
            scheme=self._server.scheme, host=self._server.host, port=self._server.port
        )
        headers = httpx.Headers(request.headers)
        headers["Host"] = original.host
        forwarded = httpx.Request(request.method, rewritten, headers=headers, stream=request.stream)
        return self._inner.handle_request(forwarded)

    def close(self) -> None:
        """Close the inner transport."""
        self._inner.close()
