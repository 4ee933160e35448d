"""How a flow records one item's failure: newstrack's own message, else the exception in one line."""

from __future__ import annotations

import logging

from models.errors import NewstrackError

log = logging.getLogger("newstrack")


def failure(name: str, error: Exception) -> str:
    """One item's error record: newstrack's own message, else the exception's class and message.

    An exception newstrack did not raise itself is logged with its traceback at debug level.
    """
    if isinstance(error, NewstrackError):
        return f"{name}: {error}"
    log.debug("%s: failed", name, exc_info=error)
    return f"{name}: {described(error)}"


def described(error: BaseException) -> str:
    """An unexpected exception as one line of an error record: its class and message."""
    message = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
    return f"{type(error).__name__}: {message}" if message else type(error).__name__
