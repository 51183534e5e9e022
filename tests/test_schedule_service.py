"""ScheduleService against the real databases, with a manual clock."""

from __future__ import annotations

import asyncio
import gc
import random
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from workflow_core_module.clock import ManualClock
from workflow_core_module.db.database import Database
from workflow_core_module.db.workflow_store import WorkflowStore
from workflow_core_module.engine.engine import WorkflowEngine
from workflow_core_module.errors import (
    Conflict,
    Forbidden,
    Invalid,
    LimitExceeded,
    NotFound,
)
from workflow_core_module.scheduling import ScheduleStatus
from workflow_core_module.services.schedule_service import ScheduleService
from workflow_core_module.services.scheduler import Scheduler

from .conftest import START, add_workflow, make_settings, table_snapshot

UTC = timezone.utc


def cron(workflow_id: str, name: str = "nightly", **kw: Any) -> dict[str, Any]:
    return {"workflow_id": workflow_id, "name": name, "schedule_type": "cron", "cron_expression": "0 2 * * *", **kw}


def interval(workflow_id: str, name: str, seconds: int = 300, **kw: Any) -> dict[str, Any]:
    return {"workflow_id": workflow_id, "name": name, "schedule_type": "interval", "interval_seconds": seconds, **kw}


async def db_due(database: Database) -> dict[int, int]:
    """What the cache should hold, read straight from the table."""
    sql = "SELECT id, next_execution_at, is_active, deleted_at FROM workflow_schedules"
    rows = await database.read(lambda dal: dal.executesql(sql))
    out = {}
    for pk, nxt, active, deleted in rows:
        if active in (True, "T") and deleted is None and nxt is not None:
            out[pk] = int(nxt.replace(tzinfo=UTC).timestamp())
    return out


async def test_create_computes_next_execution_and_caches_it(service: ScheduleService, database: Database) -> None:
    wf = await add_workflow(database)
    created = await service.add_schedule(cron(wf, timezone="Europe/Berlin"), actor="alice")
    assert created.status is ScheduleStatus.ACTIVE and created.is_active
    assert created.next_execution_at == datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 02:00 Berlin
    assert created.created_by == "alice" and created.execution_count == 0
    assert service.cache.due_at(created.id) == created.next_execution_at
    assert service.cache.next_due() == (created.id, created.next_execution_at)
    fetched = await service.get_schedule(created.schedule_id)
    assert fetched == created


async def test_interval_is_anchored_on_creation(service: ScheduleService, database: Database, clock: ManualClock) -> None:
    wf = await add_workflow(database)
    clock.advance(0.4)  # sub-second creation time: the grid starts on the whole second
    created = await service.add_schedule(interval(wf, "tick", 600))
    assert created.next_execution_at == START + timedelta(minutes=10)
    clock.advance(3600 * 5 + 17)
    assert await service.next_executions(created.schedule_id, 2) == [
        START + timedelta(hours=5, minutes=10), START + timedelta(hours=5, minutes=20)]


async def test_names_are_unique_per_community_among_live_schedules(service: ScheduleService, database: Database) -> None:
    wf = await add_workflow(database)
    await service.add_schedule(cron(wf, "same", community_id="c1"))
    with pytest.raises(Conflict, match="already exists"):
        await service.add_schedule(cron(wf, "same", community_id="c1"))
    other = await service.add_schedule(cron(wf, "same", community_id="c2"))  # another community: fine
    await service.remove_schedule(other.schedule_id)
    await service.add_schedule(cron(wf, "same", community_id="c2"))  # deleted ones free the name


async def test_workflow_must_exist_and_be_visible(service: ScheduleService, database: Database) -> None:
    theirs = await add_workflow(database, community_id="c2")
    shared = await add_workflow(database, community_id=None)
    disabled = await add_workflow(database, active=False)
    with pytest.raises(Invalid) as info:
        await service.add_schedule(cron("00000000-0000-4000-8000-000000000000", community_id="c1"))
    assert "workflow_id" in info.value.errors
    with pytest.raises(Invalid):
        await service.add_schedule(cron(theirs, community_id="c1"))
    with pytest.raises(Invalid, match="disabled"):
        await service.add_schedule(cron(disabled))
    assert (await service.add_schedule(cron(shared, community_id="c1"))).workflow_id == shared


async def test_scope_fills_and_guards_community(service: ScheduleService, database: Database) -> None:
    wf = await add_workflow(database)
    mine = await service.add_schedule(cron(wf, "mine"), scope="c1")
    assert mine.community_id == "c1"
    with pytest.raises(Forbidden):
        await service.add_schedule(cron(wf, "theirs", community_id="c2"), scope="c1")
    with pytest.raises(NotFound):
        await service.get_schedule(mine.schedule_id, scope="c2")
    with pytest.raises(NotFound):
        await service.pause_schedule(mine.schedule_id, scope="c2")
    assert (await service.list_schedules(scope="c2")).total == 0
    assert (await service.list_schedules(scope="c1")).total == 1


async def test_quota_per_community(database: Database, clock: ManualClock) -> None:
    svc = ScheduleService(database, make_settings(database.url, max_schedules_per_community=3), clock=clock)
    wf = await add_workflow(database)
    made = [await svc.add_schedule(cron(wf, f"s{i}", community_id="c1")) for i in range(3)]
    with pytest.raises(LimitExceeded, match="limit is 3"):
        await svc.add_schedule(cron(wf, "s4", community_id="c1"))
    await svc.remove_schedule(made[0].schedule_id)
    await svc.add_schedule(cron(wf, "s4", community_id="c1"))
    await svc.add_schedule(cron(wf, "unscoped"))  # no community, no quota


async def test_list_filters_and_pages(service: ScheduleService, database: Database) -> None:
    wf1, wf2 = await add_workflow(database), await add_workflow(database)
    for i in range(7):
        await service.add_schedule(cron(wf1 if i % 2 else wf2, f"Report {i}", tags=["t-even"] if i % 2 == 0 else ["odd"],
                                        community_id="c1" if i < 5 else "c2"))
    await service.add_schedule(interval(wf1, "Ping %_", 600, tags=["odd", "x"]))
    page = await service.list_schedules(limit=3, offset=0)
    assert page.total == 8 and len(page.items) == 3
    assert [s.name for s in (await service.list_schedules(limit=3, offset=6)).items] == ["Report 6", "Ping %_"]
    assert (await service.list_schedules(workflow_id=wf2)).total == 4
    assert (await service.list_schedules(community_id="c2")).total == 2
    assert (await service.list_schedules(schedule_type="interval")).total == 1
    assert (await service.list_schedules(tag="odd")).total == 4
    assert (await service.list_schedules(tag="t-even")).total == 4
    assert (await service.list_schedules(tag="od")).total == 0  # whole tags only
    assert (await service.list_schedules(q="report")).total == 7  # case-insensitive
    assert (await service.list_schedules(q="%_")).total == 1  # LIKE wildcards are literal
    first = (await service.list_schedules(limit=1)).items[0]
    await service.pause_schedule(first.schedule_id)
    assert (await service.list_schedules(status="paused")).total == 1
    with pytest.raises(Invalid):
        await service.list_schedules(limit=501)


async def test_update_recomputes_next_only_when_timing_changes(service: ScheduleService, database: Database,
                                                               clock: ManualClock) -> None:
    wf = await add_workflow(database)
    created = await service.add_schedule(cron(wf))
    clock.advance(60)
    renamed = await service.update_schedule(created.schedule_id, {"name": "renamed", "tags": ["a"]})
    assert renamed.name == "renamed" and renamed.tags == ("a",)
    assert renamed.next_execution_at == created.next_execution_at
    retimed = await service.update_schedule(created.schedule_id, {"cron_expression": "30 14 * * *"})
    assert retimed.next_execution_at == datetime(2026, 11, 22, 14, 30, tzinfo=UTC)
    assert service.cache.due_at(created.id) == retimed.next_execution_at
    switched = await service.update_schedule(created.schedule_id, {"schedule_type": "interval", "interval_seconds": 120})
    assert switched.cron_expression is None and switched.interval_seconds == 120
    assert switched.next_execution_at == START + timedelta(seconds=120)  # grid anchored on creation


async def test_replace_resets_what_is_not_given(service: ScheduleService, database: Database) -> None:
    wf = await add_workflow(database)
    created = await service.add_schedule(cron(wf, tags=["a"], jitter_seconds=5, description="d"))
    replaced = await service.update_schedule(created.schedule_id, cron(wf, "new"), replace=True)
    assert replaced.tags == () and replaced.jitter_seconds == 0 and replaced.description == ""
    with pytest.raises(Invalid) as info:
        await service.update_schedule(created.schedule_id, {"name": "x"}, replace=True)
    assert {"workflow_id", "schedule_type"} <= set(info.value.errors)


async def test_community_cannot_move(service: ScheduleService, database: Database) -> None:
    wf = await add_workflow(database)
    created = await service.add_schedule(cron(wf, community_id="c1"))
    with pytest.raises(Invalid, match="community_id"):
        await service.update_schedule(created.schedule_id, {"community_id": "c2"})


async def test_pause_and_resume(service: ScheduleService, database: Database, clock: ManualClock) -> None:
    wf = await add_workflow(database)
    created = await service.add_schedule(interval(wf, "p", 600))
    paused = await service.pause_schedule(created.schedule_id)
    assert paused.status is ScheduleStatus.PAUSED and not paused.is_active and paused.next_execution_at is None
    assert created.id not in service.cache
    assert (await service.pause_schedule(created.schedule_id)).updated_at == paused.updated_at  # no-op
    clock.advance(3600 + 30)
    resumed = await service.resume_schedule(created.schedule_id)
    assert resumed.status is ScheduleStatus.ACTIVE
    assert resumed.next_execution_at == START + timedelta(minutes=70)  # back on its grid, in the future
    assert service.cache.due_at(created.id) == resumed.next_execution_at


async def test_resume_refuses_finished_schedules(service: ScheduleService, database: Database, clock: ManualClock) -> None:
    wf = await add_workflow(database)
    once = await service.add_schedule({"workflow_id": wf, "name": "once", "schedule_type": "one_time",
                                       "scheduled_time": (START + timedelta(hours=1)).isoformat()})
    await service.pause_schedule(once.schedule_id)
    clock.advance(7200)
    with pytest.raises(Conflict, match="no future occurrence"):
        await service.resume_schedule(once.schedule_id)
    windowed = await service.add_schedule(cron(wf, "w", end_date=(START + timedelta(days=3)).isoformat()))
    await service.store.mutate(windowed.schedule_id, None, lambda dal, s: {"status": "expired", "is_active": False,
                                                                     "next_execution_at": None},
                               _entry())
    with pytest.raises(Conflict, match="expired"):
        await service.resume_schedule(windowed.schedule_id)
    with pytest.raises(Conflict, match="expired"):
        await service.pause_schedule(windowed.schedule_id)
    # extending the window brings it back
    revived = await service.update_schedule(windowed.schedule_id, {"end_date": (START + timedelta(days=30)).isoformat()})
    assert revived.status is ScheduleStatus.ACTIVE and revived.next_execution_at is not None


def _entry() -> Any:
    from workflow_core_module.db.audit import AuditEntry

    return AuditEntry("test", "test", START)


async def test_soft_and_hard_delete(service: ScheduleService, database: Database) -> None:
    wf = await add_workflow(database)
    soft = await service.add_schedule(cron(wf, "soft"))
    hard = await service.add_schedule(cron(wf, "hard"))
    await service.remove_schedule(soft.schedule_id)
    await service.remove_schedule(hard.schedule_id, hard=True)
    for gone in (soft, hard):
        with pytest.raises(NotFound):
            await service.get_schedule(gone.schedule_id)
        assert gone.id not in service.cache
    rows = await database.read(lambda dal: dal.executesql("SELECT name, deleted_at FROM workflow_schedules"))
    assert [(r[0], r[1] is not None) for r in rows] == [("soft", True)]


async def test_every_mutation_is_audited(service: ScheduleService, database: Database) -> None:
    wf = await add_workflow(database)
    s = await service.add_schedule(cron(wf), actor="bob")
    await service.update_schedule(s.schedule_id, {"name": "n2"}, actor="bob")
    await service.pause_schedule(s.schedule_id, actor="carol")
    await service.resume_schedule(s.schedule_id, actor="carol")
    await service.remove_schedule(s.schedule_id, actor="dave")
    rows = await database.read(lambda dal: dal(dal.audit_log).select(orderby=dal.audit_log.id).as_list())
    assert [(r["actor"], r["action"]) for r in rows] == [
        ("bob", "schedule.create"), ("bob", "schedule.update"), ("carol", "schedule.pause"),
        ("carol", "schedule.resume"), ("dave", "schedule.delete")]
    assert all(r["entity_id"] == s.schedule_id for r in rows)
    assert rows[1]["changes"]["name"] == ["nightly", "n2"]


async def test_preview_saves_nothing(service: ScheduleService, database: Database) -> None:
    fields, times = service.preview({"schedule_type": "cron", "cron_expression": "0 9 * * 1-5",
                                     "timezone": "Europe/Berlin"}, 5)
    assert [t.isoformat() for t in times] == [
        "2026-11-23T08:00:00+00:00", "2026-11-24T08:00:00+00:00", "2026-11-25T08:00:00+00:00",
        "2026-11-26T08:00:00+00:00", "2026-11-27T08:00:00+00:00"]
    _, capped = service.preview({"schedule_type": "interval", "interval_seconds": 60, "max_executions": 2}, 10)
    assert len(capped) == 2
    with pytest.raises(Invalid) as info:
        service.preview({"schedule_type": "one_time", "scheduled_time": "2020-01-01T00:00:00Z"})
    assert info.value.errors == {"scheduled_time": "must be in the future"}
    assert await table_snapshot(database, "workflow_schedules") == []


async def test_unknown_ids_are_not_found(service: ScheduleService) -> None:
    for bad in ("not-a-uuid", "00000000-0000-4000-8000-000000000000"):
        with pytest.raises(NotFound):
            await service.get_schedule(bad)
        with pytest.raises(NotFound):
            await service.update_schedule(bad, {"name": "x"})


# ---- no half-writes -------------------------------------------------------------------------

async def test_rejected_creates_and_updates_change_nothing(service: ScheduleService, database: Database) -> None:
    wf = await add_workflow(database)
    keep = await service.add_schedule(cron(wf, "keep", community_id="c1"))
    await service.add_schedule(cron(wf, "taken", community_id="c1"))
    tables = ("workflow_schedules", "audit_log", "workflow_schedule_runs")
    before = {t: await table_snapshot(database, t) for t in tables}
    cache_before = service.cache.snapshot()
    bad_creates = [
        cron(wf, "x", cron_expression="61 * * * *"),
        cron(wf, "x", timezone="Nowhere/Land"),
        cron(wf, "taken", community_id="c1"),
        {"workflow_id": wf, "name": "x", "schedule_type": "one_time", "scheduled_time": "2001-01-01T00:00:00Z"},
        cron("00000000-0000-4000-8000-000000000000", "x"),
        cron(wf, "x", surprise=1),
    ]
    for data in bad_creates:
        with pytest.raises((Invalid, Conflict)):
            await service.add_schedule(data)
    bad_updates = [
        {"cron_expression": "nope"},
        {"name": "taken"},
        {"schedule_type": "interval"},
        {"interval_seconds": 5},
        {"end_date": "2001-01-01T00:00:00Z"},
        {"community_id": "c9"},
        {"max_executions": -1},
        {"workflow_id": "00000000-0000-4000-8000-000000000000"},
    ]
    for changes in bad_updates:
        with pytest.raises((Invalid, Conflict)):
            await service.update_schedule(keep.schedule_id, changes)
    assert {t: await table_snapshot(database, t) for t in tables} == before
    assert service.cache.snapshot() == cache_before


# ---- the cache mirrors the database ---------------------------------------------------------

async def test_cache_equals_database_after_600_random_mutations(database: Database, clock: ManualClock) -> None:
    settings = make_settings(database.url, max_schedules_per_community=1000)
    engine = WorkflowEngine(database, settings, store=WorkflowStore(database), clock=clock)
    svc = ScheduleService(database, settings, clock=clock)
    scheduler = Scheduler(database, settings, engine=engine, schedules=svc, clock=clock)
    rng = random.Random(20261122)
    workflows = [await add_workflow(database) for _ in range(3)]
    live: list[str] = []
    counts: dict[str, int] = {}
    for step in range(600):
        clock.advance(rng.randint(0, 900))
        op = rng.choice(["create", "create", "update", "pause", "resume", "delete", "run_now", "retime"])
        if op == "create" or not live:
            kind = rng.choice(["cron", "interval", "one_time"])
            spec: dict[str, Any] = {"workflow_id": rng.choice(workflows), "name": f"s{step}", "schedule_type": kind,
                                    "community_id": rng.choice([None, "c1", "c2"])}
            if kind == "cron":
                spec["cron_expression"] = rng.choice(["*/5 * * * *", "0 9 * * 1-5", "30 1 * * *"])
                spec["timezone"] = rng.choice(["UTC", "America/New_York", "Asia/Tokyo"])
            elif kind == "interval":
                spec["interval_seconds"] = rng.choice([60, 600, 86400])
            else:
                spec["scheduled_time"] = (clock.now() + timedelta(seconds=rng.randint(60, 10**6))).isoformat()
            live.append((await svc.add_schedule(spec)).schedule_id)
            counts["create"] = counts.get("create", 0) + 1
            continue
        target = rng.choice(live)
        try:
            if op == "update":
                await svc.update_schedule(target, {"name": f"u{step}", "tags": [f"t{step % 3}"]})
            elif op == "retime":
                await svc.update_schedule(target, {"schedule_type": "interval", "interval_seconds": rng.choice([120, 7200])})
            elif op == "pause":
                await svc.pause_schedule(target)
            elif op == "resume":
                await svc.resume_schedule(target)
            elif op == "delete":
                await svc.remove_schedule(target, hard=rng.random() < 0.3)
                live.remove(target)
            elif op == "run_now":
                await scheduler.run_now(target, actor="fuzz")
            counts[op] = counts.get(op, 0) + 1
        except Conflict:
            counts["refused"] = counts.get("refused", 0) + 1
        assert svc.cache.snapshot() == await db_due(database), (step, op)
    assert all(counts.get(op, 0) > 20 for op in ("create", "update", "pause", "resume", "delete", "run_now")), counts
    fresh = ScheduleService(database, make_settings(database.url), clock=clock)
    await fresh.load_cache()
    assert fresh.cache.snapshot() == svc.cache.snapshot() == await db_due(database)
    head = svc.cache.next_due()
    due = await db_due(database)
    assert head is not None and int(head[1].timestamp()) == min(due.values())
    await scheduler.stop(grace_seconds=5)
    await engine.close()


# ---- the event loop stays responsive ---------------------------------------------------------

async def test_event_loop_stays_responsive_during_10000_inserts(sqlite_database: Database, clock: ManualClock) -> None:
    # Earlier tests leave ~200,000 objects in this process; a full collection over them takes
    # ~170 ms. The service freezes its own start-up heap (Runtime.start); do the same here so the
    # measurement is of the service, not of what the test session accumulated.
    gc.collect()
    gc.freeze()
    svc = ScheduleService(sqlite_database, make_settings(sqlite_database.url), clock=clock)
    wf = await add_workflow(sqlite_database)
    stalls: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.010)
            stalls.append(time.perf_counter() - before - 0.010)

    tick = asyncio.create_task(ticker())
    names = iter(range(10_000))

    async def worker() -> None:  # 64 clients inserting as fast as they can
        for i in names:
            await svc.add_schedule(interval(wf, f"bulk-{i}", 60 + i % 600))

    try:
        await asyncio.gather(*[worker() for _ in range(64)])
    finally:
        stop.set()
        await tick
        gc.unfreeze()
    assert len(svc.cache) == 10_000
    # Work on the event loop (a write not sent to the writer thread) holds it again and again;
    # one late tick out of a hundred is this shared machine's scheduler, not the service.
    slow = sorted((round(s * 1000) for s in stalls if s >= 0.100), reverse=True)
    assert len(slow) <= max(1, len(stalls) // 100) and max(stalls) < 0.500, (
        f"the event loop stalled {len(slow)} times of {len(stalls)} ticks for 100 ms or more: {slow[:10]} ms")
