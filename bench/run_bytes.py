"""Scenario 6, storage per run: SQLite bytes of one completed scheduled run (one step, small output).

A fresh SQLite file in the work folder, migrated as the service migrates it. One workflow with
one step (an action registered with `WorkflowEngine.register_action` that returns {"ok": true}),
created through WorkflowService, and 1,000 interval schedules (60 s) created through
ScheduleService. A ManualClock moves 60 s at a time; each move runs one `SchedulerLoop.run_pass`
(the claim in the run ledger, the Dispatcher, the WorkflowEngine, the batched start/end writes)
and waits until every run it fired has ended: 1,000 runs per pass, until 100,000 runs (quick:
5,000) are done. Then the service is closed, the WAL checkpointed (TRUNCATE), and the file read
twice: "as written" (the B-trees as the service left them; the service never vacuums), which is
the headline, and after VACUUM. Bytes per run = the pages (dbstat) of the run tables
(workflow_schedule_runs, workflow_executions) and their indexes, divided by the runs; file
growth per run = (file - the file before any run) / runs, each baseline taken the same way (the
checkpointed file, and a VACUUM INTO copy of it). A run's first attempt is stored on its run row
(migration 0005): workflow_executions must stay empty here, and that is checked. One measured run
per figure: the figure is deterministic up to page fill.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .common import Context, fmt, med, row, summary
from .seed import Tables, _migrate

SCENARIO = "run_bytes"
TITLE = "SQLite bytes per completed scheduled run (one step, small output)"

RUN_TABLES = ("workflow_schedule_runs", "workflow_executions")
START = datetime(2026, 11, 22, 12, 0, 0, tzinfo=timezone.utc)
SCHEDULES = 1_000  # runs per pass
FULL_RUNS = 100_000
QUICK_RUNS = 5_000
TARGET_BYTES = 500.0


# ---- producing runs through the real path -------------------------------------------------------


async def produce(path: Path, runs: int, schedules: int) -> dict[str, Any]:
    from workflow_core_module.clock import ManualClock
    from workflow_core_module.config import Settings
    from workflow_core_module.db.database import Database
    from workflow_core_module.db.workflow_store import WorkflowStore
    from workflow_core_module.engine.engine import WorkflowEngine
    from workflow_core_module.services.schedule_service import ScheduleService
    from workflow_core_module.services.scheduler import Scheduler
    from workflow_core_module.services.workflow_service import WorkflowService

    url = f"sqlite://{path}"
    await _migrate(url)
    settings = Settings(database_url=url)
    clock = ManualClock(START)
    database = await Database.connect(url)
    engine = WorkflowEngine(database, settings, store=WorkflowStore(database), clock=clock)
    service = ScheduleService(database, settings, clock=clock)
    scheduler = Scheduler(database, settings, engine=engine, schedules=service, clock=clock)

    async def ok(params: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"ok": True}

    engine.register_action("ok", ok)
    try:
        workflow = await WorkflowService(engine, clock).create(
            {"name": "bytes-probe", "steps": [{"action": "ok"}]}, actor="bench"
        )
        schedules = min(schedules, runs)
        passes, extra = divmod(runs, schedules)  # `extra` schedules fire once more than the others
        for i in range(schedules):
            await service.add_schedule(
                {
                    "workflow_id": workflow.workflow_id,
                    "name": f"probe-{i:06d}",
                    "schedule_type": "interval",
                    "interval_seconds": 60,
                    "max_executions": passes + (1 if i < extra else 0),
                },
                actor="bench",
            )
        await service.load_cache()
        loop = scheduler.new_loop()

        # The file before any run, as written and vacuumed: subtracted from the file after.
        if await database.checkpoint() is None:
            raise RuntimeError("the checkpoint before the runs found the database busy")
        baseline_written = os.path.getsize(path)
        baseline_copy = Path(f"{path}.baseline")
        await asyncio.to_thread(_vacuum_into, path, baseline_copy)
        baseline_vacuumed = os.path.getsize(baseline_copy)
        baseline_copy.unlink()

        fired, began = 0, time.perf_counter()
        while fired < runs:
            clock.advance(60)
            result = await loop.run_pass(clock.now())
            fired += result.fired
            while scheduler.dispatcher.pending:
                await asyncio.sleep(0.002)
            if result.fired == 0:
                raise RuntimeError(f"a pass fired nothing after {fired:,} runs")
        seconds = time.perf_counter() - began
    finally:
        await scheduler.stop(grace_seconds=1)
        await engine.close()
        await database.close()
    return {
        "runs": fired,
        "schedules": schedules,
        "passes": passes + (1 if extra else 0),
        "seconds": seconds,
        "runs_per_second": fired / seconds if seconds else None,
        "baseline_written_bytes": baseline_written,
        "baseline_vacuumed_bytes": baseline_vacuumed,
    }


def _vacuum_into(path: Path, target: Path) -> None:
    con = sqlite3.connect(path)
    try:
        con.execute("VACUUM INTO ?", (str(target),))
    finally:
        con.close()


# ---- measuring ---------------------------------------------------------------------------------


def _varint_len(v: int) -> int:
    n = 1
    while v > 0x7F and n < 9:
        v >>= 7
        n += 1
    return n


def _stored(value: Any) -> tuple[int, int]:
    """(header bytes, body bytes) of one value in an SQLite record (file format 4)."""
    if value is None:
        return 1, 0
    if isinstance(value, int):
        if value in (0, 1):
            return 1, 0
        for size in (1, 2, 3, 4, 6):
            if -(1 << (8 * size - 1)) <= value < (1 << (8 * size - 1)):
                return 1, size
        return 1, 8
    if isinstance(value, float):
        return 1, 8
    if isinstance(value, str):
        n = len(value.encode())
        return _varint_len(n * 2 + 13), n
    n = len(value)
    return _varint_len(n * 2 + 12), n


def _columns_of(con: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in con.execute(f"PRAGMA table_info({table})")]


def _column_stats(con: sqlite3.Connection, table: str) -> dict[str, Any]:
    """Per column: the average length() and the average stored size (serial type + body)."""
    cols = _columns_of(con, table)
    quoted = ", ".join(f'"{c}"' for c in cols)
    n = con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    lengths = con.execute(
        "SELECT " + ", ".join(f'COALESCE(SUM(length("{c}")), 0)' for c in cols) + f" FROM {table}"
    ).fetchone()
    header = [0] * len(cols)
    body = [0] * len(cols)
    cell = 0  # payload-size varint + rowid varint + record-header-size varint + 2-byte cell pointer
    for record in con.execute(f"SELECT rowid, {quoted} FROM {table}"):
        rowid, values = record[0], record[1:]
        h_total = b_total = 0
        for i, (c, v) in enumerate(zip(cols, values, strict=True)):
            h, b = _stored(None if c == "id" else v)  # INTEGER PRIMARY KEY: the rowid, NULL in the record
            header[i] += h
            body[i] += b
            h_total += h
            b_total += b
        size = _varint_len(h_total + 1) + h_total + b_total
        cell += _varint_len(size) + _varint_len(rowid) + _varint_len(h_total + 1) + 2
    per = {
        c: {
            "avg_length": round(lengths[i] / n, 1) if n else 0,
            "avg_stored_bytes": round((header[i] + body[i]) / n, 1) if n else 0,
        }
        for i, c in enumerate(cols)
    }
    total = (sum(header) + sum(body) + cell) / n if n else 0
    return {
        "rows": n,
        "columns": per,
        "avg_record_plus_cell_bytes": round(total, 1),
        "avg_cell_overhead_bytes": round(cell / n, 1) if n else 0,
    }


def _describe_index(con: sqlite3.Connection, name: str) -> str:
    if name.startswith("sqlite_autoindex"):
        table = name[len("sqlite_autoindex_") :].rsplit("_", 1)[0]
        cols = [r[2] for r in con.execute(f"PRAGMA index_info({name})")]
        return f"UNIQUE({', '.join(cols)}) on {table}"
    sql = con.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()
    return " ".join((sql[0] or "").split()) if sql else ""


def _snapshot(path: Path, runs: int, baseline: int) -> dict[str, Any]:
    con = sqlite3.connect(path)
    try:
        stats = con.execute(
            "SELECT name, SUM(pgsize), SUM(payload), SUM(unused), SUM(ncell), COUNT(*) FROM dbstat GROUP BY name"
        ).fetchall()
        owner = dict(con.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"))
        page_size = con.execute("PRAGMA page_size").fetchone()[0]
        free = con.execute("PRAGMA freelist_count").fetchone()[0]
        objects = {}
        for name, size, payload, unused, cells, pages in stats:
            if owner.get(name) not in RUN_TABLES:
                continue
            objects[name] = {
                "table": owner[name],
                "kind": "table" if name in RUN_TABLES else "index",
                "bytes": size,
                "per_run": size / runs,
                "payload": payload,
                "unused": unused,
                "cells": cells,
                "pages": pages,
                "fill": round(1 - unused / size, 3) if size else 0,
                "describe": "" if name in RUN_TABLES else _describe_index(con, name),
            }
    finally:
        con.close()
    total = sum(o["bytes"] for o in objects.values())
    file_bytes = os.path.getsize(path)
    return {
        "file_bytes": file_bytes,
        "baseline_file_bytes": baseline,
        "page_size": page_size,
        "free_pages": free,
        "run_objects_bytes": total,
        "run_objects_per_run": total / runs,
        "file_per_run": file_bytes / runs,
        "file_growth_per_run": (file_bytes - baseline) / runs,
        "objects": dict(sorted(objects.items(), key=lambda kv: -kv[1]["bytes"])),
    }


def _checkpoint(con: sqlite3.Connection) -> None:
    busy, _, _ = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        raise RuntimeError("the final checkpoint found the database busy")


def measure(path: Path, info: dict[str, Any]) -> dict[str, Any]:
    runs = info["runs"]
    con = sqlite3.connect(path)
    try:
        _checkpoint(con)
        counts = {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in RUN_TABLES}
        statuses = {
            t: dict(con.execute(f"SELECT status, COUNT(*) FROM {t} GROUP BY status").fetchall()) for t in RUN_TABLES
        }
    finally:
        con.close()
    written = _snapshot(path, runs, info["baseline_written_bytes"])
    con = sqlite3.connect(path)
    try:
        con.execute("VACUUM")
        _checkpoint(con)
        columns = {t: _column_stats(con, t) for t in RUN_TABLES}
        samples = {
            t: dict(
                zip(
                    _columns_of(con, t),
                    con.execute(f"SELECT * FROM {t} ORDER BY id DESC LIMIT 1").fetchone() or (),
                    strict=False,
                )
            )
            for t in RUN_TABLES
        }
    finally:
        con.close()
    vacuumed = _snapshot(path, runs, info["baseline_vacuumed_bytes"])
    return {
        "row_counts": counts,
        "statuses": statuses,
        "as_written": written,
        "vacuumed": vacuumed,
        "columns": columns,
        "sample_rows": samples,
    }


# ---- the scenario ------------------------------------------------------------------------------


async def run(ctx: Context, tables: Tables, result: dict[str, Any]) -> None:
    runs = QUICK_RUNS if ctx.sizes.quick else FULL_RUNS
    result["runs"] = 1  # one measured run per figure, whatever the sizes say (see the method)
    result["settings"] = {
        "database": "SQLite",
        "runs_produced": runs,
        "schedules": SCHEDULES,
        "passes": -(-runs // SCHEDULES),
        "step": 'one registered action returning {"ok": true}',
        "clock": "manual, 60 s per pass",
        "measured": "after a TRUNCATE checkpoint, as written and after VACUUM",
    }
    result["method"] = _method()
    path = ctx.work / f"run-bytes-{time.monotonic_ns()}.sqlite"
    logger = logging.getLogger()
    disabled = logger.manager.disable
    logging.disable(logging.INFO)  # run and pass logs would print a line or more per run
    try:
        info = await produce(path, runs, SCHEDULES)
    finally:
        logging.disable(disabled)
    result["figures"]["production"] = {
        "runs": summary([info["runs"]], "", better="higher"),
        "seconds": summary([info["seconds"]], "s", better="lower"),
        "runs_per_second": summary([info["runs_per_second"]], "runs/s", better="higher"),
    }
    ctx.say(
        f"  {info['runs']:,} runs ({info['schedules']:,} schedules x {info['passes']} passes) in "
        f"{info['seconds']:.1f} s ({info['runs_per_second']:.0f} runs/s)"
    )
    try:
        measured = await asyncio.to_thread(measure, path, info)
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    result["production"] = {k: v for k, v in info.items() if k not in ("seconds", "runs_per_second")}
    result["row_counts"] = measured["row_counts"]
    result["statuses"] = measured["statuses"]
    result["breakdown"] = {label: measured[label] for label in ("as_written", "vacuumed")}
    result["columns"] = measured["columns"]
    result["sample_rows"] = measured["sample_rows"]
    for label, key in (("as_written", "as-written"), ("vacuumed", "vacuumed")):
        snap = measured[label]
        result["figures"][key] = {
            "run_objects_per_run": summary([snap["run_objects_per_run"]], "B"),
            "file_growth_per_run": summary([snap["file_growth_per_run"]], "B"),
            "file_per_run": summary([snap["file_per_run"]], "B"),
            "free_pages": summary([snap["free_pages"]], ""),
        }
        ctx.say(
            f"  {label.replace('_', ' ')}: run tables + indexes {snap['run_objects_per_run']:.1f} B/run, "
            f"file growth {snap['file_growth_per_run']:.1f} B/run, free pages {snap['free_pages']}; "
            + ", ".join(f"{name} {o['per_run']:.1f}" for name, o in snap["objects"].items())
        )
    result["method"] = _method(result)
    counts = measured["row_counts"]
    result["notes"].append(
        "Rows after the runs: "
        + ", ".join(f"{t} {n:,}" for t, n in counts.items())
        + "; statuses: "
        + "; ".join(f"{t} {s or '{}'}" for t, s in measured["statuses"].items())
        + "."
    )
    if counts["workflow_executions"] != 0:
        result["failures"].append(
            f"workflow_executions holds {counts['workflow_executions']:,} rows: a first attempt should be "
            "stored on its run row (migration 0005)"
        )
    if counts["workflow_schedule_runs"] != info["runs"]:
        result["failures"].append(
            f"workflow_schedule_runs holds {counts['workflow_schedule_runs']:,} rows for {info['runs']:,} runs"
        )
    completed = measured["statuses"]["workflow_schedule_runs"].get("completed", 0)
    if completed != info["runs"]:
        result["failures"].append(f"{completed:,} of {info['runs']:,} runs completed")
    result["rows"] = rows(result)


def _method(result: dict[str, Any] | None = None) -> str:
    text = __doc__.split("\n\n", 1)[1].strip()
    if not result or "breakdown" not in result:
        return text
    written, vacuumed = result["breakdown"]["as_written"], result["breakdown"]["vacuumed"]
    lines = [
        "",
        "",
        "Per object, bytes per run (pages of the object / runs; fill = 1 - unused / bytes):",
        "",
        "| object | kind | as written | fill | after VACUUM | fill | definition |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, o in written["objects"].items():
        v = vacuumed["objects"].get(name, {})
        lines.append(
            f"| {name} | {o['kind']} | {o['per_run']:.1f} B | {o['fill']:.2f} | "
            f"{v.get('per_run', 0):.1f} B | {v.get('fill', 0):.2f} | {o['describe'].replace('|', '/')} |"
        )
    lines.append(
        f"| run tables + indexes | | {written['run_objects_per_run']:.1f} B | | "
        f"{vacuumed['run_objects_per_run']:.1f} B | | |"
    )
    lines.append(
        f"| file growth | | {written['file_growth_per_run']:.1f} B | | {vacuumed['file_growth_per_run']:.1f} B | | "
        f"file {fmt(written['file_bytes'], 'B')} as written, {fmt(vacuumed['file_bytes'], 'B')} vacuumed "
        f"(page size {written['page_size']}) |"
    )
    return text + "\n".join(lines)


def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    f = result["figures"]
    runs = result["settings"]["runs_produced"]
    return [
        row(
            "run_bytes",
            f"bytes per run (one step, small output), SQLite, after {runs:,} runs",
            med(f, "as-written", "run_objects_per_run"),
            "B",
            ours_label="run tables and their indexes, as written",
            better="lower",
            target=f"<= {TARGET_BYTES:.0f} B",
            limit=TARGET_BYTES,
        ),
        row(
            "run_bytes",
            f"bytes per run after VACUUM, SQLite, after {runs:,} runs",
            med(f, "vacuumed", "run_objects_per_run"),
            "B",
            ours_label="run tables and their indexes, vacuumed",
            better="lower",
        ),
        row(
            "run_bytes",
            f"file growth per run, SQLite, after {runs:,} runs (as written)",
            med(f, "as-written", "file_growth_per_run"),
            "B",
            ours_label="(file - file before any run) / runs",
            better="lower",
        ),
    ]
