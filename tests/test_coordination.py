"""Redis between replicas when one operation fails: the replica must not stay degraded, and
the changes it could not send must still reach the others (here: through a resync). Two
schedulers share one SQLite file and the real Redis; only the failure is injected."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from workflow_core_module.clock import ManualClock
from workflow_core_module.db.database import Database
from workflow_core_module.services.coordination import Coordinator

from .conftest import make_settings, service_unavailable
from .harness import Scheduler, until


@pytest.fixture
async def replicas(sqlite_database: Database, clock: ManualClock) -> AsyncIterator[list[tuple[Scheduler, Coordinator]]]:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        service_unavailable("Redis", "TEST_REDIS_URL is not set")
    out = []
    for _ in range(2):
        scheduler = Scheduler(sqlite_database, make_settings(sqlite_database.url), clock)
        coordinator = Coordinator(str(url), sqlite_database.url, scheduler.service, scheduler.scheduler)
        await coordinator.start()
        out.append((scheduler, coordinator))
    try:
        await until(lambda: all(c.up for _, c in out), what="both replicas to subscribe")
        yield out
    finally:
        for scheduler, coordinator in out:
            await coordinator.close()
            await scheduler.close()


def fail_next_publishes(coordinator: Coordinator, count: int) -> list[str]:
    """The next `count` publishes of this replica fail as a dropped connection would."""
    client: Any = coordinator._client
    real = client.publish
    failed: list[str] = []

    async def publish(channel: str, message: str) -> Any:
        if len(failed) < count:
            failed.append(message)
            raise RedisConnectionError("connection reset by peer (injected)")
        return await real(channel, message)

    client.publish = publish
    return failed


async def test_a_failed_publish_degrades_then_recovers_and_the_lost_change_reaches_the_other(
        replicas: list[tuple[Scheduler, Coordinator]]) -> None:
    (a, ca), (b, cb) = replicas
    failed = fail_next_publishes(ca, 1)
    wf = await a.workflow()
    schedule = await a.service.add_schedule({"workflow_id": wf, "name": "lost-message", "schedule_type": "interval",
                                             "interval_seconds": 60})
    pk = schedule.id
    await until(lambda: bool(failed), what="A's publish to fail")
    assert not ca.up and "injected" in (ca.last_error or "")
    await until(lambda: ca.up, timeout=10, what="A to reconnect after one failed publish")
    await until(lambda: pk in b.service.cache, timeout=10, what="B to learn of the change A could not send")
    assert cb.up
    # and A publishes again as usual: a later change reaches B by its message
    other = await a.service.add_schedule({"workflow_id": wf, "name": "after-recovery", "schedule_type": "interval",
                                          "interval_seconds": 60})
    await until(lambda: other.id in b.service.cache, timeout=5, what="B to learn of a change after recovery")


async def test_a_failed_heartbeat_or_ping_reconnects_instead_of_staying_degraded(
        replicas: list[tuple[Scheduler, Coordinator]]) -> None:
    (_, ca), _ = replicas
    client: Any = ca._client
    real = client.ping

    async def ping() -> Any:
        client.ping = real
        raise RedisConnectionError("timed out (injected)")

    client.ping = ping
    assert await ca.ping() is False and not ca.up
    await until(lambda: ca.up, timeout=10, what="A to reconnect after one failed ping")
    assert await ca.ping() is True
