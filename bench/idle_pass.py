"""Scenario 2, idle pass cost against table size: 10k, 100k and 1M active schedules, none due.

For each table (seeded directly with SQL, nothing due for days), a fresh service opens the
database, loads its cache (then, as `serve` does, freezes what the collector has seen so far),
and `SchedulerLoop.run_pass(now)` runs back to back on the system
clock: the median of the passes' own `duration_ms` is the run's figure (a pass is the due query
on the writer thread inside its transaction, the cache refresh, and the hand-offs between the
event loop and the database threads). The peer is the raw due query the pass runs (the same SQL
text, without the lock), executed on a direct connection in the benchmark's thread, with nothing due.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from datetime import datetime, timezone
from typing import Any

from .common import Context, med, percentile, row, spread_of, summary
from .profile import Spy, summarise
from .seed import Table, Tables

SCENARIO = "idle_pass"
TITLE = "idle pass cost against table size (none due)"


async def _service(table: Table) -> tuple[Any, Any, Any, Any]:
    from workflow_core_module.clock import SystemClock
    from workflow_core_module.config import Settings
    from workflow_core_module.db.database import Database
    from workflow_core_module.db.workflow_store import WorkflowStore
    from workflow_core_module.engine.engine import WorkflowEngine
    from workflow_core_module.services.schedule_service import ScheduleService
    from workflow_core_module.services.scheduler import Scheduler

    settings = Settings(database_url=table.url)
    database = await Database.connect(table.url)
    engine = WorkflowEngine(database, settings, store=WorkflowStore(database))
    service = ScheduleService(database, settings)
    await service.load_cache()
    loop = Scheduler(database, settings, engine=engine, schedules=service, clock=SystemClock()).new_loop()
    return database, engine, service, loop


async def passes(table: Table, count: int) -> dict[str, Any]:
    from workflow_core_module.db.ledger_sql import due_query

    database, engine, service, loop = await _service(table)
    # As `serve` does once started: what lives as long as the process (the cache) is moved out
    # of the collector's way.
    gc.collect()
    gc.freeze()
    try:
        cached = len(service.cache)
        for _ in range(5):  # warm-up: connections, statement caches
            await loop.run_pass(datetime.now(timezone.utc))
        durations, due = [], 0
        for _ in range(count):
            result = await loop.run_pass(datetime.now(timezone.utc))
            durations.append(result.duration_ms)
            due += result.due
        sql, params = (
            database.dialect.params(due_query()),
            (database.dialect.true, database.dialect.ts(datetime.now(timezone.utc)), 500),
        )
    finally:
        await engine.close()
        await database.close()
        gc.unfreeze()
    if due:
        raise RuntimeError(f"{due} rows were due in an idle table")
    raw = await asyncio.to_thread(_raw_due_query, table, sql, params, max(count, 200))
    return {
        "pass_ms": percentile(durations, 50),
        "pass_p99_ms": percentile(durations, 99),
        "due_query_ms": raw,
        "cache_entries": cached,
    }


def _raw_due_query(table: Table, sql: str, params: tuple[Any, ...], count: int) -> float | None:
    conn = table.connect()
    try:
        cur = conn.cursor()
        for _ in range(20):
            cur.execute(sql, params)
            cur.fetchall()
        times = []
        for _ in range(count):
            began = time.perf_counter()
            cur.execute(sql, params)
            rows = cur.fetchall()
            times.append((time.perf_counter() - began) * 1000)
            assert not rows
    finally:
        conn.close()
    return percentile(times, 50)


async def run(ctx: Context, tables: Tables, result: dict[str, Any]) -> None:
    sizes = ctx.sizes
    dialects = ["sqlite"] + (["postgres"] if ctx.pg else [])
    result["settings"] = {
        "table_sizes": list(sizes.idle_sizes),
        "passes_per_run": sizes.idle_passes,
        "batch": 500,
        "clock": "system",
    }
    result["method"] = __doc__.split("\n\n", 1)[1].strip()
    seeded = {(d, s): await tables.get(d, s, min(sizes.burst_n, s)) for d in dialects for s in sizes.idle_sizes}
    collected: dict[str, list[dict[str, Any]]] = {}
    for run_index in range(sizes.runs):
        for (dialect, size), table in seeded.items():
            figures = await passes(table, sizes.idle_passes)
            collected.setdefault(f"{dialect}@{size}", []).append(figures)
            runs = collected[f"{dialect}@{size}"]
            result["figures"][f"ours-{dialect}@{size}"] = {
                "pass_ms": summary([r["pass_ms"] for r in runs], "ms", better="lower"),
                "pass_p99_ms": summary([r["pass_p99_ms"] for r in runs], "ms", better="lower"),
            }
            result["figures"][f"raw-{dialect}@{size}"] = {
                "due_query_ms": summary([r["due_query_ms"] for r in runs], "ms", better="lower")
            }
            ctx.say(
                f"  idle run {run_index + 1} {dialect} {size:,}: pass {figures['pass_ms']:.2f} ms "
                f"(p99 {figures['pass_p99_ms']:.2f}), raw due query {figures['due_query_ms'] * 1000:.0f} us"
            )
    result["rows"] = rows(result)
    await _profile(ctx, result, seeded)


def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    f = result["figures"]
    sizes = result["settings"]["table_sizes"]
    small, big = min(sizes), max(sizes)
    out = []
    for dialect, name in (("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
        if f"ours-{dialect}@{big}" not in f:
            continue
        for size in sizes:
            out.append(
                row(
                    "idle_pass",
                    f"idle pass, {name}, {size:,} rows",
                    med(f, f"ours-{dialect}@{size}", "pass_ms"),
                    "ms",
                    peer_label="raw due query",
                    peer=med(f, f"raw-{dialect}@{size}", "due_query_ms"),
                    better="lower",
                    target="<= 5 ms" if size == big else "",
                    limit=5.0 if size == big else None,
                    spread=spread_of(f, f"ours-{dialect}@{size}", "pass_ms"),
                )
            )
        ours_ratio = _ratio(med(f, f"ours-{dialect}@{big}", "pass_ms"), med(f, f"ours-{dialect}@{small}", "pass_ms"))
        raw_ratio = _ratio(
            med(f, f"raw-{dialect}@{big}", "due_query_ms"), med(f, f"raw-{dialect}@{small}", "due_query_ms")
        )
        out.append(
            row(
                "idle_pass",
                f"idle pass, {name}: {big:,} / {small:,} rows",
                ours_ratio,
                "x",
                peer_label="raw due query, same ratio",
                peer=raw_ratio,
                better="lower",
                target="<= 1.5",
                limit=1.5,
            )
        )
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


async def _profile(ctx: Context, result: dict[str, Any], seeded: dict[tuple[str, int], Table]) -> None:
    missed = [r for r in result["rows"] if r["met"] is False]
    if not missed:
        return
    if not (ctx.profile and ctx.py_spy):
        result["profiles"]["note"] = (
            "targets missed; install py-spy (pip install py-spy; or --py-spy PATH) to see where a pass spends its time"
        )
        return
    big = max(ctx.sizes.idle_sizes)
    for dialect in ("sqlite", "postgres"):
        if (dialect, big) not in seeded or not any(
            ("SQLite" if dialect == "sqlite" else "PostgreSQL") in r["figure"] for r in missed
        ):
            continue
        out = ctx.work / f"profile-idle-{dialect}.txt"
        ctx.say(f"  profiling idle passes, {dialect} {big:,} rows (this process, under py-spy)")
        spy = Spy(ctx.py_spy, os.getpid(), out)
        try:
            await passes(seeded[(dialect, big)], max(ctx.sizes.idle_passes * 5, 1000))
        finally:
            await asyncio.to_thread(spy.stop)
        result["profiles"][f"ours-{dialect}@{big}"] = summarise(out)
