"""The peer's job: a module-level no-op coroutine (so SQLAlchemyJobStore can pickle a reference
to it) that records when it started."""

from __future__ import annotations

import time

STARTED: list[tuple[str, float]] = []


async def noop_job(key: str) -> None:
    STARTED.append((key, time.time()))


async def idle_job() -> None:
    """A job that never runs while the benchmark measures (it is due days ahead)."""
