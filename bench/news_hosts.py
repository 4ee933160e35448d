"""Saved news pages served from loopback hosts, each with an RSS feed of teasers listing its pages.

Usage: python bench/news_hosts.py [--pages DIR | --aeb PATH] [--hosts 10] [--limit N]
Serves until its standard input closes, after printing one JSON line: {"feeds": [...], "pages":
{name: url}}. The pages are the 30 saved pages `make corpus` unpacks (newspaper4k's test data), any
folder of saved .html pages (--pages), or the 181 pages of scrapinghub/article-extraction-benchmark
(--aeb: a work tree, or a bare repository whose HEAD holds html/*.html.gz). Pages go to the hosts
in turn: 127.0.0.2, 127.0.0.3, ... when they can be bound, else ports of 127.0.0.1. Each feed entry
carries a one-line teaser, so every page is fetched. `serve_hosts` runs this in a child process,
so the servers take no time from the process being measured.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fetch import loopback_addresses  # noqa: E402  (the project root is on the path now)

CORPUS_PAGES = ROOT / ".venv" / "corpus" / "newspaper4k-0.9.6" / "tests" / "data" / "html"
PAGE_TYPE = "text/html"  # no charset: the page's own <meta>, or detection, tells it
FEED_TYPE = "application/rss+xml; charset=utf-8"


@dataclass(frozen=True)
class Hosts:
    """Where the served pages are: one feed URL per host, and each page's URL by its name."""

    feeds: list[str]
    pages: dict[str, str]


def page_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that choose the pages and how they are served, shared by the benchmarks."""
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument(
        "--pages", type=Path, help=f"a folder of saved .html pages (default {CORPUS_PAGES})"
    )
    chosen.add_argument(
        "--aeb", type=Path, help="a checkout of scrapinghub/article-extraction-benchmark"
    )
    parser.add_argument("--hosts", type=int, default=10, help="loopback hosts (default 10)")
    parser.add_argument("--limit", type=int, help="serve only the first N pages")


def load_pages(args: argparse.Namespace) -> dict[str, bytes]:
    """The chosen pages by file name (.html), in name order, at most --limit of them."""
    if args.aeb is not None:
        pages = benchmark_pages(args.aeb)
    else:
        pages = folder_pages(args.pages or CORPUS_PAGES)
    names = sorted(pages)[: args.limit] if args.limit is not None else sorted(pages)
    return {name: pages[name] for name in names}


def folder_pages(folder: Path) -> dict[str, bytes]:
    """The .html pages of a folder."""
    if not folder.is_dir():
        sys.exit(f"{folder}: no such folder of pages (run `make corpus`, or give --pages)")
    pages = {path.name: path.read_bytes() for path in folder.glob("*.html")}
    if not pages:
        sys.exit(f"{folder}: no .html pages in it")
    return pages


def benchmark_pages(checkout: Path) -> dict[str, bytes]:
    """The html/*.html.gz pages of an article-extraction-benchmark work tree or bare repository."""
    folder = checkout / "html"
    if folder.is_dir():
        packed = {path.name: path.read_bytes() for path in folder.glob("*.html.gz")}
    else:
        archive = subprocess.run(
            ["git", "-C", str(checkout), "archive", "--format=tar", "HEAD:html"],
            capture_output=True,
            check=False,
        )
        if archive.returncode != 0:
            error = archive.stderr.decode(errors="replace").strip()
            sys.exit(f"{checkout}: no html/ folder and no git HEAD with one ({error})")
        packed = {}
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            for member in tar.getmembers():
                extracted = tar.extractfile(member) if member.isfile() else None
                if extracted is not None and member.name.endswith(".html.gz"):
                    packed[Path(member.name).name] = extracted.read()
    if not packed:
        sys.exit(f"{checkout}: no html/*.html.gz pages in it")
    return {name.removesuffix(".gz"): gzip.decompress(body) for name, body in packed.items()}


def feed_of(base: str, names: list[str]) -> bytes:
    """An RSS feed with one item per page: its link and a one-line teaser, not its text."""
    items = "".join(
        f"<item><title>{escape(name)}</title><link>{base}/{escape(name)}</link>"
        f"<guid>{base}/{escape(name)}</guid><pubDate>{formatdate(0)}</pubDate>"
        f"<description>A saved news page, {escape(name)}.</description></item>"
        for name in names
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>news</title>'
        f"<link>{base}/</link><description>saved pages</description>{items}</channel></rss>"
    ).encode()


class PageServer(ThreadingHTTPServer):
    """One news host: its pages by path, kept-alive connections as real sites keep them."""

    daemon_threads = True

    def __init__(self, address: str) -> None:
        """Bind to `address` on a free port."""
        super().__init__((address, 0), PageHandler)
        self.pages: dict[str, tuple[bytes, str]] = {}

    @property
    def base(self) -> str:
        """The server's root URL."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def handle_error(self, request: object, client_address: object) -> None:
        """Stay quiet when a client drops a kept-alive connection: that is how runs end."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class PageHandler(BaseHTTPRequestHandler):
    """Serves a PageServer's pages; 404 for anything else."""

    server: PageServer
    protocol_version = "HTTP/1.1"
    timeout = 30.0  # an idle kept-alive connection ends after this
    # Headers and body go out in two writes: with Nagle's algorithm the body waits for the
    # client's delayed ACK of the headers, about 40 ms a request when requests follow closely.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        """Answer 200 with the page, or 404."""
        page = self.server.pages.get(self.path)
        body, kind = page if page is not None else (b"not found", "text/plain")
        self.send_response(200 if page is not None else 404)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet."""


def start_servers(pages: dict[str, bytes], count: int) -> tuple[list[PageServer], Hosts]:
    """One server per host, serving its share of the pages (dealt in turn) and a feed of them."""
    count = max(1, min(count, len(pages)))
    servers = [PageServer(address) for address in loopback_addresses(count)]
    urls: dict[str, str] = {}
    names = list(pages)
    for index, server in enumerate(servers):
        mine = names[index::count]
        server.pages = {f"/{name}": (pages[name], PAGE_TYPE) for name in mine}
        server.pages["/feed.xml"] = (feed_of(server.base, mine), FEED_TYPE)
        urls.update({name: f"{server.base}/{name}" for name in mine})
        threading.Thread(target=server.serve_forever, daemon=True).start()
    return servers, Hosts([f"{server.base}/feed.xml" for server in servers], urls)


@contextmanager
def serve_hosts(args: argparse.Namespace) -> Iterator[Hosts]:
    """Serve the chosen pages from a child process for the block; yield where they are."""
    command = [sys.executable, str(Path(__file__).resolve()), "--hosts", str(args.hosts)]
    if args.aeb is not None:
        command += ["--aeb", str(args.aeb)]
    elif args.pages is not None:
        command += ["--pages", str(args.pages)]
    if args.limit is not None:
        command += ["--limit", str(args.limit)]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdin is not None and child.stdout is not None
    try:
        line = child.stdout.readline()
        if not line:
            sys.exit(f"the page servers did not start (exit status {child.wait()})")
        told = json.loads(line)
        yield Hosts(told["feeds"], told["pages"])
    finally:
        child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def main() -> int:
    """Serve the pages until standard input closes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    page_arguments(parser)
    args = parser.parse_args()
    servers, hosts = start_servers(load_pages(args), args.hosts)
    print(json.dumps({"feeds": hosts.feeds, "pages": hosts.pages}), flush=True)
    sys.stdin.read()
    for server in servers:
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
