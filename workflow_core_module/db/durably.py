"""Waiting out a database that is away for a while (a restart, a failover) instead of losing a
known outcome: the one retry loop of the run path."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from .database import is_transient

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_SECONDS = 900.0  # how long a write of the run path waits for the database before giving up
_FIRST_DELAY, _MAX_DELAY = 0.25, 5.0


async def durably(operation: Callable[[], Awaitable[T]], what: str, *, limit_seconds: float = RETRY_SECONDS) -> T:
    """Run `operation`, retrying transient database errors with backoff (0.25 s doubling to 5 s)
    for up to `limit_seconds`; other errors, and the last one, propagate. Logged once per outage."""
    delay, waited = _FIRST_DELAY, 0.0
    while True:
        try:
            return await operation()
        except Exception as exc:
            if not is_transient(exc) or waited >= limit_seconds:
                raise
            if waited == 0.0:
                log.warning("database unavailable for %s (%s); retrying until it is back", what, type(exc).__name__,
                            extra={"category": "ERROR", "action": "database.retry"})
        await asyncio.sleep(delay)
        waited += delay
        delay = min(delay * 2, _MAX_DELAY)
