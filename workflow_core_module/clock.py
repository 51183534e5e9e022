"""The clock, injected everywhere time is read, so tests can run minutes in milliseconds."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, aware UTC."""

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that only moves when told to. `sleep` returns once the clock has been advanced
    past the sleeper's deadline (or at once for a non-positive delay)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(timezone.utc)
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self._now

    def sleeping_until(self) -> list[datetime]:
        """The deadline of each sleep not over yet, soonest first (what tests wait on)."""
        return sorted(deadline for deadline, future in self._sleepers if not future.done())

    def advance(self, seconds: float = 0.0, *, to: datetime | None = None) -> datetime:
        self._now = to.astimezone(timezone.utc) if to is not None else self._now + timedelta(seconds=seconds)
        still: list[tuple[datetime, asyncio.Future[None]]] = []
        for deadline, future in self._sleepers:
            if deadline <= self._now:
                if not future.done():
                    future.set_result(None)
            else:
                still.append((deadline, future))
        self._sleepers = still
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._now + timedelta(seconds=seconds), future))
        await future


async def sleep_unless(clock: Clock, seconds: float, wake: asyncio.Event) -> None:
    """Sleep on `clock` for `seconds`, or until `wake` is set, whichever comes first."""
    sleeping = asyncio.ensure_future(clock.sleep(seconds))
    woken = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait((sleeping, woken), return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeping.cancel()
        woken.cancel()
