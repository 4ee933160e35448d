"""Reviewing on the board over HTTP: who may write, forms that cannot be forged, what each does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Review
from pipeline.extraction import Extractor
from pipeline.web import create_app
from storage.engine import open_engine, open_reader
from storage.sessions import unit_of_work
from tests.servers import serving_app
from tests.stored import store_lifecycle

TOKEN = "s3cret-token"
GALLIUM = "China's Commerce Ministry on Friday imposed export controls on gallium."


@pytest.fixture
def database(database_url: str, extractor: Extractor) -> tuple[str, sessionmaker[Session]]:
    """The lifecycle of one measure and a gallium control, stored."""
    more = [("https://c.example/gallium", "2025-05-14", GALLIUM)]
    return database_url, store_lifecycle(database_url, extractor, more)


@pytest.fixture
def board(database: tuple[str, sessionmaker[Session]]) -> Iterator[httpx.Client]:
    """A board that takes reviews: a reader, a writer and the token."""
    url, _ = database
    with (
        open_reader(url) as reader,
        open_engine(url) as writer,
        serving_app(create_app(reader, writer=writer, token=TOKEN)) as base,
        httpx.Client(base_url=base) as client,
    ):
        yield client


def _event(client: httpx.Client, action: str) -> dict[str, Any]:
    """The event of an action on dysprosium (or, for `gallium`, the gallium control)."""
    if action == "gallium":
        [history] = client.get("/api/elements/gallium").json()["histories"]
        return dict(history["founding"])
    [history] = client.get("/api/elements/dysprosium").json()["histories"]
    return next(e for e in history["events"] if e["action"] == action)


def _signed_in(client: httpx.Client, name: str = "Ana Analyst") -> str:
    """Sign in through the form; return the form key the pages carry."""
    page = client.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    answer = client.post("/signin", data={"name": name, "token": TOKEN, "csrf": csrf[1]})
    assert answer.status_code == 303, answer.text
    return csrf[1]


def test_a_board_without_token_takes_no_review(database: tuple[str, sessionmaker[Session]]) -> None:
    """Read-only: no sign-in link, and every write path is absent."""
    url, _ = database
    with (
        open_reader(url) as reader,
        serving_app(create_app(reader)) as base,
        httpx.Client(base_url=base) as client,
    ):
        assert "Sign in" not in client.get("/").text
        assert client.post("/events/1/review", data={"field": "verdict"}).status_code in (404, 405)
        assert client.post("/api/events/1/review", json={}).status_code in (404, 405)
        assert client.get("/signin").status_code == 404


def test_an_analyst_signs_in_and_corrects_a_target_by_form(
    board: httpx.Client, database: tuple[str, sessionmaker[Session]]
) -> None:
    """With the token, a name and the page's form key, the correction lands and is kept with it."""
    imposed = _event(board, "impose")
    assert imposed["targets"] == ["US"]
    csrf = _signed_in(board)
    page = board.get(f"/events/{imposed['id']}")
    assert "Reviewing as Ana Analyst" in page.text and 'action="/events/' in page.text
    answer = board.post(
        f"/events/{imposed['id']}/review",
        data={"field": "target", "value": "JP", "csrf": csrf},
    )
    assert answer.status_code == 303
    shown = board.get(answer.headers["location"])
    assert "Reviewed: target." in shown.text
    assert _event(board, "impose")["targets"] == ["JP"]
    _, session_factory = database
    with unit_of_work(session_factory) as session:
        rows = session.scalars(select(Review)).all()
    # One row per sentence of the event: the April article named the US, the recall nobody.
    assert sorted((r.article_url, r.before, r.after, r.reviewer) for r in rows) == [
        ("https://a.example/imposed", "US", "JP", "Ana Analyst"),
        ("https://a.example/recalled", None, "JP", "Ana Analyst"),
    ]


@pytest.mark.parametrize(
    ("sign_in", "form", "headers", "reason"),
    [
        (False, {"field": "verdict", "value": "confirmed"}, {}, "sign in"),
        (True, {"field": "verdict", "value": "confirmed", "csrf": "forged"}, {}, "key"),
        (True, {"field": "verdict", "value": "confirmed"}, {}, "key"),
        (
            True,
            {"field": "verdict", "value": "confirmed", "csrf": None},
            {"origin": "http://attacker.example"},
            "attacker.example",
        ),
    ],
)
def test_a_write_without_sign_in_or_the_forms_key_is_refused(
    board: httpx.Client,
    database: tuple[str, sessionmaker[Session]],
    sign_in: bool,
    form: dict[str, str | None],
    headers: dict[str, str],
    reason: str,
) -> None:
    """Not signed in, a forged or missing key, another site's form: 403 naming why, nothing kept."""
    csrf = _signed_in(board) if sign_in else ""
    data = {key: (csrf if value is None else value) for key, value in form.items()}
    answer = board.post(
        f"/events/{_event(board, 'impose')['id']}/review", data=data, headers=headers
    )
    assert answer.status_code == 403 and reason in answer.text
    _, session_factory = database
    with unit_of_work(session_factory) as session:
        assert session.scalars(select(Review)).all() == []


def test_a_wrong_token_signs_nobody_in(board: httpx.Client) -> None:
    """The token must match exactly; the analyst stays signed out."""
    page = board.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    answer = board.post("/signin", data={"name": "Eve", "token": "guess", "csrf": csrf[1]})
    assert answer.status_code == 403
    assert "Reviewing as" not in board.get("/").text


def test_tools_review_through_the_api_with_the_token(board: httpx.Client) -> None:
    """Bearer token and a name: confirm, merge and move; bad values are 400, no token 403."""
    auth = {"authorization": f"Bearer {TOKEN}", "x-reviewer": "pipeline-bot"}
    imposed, gallium = _event(board, "impose"), _event(board, "gallium")
    path = f"/api/events/{imposed['id']}/review"
    assert board.post(path, json={"field": "verdict", "value": "confirmed"}).status_code == 403
    wrong = {**auth, "authorization": "Bearer nope"}
    assert board.post(path, json={"field": "verdict"}, headers=wrong).status_code == 403
    bad = board.post(path, json={"field": "verdict", "value": "maybe"}, headers=auth)
    assert bad.status_code == 400 and "maybe" in bad.json()["error"]
    done = board.post(path, json={"field": "verdict", "value": "confirmed"}, headers=auth)
    assert done.status_code == 200 and done.json()["event_id"] == imposed["id"]
    merged = board.post(
        f"/api/events/{gallium['id']}/merge", json={"into": str(imposed["id"])}, headers=auth
    )
    assert merged.status_code == 200
    into = board.get(f"/api/events/{merged.json()['event_id']}").json()
    assert "gallium" in into["event"]["elements"] and "dysprosium" in into["event"]["elements"]
    assert into["event"]["reviewed"] == "confirmed,event"
    recalled = next(m for m in into["mentions"] if m["url"] == "https://a.example/recalled")
    out = board.post(f"/api/mentions/{recalled['id']}/move", json={"into": ""}, headers=auth)
    assert out.status_code == 200 and out.json() == {"event_id": None}
    urls = {m["url"] for m in board.get(f"/api/events/{imposed['id']}").json()["mentions"]}
    assert "https://a.example/recalled" not in urls
    assert (
        board.post(
            "/api/events/999999/review",
            json={"field": "verdict", "value": "confirmed"},
            headers=auth,
        ).status_code
        == 400
    )


def test_two_reviews_at_once_both_land(board: httpx.Client) -> None:
    """Two tools reviewing one event at the same moment: both are kept, the event says both."""
    auth = {"authorization": f"Bearer {TOKEN}", "x-reviewer": "bot"}
    imposed = _event(board, "impose")
    path = f"/api/events/{imposed['id']}/review"
    bodies = [{"field": "verdict", "value": "confirmed"}, {"field": "target", "value": "JP"}]
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda body: board.post(path, json=body, headers=auth), bodies))
    assert [answer.status_code for answer in answers] == [200, 200]
    event = _event(board, "impose")
    assert (event["reviewed"], event["targets"]) == ("confirmed,target", ["JP"])
