"""Scenario 1, fire burst: N schedules due at the same instant T, a no-op workflow, durable runs.

Ours: `bench.worker ours-burst` processes (one on SQLite; one, then three, on PostgreSQL) load
their cache from a seeded table whose N one-time rows were set due at T, and run the real loop on
the system clock. The no-op action records the wall time it starts for each (schedule_id,
scheduled_for); duplicates and missing are counted from those records and from the run and
execution rows, and any duplicate or missing fire fails the benchmark.

Peers, in the same invocation: APScheduler 3.11 (AsyncIOScheduler, DateTrigger jobs calling a
module-level no-op coroutine) with MemoryJobStore, SQLAlchemyJobStore on SQLite, and the same in
WAL mode, each with its defaults (misfire_grace_time=1 s) and with misfire_grace_time=None; and
raw claims written by hand on the same tables (SQLite batched; PostgreSQL set-based with FOR
UPDATE SKIP LOCKED, and row by row).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

from .common import Context, Worker, med, percentile, row, spread_of, summary, whole_second_after
from .profile import Spy, summarise
from .seed import Table, Tables, ts_of_epoch

SCENARIO = "burst"
TITLE = "fire burst: N schedules due at the same instant"
BATCH = 500


def _iso_epoch(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _stall_max(stalls: list[list[float]], start: float, end: float) -> float:
    inside = [late for at, late in stalls if start <= at <= end]
    return max(inside, default=0.0)


def _figures(
    due: float,
    records: list[tuple[str, float]],
    expected: int,
    dups_db: int | None,
    missing_db: int | None,
    stall_ms: float,
) -> dict[str, Any]:
    """Per-run figures from (key, wall time at start) records."""
    keys = [k for k, _ in records]
    unique = set(keys)
    walls = [w for _, w in records]
    lags = [(w - due) * 1000 for w in walls]
    duration = (max(walls) - due) if walls else None
    return {
        "started": len(unique),
        "duration_s": duration if len(unique) == expected else None,
        "fires_per_s": (len(unique) / duration) if duration and len(unique) == expected else None,
        "first_ms": min(lags) if lags else None,
        "lag_p50_ms": percentile(lags, 50),
        "lag_p99_ms": percentile(lags, 99),
        "lag_max_ms": max(lags) if lags else None,
        "duplicates": (len(keys) - len(unique)) + (dups_db or 0),
        "missing": max(expected - len(unique), missing_db or 0),
        "loop_stall_max_ms": stall_ms,
    }


# ---- ours -------------------------------------------------------------------------------------------


def _per_10k(data: list[dict[str, Any]], counter: str, fires: int) -> float:
    """A counter of the workers (summed over replicas) per 10,000 fires."""
    return sum(d.get("counts", {}).get(counter, 0) for d in data) * 10_000 / max(1, fires)


async def ours_run(
    ctx: Context, table: Table, replicas: int, expected_ids: set[str], *, spy_out: Path | None = None,
    max_concurrent: int | None = None, count_statements: bool = False,
) -> dict[str, Any]:
    """One burst of our scheduler on `table` with `replicas` processes; returns its figures."""
    await asyncio.to_thread(table.reset)
    lead = (0.4 if ctx.sizes.quick else 1.0) + table.size / 250_000 + 0.2 * replicas
    for attempt in range(3):
        outs = [ctx.work / f"ours-{uuid.uuid4().hex[:8]}.json" for _ in range(replicas)]
        workers = [
            Worker(
                "ours-burst",
                {"url": table.url, "out": str(o), "max_concurrent": max_concurrent or ctx.sizes.max_concurrent,
                 "count_statements": count_statements},
                ctx.work,
                tag=f"-{table.dialect}-{i}",
            )
            for i, o in enumerate(outs)
        ]
        spy = None
        try:
            for w in workers:
                await w.expect("ready", 120)
            due = whole_second_after(lead)
            await asyncio.to_thread(table.arm, due)
            if spy_out is not None and ctx.py_spy:
                spy = Spy(ctx.py_spy, workers[0].pid, spy_out)
            for w in workers:
                w.send(f"go {due:.0f}")
            starts = [float((await w.expect("started", 120)).split()[0]) for w in workers]
            late = max(starts) > due - 0.02
            bound = 30 + 6 * table.burst / 1000
            while time.time() < due + bound:
                if await asyncio.to_thread(table.finished_runs, due) >= table.burst:
                    break
                await asyncio.sleep(0.1)
            if spy is not None:
                await asyncio.to_thread(spy.stop)
            for w in workers:
                w.send("stop")
            for w in workers:
                await w.expect("done", 120)
                await w.wait(60)
            data = [json.loads(o.read_text()) for o in outs]
        finally:
            if spy is not None:
                await asyncio.to_thread(spy.stop)
            for w in workers:
                w.close()
            for o in outs:
                o.unlink(missing_ok=True)
        if late and attempt < 2:
            ctx.say("  (a worker was ready only after T; again with more lead)")
            lead *= 2
            await asyncio.to_thread(table.reset)
            continue
        break
    verify = await asyncio.to_thread(table.verify, due, expected_ids)
    records = [(f"{sid}|{at}", wall) for d in data for sid, at, wall in d["records"] if _iso_epoch(at) == due]
    end = max((w for _, w in records), default=due) + 0.1
    stall = max(_stall_max(d["stalls"], due - 0.05, end) for d in data)
    out = _figures(due, records, table.burst, verify["duplicates"], verify["missing"], stall)
    passes = [p for d in data for p in d["passes"] if p["fired"] or p["due"]]
    claim_end = max((p["at"] for p in passes if p["fired"]), default=None)
    out.update(
        {
            "claimed_all_ms": (claim_end - due) * 1000 if claim_end else None,
            "passes": len(passes),
            "per_replica": [sum(1 for _, at, _ in d["records"] if _iso_epoch(at) == due) for d in data],
            "workflow_reads": sum(d.get("counts", {}).get("workflow_reads", 0) for d in data),
            "write_units_per_fire": sum(d.get("counts", {}).get("write_units", 0) for d in data) / max(1, table.burst),
            "transactions_per_10k_fires": _per_10k(data, "transactions", table.burst),
            "statements_per_10k_fires": (_per_10k(data, "statements", table.burst) if count_statements
                                         else None),
            "db": verify,
            "late_start": late,
        }
    )
    return out


# ---- APScheduler -------------------------------------------------------------------------------------


async def aps_run(ctx: Context, store: str, grace: str, n: int) -> dict[str, Any]:
    path = ctx.work / f"aps-{uuid.uuid4().hex[:8]}.sqlite"
    out = ctx.work / f"aps-{uuid.uuid4().hex[:8]}.json"
    bound = 20 + 4 * n / 1000
    w = Worker(
        "aps-burst",
        {
            "store": store,
            "grace": grace,
            "n": n,
            "out": str(out),
            "path": str(path),
            "lead": (0.3 if ctx.sizes.quick else 1.0) + n * 1.5e-4,
            "bound": bound,
        },
        ctx.work,
        tag=f"-{store}-{grace}",
    )
    try:
        await w.expect("ready", 60)
        w.send("go")
        started = float((await w.expect("started", 120)).split()[0])
        await w.expect("done", bound + 60)
        await w.wait(30)
        data = json.loads(out.read_text())
    finally:
        w.close()
        out.unlink(missing_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    due = data["due"]
    records = [(k, wall) for k, wall in data["records"]]
    end = max((wall for _, wall in records), default=due) + 0.1
    figures = _figures(due, records, n, None, None, _stall_max(data["stalls"], due - 0.05, max(end, due + 0.5)))
    figures.update(
        {
            "dropped_as_missed": data["missed"],
            "errors": data["error_count"],
            "late_start": started > due,
            "jobs_left": data["jobs_left"],
        }
    )
    return figures


# ---- raw claims (hand-written SQL on the same tables) ------------------------------------------------------


def raw_claim(table: Table, mode: str) -> dict[str, Any]:
    """Claim every burst row as fast as plain SQL can: the figure the design quotes as the limit."""
    table.reset()
    due = time.time() - 1
    table.arm(float(int(due)))
    now = ts_of_epoch(time.time())
    conn = table.connect()
    claimed = 0
    try:
        cur = conn.cursor()
        if table.is_sqlite:
            cur.execute("PRAGMA synchronous=FULL")  # as the service runs it
        began = time.perf_counter()
        if mode == "sqlite-batched":
            while True:
                cur.execute("BEGIN IMMEDIATE")
                cur.execute(
                    "SELECT id, next_execution_at, schedule_id, workflow_id FROM workflow_schedules "
                    "WHERE is_active = 'T' AND next_execution_at <= ? ORDER BY next_execution_at, id LIMIT ?",
                    (now, BATCH),
                )
                rows = cur.fetchall()
                runs = []
                for pk, old, sid, wf in rows:
                    cur.execute(
                        "UPDATE workflow_schedules SET next_execution_at = NULL, is_active = 'F', "
                        "status = 'completed', execution_count = execution_count + 1, total_runs = total_runs + 1 "
                        "WHERE id = ? AND next_execution_at = ? AND is_active = 'T'",
                        (pk, old),
                    )
                    if cur.rowcount == 1:
                        runs.append((str(uuid.uuid4()), sid, wf, old, now, "queued", "schedule", "raw"))
                cur.executemany(
                    "INSERT INTO workflow_schedule_runs (run_id, schedule_id, workflow_id, scheduled_for, "
                    'fired_at, status, "trigger", claimed_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
                    runs,
                )
                cur.execute("COMMIT")
                claimed += len(runs)
                if len(rows) < BATCH:
                    break
        elif mode == "pg-set":
            from psycopg2.extras import execute_values

            conn.autocommit = False
            while True:
                cur.execute(
                    "WITH due AS (SELECT id FROM workflow_schedules WHERE is_active AND next_execution_at <= %s "
                    "ORDER BY next_execution_at, id LIMIT %s FOR UPDATE SKIP LOCKED) "
                    "UPDATE workflow_schedules s SET next_execution_at = NULL, is_active = FALSE, "
                    "status = 'completed', "
                    "execution_count = s.execution_count + 1, total_runs = s.total_runs + 1 FROM due "
                    "WHERE s.id = due.id RETURNING s.schedule_id, s.workflow_id",
                    (now, BATCH),
                )
                rows = cur.fetchall()
                if rows:
                    execute_values(
                        cur,
                        "INSERT INTO workflow_schedule_runs (run_id, schedule_id, workflow_id, "
                        'scheduled_for, fired_at, status, "trigger", claimed_by) VALUES %s',
                        [(str(uuid.uuid4()), sid, wf, now, now, "queued", "schedule", "raw") for sid, wf in rows],
                        page_size=BATCH,
                    )
                conn.commit()
                claimed += len(rows)
                if len(rows) < BATCH:
                    break
        elif mode == "pg-row":  # the due list read once, then one transaction per row (conditional claim)
            conn.autocommit = False
            cur.execute(
                "SELECT id, next_execution_at, schedule_id, workflow_id FROM workflow_schedules "
                "WHERE is_active AND next_execution_at <= %s ORDER BY next_execution_at, id",
                (now,),
            )
            due_rows = cur.fetchall()
            conn.commit()
            for pk, old, sid, wf in due_rows:
                cur.execute(
                    "UPDATE workflow_schedules SET next_execution_at = NULL, is_active = FALSE, "
                    "status = 'completed', execution_count = execution_count + 1, total_runs = total_runs + 1 "
                    "WHERE id = %s AND next_execution_at = %s AND is_active",
                    (pk, old),
                )
                if cur.rowcount == 1:
                    cur.execute(
                        "INSERT INTO workflow_schedule_runs (run_id, schedule_id, workflow_id, scheduled_for, "
                        'fired_at, status, "trigger", claimed_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)',
                        (str(uuid.uuid4()), sid, wf, old, now, "queued", "schedule", "raw"),
                    )
                    claimed += 1
                conn.commit()
        elapsed = time.perf_counter() - began
    finally:
        conn.close()
    table.reset()
    return {
        "rows": claimed,
        "seconds": elapsed,
        "rows_per_s": claimed / elapsed if elapsed else None,
        "complete": claimed == table.burst,
    }


# ---- the scenario ----------------------------------------------------------------------------------------

OURS_METRICS = (
    "duration_s",
    "fires_per_s",
    "first_ms",
    "lag_p50_ms",
    "lag_p99_ms",
    "lag_max_ms",
    "duplicates",
    "missing",
    "loop_stall_max_ms",
    "claimed_all_ms",
)
WIDE = 10_000  # MAX_CONCURRENT_WORKFLOWS of the "-c10000" variants (the default is 10)

UNITS = {
    "duration_s": "s",
    "fires_per_s": "fires/s",
    "first_ms": "ms",
    "lag_p50_ms": "ms",
    "lag_p99_ms": "ms",
    "lag_max_ms": "ms",
    "duplicates": "",
    "missing": "",
    "loop_stall_max_ms": "ms",
    "claimed_all_ms": "ms",
    "dropped_as_missed": "",
    "started": "",
    "workflow_reads": "",
    "write_units_per_fire": "",
    "transactions_per_10k_fires": "",
    "statements_per_10k_fires": "",
}
HIGHER = {"fires_per_s", "started"}

APS = [
    ("memory", "default"),
    ("memory", "none"),
    ("sqlite", "default"),
    ("sqlite", "none"),
    ("sqlite-wal", "default"),
    ("sqlite-wal", "none"),
]


def _aps_name(store: str, grace: str) -> str:
    label = {"memory": "aps-memory", "sqlite": "aps-sqlalchemy-sqlite", "sqlite-wal": "aps-sqlalchemy-sqlite-wal"}[
        store
    ]
    return f"{label}-{'grace1s' if grace == 'default' else 'graceNone'}"


async def run(ctx: Context, tables: Tables, result: dict[str, Any]) -> None:
    sizes = ctx.sizes
    n = sizes.burst_n
    result["settings"] = {
        "N": n,
        "max_concurrent_workflows": sizes.max_concurrent,
        "max_concurrent_workflows_wide_variant": WIDE,
        "claim_batch": BATCH,
        "max_batches_per_pass": 20,
        "burst_table_sizes": list(sizes.burst_sweep),
        "log": "text, INFO, to a file (as serve)",
        "clock": "system",
        "postgres": bool(ctx.pg),
    }
    result["method"] = __doc__.split("\n\n", 1)[1].strip()
    dialects = ["sqlite"] + (["postgres"] if ctx.pg else [])
    runs_raw: dict[str, list[dict[str, Any]]] = {}

    def add(name: str, figures: dict[str, Any]) -> None:
        runs_raw.setdefault(name, []).append(figures)
        keep = {k: v for k, v in figures.items() if k not in ("db",)}
        result.setdefault("raw_runs", {}).setdefault(name, []).append(keep | {"db": figures.get("db")})
        result["figures"][name] = {
            metric: summary(
                [r.get(metric) for r in runs_raw[name]],
                UNITS.get(metric, ""),
                better="higher" if metric in HIGHER else "lower",
            )
            for metric in runs_raw[name][0]
            if isinstance(runs_raw[name][0][metric], (int, float, type(None)))
            and not isinstance(runs_raw[name][0][metric], bool)
        }
        if "duplicates" in figures and name.startswith("ours"):
            if figures["duplicates"] or figures["missing"]:
                result["failures"].append(f"{name}: {figures['duplicates']} duplicate(s), {figures['missing']} missing")

    # tables: N due in an N-row table (the scenario), then N due among larger tables (the sweep)
    burst_tables: dict[tuple[str, int], Table] = {}
    for dialect in dialects:
        for size in sorted({n, *sizes.burst_sweep}):
            burst_tables[(dialect, size)] = await tables.get(dialect, size, n)
    expected = {key: await asyncio.to_thread(t.burst_ids) for key, t in burst_tables.items()}

    plan: list[tuple[str, Any]] = []
    for dialect in dialects:
        for size in sorted({n, *sizes.burst_sweep}):
            replicas = [1, 3] if (dialect == "postgres" and size == n) else [1]
            for r in replicas:
                plan.append((f"ours-{dialect}-{r}r@{size}", ("ours", dialect, size, r, None)))
        # with a slot for every fire, each starts at its claim: no start write of its own
        plan.append((f"ours-{dialect}-1r-c{WIDE}@{n}", ("ours", dialect, n, 1, WIDE)))
    for store, grace in APS:
        plan.append((_aps_name(store, grace), ("aps", store, grace)))
    plan.append(("raw-sqlite-batched@%d" % n, ("raw", "sqlite", n, "sqlite-batched")))
    if sizes.burst_sweep and max(sizes.burst_sweep) != n:
        big = max(sizes.burst_sweep)
        plan.append((f"raw-sqlite-batched@{big}", ("raw", "sqlite", big, "sqlite-batched")))
    if ctx.pg:
        plan.append(("raw-postgres-set@%d" % n, ("raw", "postgres", n, "pg-set")))
        plan.append(("raw-postgres-row@%d" % n, ("raw", "postgres", n, "pg-row")))

    for run_index in range(sizes.runs):  # interleaved, so machine noise spreads over every variant
        for name, spec in plan:
            began = time.perf_counter()
            if spec[0] == "ours":
                _, dialect, size, replicas, slots = spec
                figures = await ours_run(ctx, burst_tables[(dialect, size)], replicas, expected[(dialect, size)],
                                         max_concurrent=slots)
                add(name, figures)
                ctx.say(
                    f"  burst run {run_index + 1} {name}: {figures['started']:,}/{n:,} started in "
                    f"{_s(figures['duration_s'])}, {figures['fires_per_s'] or 0:,.0f} fires/s, p99 lag "
                    f"{figures['lag_p99_ms'] or 0:,.0f} ms, dup {figures['duplicates']}, missing "
                    f"{figures['missing']}, loop stall {figures['loop_stall_max_ms']:,.0f} ms "
                    f"({time.perf_counter() - began:.0f} s)"
                )
            elif spec[0] == "aps":
                _, store, grace = spec
                figures = await aps_run(ctx, store, grace, n)
                add(name, figures)
                ctx.say(
                    f"  burst run {run_index + 1} {name}: {figures['started']:,}/{n:,} started, "
                    f"{figures['dropped_as_missed']:,} dropped as missed, {_s(figures['duration_s'])}, "
                    f"loop stall {figures['loop_stall_max_ms']:,.0f} ms ({time.perf_counter() - began:.0f} s)"
                )
            else:
                _, dialect, size, mode = spec
                figures = await asyncio.to_thread(raw_claim, burst_tables[(dialect, size)], mode)
                add(name, figures)
                ctx.say(f"  burst run {run_index + 1} {name}: {figures['rows_per_s']:,.0f} rows/s")

    await _count_statements(ctx, result, burst_tables, expected)
    result["rows"] = rows(result)
    await _profiles(ctx, result, burst_tables, expected)


def _s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def _writes_rows(f: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """Transactions (commits) and statements per 10,000 fires, default slots and one per fire;
    and how much sooner every fire starts when each starts at its claim."""
    out = []
    for dialect, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
        for name, slots in ((f"ours-{dialect}-1r@{n}", "MAX_CONCURRENT_WORKFLOWS=10"),
                            (f"ours-{dialect}-1r-c{WIDE}@{n}", f"MAX_CONCURRENT_WORKFLOWS={WIDE:,}")):
            if name not in f:
                continue
            for metric in ("transactions_per_10k_fires", "statements_per_10k_fires"):
                if med(f, name, metric) is not None:
                    out.append(row("burst", f"fire burst {n:,}, {label}, {slots}: {metric.replace('_', ' ')}",
                                   med(f, name, metric), "", better="lower", spread=spread_of(f, name, metric)))
        wide = f"ours-{dialect}-1r-c{WIDE}@{n}"
        if wide in f:
            out.append(row("burst", f"fire burst {n:,}, {label}, MAX_CONCURRENT_WORKFLOWS={WIDE:,}: duration_s",
                           med(f, wide, "duration_s"), "s", peer_label="same, MAX_CONCURRENT_WORKFLOWS=10",
                           peer=med(f, f"ours-{dialect}-1r@{n}", "duration_s"), better="lower",
                           spread=spread_of(f, wide, "duration_s")))
    return out


def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    f = result["figures"]
    n = result["settings"]["N"]
    out = []
    sq = f"ours-sqlite-1r@{n}"
    peers = [(_aps_name(s, g), g) for s, g in APS]
    label = f"fire burst {n:,}, SQLite"
    raw_sqlite = med(f, f"raw-sqlite-batched@{n}", "rows_per_s")
    aps_wal = med(f, "aps-sqlalchemy-sqlite-wal-graceNone", "fires_per_s")
    for metric, unit, better, target, limit in (
        ("duration_s", "s", "lower", "all started <= 1.0 s after T", 1.0),
        ("fires_per_s", "fires/s", "higher", "faster than APScheduler SQLite+WAL", aps_wal),
    ):
        for peer, _ in peers if metric == "fires_per_s" else [(p, g) for p, g in peers if "graceNone" in p]:
            peer_value = med(f, peer, metric)
            if metric == "duration_s" and peer_value is None and med(f, peer, "started") is not None:
                peer_label = f"{peer} (started {med(f, peer, 'started'):,.0f}/{n:,})"
            else:
                peer_label = peer
            out.append(
                row(
                    "burst",
                    f"{label}: {metric}",
                    med(f, sq, metric),
                    unit,
                    peer_label=peer_label,
                    peer=peer_value,
                    better=better,
                    target=target,
                    limit=limit,
                    spread=spread_of(f, sq, metric),
                )
            )
    out.append(
        row(
            "burst",
            f"{label}: fires/s vs raw claim",
            med(f, sq, "fires_per_s"),
            "fires/s",
            peer_label=f"raw SQLite batched claim @{n:,} (rows/s)",
            peer=raw_sqlite,
            target=">= 50 % of the raw batched claim",
            limit=None if raw_sqlite is None else raw_sqlite / 2,
            spread=spread_of(f, sq, "fires_per_s"),
        )
    )
    out += _writes_rows(f, n)
    for metric, unit in (("lag_p50_ms", "ms"), ("lag_p99_ms", "ms"), ("lag_max_ms", "ms"), ("loop_stall_max_ms", "ms")):
        out.append(
            row(
                "burst",
                f"{label}: {metric}",
                med(f, sq, metric),
                unit,
                peer_label="aps-sqlalchemy-sqlite-graceNone",
                peer=med(f, "aps-sqlalchemy-sqlite-graceNone", metric),
                better="lower",
                spread=spread_of(f, sq, metric),
            )
        )
    aps1 = "aps-sqlalchemy-sqlite-grace1s"
    for metric in ("duplicates", "missing"):
        out.append(
            row(
                "burst",
                f"{label}: {metric}",
                med(f, sq, metric),
                "",
                peer_label=aps1,
                peer=med(f, aps1, metric),
                better="lower",
                target="0",
                limit=0,
                spread=spread_of(f, sq, metric),
            )
        )
    big = max([n, *result["settings"]["burst_table_sizes"]])
    if big != n:
        out.append(
            row(
                "burst",
                f"{label}: fires/s with {big:,} rows in the table",
                med(f, f"ours-sqlite-1r@{big}", "fires_per_s"),
                "fires/s",
                peer_label=f"raw SQLite batched claim @{big:,}",
                peer=med(f, f"raw-sqlite-batched@{big}", "rows_per_s"),
                spread=spread_of(f, f"ours-sqlite-1r@{big}", "fires_per_s"),
            )
        )
    if f"ours-postgres-1r@{n}" in f:
        raw_set = med(f, f"raw-postgres-set@{n}", "rows_per_s")
        one = med(f, f"ours-postgres-1r@{n}", "fires_per_s")
        targets = {1: (">= 50 % of the raw set-based claim", None if raw_set is None else raw_set / 2),
                   3: ("faster than one replica", one)}
        for replicas in (1, 3):
            name = f"ours-postgres-{replicas}r@{n}"
            target, limit = targets[replicas]
            peers_pg = [f"raw-postgres-set@{n}", f"raw-postgres-row@{n}"] + [f"ours-postgres-1r@{n}"] * (replicas == 3)
            for peer in peers_pg:
                out.append(
                    row(
                        "burst",
                        f"fire burst {n:,}, PostgreSQL, {replicas} replica(s): fires/s",
                        med(f, name, "fires_per_s"),
                        "fires/s",
                        peer_label=f"{peer} ({'fires' if peer.startswith('ours') else 'rows'}/s)",
                        peer=med(f, peer, "fires_per_s" if peer.startswith("ours") else "rows_per_s"),
                        target=target,
                        limit=limit,
                        spread=spread_of(f, name, "fires_per_s"),
                    )
                )
            for metric in ("duration_s", "lag_p99_ms"):
                out.append(
                    row(
                        "burst",
                        f"fire burst {n:,}, PostgreSQL, {replicas} replica(s): {metric}",
                        med(f, name, metric),
                        UNITS[metric],
                        better="lower",
                        spread=spread_of(f, name, metric),
                    )
                )
            for metric in ("duplicates", "missing"):
                out.append(
                    row(
                        "burst",
                        f"fire burst {n:,}, PostgreSQL, {replicas} replica(s): {metric}",
                        med(f, name, metric),
                        "",
                        better="lower",
                        target="0",
                        limit=0,
                    )
                )
        if big != n:
            out.append(
                row(
                    "burst",
                    f"fire burst {n:,}, PostgreSQL, 1 replica: fires/s with {big:,} rows",
                    med(f, f"ours-postgres-1r@{big}", "fires_per_s"),
                    "fires/s",
                    spread=spread_of(f, f"ours-postgres-1r@{big}", "fires_per_s"),
                )
            )
    return [r for r in out if r is not None]


async def _count_statements(
    ctx: Context,
    result: dict[str, Any],
    burst_tables: dict[tuple[str, int], Table],
    expected: dict[tuple[str, int], set[str]],
) -> None:
    """SQLite statements per 10,000 fires, from one extra run per SQLite variant whose times are
    not reported (counting calls back into Python for every statement)."""
    n = ctx.sizes.burst_n
    for name, slots in ((f"ours-sqlite-1r@{n}", None), (f"ours-sqlite-1r-c{WIDE}@{n}", WIDE)):
        if name not in result["figures"]:
            continue
        ctx.say(f"  counting the statements of {name} (one extra, unreported run)")
        figures = await ours_run(ctx, burst_tables[("sqlite", n)], 1, expected[("sqlite", n)], max_concurrent=slots,
                                 count_statements=True)
        if figures["duplicates"] or figures["missing"]:
            result["failures"].append(f"{name} (statements run): {figures['duplicates']} duplicate(s), "
                                      f"{figures['missing']} missing")
        result["figures"][name]["statements_per_10k_fires"] = summary(
            [figures["statements_per_10k_fires"]], "", better="lower")


async def _profiles(
    ctx: Context,
    result: dict[str, Any],
    burst_tables: dict[tuple[str, int], Table],
    expected: dict[tuple[str, int], set[str]],
) -> None:
    """One extra, unmeasured run under py-spy for each of our variants that missed its target."""
    n = ctx.sizes.burst_n
    missed = {
        r["figure"].split(":")[0] for r in result["rows"] if r["met"] is False and r["figure"].startswith("fire burst")
    }
    wanted = []
    if any("SQLite" in m for m in missed):
        wanted.append(("sqlite", n, 1))
    if any("PostgreSQL, 1" in m for m in missed):
        wanted.append(("postgres", n, 1))
    if any("PostgreSQL, 3" in m for m in missed):
        wanted.append(("postgres", n, 3))
    if not wanted:
        return
    if not (ctx.profile and ctx.py_spy):
        result["profiles"]["note"] = (
            "targets missed; install py-spy (pip install py-spy; or --py-spy PATH) to record where the time goes"
        )
        return
    for dialect, size, replicas in wanted:
        key = f"ours-{dialect}-{replicas}r@{size}"
        out = ctx.work / f"profile-{key}.txt"
        ctx.say(f"  profiling {key} (one extra run under py-spy, replica 1 of {replicas})")
        try:
            figures = await ours_run(
                ctx, burst_tables[(dialect, size)], replicas, expected[(dialect, size)], spy_out=out
            )
            profile = summarise(out)
            profile["run_under_profiler"] = {k: figures.get(k) for k in ("duration_s", "fires_per_s", "claimed_all_ms")}
            if figures["duplicates"] or figures["missing"]:
                result["failures"].append(
                    f"{key} (profiled run): {figures['duplicates']} duplicate(s), {figures['missing']} missing"
                )
            result["profiles"][key] = profile
        except Exception as exc:  # noqa: BLE001 - a failed profile is reported, not fatal
            result["profiles"][key] = {"error": f"{type(exc).__name__}: {exc}"}
