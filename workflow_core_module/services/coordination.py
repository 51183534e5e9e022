"""Redis between replicas: cache invalidation and heartbeats. Optional, and never needed for
correctness (the database claim is what makes each occurrence fire once).

* Every committed schedule change (a mutation, or a claim moving rows) is published on one
  channel. Changes are batched per event-loop turn, so a burst of 10,000 claims is a handful
  of messages. Every other replica applies them to its cache and re-arms its timer.
* Runs a claim cancelled (overlap policy ``cancel_previous``) are published on the same
  channel, so the replica executing one stops it at once (without Redis, it finds out by
  polling the run ledger within a second).
* Each replica keeps a key ``<ns>:replica:<id>`` with a TTL: id, host, started_at,
  last_pass_at. The replica list in /api/v1/schedules/status comes from these keys.
* Sliding-window counters shared by the replicas (the chat's changes per user and community):
  a sorted set per counter, ``<ns>:window:<hash of its name>``, trimmed, counted and added to
  by one Lua script, so two replicas never both take the last place; it expires a window after
  its last entry.
* Redis unreachable: the replica reports `degraded`, polls the database every few seconds
  instead of waiting for changes, and reconnects with backoff. On reconnect it reloads its cache
  from the database, since it may have missed changes meanwhile. Any failed operation (a
  publish, a heartbeat, a ping) counts: the listener drops its connection and goes through the
  same reconnect, so one lost message never leaves a replica degraded while Redis is fine.
  Changes it could not send meanwhile are lost to the others, so once back it asks every
  replica to reload its cache (a ``resync`` message).

Names are namespaced by the database (a hash of its URL without the password), so deployments
or test runs sharing one Redis never see each other's messages.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import redis.asyncio as redis
from redis.exceptions import RedisError

from ..db.database import describe_url
from ..logs import system
from .scheduler_loop import DEGRADED_POLL_SECONDS, HEARTBEAT_SECONDS

if TYPE_CHECKING:
    from .changes import ScheduleChange
    from .schedule_service import ScheduleService
    from .scheduler import Scheduler

log = logging.getLogger(__name__)

HEARTBEAT_TTL_SECONDS = 15
_MAX_BACKOFF_SECONDS = 30.0
_OP_TIMEOUT_SECONDS = 2.0

# KEYS[1]: the window's sorted set (score: the clock's timestamp of each counted event).
# ARGV: now, window seconds, limit, a unique member. Drops entries a window old, then either
# counts this one ("0") or answers how many seconds until the oldest leaves the window.
# Numbers go back as strings: Redis turns a Lua number into an integer.
_WINDOW_SCRIPT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tostring(window - (now - tonumber(oldest[2])))
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
return '0'
"""


def namespace(database_url: str) -> str:
    return "wcm:" + hashlib.sha1(describe_url(database_url).encode()).hexdigest()[:10]


class Coordinator:
    def __init__(self, url: str, database_url: str, service: ScheduleService, scheduler: Scheduler,
                 *, on_state: Callable[[bool], None] | None = None) -> None:
        self.url = url
        self.ns = namespace(database_url)
        self.channel = f"{self.ns}:schedules"
        self.service = service
        self.scheduler = scheduler
        self.replica_id = scheduler.replica_id
        self.on_state = on_state
        self.up = False
        self.last_error: str | None = None
        self.started_at = service.clock.now()
        self.last_pass_at: datetime | None = None
        self._client: redis.Redis | None = None
        self._window: Any = None  # the registered _WINDOW_SCRIPT
        self._pending: list[list[Any]] = []
        self._cancels: list[str] = []
        self._flush_scheduled = False
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._broken = False  # an operation failed: the listener reconnects
        self._dropped = False  # changes were not sent: the others must reload on reconnect
        service.changes.subscribe(self._changed)
        scheduler.dispatcher.cancel_listeners.append(self._cancelled)

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._client = redis.from_url(self.url, socket_connect_timeout=_OP_TIMEOUT_SECONDS,
                                      socket_timeout=_OP_TIMEOUT_SECONDS, decode_responses=True)
        self._window = self._client.register_script(_WINDOW_SCRIPT)
        self._tasks = [asyncio.create_task(self._listen(), name="redis-listen"),
                       asyncio.create_task(self._beat(), name="redis-heartbeat")]

    async def close(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            try:
                await asyncio.wait_for(self._client.delete(self._key(self.replica_id)), _OP_TIMEOUT_SECONDS)
            except (RedisError, OSError, asyncio.TimeoutError):
                pass
            await self._client.aclose()

    def _key(self, replica_id: str) -> str:
        return f"{self.ns}:replica:{replica_id}"

    def _fail(self, error: Exception) -> None:
        """An operation failed: degraded until the listener has reconnected and resynced."""
        self._broken = True
        self._set_state(False, error)

    def _set_state(self, up: bool, error: Exception | None = None) -> None:
        self.last_error = None if error is None else f"{type(error).__name__}: {error}"[:300]
        if up == self.up:
            return
        self.up = up
        if up:
            system(log, "redis.up", "Redis reachable: replicas share changes again")
        else:
            log.warning("Redis unreachable (%s): polling the database every %.0f s until it is back",
                        self.last_error, DEGRADED_POLL_SECONDS, extra={"category": "ERROR", "action": "redis.down"})
        if self.on_state is not None:
            self.on_state(up)

    # ---- publishing --------------------------------------------------------------------------

    def _changed(self, change: ScheduleChange) -> None:
        if change.origin is not None:  # came from another replica: do not echo it
            return
        due = None if change.due is None else int(change.due.timestamp())
        self._pending.append([change.pk, due])
        self._schedule_flush()

    def _cancelled(self, run_ids: list[str]) -> None:
        self._cancels.extend(run_ids)
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        batch, self._pending = self._pending, []
        cancels, self._cancels = self._cancels, []
        if not (batch or cancels):
            return
        if not self.up or self._client is None:
            self._dropped = True  # cancels the others find in the ledger; changes by a resync
            return
        self._spawn(self._publish({"changes": batch} | ({"cancel": cancels} if cancels else {})))

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.append(task)
        task.add_done_callback(self._tasks.remove)

    async def _publish(self, body: dict[str, Any]) -> None:
        assert self._client is not None
        try:
            await asyncio.wait_for(self._client.publish(self.channel, json.dumps({"origin": self.replica_id} | body)),
                                   _OP_TIMEOUT_SECONDS)
        except (RedisError, OSError, asyncio.TimeoutError) as exc:
            self._dropped = True
            self._fail(exc)  # the others catch up by polling, and reload when this one is back

    # ---- listening ---------------------------------------------------------------------------

    async def _listen(self) -> None:
        backoff = 0.5
        while not self._stopping:
            assert self._client is not None
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            self._broken = False
            try:
                await pubsub.subscribe(self.channel)
                await self._resync()
                self._set_state(True)
                if self._dropped:  # what this replica could not send is lost: everyone reloads
                    self._dropped = False
                    await self._publish({"resync": True})
                backoff = 0.5
                while not self._stopping:
                    if self._broken:
                        raise ConnectionError(f"reconnecting after: {self.last_error}")
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._apply(message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, ValueError) as exc:
                self._set_state(False, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
            finally:
                try:
                    await asyncio.wait_for(pubsub.aclose(), _OP_TIMEOUT_SECONDS)
                except (RedisError, OSError, asyncio.TimeoutError):
                    pass

    async def _resync(self) -> None:
        """After (re)connecting: changes may have been missed, so reload the cache."""
        await self.service.load_cache()
        if self.scheduler.loop is not None:
            self.scheduler.loop.wake()

    def _apply(self, raw: str) -> None:
        data = json.loads(raw)
        if data.get("origin") == self.replica_id:
            return
        if data.get("resync"):
            self._spawn(self._resync())
        for pk, due in data.get("changes", []):
            when = None if due is None else datetime.fromtimestamp(int(due), timezone.utc)
            self.service.changes.publish(int(pk), "", when, origin=str(data.get("origin")))
        cancels = data.get("cancel")
        if cancels:
            self.scheduler.dispatcher.cancel([str(run_id) for run_id in cancels], here=False)

    # ---- heartbeats --------------------------------------------------------------------------

    async def _beat(self) -> None:
        while not self._stopping:
            try:
                await asyncio.wait_for(self.heartbeat(), _OP_TIMEOUT_SECONDS)
            except (RedisError, OSError, asyncio.TimeoutError) as exc:
                self._fail(exc)
            await asyncio.sleep(HEARTBEAT_SECONDS)

    async def heartbeat(self) -> None:
        assert self._client is not None
        loop = self.scheduler.loop
        last_pass = loop.last_pass_at if loop is not None else None
        value = json.dumps({"replica_id": self.replica_id, "host": socket.gethostname(), "pid": os.getpid(),
                            "started_at": self.started_at.isoformat(),
                            "last_pass_at": last_pass.isoformat() if last_pass else None})
        await self._client.set(self._key(self.replica_id), value, ex=HEARTBEAT_TTL_SECONDS)

    async def replicas(self) -> list[dict[str, Any]]:
        """Replicas whose heartbeat key has not expired."""
        assert self._client is not None
        keys = [key async for key in self._client.scan_iter(match=self._key("*"), count=100)]
        values = await self._client.mget(keys) if keys else []
        out = [json.loads(v) for v in values if v]
        return sorted(out, key=lambda r: r["started_at"])

    # ---- shared sliding windows -------------------------------------------------------------

    async def window_hit(self, name: str, now: float, window_seconds: float, limit: int) -> float | None:
        """Count one event in the window `name` shared by every replica, unless `limit` events
        already fell in the last `window_seconds` before `now` (a timestamp of the injected clock).

        0.0 when counted; else the seconds until there is room again (nothing counted). None when
        Redis cannot answer now (down, or not reached yet): the caller decides on its own then.
        `name` may hold anything a user typed: only its hash goes into the key."""
        if self._client is None or self._window is None or not self.up:
            return None
        key = f"{self.ns}:window:{hashlib.sha256(name.encode()).hexdigest()[:32]}"
        try:
            answer = await asyncio.wait_for(
                self._window(keys=[key], args=[repr(now), repr(float(window_seconds)), int(limit), uuid.uuid4().hex]),
                _OP_TIMEOUT_SECONDS)
            return max(0.0, float(answer))
        except (RedisError, OSError, asyncio.TimeoutError, ValueError, TypeError) as exc:
            log.debug("shared window %s not counted: %s", key, exc)
            return None

    async def ping(self) -> bool:
        if self._client is None:
            return False
        try:
            await asyncio.wait_for(self._client.ping(), _OP_TIMEOUT_SECONDS)
        except (RedisError, OSError, asyncio.TimeoutError) as exc:
            self._fail(exc)
            return False
        return True
