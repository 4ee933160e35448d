"""The board in a real browser: Debian's chromium, driven by Playwright, against `newstrack serve`
on the database the demo builds from the snapshot. With NEWSTRACK_SCREENSHOTS=DIR the pages'
screenshots are kept there (`make screenshots` writes the README's)."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from pipeline.cli import main
from tests.conftest import PROJECT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without these, chromium reaches for Google's hosts at start (refused here: no network).
QUIET = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _demo_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A new database holding what `make demo` stores."""
    database = f"sqlite:///{tmp_path_factory.mktemp('board') / 'newstrack.db'}"
    assert main(["--db", database, "-q", "run", "--replay", str(PROJECT / "snapshot")]) in (0, 3)
    return database


@contextmanager
def _serving(database: str, folder: Path, token: str | None = None, *options: str) -> Iterator[str]:
    """`newstrack serve` in a child process (taking reviews with a token); yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = folder / "serve.log"
    environment = {k: v for k, v in os.environ.items() if k != "NEWSTRACK_REVIEW_TOKEN"}
    if token:
        environment["NEWSTRACK_REVIEW_TOKEN"] = token
    with log.open("w") as output:
        child = subprocess.Popen(
            [
                *(sys.executable, "-m", "pipeline.cli", "--db", database, "serve"),
                *("--port", str(port), *options),
            ],
            cwd=PROJECT,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # up to 30 s for the board to answer
            try:
                if httpx.get(base + "/sources", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
            assert child.poll() is None, log.read_text()
        yield base
    finally:
        child.terminate()
        child.wait(timeout=10)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The read-only board on the demo's database; yields its URL."""
    with _serving(_demo_database(tmp_path_factory), tmp_path_factory.mktemp("serve")) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless; nothing is downloaded."""
    assert Path(CHROMIUM).is_file(), f"no chromium at {CHROMIUM}: `make test` installs it (apt)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=QUIET)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page with JavaScript off: every page of the board works without it."""
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1200, "height": 900}
    )
    yield context.new_page()
    context.close()


def _keep(page: Page, name: str) -> None:
    """A screenshot of the window, kept where NEWSTRACK_SCREENSHOTS says, else checked and dropped."""
    folder = os.environ.get("NEWSTRACK_SCREENSHOTS")
    shot = page.screenshot(path=str(Path(folder) / f"{name}.png") if folder else None)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 10_000


def test_the_element_timeline_shows_each_measure_and_leads_to_its_events(
    served: str, page: Page
) -> None:
    """Dysprosium's chart draws a bar per period with its days on hover; a mark opens the event."""
    page.goto(f"{served}/elements/Dy")
    chart = page.locator("figure.chart svg")
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 800
    bars = page.locator("rect.bar")
    assert bars.count() >= 3
    assert (bars.first.locator("title").text_content() or "").startswith("in force: 2025-04-04")
    assert page.locator("table tbody tr").count() >= 3
    titles = page.locator("circle.mark title").all_text_contents()
    assert any("(CN impose export control on " in title for title in titles), titles
    _keep(page, "element")
    # Events reported on one day have no fixed order: the first mark may be any of them.
    summary = titles[0].split(" (", 1)[1].removesuffix(")")
    page.locator("circle.mark").first.click()
    page.wait_for_url("**/events/*")
    assert page.locator("h1").inner_text().startswith(summary)
    assert page.locator("blockquote").count() >= 1
    _keep(page, "event")


def test_from_today_to_a_measure_to_an_article_with_its_tags(served: str, page: Page) -> None:
    """Today lists what is in force; a measure shows its chain and sources; an article its tags."""
    page.goto(served)
    assert page.locator("h2", has_text="in force").first.is_visible()
    _keep(page, "today")
    page.locator("section table a[href^='/measures/']").first.click()
    page.wait_for_url("**/measures/*")
    assert page.locator("h2", has_text="Events").is_visible()
    assert page.locator("ul.reports li").count() >= 1
    _keep(page, "measure")
    page.locator("blockquote footer a").first.click()
    page.wait_for_url("**/articles/*")
    assert page.locator(".text .k-event").count() >= 1
    assert page.locator(".text .k-element").count() >= 1
    _keep(page, "article")


def test_search_and_a_misspelt_element_answer_in_the_browser(served: str, page: Page) -> None:
    """The search form finds events; a misspelt element's page offers the element meant."""
    page.goto(served)
    page.fill("form.find input[name=q]", "gallium")
    page.click("form.find button")
    page.wait_for_url("**/search?q=gallium")
    assert page.locator("table tbody tr").count() >= 1
    response = page.goto(f"{served}/elements/galium")
    assert response is not None and response.status == 404
    page.click("main ul a[href='/elements/gallium']")
    page.wait_for_url("**/elements/gallium")
    assert page.locator("rect.bar").count() >= 1
    page.goto(f"{served}/sources")
    _keep(page, "sources")


def test_an_analyst_corrects_a_target_and_it_holds_through_extract_all_and_consolidate(
    tmp_path_factory: pytest.TempPathFactory, page: Page
) -> None:
    """Sign in, correct the April controls' target from the event page, reload: JP. Then
    `extract --all` and `consolidate` rebuild everything, and the correction is still there."""
    database = _demo_database(tmp_path_factory)
    with _serving(database, tmp_path_factory.mktemp("review"), token="board-token") as base:
        page.goto(f"{base}/signin")
        page.fill("input[name=name]", "Ana")
        page.fill("input[name=token]", "board-token")
        page.click("form.filters button")
        page.wait_for_url(f"{base}/")
        assert "Reviewing as Ana" in page.inner_text("header")
        page.goto(f"{base}/elements/dysprosium")
        page.locator("circle.mark").first.click()
        page.wait_for_url("**/events/*")
        assert "targets" in page.inner_text("dl.facts")
        sentence = page.locator("blockquote").first.inner_text().splitlines()[0]
        page.select_option("select[name=field]", "target")
        page.fill("input[name=value]", "JP")
        with page.expect_navigation():
            page.click("form.filters button:text-is('Correct')")
        page.reload()
        facts = page.inner_text("dl.facts")
        assert "JP" in facts and "Reviewed: target." in page.inner_text("main")
        _keep(page, "review")
        # As if an older extractor had read every article: `extract --all` reads them all again.
        with sqlite3.connect(database.removeprefix("sqlite:///")) as connection:
            connection.execute("UPDATE articles SET extractor_version = 'older'")
        for command in (["extract", "--all"], ["consolidate"]):
            assert main(["--db", database, "-q", *command]) in (0, 3)
        words = " ".join(sentence.split()[:8])
        found = httpx.get(f"{base}/api/search", params={"q": words}).json()["events"]
        corrected = [e for e in found if e["reviewed"] == "target"]
        assert corrected and all(e["targets"] == ["JP"] for e in corrected), found
        page.goto(f"{base}/events/{corrected[0]['id']}")
        assert "JP" in page.inner_text("dl.facts")


def test_serve_read_only_takes_no_review_even_with_the_token(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """`--read-only` wins over NEWSTRACK_REVIEW_TOKEN: no sign-in page, no write path."""
    database = _demo_database(tmp_path_factory)
    folder = tmp_path_factory.mktemp("read-only")
    with _serving(database, folder, "board-token", "--read-only") as base:
        assert httpx.get(f"{base}/signin").status_code == 404
        assert httpx.post(f"{base}/api/events/1/review", json={}).status_code in (404, 405)
        assert "Sign in" not in httpx.get(base).text
