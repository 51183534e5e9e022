"""The chat's rate limit (changes per person and community a minute) across replicas: two apps on one
PostgreSQL database and the real Redis (TEST_REDIS_URL) share one count; without Redis, and while
Redis is down, each replica counts on its own and nobody gets an error."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from quart import Quart

from workflow_core_module.app import create_app
from workflow_core_module.clock import ManualClock

from .conftest import make_settings, service_unavailable
from .harness import until
from .servers import PrivateRedis

KEY = {"X-Service-Key": "router-key"}
LIMIT = 3
SLOW = f"Slow down: at most {LIMIT} schedule changes a minute per person. Try again in"
# A change that needs no schedule: the limit is checked (and counted) before the command runs.
CHANGE = "pause nothing-here"
DONE = 'I can\'t find a schedule "nothing-here" here.'


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        service_unavailable("Redis", "TEST_REDIS_URL is not set")
    return str(url)


async def _replicas(stack: AsyncExitStack, database_url: str, clock: ManualClock, count: int,
                    **settings: Any) -> list[Quart]:
    apps = []
    for _ in range(count):  # one after the other: each migrates the database on start
        app = create_app(make_settings(database_url, admin_api_key="router-key", chat_rate_limit_per_minute=LIMIT,
                                       log_level="WARNING", **settings), clock=clock)
        await stack.enter_async_context(app.test_app())
        apps.append(app)
    return apps


@pytest.fixture
async def shared(postgres_url: str, redis_url: str, clock: ManualClock) -> AsyncIterator[list[Quart]]:
    """Two replicas on one PostgreSQL database and the real Redis."""
    async with AsyncExitStack() as stack:
        apps = await _replicas(stack, postgres_url, clock, 2, redis_url=redis_url)
        await until(lambda: all(a.extensions["runtime"].coordinator.up for a in apps), what="both to reach Redis")
        yield apps


def community() -> str:
    """A community of its own per test: the Redis counts outlive an app by a minute."""
    return f"c-{uuid.uuid4().hex[:12]}"


async def say(app: Quart, args: str, *, community_id: str, user: str = "u1") -> str:
    body = {"command": "!schedule", "args": args, "user_id": user, "username": f"name-{user}",
            "entity_id": "channel-7", "community_id": community_id, "session_id": f"sess_{uuid.uuid4().hex}",
            "platform": "twitch", "message": f"!schedule {args}", "user_roles": ["moderator"]}
    response = await app.test_client().post("/api/v1/execute", json=body, headers=KEY)
    data = await response.get_json()
    assert response.status_code == 200 and data["success"] is True, data  # a refusal is a reply, never an error
    message: str = data["data"]["response_data"]["message"]
    return message


async def test_changes_alternating_between_replicas_share_one_count(shared: list[Quart], clock: ManualClock) -> None:
    a, b = shared
    c1 = community()
    for i in range(LIMIT):
        assert (await say((a, b)[i % 2], CHANGE, community_id=c1)).startswith(DONE)
        clock.advance(10)
    # the N+1th change, on either replica: each one alone saw fewer than N
    assert (await say((a, b)[LIMIT % 2], CHANGE, community_id=c1)).startswith(SLOW)
    assert (await say((b, a)[LIMIT % 2], CHANGE, community_id=c1)).startswith(SLOW)
    # settings are not counted, on any replica
    assert (await say(a, "timezone Europe/Berlin", community_id=c1)).startswith("Times here are now read")
    assert (await say(b, "dateorder dmy", community_id=c1)).startswith("Dates like 01/02 are now read")
    clock.advance(29)  # 59 s after the first change
    assert (await say(b, CHANGE, community_id=c1)).startswith(SLOW)
    clock.advance(1)  # the first change is a minute old: one place again, on the shared count
    assert (await say(b, CHANGE, community_id=c1)).startswith(DONE)
    assert (await say(a, CHANGE, community_id=c1)).startswith(SLOW)


async def test_one_persons_count_is_theirs_in_one_community_only(shared: list[Quart]) -> None:
    a, b = shared
    here, there = community(), community()
    for _ in range(LIMIT + 2):  # someone spends their minute (and more) in one community...
        await say(a, CHANGE, community_id=here, user="attacker")
    assert (await say(b, CHANGE, community_id=here, user="attacker")).startswith(SLOW)
    # ...which leaves the same user in another community, and other users here, alone
    assert (await say(b, CHANGE, community_id=there, user="attacker")).startswith(DONE)
    assert (await say(a, CHANGE, community_id=here, user="victim")).startswith(DONE)
    # ids that would run together in a key ("x:y" + "z" and "x" + "y:z") are different counts
    joined = f"{here}:x"
    for _ in range(LIMIT):
        await say(a, CHANGE, community_id=joined, user="z")
    assert (await say(b, CHANGE, community_id=joined, user="z")).startswith(SLOW)
    assert (await say(b, CHANGE, community_id=here, user="x:z")).startswith(DONE)


async def test_the_count_lives_in_redis_under_the_deployment_namespace(shared: list[Quart], redis_url: str) -> None:
    import redis.asyncio as redis

    a, _ = shared
    c1 = community()
    await say(a, CHANGE, community_id=c1)
    coordinator = a.extensions["runtime"].coordinator
    client = redis.from_url(redis_url, decode_responses=True)
    try:
        keys = [k async for k in client.scan_iter(match=f"{coordinator.ns}:window:*", count=1000)]
        assert keys and all(c1 not in k for k in keys)  # hashed: what users type never becomes a key
        ttls = [await client.pttl(k) for k in keys]
        assert all(0 < t <= 60_000 for t in ttls)  # each expires within a window of its last change
    finally:
        await client.aclose()


async def test_without_redis_each_replica_counts_alone(postgres_url: str, clock: ManualClock) -> None:
    async with AsyncExitStack() as stack:
        a, b = await _replicas(stack, postgres_url, clock, 2)
        assert a.extensions["runtime"].coordinator is None
        c1 = community()
        for _ in range(LIMIT):
            assert (await say(a, CHANGE, community_id=c1)).startswith(DONE)
        assert (await say(a, CHANGE, community_id=c1)).startswith(SLOW)
        assert (await say(b, CHANGE, community_id=c1)).startswith(DONE)  # the other replica's own count
        clock.advance(60)
        assert (await say(a, CHANGE, community_id=c1)).startswith(DONE)


async def test_redis_unreachable_from_the_start_falls_back_to_the_local_count(
        sqlite_url: str, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    async with AsyncExitStack() as stack:
        [app] = await _replicas(stack, sqlite_url, clock, 1, redis_url="redis://127.0.0.1:9/0")
        c1 = community()
        with caplog.at_level(logging.WARNING, logger="workflow_core_module.chat.service"):
            for _ in range(LIMIT):
                assert (await say(app, CHANGE, community_id=c1)).startswith(DONE)
            assert (await say(app, CHANGE, community_id=c1)).startswith(SLOW)
        said = [r for r in caplog.records if getattr(r, "action", None) == "chat.rate_local"]
        assert len(said) == 1  # once, not once per command


async def test_redis_going_away_keeps_the_count_it_had(postgres_url: str, clock: ManualClock,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    server = PrivateRedis()
    if not server.available:
        service_unavailable("Redis", "redis-server is not installed")
    server.start()
    try:
        async with AsyncExitStack() as stack:
            a, b = await _replicas(stack, postgres_url, clock, 2, redis_url=server.url)
            await until(lambda: all(x.extensions["runtime"].coordinator.up for x in (a, b)), what="Redis")
            c1 = community()
            assert (await say(a, CHANGE, community_id=c1)).startswith(DONE)
            assert (await say(b, CHANGE, community_id=c1)).startswith(DONE)
            server.stop()
            with caplog.at_level(logging.WARNING, logger="workflow_core_module.chat.service"):
                # a's own count knew of its one change: two more here, then the local limit
                assert (await say(a, CHANGE, community_id=c1)).startswith(DONE)
                assert (await say(a, CHANGE, community_id=c1)).startswith(DONE)
                assert (await say(a, CHANGE, community_id=c1)).startswith(SLOW)
            said = [r for r in caplog.records if getattr(r, "action", None) == "chat.rate_local"]
            assert len(said) == 1
    finally:
        server.stop()
