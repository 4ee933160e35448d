"""Events stored from general news: real pages served over loopback as a feed, read by `newstrack run`.

Usage: python bench/offtopic.py [--pages DIR]
The pages are the 30 saved news pages of newspaper4k's test data that `make corpus` unpacks (games,
politics, gadgets, weather; none states a critical-mineral measure), or any folder of saved pages.
Each is served from a loopback host with an RSS feed listing them all; `newstrack run` reads the
feed into a new SQLite file. Prints pages stored, events stored per 100 pages, and each event.
"""

from __future__ import annotations

import argparse
import http.server
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
from email.utils import formatdate
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / ".venv" / "corpus" / "newspaper4k-0.9.6" / "tests" / "data" / "html"


def feed_of(base: str, names: list[str]) -> bytes:
    """An RSS feed with one item per page, linking to it and saying nothing else."""
    items = "".join(
        f"<item><title>{escape(name)}</title><link>{base}/{escape(name)}</link>"
        f"<guid>{base}/{escape(name)}</guid><pubDate>{formatdate(0)}</pubDate></item>"
        for name in names
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>general news</title>'
        f"<link>{base}/</link><description>pages</description>{items}</channel></rss>"
    ).encode()


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve the folder's pages and a feed of them on 127.0.0.1; return the server and its address."""
    names = sorted(path.name for path in folder.glob("*.html"))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            name = self.path.lstrip("/")
            if name == "feed.xml":
                body, kind = feed_of(f"http://127.0.0.1:{port}", names), "application/rss+xml"
            elif name in names:
                body, kind = (folder / name).read_bytes(), "text/html"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{port}"


def main() -> int:
    """Run the job on the served pages and print what it stored."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=Path, default=PAGES, help="a folder of saved .html pages")
    args = parser.parse_args()
    if not args.pages.is_dir():
        sys.exit(f"no pages in {args.pages}: run `make corpus` or give --pages")
    server, base = serve(args.pages)
    with tempfile.TemporaryDirectory() as folder:
        sources = Path(folder) / "sources.yaml"
        sources.write_text(
            "version: 1\nsources:\n  - name: general-news\n    kind: rss\n"
            f"    max_articles: 1000\n    obey_robots: false\n    urls: [{base}/feed.xml]\n",
            encoding="utf-8",
        )
        database = Path(folder) / "news.db"
        environment = {
            **os.environ,
            "NEWSTRACK_DB": f"sqlite:///{database}",
            "NEWSTRACK_SOURCES": str(sources),
            "NEWSTRACK_ALLOW_PRIVATE_ADDRESSES": "true",
            "NEWSTRACK_PER_HOST_INTERVAL": "0",
        }
        command = [sys.executable, "-m", "pipeline.cli", "-q", "run"]
        subprocess.run(command, env=environment, cwd=ROOT, check=False)
        server.shutdown()
        with sqlite3.connect(database) as connection:
            pages = connection.execute("SELECT count(*) FROM articles").fetchone()[0]
            events = connection.execute(
                "SELECT e.actor, e.action, e.measure, a.url, m.sentence FROM events e "
                "JOIN mentions m ON m.event_id = e.id JOIN articles a ON a.id = m.article_id"
            ).fetchall()
    rate = 100 * len({row[:4] for row in events}) / pages if pages else 0.0
    print(f"pages stored: {pages}; events stored: {len(events)} mentions, {rate:.1f} per 100 pages")
    for actor, action, measure, url, sentence in events:
        print(f"  {actor} {action} {measure}  {url.rsplit('/', 1)[-1]}: {sentence[:120]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
