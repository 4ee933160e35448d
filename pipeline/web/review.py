"""Reviews on the board: who may write, forms that cannot be forged, and what each form does."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from models.errors import UsageError
from storage.reviews import (
    event_of_sentence,
    first_sentence,
    join_sentences,
    merge_events,
    reject_sentence,
    review_event,
    sentence_of,
    settle,
)
from storage.sessions import unit_of_work

REVIEWER_COOKIE = "newstrack_reviewer"
CSRF_COOKIE = "newstrack_csrf"
CSRF_FIELD = "csrf"
MAX_NAME = 80
MAX_BODY = 64 * 1024  # a review form or JSON body is small


class Refused(PermissionError):
    """A write without a valid sign-in, token or form key; the message says which."""


@dataclass(frozen=True)
class Signed:
    """Who asks, and whether the request came as a form from the board (else as JSON)."""

    reviewer: str
    form: bool


def _signature(token: str, name: str) -> str:
    return hmac.new(token.encode(), name.encode(), hashlib.sha256).hexdigest()


class Reviewing:
    """The board's writes: signed-in analysts (cookie) or tools (bearer token) record reviews."""

    def __init__(
        self,
        token: str,
        sessions: sessionmaker[Session],
        refuse: Callable[[Request, int, str, bool], Response],
    ) -> None:
        self.token = token
        self.sessions = sessions
        self.refuse = refuse  # the board's error page (or JSON) for a status and a message

    def reviewer(self, request: Request) -> str | None:
        """The signed-in analyst's name, from a cookie only the token could have signed."""
        cookie = request.cookies.get(REVIEWER_COOKIE, "")
        name, _, signature = cookie.rpartition("|")
        if name and hmac.compare_digest(signature, _signature(self.token, name)):
            return name
        return None

    def csrf(self, request: Request) -> str:
        """The form key of this browser: its cookie's, or a new one the response sets."""
        return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)

    def routes(self) -> list[Route]:
        """The sign-in and review endpoints, as forms and under /api as JSON."""
        found = [
            Route("/signin", self._guarded(self.sign_in), methods=["POST"]),
            Route("/signout", self._guarded(self.sign_out), methods=["POST"]),
        ]
        for path, operation in (
            ("/events/{number}/review", self._review),
            ("/events/{number}/merge", self._merge),
            ("/mentions/{number}/move", self._move),
        ):
            for prefix in ("", "/api"):
                found.append(Route(prefix + path, self._writer(operation), methods=["POST"]))
        return found

    def _guarded(self, endpoint: Callable[[Request], Any]) -> Any:
        """An endpoint whose refusals and bad values answer 403 and 400 with their reason."""

        async def guarded(request: Request) -> Response:
            api = request.url.path.startswith("/api/")
            try:
                answer: Response = await endpoint(request)
            except Refused as error:
                return self.refuse(request, 403, str(error), api)
            except UsageError as error:
                return self.refuse(request, 400, str(error), api)
            return answer

        return guarded

    async def sign_in(self, request: Request) -> Response:
        """Check the token from the sign-in form and remember the analyst's name in a cookie."""
        form = await self._form(request)
        name = " ".join(str(form.get("name", "")).split())[:MAX_NAME]
        given = str(form.get("token", ""))
        if not name or not hmac.compare_digest(given.encode(), self.token.encode()):
            raise Refused("the name is empty or the token is wrong")
        answer = RedirectResponse("/", status_code=303)
        answer.set_cookie(
            REVIEWER_COOKIE,
            f"{name}|{_signature(self.token, name)}",
            httponly=True,
            samesite="strict",
        )
        return answer

    async def sign_out(self, request: Request) -> Response:
        """Forget the analyst's cookie."""
        await self._form(request)
        answer = RedirectResponse("/", status_code=303)
        answer.delete_cookie(REVIEWER_COOKIE)
        return answer

    def _writer(self, operation: Callable[[Session, int, dict[str, Any], str], int | None]) -> Any:
        """An endpoint that checks who writes, applies the operation and consolidates, in one
        transaction; it answers a form with the event's page and JSON with the event's id."""

        async def endpoint(request: Request) -> Response:
            signed = await self._signed(request)
            values = await self._form(request) if signed.form else await self._json(request)
            number = _number(request.path_params["number"])

            def write() -> int | None:
                with unit_of_work(self.sessions) as session:
                    return operation(session, number, values, signed.reviewer)

            where = await run_in_threadpool(write)  # the event loop keeps serving pages
            if signed.form:
                return RedirectResponse(f"/events/{where}" if where else "/", status_code=303)
            return JSONResponse({"event_id": where})

        return self._guarded(endpoint)

    async def _signed(self, request: Request) -> Signed:
        """Who writes: a bearer token with a reviewer's name (JSON), else a signed-in analyst
        whose form carries the key of its cookie and comes from this board."""
        header = request.headers.get("authorization", "")
        if request.url.path.startswith("/api/"):
            if not header.startswith("Bearer ") or not hmac.compare_digest(
                header.removeprefix("Bearer ").encode(), self.token.encode()
            ):
                raise Refused("writes under /api need Authorization: Bearer NEWSTRACK_REVIEW_TOKEN")
            name = " ".join(request.headers.get("x-reviewer", "").split())[:MAX_NAME]
            if not name:
                raise Refused("say who reviews in the X-Reviewer header")
            return Signed(name, form=False)
        reviewer = self.reviewer(request)
        if reviewer is None:
            raise Refused(
                "sign in to review (the board's Sign in page, with NEWSTRACK_REVIEW_TOKEN)"
            )
        return Signed(reviewer, form=True)

    async def _form(self, request: Request) -> dict[str, Any]:
        """A posted form whose key matches its cookie and whose origin is this board."""
        origin = request.headers.get("origin")
        if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
            raise Refused(f"a form from {origin} cannot write here")
        body = await request.body()
        if len(body) > MAX_BODY:
            raise Refused("the form is too large")
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind != "application/x-www-form-urlencoded":
            raise UsageError(f"a review form is application/x-www-form-urlencoded, not {kind!r}")
        try:
            values = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise UsageError("the form is not UTF-8") from None
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not cookie or not hmac.compare_digest(values.get(CSRF_FIELD, ""), cookie):
            raise Refused("the form's key does not match: reload the page and try again")
        return values

    async def _json(self, request: Request) -> dict[str, Any]:
        body = await request.body()
        if len(body) > MAX_BODY:
            raise Refused("the body is too large")
        try:
            values = json.loads(body or b"{}")
        except json.JSONDecodeError as error:
            raise UsageError(f"the body is not JSON: {error}") from None
        if not isinstance(values, dict):
            raise UsageError("the body is not a JSON object")
        return values

    def _review(
        self, session: Session, event_id: int, values: dict[str, Any], who: str
    ) -> int | None:
        first = first_sentence(session, event_id)
        after = values.get("value")
        field = str(values.get("field") or "")
        settle(
            session,
            review_event(session, event_id, field, None if after is None else str(after), who),
        )
        return event_of_sentence(session, *first)

    def _merge(
        self, session: Session, event_id: int, values: dict[str, Any], who: str
    ) -> int | None:
        into = _number(str(values.get("into", "")))
        first = first_sentence(session, into)
        settle(session, merge_events(session, event_id, into, who))
        return event_of_sentence(session, *first)

    def _move(
        self, session: Session, mention_id: int, values: dict[str, Any], who: str
    ) -> int | None:
        sentence = sentence_of(session, mention_id)
        into = str(values.get("into") or "").strip()
        if into:
            applied = join_sentences(session, [mention_id], _number(into), who)
        else:  # out of every event: the sentence reports none
            applied = reject_sentence(session, mention_id, who)
        settle(session, applied)
        return event_of_sentence(session, *sentence)


def _number(value: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise UsageError(f"{value!r} is not an id")
    return int(value)
