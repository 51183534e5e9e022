"""Scenario 4, start-up and memory: 0, 100k and 1M active schedules.

Ours: the real `python -m workflow_core_module serve` (SQLite, the default embedded mode) on a
table seeded directly with SQL; ready is the first 200 from GET /api/v1/health (database reached,
migrations applied, cache loaded, scheduler loop running), timed from the spawn of the process, so
interpreter start and imports are included. RSS is read from /proc one second after ready. Cache
bytes per schedule = (RSS with N - RSS with 0) / N, pairing the runs in order. For where the bytes
go, the benchmark also builds a `ScheduleCache` of N entries in its own process under
tracemalloc: that is the cache structure alone, without what loading it left behind.

Peer: a process with APScheduler 3.11 and a MemoryJobStore holding the same number of daily
interval jobs; bytes per loaded job = (RSS after loading - RSS before) / N.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
import tracemalloc
import uuid
from typing import Any

from .common import Context, Worker, med, row, spread_of, summary
from .http import Serve
from .seed import Tables

SCENARIO = "startup"
TITLE = "start-up time and memory with 100k and 1M active schedules"


def cache_structure_bytes(n: int) -> float:
    """Bytes per entry of a ScheduleCache holding n schedules (ints made as a database load makes them)."""
    from workflow_core_module.services.cache import ScheduleCache

    base = int(time.time()) + 86_400
    gc.collect()
    tracemalloc.start()
    try:
        cache = ScheduleCache()
        cache.replace_all((i, base + (i * 7919) % 86_400) for i in range(1, n + 1))
        size, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del cache
    return size / n


async def serve_once(ctx: Context, url: str, timeout: float) -> dict[str, Any]:
    serve = Serve(url, ctx.work)
    try:
        ready = await serve.ready(timeout)
        await asyncio.sleep(1.0)
        rss, hwm = serve.rss()
    finally:
        await asyncio.to_thread(serve.stop)
    return {"ready_s": ready, "rss_bytes": rss, "peak_rss_bytes": hwm}


async def aps_once(ctx: Context, n: int, timeout: float) -> dict[str, Any]:
    out = ctx.work / f"apsmem-{uuid.uuid4().hex[:8]}.json"
    w = Worker("aps-memory", {"n": n, "out": str(out)}, ctx.work)
    try:
        await w.expect("ready", timeout)
        ready = time.perf_counter() - w.spawned_at
        w.send("stop")
        await w.expect("done", 60)
        await w.wait(30)
        data = json.loads(out.read_text())
    finally:
        w.close()
        out.unlink(missing_ok=True)
    return {
        "ready_s": ready,
        "load_s": data["load_seconds"],
        "rss_bytes": data["rss_after"],
        "bytes_per_job": (data["rss_after"] - data["rss_before"]) / n,
        "jobs": data["jobs"],
    }


async def run(ctx: Context, tables: Tables, result: dict[str, Any]) -> None:
    sizes = ctx.sizes
    result["settings"] = {
        "sizes": list(sizes.startup_sizes),
        "database": "SQLite",
        "process": "serve",
        "ready": "GET /api/v1/health == 200",
        "rss_read": "1 s after ready",
        "log": "text, INFO (defaults)",
    }
    result["method"] = __doc__.split("\n\n", 1)[1].strip()
    seeded = {0: await tables.get("sqlite", 0, 0)}
    for size in sizes.startup_sizes:
        seeded[size] = await tables.get("sqlite", size, min(sizes.burst_n, size))
    ours: dict[int, list[dict[str, Any]]] = {}
    peer: dict[int, list[dict[str, Any]]] = {}
    for run_index in range(sizes.runs):
        for size, table in seeded.items():
            figures = await serve_once(ctx, table.url, 120 + size / 10_000)
            ours.setdefault(size, []).append(figures)
            base = ours[0][run_index]["rss_bytes"] if size and len(ours[0]) > run_index else None
            if size and base is not None:
                figures["cache_bytes_per_schedule"] = (figures["rss_bytes"] - base) / size
            ctx.say(
                f"  startup run {run_index + 1} ours {size:,}: ready {figures['ready_s']:.2f} s, "
                f"RSS {figures['rss_bytes'] / 2**20:.0f} MiB (peak {figures['peak_rss_bytes'] / 2**20:.0f} MiB)"
                + (f", {figures['cache_bytes_per_schedule']:.0f} B/schedule" if size else "")
            )
            _store(result, ours, peer)
        for size in sizes.startup_sizes:
            figures = await aps_once(ctx, size, 600)
            peer.setdefault(size, []).append(figures)
            ctx.say(
                f"  startup run {run_index + 1} APScheduler {size:,}: {figures['bytes_per_job']:.0f} B/job, "
                f"loaded in {figures['load_s']:.1f} s"
            )
            _store(result, ours, peer)
    for size in sizes.startup_sizes:
        result["figures"][f"ours-cache-structure@{size}"] = {
            "bytes_per_schedule": summary([await asyncio.to_thread(cache_structure_bytes, size)], "B")
        }
    result["rows"] = rows(result)


def _store(
    result: dict[str, Any], ours: dict[int, list[dict[str, Any]]], peer: dict[int, list[dict[str, Any]]]
) -> None:
    units = {
        "ready_s": "s",
        "rss_bytes": "B",
        "peak_rss_bytes": "B",
        "cache_bytes_per_schedule": "B",
        "load_s": "s",
        "bytes_per_job": "B",
        "jobs": "",
    }
    for label, data in (("ours", ours), ("aps-memory", peer)):
        for size, runs in data.items():
            keys = [k for k in units if any(k in r for r in runs)]
            result["figures"][f"{label}@{size}"] = {
                k: summary([r.get(k) for r in runs], units[k], better="lower") for k in keys
            }


def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    f = result["figures"]
    out = []
    sizes = result["settings"]["sizes"]
    big = max(sizes)
    for size in sizes:
        out.append(
            row(
                "startup",
                f"start-up, SQLite, {size:,} active: ready",
                med(f, f"ours@{size}", "ready_s"),
                "s",
                peer_label="APScheduler memory: process start to jobs loaded",
                peer=med(f, f"aps-memory@{size}", "ready_s"),
                better="lower",
                target="<= 15 s" if size == big else "",
                limit=15.0 if size == big else None,
                spread=spread_of(f, f"ours@{size}", "ready_s"),
            )
        )
        out.append(
            row(
                "startup",
                f"start-up, SQLite, {size:,} active: cache bytes per schedule (RSS delta)",
                med(f, f"ours@{size}", "cache_bytes_per_schedule"),
                "B",
                peer_label="APScheduler memory: bytes per loaded job",
                peer=med(f, f"aps-memory@{size}", "bytes_per_job"),
                better="lower",
                target="<= 300 B" if size == big else "",
                limit=300.0 if size == big else None,
                spread=spread_of(f, f"ours@{size}", "cache_bytes_per_schedule"),
            )
        )
        out.append(
            row(
                "startup",
                f"start-up, SQLite, {size:,} active: RSS",
                med(f, f"ours@{size}", "rss_bytes"),
                "B",
                peer_label="APScheduler memory: RSS",
                peer=med(f, f"aps-memory@{size}", "rss_bytes"),
                better="lower",
                spread=spread_of(f, f"ours@{size}", "rss_bytes"),
            )
        )
        out.append(
            row(
                "startup",
                f"ScheduleCache structure alone, {size:,} entries (tracemalloc)",
                med(f, f"ours-cache-structure@{size}", "bytes_per_schedule"),
                "B",
                better="lower",
            )
        )
    return out
