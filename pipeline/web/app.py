"""The board's web application: pages and their JSON under /api, on a database that only reads."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import date, datetime
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.vocabulary import MEASURES, STATES, UnknownNameError, Vocabulary, load_vocabulary
from pipeline.delivery.chart import STATE_COLOURS
from pipeline.web import pages
from pipeline.web.pages import NotFound, Page, Schedule
from pipeline.web.review import CSRF_COOKIE, Reviewing
from storage.engine import make_session_factory

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",  # no-referrer would make browsers send "Origin: null"
    "cross-origin-opener-policy": "same-origin",
}
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")


class BadRequest(ValueError):
    """A request whose parameters cannot be read; the message says which and why."""


def _package_dir(name: str) -> Path:
    return Path(str(files("pipeline.web") / name))


def _templates() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(_package_dir("templates")),
        autoescape=select_autoescape(enabled_extensions=("j2",), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals.update(state_colours=STATE_COLOURS, states=STATES, measures=MEASURES)
    environment.filters["words"] = lambda value: str(value or "").replace("_", " ")
    environment.filters["day"] = lambda value: value.date().isoformat() if value else ""
    return environment


class SecurityHeaders:
    """Adds the board's security headers to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class Board:
    """The board's routes over one database, its vocabulary and its templates; with a writer and
    a token, analysts review events too."""

    def __init__(
        self,
        engine: Engine,
        vocabulary: Vocabulary,
        writer: Engine | None = None,
        token: str | None = None,
        schedule: Schedule | None = None,
    ) -> None:
        self.engine = engine
        self.schedule = schedule or {}
        self.sessions: sessionmaker[Session] = make_session_factory(engine)
        self.vocabulary = vocabulary
        self.templates = _templates()
        self.reviewing = (
            Reviewing(token, make_session_factory(writer), self.error_page)
            if writer is not None and token
            else None
        )

    def routes(self) -> list[Route | Mount]:
        """Each page at its path and, as JSON, under /api."""
        found: list[Route | Mount] = []
        for path, handler in (
            ("/", self.today),
            ("/elements/{name}", self.element),
            ("/measures/{number}", self.measure),
            ("/events/{number}", self.event),
            ("/articles/{number}", self.article),
            ("/sources", self.sources),
            ("/search", self.search),
        ):
            found.append(Route(path, self._page(handler, api=False)))
            found.append(Route("/api" + ("/today" if path == "/" else path), self._page(handler)))
        if self.reviewing is not None:
            found += self.reviewing.routes()
            found.append(Route("/signin", self._sign_in_page))
        found.append(Route("/states.css", _state_styles))
        found.append(Mount("/static", StaticFiles(directory=_package_dir("static")), name="static"))
        return found

    def _page(self, handler: Callable[[Request, Session], Page], api: bool = True) -> Any:
        """An endpoint that reads the page in a session and answers as HTML or JSON."""

        def endpoint(request: Request) -> Response:
            try:
                with self.sessions() as session:
                    page = handler(request, session)
            except NotFound as error:
                return self.error_page(request, 404, str(error), api)
            except BadRequest as error:
                return self.error_page(request, 400, str(error), api)
            except UnknownNameError as error:
                return self.error_page(request, 404, str(error), api, error.suggestions)
            except _Moved as moved:
                return RedirectResponse(("/api" if api else "") + moved.path, status_code=301)
            if api:
                return PageJSON(page.data)
            names = {f.name: getattr(page.data, f.name) for f in dataclasses.fields(page.data)}
            return self._html(request, page.template, title=page.title, **names)

        return endpoint

    def _html(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        """A rendered page; with reviews on, it knows who is signed in and carries the form key."""
        review = {"writable": False, "reviewer": None, "csrf": ""}
        if self.reviewing is not None:
            csrf = self.reviewing.csrf(request)
            review = {"writable": True, "reviewer": self.reviewing.reviewer(request), "csrf": csrf}
        answer = HTMLResponse(self._render(template, review=review, **context), status_code=status)
        if review["csrf"] and request.cookies.get(CSRF_COOKIE) != review["csrf"]:
            answer.set_cookie(CSRF_COOKIE, str(review["csrf"]), httponly=True, samesite="strict")
        return answer

    def _sign_in_page(self, request: Request) -> Response:
        return self._html(request, "signin.html.j2", title="Sign in to review")

    def _render(self, template: str, **context: Any) -> str:
        return self.templates.get_template(template).render(**context)

    def error_page(
        self,
        request: Request,
        status: int,
        message: str,
        api: bool,
        suggestions: tuple[str, ...] = (),
    ) -> Response:
        """An error as the board's page (or JSON under /api), with the close names if any."""
        if api:
            return JSONResponse(
                {"error": message, "suggestions": list(suggestions)}, status_code=status
            )
        titles = {404: "Not found", 403: "Refused"}
        return self._html(
            request,
            "error.html.j2",
            status=status,
            title=titles.get(status, "Bad request"),
            message=message,
            suggestions=suggestions,
        )

    def today(self, request: Request, session: Session) -> Page:
        on = _day(request, "on") or pages.now_utc().date()
        return pages.today_page(session, on)

    def element(self, request: Request, session: Session) -> Page:
        name = request.path_params["name"]
        elements = self.vocabulary.resolve_elements(name)
        return pages.element_page(session, name, elements, pages.now_utc().date())

    def measure(self, request: Request, session: Session) -> Page:
        number = _number(request)
        try:
            return pages.measure_page(session, number)
        except NotFound:
            measure_id = pages.measure_of_event(session, number)
            if measure_id is None or measure_id == number:
                raise
            raise _Moved(f"/measures/{measure_id}") from None

    def event(self, request: Request, session: Session) -> Page:
        return pages.event_page(session, _number(request))

    def article(self, request: Request, session: Session) -> Page:
        return pages.article_page(session, _number(request))

    def sources(self, request: Request, session: Session) -> Page:
        return pages.sources_page(session, pages.now_utc(), self.schedule)

    def search(self, request: Request, session: Session) -> Page:
        query = request.query_params
        elements: tuple[str, ...] = ()
        actor = measure = None
        try:
            if query.get("element"):
                elements = self.vocabulary.resolve_elements(query["element"])
            if query.get("actor"):
                actor = self.vocabulary.resolve_jurisdiction(query["actor"])
        except UnknownNameError as error:
            raise BadRequest(str(error)) from None
        if query.get("measure"):
            measure = query["measure"]
            if measure not in MEASURES:
                raise BadRequest(f"measure {measure!r}: one of {', '.join(MEASURES)}")
        return pages.search_page(
            session,
            query.get("q", ""),
            elements,
            actor,
            measure,
            _day(request, "since"),
            _day(request, "until"),
        )


def _state_styles(_: Request) -> Response:
    """Each state's colour as CSS classes, from the digest chart's colours, so both agree."""
    rules = [
        f".state-{state}, .swatch-{state} {{ background: {colour}; }}"
        for state, colour in STATE_COLOURS.items()
    ]
    return Response("\n".join(rules) + "\n", media_type="text/css")


class _Moved(Exception):
    """The page asked for lives at another path."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def _day(request: Request, name: str) -> date | None:
    """A YYYY-MM-DD query parameter, or None when absent; anything else is a bad request."""
    value = request.query_params.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name}={value!r} is not a date (YYYY-MM-DD)") from None


def _number(request: Request) -> int:
    """The page's id from its path; a word where a number belongs is not found."""
    value = request.path_params["number"]
    if not value.isdigit() or len(value) > 18:
        raise NotFound(f"{value!r} is not an id")
    return int(value)


class PageJSON(JSONResponse):
    """A page's data as JSON, encoded by the json module itself: it walks lists and dicts in C
    and asks `_encoded` only for dataclasses, days and times."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            content, default=_encoded, ensure_ascii=False, separators=(",", ":")
        ).encode("utf-8")


@cache
def _json_fields(kind: type) -> tuple[str, ...]:
    """A dataclass's fields that JSON carries: all but those only a page draws (`html_only`)."""
    return tuple(f.name for f in dataclasses.fields(kind) if not f.metadata.get("html_only"))


def _encoded(value: Any) -> Any:
    """Dataclasses as objects, days and times as ISO 8601 text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: getattr(value, name) for name in _json_fields(type(value))}
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def create_app(
    engine: Engine,
    allowed_hosts: tuple[str, ...] = LOCAL_HOSTS,
    writer: Engine | None = None,
    token: str | None = None,
    schedule: Schedule | None = None,
) -> Starlette:
    """The board on an engine that reads (and, given a writer and a token, takes reviews; given
    the jobs that fetch each source, says when each is fetched next); the caller owns and closes
    the engines. Requests for other host names are refused."""
    board = Board(engine, load_vocabulary(), writer, token, schedule)

    def not_found(request: Request, _: Exception) -> Response:
        api = request.url.path.startswith("/api/")
        return board.error_page(request, 404, f"nothing at {request.url.path}", api)

    return Starlette(
        routes=board.routes(),
        exception_handlers={404: not_found},
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)),
        ],
    )
