"""The SQLite write-ahead log does not stay at its high-water mark: it is bounded after each
checkpoint (journal_size_limit) and truncated to nothing when the scheduler is idle."""

from __future__ import annotations

import os
from typing import Any

import pytest

from workflow_core_module.clock import SystemClock
from workflow_core_module.db.database import WAL_SIZE_LIMIT_BYTES, Database
from workflow_core_module.db.migrations import migrate
from workflow_core_module.services import scheduler_loop

from .conftest import make_settings
from .harness import Scheduler, until


def _grow_wal(dal: Any) -> None:
    for _ in range(3000):
        dal.executesql("INSERT INTO audit_log (at, actor, action, entity_type, entity_id, community_id, changes) "
                       "VALUES ('2026-01-01 00:00:00', 'test', 'wal.fill', 'test', 'x', NULL, '{}')")


def _wal_bytes(database: Database) -> int:
    assert database.sqlite_path is not None
    path = database.sqlite_path + "-wal"
    return os.path.getsize(path) if os.path.exists(path) else 0


async def test_a_checkpoint_truncates_the_wal_and_its_size_is_bounded(sqlite_url: str) -> None:
    database = await Database.connect(sqlite_url)
    try:
        await migrate(database)
        for _ in range(4):
            await database.write(_grow_wal)
        assert _wal_bytes(database) > 1_000_000
        assert await database.read(lambda dal: dal.executesql("PRAGMA journal_size_limit;")) == [(WAL_SIZE_LIMIT_BYTES,)]
        assert await database.checkpoint() is not None
        assert _wal_bytes(database) == 0
        count = await database.read(lambda dal: dal.executesql("SELECT COUNT(*) FROM audit_log WHERE action = 'wal.fill'"))
        assert count == [(12_000,)]  # nothing lost by the checkpoint
    finally:
        await database.close()


async def test_the_loop_truncates_the_wal_when_idle(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler_loop, "CHECKPOINT_EVERY_SECONDS", 3600.0)  # not while the WAL grows
    database = await Database.connect(sqlite_url)
    await migrate(database)
    sched = Scheduler(database, make_settings(sqlite_url, poll_interval_seconds=0.05), SystemClock())
    try:
        await sched.scheduler.start()
        for _ in range(4):
            await database.write(_grow_wal)
        assert _wal_bytes(database) > 1_000_000
        monkeypatch.setattr(scheduler_loop, "CHECKPOINT_EVERY_SECONDS", 0.0)
        assert sched.scheduler.loop is not None
        sched.scheduler.loop.wake()
        await until(lambda: _wal_bytes(database) == 0, what="the idle loop to truncate the WAL")
    finally:
        await sched.close()
        await database.close()
