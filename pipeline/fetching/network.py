"""Connections for fetching: only to public addresses, each checked as connected, within a deadline.

The address a request goes to is checked where the connection is made: the host is resolved once,
every address it resolves to is checked, and the socket is opened to the checked address itself,
so a DNS answer that changes between the check and the connection (rebinding) cannot slip a
private address in. TLS still verifies, and the Host header still names, the host of the URL.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
import typing
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from urllib.parse import urlsplit

import httpcore
import httpx

Resolver = Callable[[str, int], list[str]]  # (host, port) -> the addresses to try, in order
ALLOW_LOOPBACK = "newstrack.allow_loopback"  # request extension: loopback is allowed for it
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # IPv4 addresses written as IPv6 (RFC 6052)
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated, and never a public address

_deadline: ContextVar[float | None] = ContextVar("newstrack_deadline", default=None)


class AddressRefusedError(Exception):
    """A host resolved to an address that requests may not go to."""

    def __init__(self, host: str, address: str) -> None:
        named = address if host.strip("[]") == address else f"{host} is at {address}, which"
        super().__init__(f"{named} is not a public address")
        self.host = host
        self.address = address


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses of a host, from the system's resolver, in the order to try them."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_refused_address(address: str, allow_loopback: bool = False) -> bool:
    """Whether a request may not go to this address: anything not globally routable.

    IPv4 written as IPv6 (mapped, 6to4, NAT64) is judged as the IPv4 address it stands for.
    Loopback is allowed only when asked for.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone ("%eth0") aside
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            ip = embedded
        elif ip in IPV4_COMPATIBLE and not ip.is_loopback:
            return True
    if ip.is_loopback:
        return not allow_loopback
    return not ip.is_global or ip.is_multicast or ip.is_unspecified or ip.is_reserved


def is_loopback_url(url: str) -> bool:
    """Whether a URL names this machine: localhost or a loopback address."""
    try:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


@contextmanager
def connection_deadline(moment: float) -> Iterator[None]:
    """Every connect, read and write in the block ends by `moment` (time.monotonic)."""
    token = _deadline.set(moment)
    try:
        yield
    finally:
        _deadline.reset(token)


def _within_deadline(
    timeout: float | None, expired: type[httpcore.TimeoutException]
) -> float | None:
    """A socket timeout cut to what is left before the deadline; raises once none is left."""
    moment = _deadline.get()
    if moment is None:
        return timeout
    remaining = moment - time.monotonic()
    if remaining <= 0:
        raise expired("the total time for the request ran out")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the current deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Read, waiting no longer than the deadline allows."""
        return self._inner.read(max_bytes, _within_deadline(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Write, waiting no longer than the deadline allows."""
        self._inner.write(buffer, _within_deadline(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        """Close the connection."""
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        """The TLS handshake, within the deadline; TLS verifies `server_hostname`, not the IP."""
        timeout = _within_deadline(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        """What the underlying connection tells (its socket, its peer address ...)."""
        return self._inner.get_extra_info(info)


class _CheckedBackend(httpcore.NetworkBackend):
    """Resolves a host once, checks every address, and connects to a checked address only."""

    def __init__(
        self,
        resolver: Resolver,
        allow_loopback: bool,
        allow_private: bool,
        inner: httpcore.NetworkBackend | None = None,
    ) -> None:
        self._resolver = resolver
        self._allow_loopback = allow_loopback
        self._allow_private = allow_private
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Connect to the first reachable address of `host`, if all of them are allowed."""
        timeout = _within_deadline(timeout, httpcore.ConnectTimeout)
        try:
            addresses = self._resolver(host, port)
        except (OSError, UnicodeError) as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from error
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}: no address")
        if not self._allow_private:
            for address in addresses:
                if is_refused_address(address, self._allow_loopback):
                    raise AddressRefusedError(host, address)
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as error:  # this address is down: try the next one
                failure = error
                continue
            return _DeadlineStream(stream)
        assert failure is not None
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Unix sockets are never used for fetching."""
        raise httpcore.ConnectError("fetching never connects to a unix socket")

    def sleep(self, seconds: float) -> None:
        """Sleep as the default backend does."""
        self._inner.sleep(seconds)


class CheckedTransport(httpx.BaseTransport):
    """An HTTP transport that connects only to allowed addresses, pinned as checked.

    A request allows loopback when its extensions say so (ALLOW_LOOPBACK); requests of each kind
    have their own connection pool, so no connection made for one kind serves the other.
    """

    def __init__(self, resolver: Resolver = system_resolver, allow_private: bool = False) -> None:
        self._resolver = resolver
        self._allow_private = allow_private
        self._pools: dict[bool, httpx.HTTPTransport] = {}
        self._lock = threading.Lock()

    def _pool(self, allow_loopback: bool) -> httpx.HTTPTransport:
        with self._lock:
            return self._pools.get(allow_loopback) or self._new_pool(allow_loopback)

    def _new_pool(self, allow_loopback: bool) -> httpx.HTTPTransport:
        context = httpx.create_ssl_context()  # loading the CA bundle takes 0.02 s: once per pool
        transport = httpx.HTTPTransport(verify=context)
        backend = _CheckedBackend(self._resolver, allow_loopback, self._allow_private)
        # httpx takes no network backend, so its pool is rebuilt with ours, as httpx builds it.
        transport._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=backend,
        )
        self._pools[allow_loopback] = transport
        return transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send the request through the pool for its kind."""
        allow_loopback = bool(request.extensions.get(ALLOW_LOOPBACK, False))
        return self._pool(allow_loopback).handle_request(request)

    def close(self) -> None:
        """Close every pool."""
        for transport in self._pools.values():
            transport.close()
