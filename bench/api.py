"""Scenario 5, API: 32 concurrent clients against `serve`, on SQLite and then on PostgreSQL.

The real `python -m workflow_core_module serve` (defaults: text logs at INFO, one process) on a
fresh database. 32 keep-alive connections from the benchmark's own process, each sending its next
request as soon as the previous answer arrives, for a fixed time per phase: GET /health (the
ceiling of the stack: hypercorn, Quart and the client, with no database), POST /api/v1/schedules
(an hourly interval schedule with a unique name; validation, one write transaction with its audit
row, the cache and the audit log line), then GET /api/v1/schedules/{id} for the schedules just
created (one read on a reader thread). Requests/s is answers / phase time; latencies are per
request, as the client saw them.

API during a burst: a fresh SQLite table seeded as for the fire burst (N one-time schedules, then
none other; N = 10,000, 500 with --quick) whose workflow is one `log` step (the burst scenario's
no-op action exists only in its worker process, so `serve` could not run it). The N rows are armed
to fire at a whole second T, then `serve` starts with its defaults (MAX_CONCURRENT_WORKFLOWS = 10)
and loads them into its cache; if it is not ready by T-0.5 s, the table is reset and armed again
later. After a short warm-up, 8 keep-alive clients send GET /api/v1/schedules/{id} for the burst's
schedules back to back from T-0.5 s until every one of the N runs has left `queued` (the runs table,
polled every 50 ms) and at least until T+1 s; p50, p99, max and count are over every request of
that window. Once every run has finished, the same 8 clients send the same GET to the same,
now idle, `serve` for the phase time: the peer. A fresh `serve` per run; the table is reset
between runs, and any duplicate or missing run (from the run and execution rows) fails the
benchmark.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from .common import Context, fmt, med, percentile, row, spread_of, summary, whole_second_after
from .http import API_KEY, Connection, Serve, json_body, load
from .profile import Spy, summarise
from .seed import Table, Tables, ts_of_epoch

SCENARIO = "api"
TITLE = "API: 32 clients, create and read schedules; reads during a fire burst"
BURST_CLIENTS = 8
LOG_STEPS = '[{"action": "log", "message": "api burst"}]'


async def _workflow(port: int) -> str:
    conn = Connection("127.0.0.1", port)
    try:
        status, payload = await conn.request(
            "POST",
            "/api/v1/workflows",
            json_body({"name": "bench-api", "steps": [{"action": "log", "message": "hi"}]}),
            {"X-API-Key": API_KEY},
        )
    finally:
        conn.close()
    if status != 201:
        raise RuntimeError(f"creating the workflow answered {status}: {payload[:300]!r}")
    return json.loads(payload)["workflow_id"]


def _figures(outcome: dict[str, Any]) -> dict[str, Any]:
    lat = outcome["latencies"]
    return {
        "req_per_s": len(lat) / outcome["elapsed"] if outcome["elapsed"] else None,
        "p50_ms": percentile(lat, 50),
        "p99_ms": percentile(lat, 99),
        "max_ms": max(lat) if lat else None,
        "requests": len(lat),
        "errors": sum(outcome["errors"].values()),
    }


def make_create(workflow_id: str, tag: str) -> Any:
    """Request maker for POST /api/v1/schedules: an hourly interval schedule with a unique name."""

    def create(i: int) -> tuple[str, str, bytes]:
        body = {
            "workflow_id": workflow_id,
            "name": f"api-{tag}-{i}",
            "schedule_type": "interval",
            "interval_seconds": 3600,
        }
        return "POST", "/api/v1/schedules", json_body(body)

    return create


async def phases(port: int, workflow_id: str, clients: int, seconds: float, tag: str) -> dict[str, dict[str, Any]]:
    created: list[str] = []
    health = await load("127.0.0.1", port, clients, seconds, lambda i: ("GET", "/health", None))

    create = make_create(workflow_id, tag)

    made = await load(
        "127.0.0.1",
        port,
        clients,
        seconds,
        create,
        lambda status, payload: created.append(json.loads(payload)["schedule_id"]),
    )
    if not created:
        raise RuntimeError(f"no schedule was created: {made['errors']}")
    read = await load(
        "127.0.0.1", port, clients, seconds, lambda i: ("GET", f"/api/v1/schedules/{created[i % len(created)]}", None)
    )
    return {"health": _figures(health), "create": _figures(made), "get": _figures(read)}


async def run(ctx: Context, tables: Tables, result: dict[str, Any]) -> None:
    began = time.perf_counter()
    sizes = ctx.sizes
    result["settings"] = {
        "clients": sizes.api_clients,
        "seconds_per_phase": sizes.api_seconds,
        "server": "serve (hypercorn, 1 process)",
        "log": "text, INFO (defaults)",
        "client": "asyncio keep-alive HTTP/1.1, same machine",
        "burst_n": sizes.burst_n,
        "burst_clients": BURST_CLIENTS,
        "burst_max_concurrent_workflows": sizes.max_concurrent,
    }
    result["method"] = __doc__.split("\n\n", 1)[1].strip()
    for dialect in ["sqlite"] + (["postgres"] if ctx.pg else []):
        table = await tables.fresh(dialect, 0, 0, "api")
        serve = Serve(table.url, ctx.work)
        try:
            await serve.ready(120)
            workflow_id = await _workflow(serve.port)
            await load(
                "127.0.0.1",
                serve.port,
                sizes.api_clients,
                min(1.0, sizes.api_seconds),
                lambda i: ("GET", "/health", None),
            )  # warm-up
            collected: dict[str, list[dict[str, Any]]] = {}
            for run_index in range(sizes.runs):
                figures = await phases(serve.port, workflow_id, sizes.api_clients, sizes.api_seconds, f"r{run_index}")
                for phase, values in figures.items():
                    collected.setdefault(phase, []).append(values)
                    result["figures"][f"{dialect}-{phase}"] = {
                        k: summary(
                            [r[k] for r in collected[phase]],
                            "req/s" if k == "req_per_s" else ("ms" if k.endswith("_ms") else ""),
                            better="higher" if k == "req_per_s" else "lower",
                        )
                        for k in values
                    }
                ctx.say(
                    f"  api run {run_index + 1} {dialect}: "
                    + "; ".join(
                        f"{p} {v['req_per_s']:,.0f} req/s p50 {v['p50_ms']:.1f} p99 {v['p99_ms']:.1f} ms"
                        + (f" ({v['errors']} errors)" if v["errors"] else "")
                        for p, v in figures.items()
                    )
                )
            result["rows"] = rows(result)
            if (
                ctx.profile
                and ctx.py_spy
                and any(r["met"] is False and dialect_name(dialect) in r["figure"] for r in result["rows"])
            ):
                out = ctx.work / f"profile-api-{dialect}.txt"
                ctx.say(f"  profiling POST /api/v1/schedules on {dialect} (serve under py-spy)")
                spy = Spy(ctx.py_spy, serve.pid, out)
                try:
                    await load(
                        "127.0.0.1",
                        serve.port,
                        sizes.api_clients,
                        max(3.0, sizes.api_seconds),
                        make_create(workflow_id, "profile"),
                    )
                finally:
                    await asyncio.to_thread(spy.stop)
                result["profiles"][f"serve-{dialect}-create"] = summarise(out)
        finally:
            await asyncio.to_thread(serve.stop)
    result["rows"] = rows(result)
    await during_burst(ctx, tables, result, began + sizes.bounds.get(SCENARIO, 420.0))
    result["rows"] = rows(result)
    if not (ctx.profile and ctx.py_spy) and any(r["met"] is False for r in result["rows"]):
        result["profiles"]["note"] = (
            "targets missed; install py-spy (pip install py-spy; or --py-spy PATH) to see where a request "
            "spends its time"
        )


# ---- API during a fire burst ------------------------------------------------------------------------


def _log_workflow(table: Table) -> None:
    """The seeded workflow runs the burst worker's no-op action, unknown to `serve`: one `log` step."""
    conn = table.connect()
    try:
        conn.execute("UPDATE workflows SET steps = ? WHERE workflow_id = ?", (LOG_STEPS, table.workflow_id))
    finally:
        conn.close()


def _started_runs(table: Table, due: float) -> int:
    """Runs of the burst at `due` that have left `queued` (running or finished)."""
    rows_ = table.query(
        "SELECT COUNT(*) FROM workflow_schedule_runs WHERE scheduled_for = ? AND status <> 'queued'",
        (ts_of_epoch(due),),
    )
    return int(rows_[0][0])


async def _watch(table: Table, due: float, n: int, stop: asyncio.Event, deadline: float) -> float | None:
    """Sets `stop` once all `n` runs have left `queued` and T+1 s has passed (or at `deadline`);
    returns the seconds from T until all had left `queued` (None if they had not by the deadline)."""
    all_started: float | None = None
    while True:
        count = await asyncio.to_thread(_started_runs, table, due)
        now = time.time()
        if all_started is None and count >= n:
            all_started = now - due
        if (all_started is not None and now >= due + 1.0) or now > deadline:
            stop.set()
            return all_started
        await asyncio.sleep(0.05)


async def _burst_once(serve: Serve, table: Table, due: float, ids: list[str], seconds: float) -> dict[str, Any]:
    """The burst's window measured on a `serve` that is ready before T-0.5 s, then the idle peer."""
    n = len(ids)

    def get(i: int) -> tuple[str, str, None]:
        return "GET", f"/api/v1/schedules/{ids[i % n]}", None

    begin = due - 0.5
    if begin - time.time() > 0.6:
        await load("127.0.0.1", serve.port, BURST_CLIENTS, 0.3, get)  # warm-up: first requests pay first uses
    await asyncio.sleep(max(0.0, begin - time.time()))
    deadline = due + 30 + 6 * n / 1000
    stop = asyncio.Event()
    watch = asyncio.create_task(_watch(table, due, n, stop, deadline))
    stamps: list[float] = []
    wall_minus_perf = time.time() - time.perf_counter()
    window = await load(
        "127.0.0.1", serve.port, BURST_CLIENTS, deadline + 1 - time.time(), get, stop=stop, stamps=stamps
    )
    all_started = await watch
    figures = _figures(window)
    figures["burst_all_started_s"] = all_started
    lat = window["latencies"]
    slowest = max(range(len(lat)), key=lat.__getitem__) if lat else None
    figures["slowest_at_s"] = None if slowest is None else stamps[slowest] + wall_minus_perf - due
    while time.time() < deadline and await asyncio.to_thread(table.finished_runs, due) < n:
        await asyncio.sleep(0.1)
    finished = await asyncio.to_thread(table.finished_runs, due) >= n
    figures["burst_all_finished_s"] = time.time() - due if finished else None
    idle = await load("127.0.0.1", serve.port, BURST_CLIENTS, seconds, get)
    return {"burst": figures, "idle": _figures(idle)}


async def during_burst(ctx: Context, tables: Tables, result: dict[str, Any], bound_at: float) -> None:
    """GET /api/v1/schedules/{id} latency while `serve` fires a burst of N runs due at T (SQLite).
    Runs after the first are skipped when the last one would not fit before `bound_at` (perf_counter)."""
    sizes = ctx.sizes
    n = sizes.burst_n
    table = await tables.fresh("sqlite", n, n, "api-burst")
    await asyncio.to_thread(_log_workflow, table)
    expected = await asyncio.to_thread(table.burst_ids)
    ids = sorted(expected)
    collected: dict[str, list[dict[str, Any]]] = {}
    lead = 5.0
    took = 0.0
    for run_index in range(sizes.runs):
        if run_index and time.perf_counter() + 1.5 * took + 10 > bound_at:
            result["notes"].append(
                f"API during the burst: {run_index} run(s) of {sizes.runs}; one more ({took:.0f} s each) would "
                "not have fit in the scenario's time bound"
            )
            ctx.say(f"  api burst: stopping after {run_index} run(s) to stay within the time bound")
            break
        run_began = time.perf_counter()
        for attempt in range(3):
            await asyncio.to_thread(table.reset)
            due = whole_second_after(lead)
            await asyncio.to_thread(table.arm, due)
            serve = Serve(table.url, ctx.work, MAX_CONCURRENT_WORKFLOWS=str(sizes.max_concurrent))
            try:
                await serve.ready(120)
                if time.time() > due - 0.5 and attempt < 2:
                    ctx.say("  (serve was ready only after T-0.5 s; again with more lead)")
                    lead *= 2
                    continue
                if time.time() > due - 0.5:
                    result["notes"].append(
                        f"API during the burst, run {run_index + 1}: serve was ready only at "
                        f"T{time.time() - due:+.2f} s, so its window began late"
                    )
                figures = await _burst_once(serve, table, due, ids, sizes.api_seconds)
            finally:
                await asyncio.to_thread(serve.stop)
            break
        took = time.perf_counter() - run_began
        verify = await asyncio.to_thread(table.verify, due, expected)
        if verify["duplicates"] or verify["missing"]:
            result["failures"].append(
                f"API during the burst, run {run_index + 1}: {verify['duplicates']} duplicate(s), "
                f"{verify['missing']} missing (run statuses {verify['run_statuses']})"
            )
        if figures["burst"]["burst_all_started_s"] is None:
            result["notes"].append(
                f"API during the burst, run {run_index + 1}: not every run had left `queued` by T+"
                f"{30 + 6 * n / 1000:.0f} s; the window stopped there"
            )
        result.setdefault("raw_runs", {}).setdefault("sqlite-burst", []).append(figures | {"db": verify})
        for phase, values in (("burst-get", figures["burst"]), ("burst-idle-get", figures["idle"])):
            collected.setdefault(phase, []).append(values)
            result["figures"][f"sqlite-{phase}"] = {
                k: summary(
                    [r[k] for r in collected[phase]],
                    "req/s" if k == "req_per_s" else ("ms" if k.endswith("_ms") else ("s" if k.endswith("_s") else "")),
                    better="higher" if k == "req_per_s" else "lower",
                )
                for k in values
            }
        b, i = figures["burst"], figures["idle"]
        ctx.say(
            f"  api run {run_index + 1} sqlite, {n:,} burst: GET p50 {fmt(b['p50_ms'], 'ms')}, p99 "
            f"{fmt(b['p99_ms'], 'ms')}, max {fmt(b['max_ms'], 'ms')} (sent at T+{fmt(b['slowest_at_s'], 's')}), "
            f"{b['requests']:,} requests"
            + (f" ({b['errors']} errors)" if b["errors"] else "")
            + f"; every run started by T+{fmt(b['burst_all_started_s'], 's')}"
            + f"; idle after: p50 {fmt(i['p50_ms'], 'ms')}, p99 {fmt(i['p99_ms'], 'ms')}"
        )
        result["rows"] = rows(result)


def dialect_name(dialect: str) -> str:
    return "SQLite" if dialect == "sqlite" else "PostgreSQL"


def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    f = result["figures"]
    out = []
    for dialect in ("sqlite", "postgres"):
        if f"{dialect}-create" not in f:
            continue
        name = dialect_name(dialect)
        for phase, label in (("create", "POST /api/v1/schedules"), ("get", "GET /api/v1/schedules/{id}")):
            target = dialect == "sqlite" and phase == "create"
            out.append(
                row(
                    "api",
                    f"API, {name}, {label}: req/s",
                    med(f, f"{dialect}-{phase}", "req_per_s"),
                    "req/s",
                    peer_label="GET /health, same run",
                    peer=med(f, f"{dialect}-health", "req_per_s"),
                    target=">= 1,000 req/s" if target else "",
                    limit=1000.0 if target else None,
                    spread=spread_of(f, f"{dialect}-{phase}", "req_per_s"),
                )
            )
            out.append(
                row(
                    "api",
                    f"API, {name}, {label}: p99",
                    med(f, f"{dialect}-{phase}", "p99_ms"),
                    "ms",
                    peer_label="GET /health, same run",
                    peer=med(f, f"{dialect}-health", "p99_ms"),
                    better="lower",
                    target="<= 50 ms" if target else "",
                    limit=50.0 if target else None,
                    spread=spread_of(f, f"{dialect}-{phase}", "p99_ms"),
                )
            )
            out.append(
                row(
                    "api",
                    f"API, {name}, {label}: p50",
                    med(f, f"{dialect}-{phase}", "p50_ms"),
                    "ms",
                    peer_label="GET /health, same run",
                    peer=med(f, f"{dialect}-health", "p50_ms"),
                    better="lower",
                    spread=spread_of(f, f"{dialect}-{phase}", "p50_ms"),
                )
            )
    if "sqlite-burst-get" in f:
        n = result.get("settings", {}).get("burst_n")
        out.append(
            row(
                "api",
                f"API during a {n:,} burst, SQLite: GET /api/v1/schedules/{{id}} p99",
                med(f, "sqlite-burst-get", "p99_ms"),
                "ms",
                peer_label=f"same GET, {BURST_CLIENTS} clients, same serve idle after the burst",
                peer=med(f, "sqlite-burst-idle-get", "p99_ms"),
                better="lower",
                target="<= 50 ms",
                limit=50.0,
                spread=spread_of(f, "sqlite-burst-get", "p99_ms"),
            )
        )
    return out
