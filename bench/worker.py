"""Processes the benchmark starts: one scheduler each (ours or APScheduler), measured from inside.

usage: python -m bench.worker ROLE 'JSON arguments'

Protocol: lines on stdout ("ready", "started ...", "done"); commands on stdin ("go EPOCH",
"stop"); logs on stderr. Each role writes what it measured as JSON to args["out"].
"""

from __future__ import annotations

import asyncio
import gc
import json
import sqlite3
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

UTC = timezone.utc


def say(*parts: Any) -> None:
    print(*parts, flush=True)


async def command() -> str:
    line = await asyncio.to_thread(sys.stdin.readline)
    if not line:
        raise SystemExit("stdin closed")
    return line.strip()


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class LoopMonitor:
    """How long the event loop was held: a task that asks to wake every 5 ms and records how late
    it woke, as (wall time the hold began, ms)."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(self.interval)
            now = time.perf_counter()
            late = (now - last - self.interval) * 1000
            if late > 1.0:  # (wall time the loop was held from, ms held)
                self.samples.append((round(time.time() - late / 1000, 4), round(late, 3)))
            last = now

    async def stop(self) -> list[tuple[float, float]]:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        return self.samples


def dump(path: str, data: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(data))


# ---- ours -----------------------------------------------------------------------------------------


async def _ours(url: str, **settings_kw: Any) -> tuple[Any, Any, Any, Any, Any, list[tuple[str, str, float]]]:
    from workflow_core_module.config import Settings
    from workflow_core_module.db.database import Database
    from workflow_core_module.db.migrations import migrate
    from workflow_core_module.db.workflow_store import WorkflowStore
    from workflow_core_module.engine.engine import WorkflowEngine
    from workflow_core_module.logs import configure_logging
    from workflow_core_module.services.schedule_service import ScheduleService
    from workflow_core_module.services.scheduler import Scheduler

    from .seed import NOOP_ACTION

    settings = Settings(database_url=url, **settings_kw)
    configure_logging(settings.log_format, settings.log_level)  # what `serve` does: text, INFO, stderr
    database = await Database.connect(url)
    await migrate(database)
    engine = WorkflowEngine(database, settings, store=WorkflowStore(database))
    records: list[tuple[str, str, float]] = []

    async def noop(params: dict[str, Any], context: Any) -> None:
        trigger = context.trigger
        records.append((trigger["schedule_id"], trigger["scheduled_for"], time.time()))

    engine.register_action(NOOP_ACTION, noop)
    service = ScheduleService(database, settings)
    scheduler = Scheduler(database, settings, engine=engine, schedules=service)
    return settings, database, engine, service, scheduler, records


async def _count_transactions_and_statements(database: Any, counts: dict[str, int], *, statements: bool) -> None:
    """Counters the writer thread keeps up to date: transactions it committed (each a commit,
    an fsync on SQLite) and, with `statements` on SQLite, the statements it ran (each row of an
    executemany counts; BEGIN, COMMIT and savepoints do not). Read once the burst is over.
    Counting statements calls back into Python for each one, which slows the writer: it is
    done in an extra run whose times are not reported."""
    counts.update(transactions=0, statements=0)
    begin = database._begin

    def counted_begin() -> None:
        counts["transactions"] += 1
        begin()

    database._begin = counted_begin
    if statements and database.is_sqlite:
        def trace(sql: str) -> None:
            if not sql.lstrip().upper().startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")):
                counts["statements"] += 1

        await database.write(lambda dal: dal._adapter.connection.set_trace_callback(trace))
    counts.update(transactions=0, statements=0)


async def ours_burst(a: dict[str, Any]) -> None:
    _, database, engine, service, scheduler, records = await _ours(a["url"],
                                                                   max_concurrent_workflows=a["max_concurrent"])
    counts = {"workflow_reads": 0, "write_units": 0, "read_units": 0}
    counted_get, counted_write, counted_read = engine.store.get, database.write, database.read

    async def get(*args: Any, **kw: Any) -> Any:  # how often the engine reads the workflow definition
        counts["workflow_reads"] += 1
        return await counted_get(*args, **kw)

    async def write(*args: Any, **kw: Any) -> Any:  # units of work queued for the writer thread
        counts["write_units"] += 1
        return await counted_write(*args, **kw)

    async def read(*args: Any, **kw: Any) -> Any:
        counts["read_units"] += 1
        return await counted_read(*args, **kw)

    engine.store.get, database.write, database.read = get, write, read
    await _count_transactions_and_statements(database, counts, statements=bool(a.get("count_statements")))
    monitor = LoopMonitor()
    say("ready")
    go = await command()
    assert go.startswith("go "), go
    due = float(go.split()[1])
    monitor.start()
    passes: list[dict[str, Any]] = []
    loop = await scheduler.start()
    loop.pass_listeners.append(
        lambda r: passes.append(
            {
                "at": time.time(),
                "due": r.due,
                "fired": r.fired,
                "lost": r.lost,
                "missed": r.missed,
                "duration_ms": round(r.duration_ms, 2),
                "more": r.more,
            }
        )
    )
    started = time.time()
    say("started", started, len(service.cache))
    stop = await command()
    assert stop == "stop", stop
    await scheduler.stop(grace_seconds=10)
    stalls = await monitor.stop()
    await engine.close()
    await database.close()
    dump(
        a["out"],
        {
            "due": due,
            "started": started,
            "records": records,
            "passes": passes,
            "stalls": stalls,
            "cache_entries": len(service.cache),
            "counts": counts,
        },
    )
    say("done")


async def ours_lag(a: dict[str, Any]) -> None:
    settings, database, engine, service, scheduler, records = await _ours(a["url"], min_interval_seconds=1)
    say("ready")
    await command()  # go
    monitor = LoopMonitor()
    monitor.start()
    await scheduler.start()
    created = await service.add_schedule(
        {
            "workflow_id": a["workflow_id"],
            "name": f"lag-{time.time_ns()}",
            "schedule_type": "interval",
            "interval_seconds": 1,
        }
    )
    first = created.next_execution_at.timestamp()
    say("started", first)
    await asyncio.sleep(max(0.0, first + a["seconds"] - time.time() - 0.5))
    await scheduler.stop(grace_seconds=5)
    stalls = await monitor.stop()
    await engine.close()
    await database.close()
    samples = [(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp(), wall) for _, s, wall in records]
    dump(a["out"], {"samples": samples, "stalls": stalls, "first": first})
    say("done")


# ---- APScheduler -----------------------------------------------------------------------------------


def _aps_scheduler(store_kind: str, path: str | None, grace: str) -> Any:
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    if store_kind == "memory":
        store: Any = MemoryJobStore()
    else:
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

        assert path is not None
        if store_kind == "sqlite-wal":  # WAL is a property of the file: set it before the store opens it
            conn = sqlite3.connect(path)
            assert conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
            conn.close()
        store = SQLAlchemyJobStore(url=f"sqlite:///{path}")
    defaults = {} if grace == "default" else {"misfire_grace_time": None, "coalesce": True}
    return AsyncIOScheduler(jobstores={"default": store}, job_defaults=defaults, timezone=UTC)


async def aps_burst(a: dict[str, Any]) -> None:
    import pickle

    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED
    from apscheduler.job import Job
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.util import datetime_to_utc_timestamp

    from . import peer_jobs

    n = a["n"]
    scheduler = _aps_scheduler(a["store"], a.get("path"), a["grace"])
    missed: list[float] = []
    errors: list[str] = []
    scheduler.add_listener(lambda e: missed.append(time.time()), EVENT_JOB_MISSED)
    scheduler.add_listener(lambda e: errors.append(str(e.exception)), EVENT_JOB_ERROR)
    monitor = LoopMonitor()
    say("ready")
    await command()  # go
    due = round(time.time() + a["lead"], 3)  # APScheduler keeps fractions of a second: no whole-second wait
    run_date = datetime.fromtimestamp(due, UTC)
    began = time.perf_counter()
    if a["store"] == "memory":
        for i in range(n):
            scheduler.add_job(
                peer_jobs.noop_job, DateTrigger(run_date=run_date), args=[f"j{i}"], id=f"j{i}", name="noop_job"
            )
        scheduler.start()
    else:
        scheduler.start()
        store = scheduler._lookup_jobstore("default")
        rows = []
        for i in range(n):  # what add_job -> _real_add_job stores, written in one transaction
            job = Job(
                scheduler,
                id=f"j{i}",
                func=peer_jobs.noop_job,
                trigger=DateTrigger(run_date=run_date),
                executor="default",
                args=(f"j{i}",),
                kwargs={},
                name="noop_job",
                next_run_time=run_date,
                **scheduler._job_defaults,
            )
            rows.append(
                {
                    "id": job.id,
                    "next_run_time": datetime_to_utc_timestamp(job.next_run_time),
                    "job_state": pickle.dumps(job.__getstate__(), store.pickle_protocol),
                }
            )
        with store.engine.begin() as connection:
            connection.execute(store.jobs_t.insert(), rows)
        scheduler.wakeup()
    loaded = time.perf_counter() - began
    monitor.start()
    say("started", time.time(), loaded)
    deadline = due + a["bound"]
    while len(peer_jobs.STARTED) + len(missed) + len(errors) < n and time.time() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # anything still to run gets a moment, then we look
    stalls = await monitor.stop()
    left = len(scheduler.get_jobs())
    scheduler.shutdown(wait=False)
    await asyncio.sleep(0)
    dump(
        a["out"],
        {
            "due": due,
            "records": peer_jobs.STARTED,
            "missed": len(missed),
            "errors": errors[:5],
            "error_count": len(errors),
            "stalls": stalls,
            "jobs_left": left,
            "load_seconds": loaded,
        },
    )
    say("done")


async def aps_lag(a: dict[str, Any]) -> None:
    from apscheduler.events import EVENT_JOB_SUBMITTED
    from apscheduler.triggers.interval import IntervalTrigger

    from . import peer_jobs

    scheduler = _aps_scheduler("memory", None, "default")
    planned: list[float] = []
    scheduler.add_listener(lambda e: planned.append(e.scheduled_run_times[-1].timestamp()), EVENT_JOB_SUBMITTED)
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    for i in range(a["others"]):
        scheduler.add_job(peer_jobs.idle_job, IntervalTrigger(days=1, start_date=later + timedelta(seconds=i)))
    say("ready")
    await command()  # go
    first = float(int(time.time()) + 1) + a.get("offset", 0.5)
    scheduler.add_job(
        peer_jobs.noop_job, IntervalTrigger(seconds=1, start_date=datetime.fromtimestamp(first, UTC)), args=["lag"]
    )
    monitor = LoopMonitor()
    monitor.start()
    scheduler.start()
    say("started", first)
    await asyncio.sleep(max(0.0, first + a["seconds"] - time.time() - 0.5))
    scheduler.shutdown(wait=False)
    stalls = await monitor.stop()
    samples = list(zip(planned, [wall for _, wall in peer_jobs.STARTED], strict=False))
    dump(a["out"], {"samples": samples, "stalls": stalls, "first": first})
    say("done")


async def aps_memory(a: dict[str, Any]) -> None:
    """APScheduler with N interval jobs loaded in a MemoryJobStore: RSS before and after.

    Each job is built as add_job builds it (Job with the scheduler's defaults, an IntervalTrigger,
    a uuid4 id) and put in the store with MemoryJobStore.add_job, in start-time order; the
    scheduler's per-job event dispatch and log line, which keep nothing, are skipped to keep 1M
    jobs within the time bound (add_job itself takes about 100 us a job here)."""
    from uuid import uuid4

    from apscheduler.job import Job
    from apscheduler.triggers.interval import IntervalTrigger

    from . import peer_jobs

    scheduler = _aps_scheduler("memory", None, "default")
    scheduler.start(paused=True)
    store = scheduler._lookup_jobstore("default")
    defaults = dict(scheduler._job_defaults)
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    gc.collect()
    before = rss()
    began = time.perf_counter()
    for offset in sorted((i * 7919) % 86400 for i in range(a["n"])):
        start = later + timedelta(seconds=offset)
        job = Job(
            scheduler,
            id=uuid4().hex,
            func=peer_jobs.idle_job,
            trigger=IntervalTrigger(days=1, start_date=start),
            executor="default",
            args=(),
            kwargs={},
            name="idle_job",
            next_run_time=start,
            **defaults,
        )
        job._jobstore_alias = "default"
        store.add_job(job)
    scheduler.resume()
    loaded = time.perf_counter() - began
    gc.collect()
    await asyncio.sleep(0.5)
    after = rss()
    jobs = len(scheduler.get_jobs())
    dump(a["out"], {"rss_before": before, "rss_after": after, "load_seconds": loaded, "jobs": jobs})
    say("ready", after)
    await command()  # stop
    scheduler.shutdown(wait=False)
    say("done")


ROLES = {
    "ours-burst": ours_burst,
    "ours-lag": ours_lag,
    "aps-burst": aps_burst,
    "aps-lag": aps_lag,
    "aps-memory": aps_memory,
}


def main() -> None:
    role, args = sys.argv[1], json.loads(sys.argv[2])
    asyncio.run(ROLES[role](args))


if __name__ == "__main__":
    main()
