"""The board in a real browser: Debian's chromium, driven by Playwright, against `newstrack serve`
on the database the demo builds from the snapshot. With NEWSTRACK_SCREENSHOTS=DIR the pages'
screenshots are kept there (`make screenshots` writes the README's)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
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


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`newstrack serve` in a child process on the demo's database; yields the board's URL."""
    database = f"sqlite:///{tmp_path_factory.mktemp('board') / 'newstrack.db'}"
    assert main(["--db", database, "-q", "run", "--replay", str(PROJECT / "snapshot")]) in (0, 3)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with log.open("w") as output:
        child = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "--db", database, "serve", "--port", str(port)],
            cwd=PROJECT,
            stdout=output,
            stderr=subprocess.STDOUT,
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
    """A full-page screenshot, kept where NEWSTRACK_SCREENSHOTS says, else checked and dropped."""
    folder = os.environ.get("NEWSTRACK_SCREENSHOTS")
    shot = page.screenshot(
        full_page=True, path=str(Path(folder) / f"{name}.png") if folder else None
    )
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
    _keep(page, "element")
    page.locator("circle.mark").first.click()
    page.wait_for_url("**/events/*")
    assert page.locator("h1").inner_text().startswith("CN impose export control")
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
