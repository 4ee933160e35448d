"""What one fetch of one URL produced, and how it ended."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class FetchOutcome(StrEnum):
    """How a fetch ended, for health tracking and backoff."""

    SUCCESS = "success"
    NOT_MODIFIED = "not_modified"
    TEMPORARY = "temporary"  # worth retrying soon: timeouts, connection errors, 5xx, 429
    SOFT = "soft"  # refused for now: 401, 403 and other 4xx
    HARD = "hard"  # will not work as it is: 404, 410, too large, redirect loops, bad URLs
    BLOCKED = "blocked"  # a bot challenge ("Just a moment..."), not the page asked for


@dataclass(frozen=True)
class FetchResult:
    """What one fetch of one URL produced."""

    url: str
    final_url: str
    outcome: FetchOutcome
    status_code: int | None = None
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    duration_ms: int = 0
    attempts: int = 1
    refused_address: str | None = None  # the non-public address the URL led to, if that stopped it

    @property
    def ok(self) -> bool:
        """True when a body arrived."""
        return self.outcome is FetchOutcome.SUCCESS

    @property
    def etag(self) -> str | None:
        """The ETag validator, as sent."""
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        """The Last-Modified validator, as sent."""
        return self.headers.get("last-modified")
