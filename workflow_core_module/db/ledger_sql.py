"""The run ledger's set-wise statements, one class per database behind one Protocol.

Each method takes a cursor inside the caller's transaction and a list of rows, and applies
them all: SQLite with ``executemany`` or one statement per row (it answers a row count per
statement, and a statement costs microseconds in process); PostgreSQL with one statement per
list, its rows passed as one array per column (``unnest``), since every statement is a round
trip to the server. What is the same on both (single-row transitions, reads) stays in the
ledger itself.

PostgreSQL: join keys are "bpchar", the type of the CHAR(36) id columns, so that values compare
as those columns do (trailing blanks ignored).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from pydal import DAL

from ..scheduling import UNFINISHED, Unfinished
from ..scheduling.schedule import DUE_COLUMNS
from .database import POSTGRES, SQLITE, Dialect, cursor
from .sql import quote, unnest

Rows = Sequence[Sequence[Any]]

UNFINISHED_SQL = "(" + ", ".join(f"'{status}'" for status in UNFINISHED) + ")"  # not ended yet

# Column order of the rows each method takes.
RUN_COLUMNS = ("run_id", "schedule_id", "workflow_id", "execution_id", "scheduled_for", "fired_at", "finished_at",
               "status", "attempt", "error", "note", "trigger", "claimed_by")
CHAINED_RUN_COLUMNS = (*RUN_COLUMNS, "upstream_run_id")  # a chain run's row
# What a run's end reads of the schedules it starts (after the upstream's pk and schedule_id).
CHAIN_COLUMNS = (*DUE_COLUMNS, "after", "status")
EXECUTION_COLUMNS = ("execution_id", "workflow_id", "run_id", "schedule_id", "community_id", "trigger",
                     "trigger_data", "status", "attempt", "started_at", "step_results", "created_at")


class LedgerSQL(Protocol):
    """What differs between the databases in the ledger's batched writes."""

    dialect: Dialect

    def select_due(self, cur: Any, now: Any, limit: int) -> list[tuple[Any, ...]]:
        """Active rows due at `now` (DUE_COLUMNS), oldest first; on a server, locked, skipping
        rows another replica holds."""

    def move(self, cur: Any, rows: Rows) -> set[int]:
        """Claim: (id, next, status, active, count, runs, missed, old, ended, ended_at, now) per
        schedule, applied only where next_execution_at is still `old`; the ids that moved."""

    def insert_runs(self, cur: Any, rows: Rows) -> None:
        """New run rows (RUN_COLUMNS)."""

    def insert_executions(self, cur: Any, rows: Rows) -> None:
        """New execution rows (EXECUTION_COLUMNS)."""

    def start_runs(self, cur: Any, rows: Rows) -> set[str]:
        """(run_id, attempt, execution_id, replica): unfinished runs this replica holds become
        running; the run ids that did."""

    def start_prepared(self, cur: Any, rows: Rows) -> None:
        """(attempt, started_at, run_id, schedule_id, execution_id): queued executions run."""

    def end_executions(self, cur: Any, rows: Rows) -> None:
        """(status, finished_at, duration_ms, error, step_results, execution_id)."""

    def end_runs(self, cur: Any, rows: Rows) -> set[str]:
        """(status, finished_at, duration_ms, error, step_results or None, run_id) of runs not
        ended yet (step_results: a first attempt recorded on the run row); the run ids that
        ended here."""

    def count_ends(self, cur: Any, rows: Rows) -> None:
        """(ok, failed, ms, at, execution_id, status, at, reset, streak, schedule pk): add to a
        schedule's counters and set its last_* fields; its failures in a row become `streak` when
        `reset` (a success among these ends), else grow by it."""

    def pause_failing(self, cur: Any, pks: Sequence[int], reason: str, now: Any) -> list[tuple[Any, ...]]:
        """Pause those of `pks` that are active and have failed `pause_after_failures` times in a
        row (`reason` with {n} for the count); (pk, schedule_id, community_id, failures) of each."""

    def downstream(self, cur: Any, pks: Sequence[int]) -> list[tuple[Any, ...]]:
        """The active after schedules of the schedules `pks` that are neither paused nor deleted:
        (upstream pk, upstream schedule_id, *CHAIN_COLUMNS of the downstream) by downstream id; on
        a server, the downstream rows locked until the transaction ends. One indexed statement
        (ix_schedules_upstream), which finds nothing at all when no schedule has an upstream."""

    def insert_chained(self, cur: Any, rows: Rows) -> set[str]:
        """New chain runs (CHAINED_RUN_COLUMNS), each unless its (schedule, upstream run) has one
        already; the run ids written."""

    def move_chained(self, cur: Any, rows: Rows) -> None:
        """(execution_count, status, active, runs, ended, ended_at, now, pk): an after schedule's
        state after the chain runs of one transaction (its row is held by `downstream`)."""


_MOVE = ("UPDATE workflow_schedules SET next_execution_at = ?, status = ?, is_active = ?, execution_count = ?, "
         "total_runs = total_runs + ?, missed_runs = missed_runs + ?, "
         "last_run_status = COALESCE(?, last_run_status), last_run_at = COALESCE(?, last_run_at), updated_at = ? "
         "WHERE id = ? AND next_execution_at = ? AND is_active = ?")
_START_RUN = ("UPDATE workflow_schedule_runs SET status = 'running', attempt = ?, execution_id = ? "
              f"WHERE run_id = ? AND status IN {UNFINISHED_SQL} AND claimed_by = ?")
_START_PREPARED = ("UPDATE workflow_executions SET status = 'running', attempt = ?, started_at = ?, run_id = ?, "
                   "schedule_id = ? WHERE execution_id = ?")
_END_EXECUTION = ("UPDATE workflow_executions SET status = ?, finished_at = ?, duration_ms = ?, error = ?, "
                  "step_results = ? WHERE execution_id = ?")
_END_RUN = ("UPDATE workflow_schedule_runs SET status = ?, finished_at = ?, duration_ms = ?, error = ?, "
            f"step_results = COALESCE(?, step_results) WHERE run_id = ? AND status IN {UNFINISHED_SQL}")
_COUNT = ("UPDATE workflow_schedules SET successful_runs = successful_runs + ?, failed_runs = failed_runs + ?, "
          "total_duration_ms = total_duration_ms + ?, last_execution_at = ?, "
          "last_execution_id = COALESCE(?, last_execution_id), last_run_status = ?, last_run_at = ?, "
          "consecutive_failures = CASE WHEN ? THEN ? ELSE consecutive_failures + ? END WHERE id = ?")
_FAILING = ("pause_after_failures IS NOT NULL AND consecutive_failures >= pause_after_failures AND is_active = ?")


def _pause_failing(dialect: Dialect, ids: str) -> str:
    """The auto-pause statement (markers: reason template parts, now, false, true)."""
    return dialect.params(
        "UPDATE workflow_schedules SET status = 'paused', is_active = ?, next_execution_at = NULL, "
        "pause_reason = ? || consecutive_failures || ?, paused_at = ?, paused_by = 'system', paused_until = NULL, "
        f"updated_at = ? WHERE id IN ({ids}) AND {_FAILING} "
        "RETURNING id, schedule_id, community_id, consecutive_failures")


_MOVE_CHAINED = ("UPDATE workflow_schedules SET execution_count = ?, status = ?, is_active = ?, "
                 "total_runs = total_runs + ?, last_run_status = COALESCE(?, last_run_status), "
                 "last_run_at = COALESCE(?, last_run_at), updated_at = ? WHERE id = ?")


# Whether any schedule has an upstream at all: a probe of the partial index ix_schedules_upstream,
# empty unless chains exist (ORDER BY makes both planners read that index, not the table, even
# before PostgreSQL's autovacuum has analysed it: 0.09 ms with 10,000 schedules, against 2.4 ms
# for a scan). With no chains, the usual case, a batch of ends costs this probe only; the full
# query below may be planned from the upstream side on a table not analysed yet (~8 ms per 1,000).
ANY_CHAIN = "SELECT upstream_id FROM workflow_schedules WHERE upstream_id IS NOT NULL ORDER BY upstream_id LIMIT 1"


def _downstream(upstreams: str, join: str, lock: str = "") -> str:
    """The downstream query (markers: the upstream pks, then true). `upstreams` picks u.id; `join`
    names d after u: each ended run's schedule by its pk, then its after schedules through the
    partial index on upstream_id (empty when no schedule has an upstream): the cost follows the
    batch: about 1 ms per 1,000 ends on either database (on PostgreSQL with its statistics; a table
    autovacuum has not analyzed yet gets a poor plan, about 10 ms)."""
    picked = ", ".join(f"d.{quote(c)}" for c in CHAIN_COLUMNS)
    return (f"SELECT u.id, u.schedule_id, {picked} FROM workflow_schedules u {join} "
            "WHERE d.upstream_id = u.schedule_id AND d.upstream_id IS NOT NULL "
            f"AND {upstreams} AND u.status <> 'paused' AND u.deleted_at IS NULL "
            f"AND d.is_active = ? ORDER BY d.id{lock}")  # only after schedules have an upstream_id; deleted: inactive


def unfinished_runs(dal: DAL, dialect: Dialect, schedule_ids: Sequence[str]) -> dict[str, list[Unfinished]]:
    """The runs of these schedules that have not ended (what their overlap policy looks at)."""
    out: dict[str, list[Unfinished]] = {}
    for start in range(0, len(schedule_ids), 500):
        chunk = schedule_ids[start:start + 500]
        marks = ", ".join("?" for _ in chunk)
        rows = dal.executesql(dialect.params(
            "SELECT schedule_id, run_id, status FROM workflow_schedule_runs "
            f"WHERE status IN {UNFINISHED_SQL} AND schedule_id IN ({marks})"), placeholders=list(chunk))
        for schedule_id, run_id, status in rows:
            out.setdefault(schedule_id.rstrip(), []).append(Unfinished(run_id.rstrip(), status == "running"))
    return out


def end_unfinished(dal: DAL, dialect: Dialect, run_id: str, status: str, error: str, now: datetime) -> bool:
    """End a run that has not ended yet (and its unfinished execution); False if it had."""
    ended = cursor(dal)
    ended.execute(dialect.params(
        "UPDATE workflow_schedule_runs SET status = ?, finished_at = ?, error = ? "
        f"WHERE run_id = ? AND status IN {UNFINISHED_SQL}"), (status, dialect.ts(now), error, run_id))
    if ended.rowcount != 1:
        return False
    dal.executesql(dialect.params(
        "UPDATE workflow_executions SET status = ?, finished_at = ?, error = ? "
        f"WHERE run_id = ? AND status IN {UNFINISHED_SQL}"),
        placeholders=[status, dialect.ts(now), error, run_id])
    return True


def _insert(table: str, columns: Sequence[str]) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' for _ in columns)})"


def due_query(lock: str = "") -> str:
    """The due query (`?` markers: true, now, limit)."""
    return (f"SELECT {', '.join(DUE_COLUMNS)} FROM workflow_schedules WHERE is_active = ? AND next_execution_at <= ? "
            f"ORDER BY next_execution_at LIMIT ?{lock}")


class SqliteLedgerSQL:
    """SQLite: plain statements, many at once; the writer already holds the file's write lock."""

    dialect = SQLITE

    def select_due(self, cur: Any, now: Any, limit: int) -> list[tuple[Any, ...]]:
        cur.execute(due_query(), (self.dialect.true, now, limit))
        return list(cur.fetchall())

    def _each(self, cur: Any, sql: str, rows: Rows, key: int) -> set[Any]:
        """Run `sql` once per row; the row[key] of those that changed a row."""
        changed = set()
        for row in rows:
            cur.execute(sql, row)
            if cur.rowcount == 1:
                changed.add(row[key])
        return changed

    def move(self, cur: Any, rows: Rows) -> set[int]:
        true = self.dialect.true
        params = [(nxt, status, active, count, runs, missed, ended, ended_at, now, pk, old, true)
                  for pk, nxt, status, active, count, runs, missed, old, ended, ended_at, now in rows]
        return self._each(cur, _MOVE, params, 9)

    def insert_runs(self, cur: Any, rows: Rows) -> None:
        cur.executemany(_insert("workflow_schedule_runs", RUN_COLUMNS), rows)

    def insert_executions(self, cur: Any, rows: Rows) -> None:
        cur.executemany(_insert("workflow_executions", EXECUTION_COLUMNS), rows)

    def start_runs(self, cur: Any, rows: Rows) -> set[str]:
        return self._each(cur, _START_RUN, [(a, e, r, rep) for r, a, e, rep in rows], 2)

    def start_prepared(self, cur: Any, rows: Rows) -> None:
        cur.executemany(_START_PREPARED, rows)

    def end_executions(self, cur: Any, rows: Rows) -> None:
        cur.executemany(_END_EXECUTION, rows)

    def end_runs(self, cur: Any, rows: Rows) -> set[str]:
        return self._each(cur, _END_RUN, rows, 5)

    def count_ends(self, cur: Any, rows: Rows) -> None:
        cur.executemany(_COUNT, [(*head, reset, streak, streak, pk) for *head, reset, streak, pk in rows])

    def pause_failing(self, cur: Any, pks: Sequence[int], reason: str, now: Any) -> list[tuple[Any, ...]]:
        before, after = reason.split("{n}")
        cur.execute(_pause_failing(self.dialect, ", ".join("?" for _ in pks)),
                    (self.dialect.false, before, after, now, now, *pks, self.dialect.true))
        return list(cur.fetchall())

    def downstream(self, cur: Any, pks: Sequence[int]) -> list[tuple[Any, ...]]:
        found: list[tuple[Any, ...]] = []
        for start in range(0, len(pks), 500):
            chunk = list(pks[start:start + 500])
            # Without statistics SQLite's planner would walk d first, by is_active or by type.
            cur.execute(_downstream(f"u.id IN ({', '.join('?' for _ in chunk)})",
                                    "CROSS JOIN workflow_schedules d INDEXED BY ix_schedules_upstream"),
                        (*chunk, self.dialect.true))
            found.extend(cur.fetchall())
        return found

    def insert_chained(self, cur: Any, rows: Rows) -> set[str]:
        sql = _insert("workflow_schedule_runs", CHAINED_RUN_COLUMNS) + " ON CONFLICT DO NOTHING RETURNING run_id"
        written = set()
        for row in rows:
            cur.execute(sql, row)
            if cur.fetchone() is not None:
                written.add(row[0])
        return written

    def move_chained(self, cur: Any, rows: Rows) -> None:
        cur.executemany(_MOVE_CHAINED, rows)


class PostgresLedgerSQL:
    """PostgreSQL: one statement per list of rows, the rows as arrays (see the module doc)."""

    dialect = POSTGRES

    def select_due(self, cur: Any, now: Any, limit: int) -> list[tuple[Any, ...]]:
        cur.execute(self.dialect.params(due_query(" FOR UPDATE SKIP LOCKED")), (self.dialect.true, now, limit))
        return list(cur.fetchall())

    def move(self, cur: Any, rows: Rows) -> set[int]:
        source, columns = unnest(("bigint", "timestamp", "text", "boolean", "int", "int", "int", "timestamp", "text",
                                  "timestamp", "timestamp"), rows)
        cur.execute(
            "UPDATE workflow_schedules AS s SET next_execution_at = v.nxt, status = v.status, is_active = v.active, "
            "execution_count = v.count, total_runs = s.total_runs + v.runs, missed_runs = s.missed_runs + v.missed, "
            "last_run_status = COALESCE(v.ended, s.last_run_status), "
            f"last_run_at = COALESCE(v.ended_at, s.last_run_at), updated_at = v.now FROM {source} "
            "AS v(id, nxt, status, active, count, runs, missed, old, ended, ended_at, now) "
            "WHERE s.id = v.id AND s.next_execution_at = v.old AND s.is_active RETURNING s.id", columns)
        return {int(r[0]) for r in cur.fetchall()}

    def _insert_select(self, cur: Any, table: str, columns: Sequence[str], types: Sequence[str], rows: Rows,
                       casts: dict[str, str] | None = None) -> None:
        if not rows:
            return
        source, values = unnest(types, rows)
        aliases = [f"c{i}" for i in range(len(columns))]
        picked = ", ".join(f"v.{a}{(casts or {}).get(c, '')}" for a, c in zip(aliases, columns, strict=True))
        names = ", ".join(f'"{c}"' for c in columns)
        cur.execute(f"INSERT INTO {table} ({names}) SELECT {picked} FROM {source} AS v({', '.join(aliases)})", values)

    def insert_runs(self, cur: Any, rows: Rows) -> None:
        self._insert_select(cur, "workflow_schedule_runs", RUN_COLUMNS,
                            ("text", "text", "text", "text", "timestamp", "timestamp", "timestamp", "text", "int",
                             "text", "text", "text", "text"), rows)

    def insert_executions(self, cur: Any, rows: Rows) -> None:
        self._insert_select(cur, "workflow_executions", EXECUTION_COLUMNS,
                            ("text", "text", "text", "text", "text", "text", "text", "text", "int", "timestamp",
                             "text", "timestamp"), rows, {"trigger_data": "::jsonb", "step_results": "::jsonb"})

    def start_runs(self, cur: Any, rows: Rows) -> set[str]:
        source, columns = unnest(("bpchar", "int", "text", "text"), rows)
        cur.execute("UPDATE workflow_schedule_runs AS r SET status = 'running', attempt = v.attempt, "
                    f"execution_id = v.execution_id FROM {source} AS v(run_id, attempt, execution_id, replica) "
                    f"WHERE r.run_id = v.run_id AND r.status IN {UNFINISHED_SQL} AND r.claimed_by = v.replica "
                    "RETURNING r.run_id", columns)
        return {row[0].rstrip() for row in cur.fetchall()}  # CHAR(36): blank-padded (ids compare stripped)

    def start_prepared(self, cur: Any, rows: Rows) -> None:
        source, columns = unnest(("int", "timestamp", "text", "text", "bpchar"), rows)
        cur.execute("UPDATE workflow_executions AS x SET status = 'running', attempt = v.a, started_at = v.at, "
                    f"run_id = v.r, schedule_id = v.s FROM {source} AS v(a, at, r, s, e) WHERE x.execution_id = v.e",
                    columns)

    def end_executions(self, cur: Any, rows: Rows) -> None:
        source, columns = unnest(("text", "timestamp", "int", "text", "text", "bpchar"), rows)
        cur.execute("UPDATE workflow_executions AS x SET status = v.status, finished_at = v.at, duration_ms = v.ms, "
                    f"error = v.error, step_results = v.results::jsonb FROM {source} "
                    "AS v(status, at, ms, error, results, e) WHERE x.execution_id = v.e", columns)

    def end_runs(self, cur: Any, rows: Rows) -> set[str]:
        source, columns = unnest(("text", "timestamp", "int", "text", "text", "bpchar"), rows)
        cur.execute("UPDATE workflow_schedule_runs AS r SET status = v.status, finished_at = v.at, "
                    "duration_ms = v.ms, error = v.error, step_results = COALESCE(v.results::jsonb, r.step_results) "
                    f"FROM {source} AS v(status, at, ms, error, results, run_id) "
                    f"WHERE r.run_id = v.run_id AND r.status IN {UNFINISHED_SQL} RETURNING r.run_id", columns)
        return {row[0].rstrip() for row in cur.fetchall()}  # CHAR(36): blank-padded (ids compare stripped)

    def count_ends(self, cur: Any, rows: Rows) -> None:
        source, columns = unnest(("int", "int", "bigint", "timestamp", "text", "text", "timestamp", "boolean", "int",
                                  "bigint"), rows)
        cur.execute("UPDATE workflow_schedules AS s SET successful_runs = s.successful_runs + v.ok, "
                    "failed_runs = s.failed_runs + v.failed, total_duration_ms = s.total_duration_ms + v.ms, "
                    "last_execution_at = v.at, last_execution_id = COALESCE(v.e, s.last_execution_id), "
                    "last_run_status = v.status, last_run_at = v.run_at, consecutive_failures = CASE WHEN v.reset "
                    "THEN v.streak ELSE s.consecutive_failures + v.streak END "
                    f"FROM {source} AS v(ok, failed, ms, at, e, status, run_at, reset, streak, id) WHERE s.id = v.id",
                    columns)

    def pause_failing(self, cur: Any, pks: Sequence[int], reason: str, now: Any) -> list[tuple[Any, ...]]:
        before, after = reason.split("{n}")
        cur.execute(_pause_failing(self.dialect, "SELECT unnest(%s::bigint[])"),
                    (self.dialect.false, before, after, now, now, list(pks), self.dialect.true))
        return list(cur.fetchall())

    def downstream(self, cur: Any, pks: Sequence[int]) -> list[tuple[Any, ...]]:
        # The ids as one array literal: PostgreSQL parses it far faster than the ARRAY[...] of
        # a thousand parameters psycopg2 makes of a list (about 1 ms instead of 9 per 1,000).
        cur.execute(self.dialect.params(_downstream("u.id = ANY(?::bigint[])", "CROSS JOIN workflow_schedules d",
                                                    " FOR UPDATE OF d")),
                    ("{" + ",".join(str(int(pk)) for pk in pks) + "}", self.dialect.true))
        return list(cur.fetchall())

    def insert_chained(self, cur: Any, rows: Rows) -> set[str]:
        source, values = unnest(("text", "text", "text", "text", "timestamp", "timestamp", "timestamp", "text", "int",
                                 "text", "text", "text", "text", "text"), rows)
        aliases = [f"c{i}" for i in range(len(CHAINED_RUN_COLUMNS))]
        names = ", ".join(f'"{c}"' for c in CHAINED_RUN_COLUMNS)
        cur.execute(f"INSERT INTO workflow_schedule_runs ({names}) SELECT {', '.join(f'v.{a}' for a in aliases)} "
                    f"FROM {source} AS v({', '.join(aliases)}) ON CONFLICT DO NOTHING RETURNING run_id", values)
        return {row[0].rstrip() for row in cur.fetchall()}

    def move_chained(self, cur: Any, rows: Rows) -> None:
        source, columns = unnest(("int", "text", "boolean", "int", "text", "timestamp", "timestamp", "bigint"), rows)
        cur.execute("UPDATE workflow_schedules AS s SET execution_count = v.count, status = v.status, "
                    "is_active = v.active, total_runs = s.total_runs + v.runs, "
                    "last_run_status = COALESCE(v.ended, s.last_run_status), "
                    "last_run_at = COALESCE(v.ended_at, s.last_run_at), updated_at = v.now "
                    f"FROM {source} AS v(count, status, active, runs, ended, ended_at, now, id) WHERE s.id = v.id",
                    columns)


def ledger_sql(dialect: Dialect) -> LedgerSQL:
    return SqliteLedgerSQL() if dialect is SQLITE else PostgresLedgerSQL()
