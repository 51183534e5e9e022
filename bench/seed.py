"""Tables of 1k-1M schedules written directly with SQL (executemany on SQLite, COPY on
PostgreSQL), in the schema the service's own migrations create.

A table of `size` rows holds `burst` one-time rows (ids first) parked three days ahead, and
daily interval rows whose first occurrence falls one to two days ahead, so nothing is due while
the benchmark runs. A burst "arms" the one-time rows to fire at T and "resets" them afterwards,
so one seeded table serves the idle pass, the burst sweep and the start-up scenario.
"""

from __future__ import annotations

import io
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .common import Context

NOOP_ACTION = "bench_noop"
DAY = 86_400


def _ts(value: datetime) -> str:
    return value.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0).isoformat(" ")


def ts_of_epoch(epoch: float) -> str:
    return _ts(datetime.fromtimestamp(epoch, timezone.utc))


@dataclass
class Table:
    dialect: str  # "sqlite" | "postgres"
    url: str  # DATABASE_URL for the service
    size: int
    burst: int  # rows [first_burst_id, last_burst_id] are one-time rows for bursts
    workflow_id: str
    parked: datetime
    first_burst_id: int = 0
    last_burst_id: int = -1
    seed_seconds: float = 0.0
    path: Path | None = None  # SQLite file
    uses: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    # ---- raw connections (the benchmark's own, not the service's) ----------------------------

    def connect(self) -> Any:
        if self.is_sqlite:
            assert self.path is not None
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=30000")
            return conn
        import psycopg2

        conn = psycopg2.connect(self.url, connect_timeout=5)
        conn.autocommit = True
        return conn

    def sql(self, text: str) -> str:
        return text if self.is_sqlite else text.replace("?", "%s")

    @property
    def true(self) -> Any:
        return "T" if self.is_sqlite else True

    def query(self, text: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(self.sql(text), params)
            return list(cur.fetchall()) if cur.description else []
        finally:
            conn.close()

    # ---- bursts ---------------------------------------------------------------------------------

    def arm(self, epoch: float) -> None:
        """Make the burst rows due at `epoch` (a whole second)."""
        at = ts_of_epoch(epoch)
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(
                self.sql(
                    "UPDATE workflow_schedules SET next_execution_at = ?, scheduled_time = ? WHERE id BETWEEN ? AND ?"
                ),
                (at, at, self.first_burst_id, self.last_burst_id),
            )
        finally:
            conn.close()

    def reset(self) -> None:
        """Undo a burst: runs and executions gone, burst rows active and parked again."""
        parked = _ts(self.parked)
        conn = self.connect()
        try:
            cur = conn.cursor()
            if self.is_sqlite:
                cur.execute("BEGIN IMMEDIATE")
            for table in ("workflow_schedule_runs", "workflow_executions", "scheduler_replicas", "audit_log"):
                cur.execute(f"DELETE FROM {table}")
            cur.execute(
                self.sql(
                    "UPDATE workflow_schedules SET is_active = ?, status = 'active', next_execution_at = ?, "
                    "scheduled_time = ?, execution_count = 0, total_runs = 0, successful_runs = 0, failed_runs = 0, "
                    "missed_runs = 0, total_duration_ms = 0, last_execution_at = NULL, last_execution_id = NULL "
                    "WHERE id BETWEEN ? AND ?"
                ),
                (self.true, parked, parked, self.first_burst_id, self.last_burst_id),
            )
            if self.is_sqlite:
                cur.execute("COMMIT")
                cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                cur.execute("VACUUM ANALYZE workflow_schedules")
                cur.execute("VACUUM ANALYZE workflow_schedule_runs")
                cur.execute("VACUUM ANALYZE workflow_executions")
        finally:
            conn.close()

    def burst_ids(self) -> set[str]:
        rows = self.query(
            "SELECT schedule_id FROM workflow_schedules WHERE id BETWEEN ? AND ?",
            (self.first_burst_id, self.last_burst_id),
        )
        return {r[0] for r in rows}

    def finished_runs(self, epoch: float) -> int:
        rows = self.query(
            "SELECT COUNT(*) FROM workflow_schedule_runs WHERE scheduled_for = ? "
            "AND status NOT IN ('queued', 'running')",
            (ts_of_epoch(epoch),),
        )
        return int(rows[0][0])

    def verify(self, epoch: float, expected: set[str]) -> dict[str, Any]:
        """Duplicates and missing fires of the burst at `epoch`, from the run and execution rows."""
        at = ts_of_epoch(epoch)
        runs = self.query(
            "SELECT schedule_id, status, COUNT(*) FROM workflow_schedule_runs "
            "WHERE \"trigger\" = 'schedule' AND scheduled_for = ? GROUP BY schedule_id, status",
            (at,),
        )
        per_schedule: dict[str, int] = {}
        completed: set[str] = set()
        statuses: dict[str, int] = {}
        for schedule_id, status, n in runs:
            per_schedule[schedule_id] = per_schedule.get(schedule_id, 0) + int(n)
            statuses[status] = statuses.get(status, 0) + int(n)
            if status == "completed":
                completed.add(schedule_id)
        executions = self.query(
            "SELECT r.schedule_id, COUNT(e.id) FROM workflow_schedule_runs r "
            "JOIN workflow_executions e ON e.run_id = r.run_id WHERE r.scheduled_for = ? GROUP BY r.schedule_id",
            (at,),
        )
        other = self.query("SELECT COUNT(*) FROM workflow_schedule_runs WHERE scheduled_for <> ?", (at,))[0][0]
        duplicate_runs = sum(n - 1 for n in per_schedule.values() if n > 1)
        duplicate_executions = sum(int(n) - 1 for _, n in executions if int(n) > 1)
        return {
            "run_rows": sum(per_schedule.values()),
            "run_statuses": statuses,
            "duplicates": duplicate_runs + duplicate_executions,
            "duplicate_run_rows": duplicate_runs,
            "duplicate_executions": duplicate_executions,
            "missing": len(expected - completed),
            "unexpected": len(set(per_schedule) - expected) + int(other),
            "execution_rows": sum(int(n) for _, n in executions),
        }


# ---- seeding -------------------------------------------------------------------------------------


async def _migrate(url: str) -> None:
    from workflow_core_module.db.database import Database
    from workflow_core_module.db.migrations import migrate

    database = await Database.connect(url)
    try:
        await migrate(database)
    finally:
        await database.close()


COLUMNS = (
    "schedule_id",
    "workflow_id",
    "name",
    "schedule_type",
    "interval_seconds",
    "scheduled_time",
    "start_date",
    "next_execution_at",
    "is_active",
    "status",
    "created_at",
    "updated_at",
    "created_by",
)


def _rows(size: int, burst: int, workflow_id: str, now: datetime, parked: datetime, sqlite: bool):
    """Row tuples in COLUMNS order: `burst` one-time rows first, then daily interval rows."""
    true = "T" if sqlite else "t"
    base = uuid.uuid4().int >> 64 << 64  # random high half, sequential low half: valid, unique, fast to index
    created = _ts(now)
    parked_s = _ts(parked)
    epoch0 = (now.replace(microsecond=0) + timedelta(days=1)).timestamp()
    for i in range(size):
        sid = str(uuid.UUID(int=base + i))
        if i < burst:
            yield (
                sid,
                workflow_id,
                f"burst-{i:07d}",
                "one_time",
                None,
                parked_s,
                None,
                parked_s,
                true,
                "active",
                created,
                created,
                "bench",
            )
        else:
            start = ts_of_epoch(epoch0 + (i * 7919) % DAY)  # spread over the second day, not in id order
            yield (
                sid,
                workflow_id,
                f"idle-{i:07d}",
                "interval",
                DAY,
                None,
                start,
                start,
                true,
                "active",
                created,
                created,
                "bench",
            )


def _insert_workflow(cur: Any, sqlite: bool, workflow_id: str, now: datetime) -> None:
    mark = "?" if sqlite else "%s"
    cur.execute(
        "INSERT INTO workflows (workflow_id, name, description, steps, is_active, created_by, created_at, updated_at) "
        f"VALUES ({', '.join([mark] * 8)})",
        (
            workflow_id,
            f"bench-{workflow_id[:8]}",
            "",
            f'[{{"action": "{NOOP_ACTION}"}}]',
            "T" if sqlite else True,
            "bench",
            _ts(now),
            _ts(now),
        ),
    )


def _fill(table: Table, now: datetime) -> None:
    columns = COLUMNS
    rows = _rows(table.size, table.burst, table.workflow_id, now, table.parked, table.is_sqlite)
    if table.is_sqlite:
        conn = table.connect()
        try:
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("PRAGMA cache_size=-262144")  # 256 MiB: the random-order index inserts stay in memory
            conn.execute("BEGIN IMMEDIATE")
            _insert_workflow(conn.cursor(), True, table.workflow_id, now)
            marks = ", ".join("?" for _ in columns)
            conn.executemany(f"INSERT INTO workflow_schedules ({', '.join(columns)}) VALUES ({marks})", rows)
            conn.execute("COMMIT")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
    else:
        conn = table.connect()
        conn.autocommit = False
        try:
            cur = conn.cursor()
            _insert_workflow(cur, False, table.workflow_id, now)
            while True:
                buffer = io.StringIO()
                n = 0
                for row in rows:
                    buffer.write("\t".join("\\N" if v is None else str(v) for v in row))
                    buffer.write("\n")
                    n += 1
                    if n == 100_000:
                        break
                if n == 0:
                    break
                buffer.seek(0)
                cur.copy_expert(f"COPY workflow_schedules ({', '.join(columns)}) FROM STDIN", buffer)
                if n < 100_000:
                    break
            conn.commit()
            conn.autocommit = True
            cur.execute("VACUUM ANALYZE workflow_schedules")
        finally:
            conn.close()
    ids = table.query("SELECT MIN(id), MAX(id), COUNT(*) FROM workflow_schedules WHERE schedule_type = 'one_time'")
    if table.burst:
        table.first_burst_id, table.last_burst_id = int(ids[0][0]), int(ids[0][1])
        assert int(ids[0][2]) == table.burst


class Tables:
    """Seeded tables of this invocation, made on first use and removed at the end."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._tables: dict[tuple[str, int, int], Table] = {}

    async def get(self, dialect: str, size: int, burst: int) -> Table:
        key = (dialect, size, burst)
        if key in self._tables:
            table = self._tables[key]
            table.uses += 1
            return table
        table = await self._create(dialect, size, burst, f"{dialect}_{size}_{burst}", f"t{size}_{burst}")
        self._tables[key] = table
        self.ctx.say(f"seeded {dialect} table: {size:,} schedules ({burst:,} burst rows) in {table.seed_seconds:.1f} s")
        return table

    async def fresh(self, dialect: str, size: int, burst: int, tag: str) -> Table:
        """A table not shared with anything else (dropped with the others at the end)."""
        unique = time.monotonic_ns()
        table = await self._create(dialect, size, burst, f"{tag}-{unique}", f"{tag}_{unique % 10**8}")
        self._tables[(tag, unique, 0)] = table
        return table

    async def _create(self, dialect: str, size: int, burst: int, file_tag: str, database_tag: str) -> Table:
        """A new migrated and seeded table: an SQLite file in the work folder, or a private
        PostgreSQL database."""
        import asyncio

        began = time.perf_counter()
        if dialect == "sqlite":
            path = self.ctx.work / f"{file_tag}.sqlite"
            url = f"sqlite://{path}"
        else:
            assert self.ctx.pg is not None
            url = self.ctx.pg.create(database_tag)
            path = None
        now = datetime.now(timezone.utc)
        table = Table(
            dialect, url, size, burst, str(uuid.uuid4()), now.replace(microsecond=0) + timedelta(days=3), path=path
        )
        await _migrate(url)
        await asyncio.to_thread(_fill, table, now)
        table.seed_seconds = time.perf_counter() - began
        return table

    def seed_times(self) -> dict[str, float]:
        return {f"{t.dialect}:{t.size}": round(t.seed_seconds, 2) for t in self._tables.values()}

    def cleanup(self) -> None:
        for table in self._tables.values():
            if table.is_sqlite and table.path is not None:
                for suffix in ("", "-wal", "-shm"):
                    Path(str(table.path) + suffix).unlink(missing_ok=True)
            elif self.ctx.pg is not None:
                try:
                    self.ctx.pg.drop(table.url)
                except Exception as exc:  # noqa: BLE001
                    print(f"warning: could not drop {table.url}: {exc}")
        self._tables.clear()
