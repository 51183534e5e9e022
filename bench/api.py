"""Scenario 5, API: 32 concurrent clients against `serve`, on SQLite and then on PostgreSQL.

The real `python -m workflow_core_module serve` (defaults: text logs at INFO, one process) on a
fresh database. 32 keep-alive connections from the benchmark's own process, each sending its next
request as soon as the previous answer arrives, for a fixed time per phase: GET /health (the
ceiling of the stack: hypercorn, Quart and the client, with no database), POST /api/v1/schedules
(an hourly interval schedule with a unique name; validation, one write transaction with its audit
row, the cache and the audit log line), then GET /api/v1/schedules/{id} for the schedules just
created (one read on a reader thread). Requests/s is answers / phase time; latencies are per
request, as the client saw them.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from .common import Context, med, percentile, row, spread_of, summary
from .http import API_KEY, Connection, Serve, json_body, load
from .profile import Spy, summarise
from .seed import Tables

SCENARIO = "api"
TITLE = "API: 32 clients, create and read schedules"


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
    sizes = ctx.sizes
    result["settings"] = {
        "clients": sizes.api_clients,
        "seconds_per_phase": sizes.api_seconds,
        "server": "serve (hypercorn, 1 process)",
        "log": "text, INFO (defaults)",
        "client": "asyncio keep-alive HTTP/1.1, same machine",
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
    if not (ctx.profile and ctx.py_spy) and any(r["met"] is False for r in result["rows"]):
        result["profiles"]["note"] = (
            "targets missed; install py-spy (pip install py-spy; or --py-spy PATH) to see where a request "
            "spends its time"
        )


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
    return out
