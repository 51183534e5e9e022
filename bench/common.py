"""What every scenario shares: sizes, statistics, machine and versions, results files, workers,
temporary PostgreSQL databases and time bounds."""

from __future__ import annotations

import asyncio
import json
import math
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs"
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/test"


# ---- sizes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """How big each scenario runs. `bounds` caps each scenario's wall time (seconds)."""

    quick: bool
    runs: int
    burst_n: int
    burst_sweep: tuple[int, ...]  # table sizes holding the burst (10k due among them)
    idle_sizes: tuple[int, ...]
    idle_passes: int
    lag_seconds: float
    lag_others: int
    startup_sizes: tuple[int, ...]
    api_seconds: float
    api_clients: int
    max_concurrent: int
    bounds: dict[str, float] = field(default_factory=dict)


FULL = Sizes(
    quick=False,
    runs=3,
    burst_n=10_000,
    burst_sweep=(10_000, 100_000, 1_000_000),
    idle_sizes=(10_000, 100_000, 1_000_000),
    idle_passes=200,
    lag_seconds=60.0,
    lag_others=1_000,
    startup_sizes=(100_000, 1_000_000),
    api_seconds=5.0,
    api_clients=32,
    max_concurrent=10,  # the default MAX_CONCURRENT_WORKFLOWS
    bounds={"burst": 1500, "idle_pass": 900, "idle_lag": 420, "startup": 900, "api": 420, "run_bytes": 600},
)
QUICK = Sizes(
    quick=True,
    runs=1,
    burst_n=500,
    burst_sweep=(),
    idle_sizes=(1_000, 10_000),
    idle_passes=30,
    lag_seconds=3.0,
    lag_others=100,
    startup_sizes=(1_000, 10_000),
    api_seconds=0.7,
    api_clients=32,
    max_concurrent=10,  # the default MAX_CONCURRENT_WORKFLOWS
    bounds={"burst": 120, "idle_pass": 60, "idle_lag": 60, "startup": 90, "api": 90, "run_bytes": 90},
)


# ---- statistics --------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def summary(runs: Iterable[float | None], unit: str, *, better: str = "lower") -> dict[str, Any]:
    """Median, min and max over runs (None runs are kept in `runs` but left out of the stats)."""
    values = list(runs)
    real = [float(v) for v in values if v is not None]
    return {
        "median": percentile(real, 50) if real else None,
        "min": min(real) if real else None,
        "max": max(real) if real else None,
        "runs": [None if v is None else round(float(v), 6) for v in values],
        "unit": unit,
        "better": better,
    }


def fmt(value: float | None, unit: str = "") -> str:
    """A figure for tables: 3 significant digits, thousands separated."""
    if value is None:
        return "n/a"
    if unit == "%":
        return f"{value:.1f} %"
    if unit == "B" and abs(value) >= 2**20:
        return fmt(value / 2**20, "MiB")
    magnitude = abs(value)
    if magnitude >= 1000:
        text = f"{value:,.0f}"
    elif magnitude >= 100:
        text = f"{value:.0f}"
    elif magnitude >= 10:
        text = f"{value:.1f}"
    elif magnitude >= 1:
        text = f"{value:.2f}"
    elif magnitude == 0:
        text = "0"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


# ---- machine and versions ---------------------------------------------------------------------


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "memory_bytes": mem,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def versions(pg_server: str | None = None) -> dict[str, Any]:
    import workflow_core_module

    return {
        "workflow_core_module": workflow_core_module.__version__,
        "apscheduler": _version("APScheduler"),
        "sqlalchemy": _version("SQLAlchemy"),
        "sqlite": sqlite3.sqlite_version,
        "postgres_server": pg_server,
        "pydal": _version("pydal"),
        "psycopg2": _version("psycopg2-binary") or _version("psycopg2"),
        "quart": _version("Quart"),
        "hypercorn": _version("Hypercorn"),
        "matplotlib": _version("matplotlib"),
    }


def code_fingerprint() -> dict[str, Any]:
    """What service code is measured: the git HEAD (read from .git, no git command) and a hash of
    the package and migrations as they are on disk (other engineers may change them meanwhile)."""
    import hashlib

    digest = hashlib.sha256()
    files = sorted((ROOT / "workflow_core_module").rglob("*.py")) + sorted((ROOT / "migrations").rglob("*.sql"))
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode())
        try:
            digest.update(path.read_bytes())
        except OSError:
            pass
    head = None
    try:
        ref = (ROOT / ".git" / "HEAD").read_text().strip()
        if ref.startswith("ref: "):
            ref_path = ROOT / ".git" / ref[5:]
            if ref_path.exists():
                head = ref_path.read_text().strip()
            else:
                packed = (ROOT / ".git" / "packed-refs").read_text().splitlines()
                head = next((line.split()[0] for line in packed if line.endswith(" " + ref[5:])), None)
        else:
            head = ref
    except OSError:
        pass
    return {"git_head": head[:12] if head else None, "tree_sha256": digest.hexdigest()[:16]}


def rss_bytes(pid: int | str = "self") -> tuple[int | None, int | None]:
    """(VmRSS, VmHWM) of a process, in bytes."""
    rss = hwm = None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
    except OSError:
        pass
    return rss, hwm


# ---- the run's context -------------------------------------------------------------------------


@dataclass
class Context:
    sizes: Sizes
    results_dir: Path
    work: Path  # temp folder for this invocation (removed at the end)
    pg: PgServer | None
    profile: bool
    py_spy: str | None
    command: str
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    log: list[str] = field(default_factory=list)

    def say(self, message: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {message}"
        self.log.append(line)
        print(line, flush=True)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)


# ---- PostgreSQL: private databases on the shared server ---------------------------------------


class PgServer:
    """Creates (and always drops) this invocation's own databases on a PostgreSQL server."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.created: list[str] = []
        self.version: str | None = None
        self.prefix = f"bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    def _admin(self) -> Any:
        import psycopg2

        conn = psycopg2.connect(self.base_url, connect_timeout=5)
        conn.autocommit = True
        return conn

    def check(self) -> str | None:
        """None when usable, else why not."""
        try:
            conn = self._admin()
        except Exception as exc:  # noqa: BLE001 - any failure means "not available"
            return f"{type(exc).__name__}: {str(exc).strip()}"
        with conn, conn.cursor() as cur:
            cur.execute("SHOW server_version")
            self.version = cur.fetchone()[0]
        conn.close()
        return None

    def url_of(self, name: str) -> str:
        return self.base_url.rsplit("/", 1)[0] + "/" + name

    def create(self, tag: str) -> str:
        name = f"{self.prefix}_{tag}"
        conn = self._admin()
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        self.created.append(name)
        return self.url_of(name)

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        conn = self._admin()
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        for name in list(self.created):
            try:
                self.drop(self.url_of(name))
            except Exception as exc:  # noqa: BLE001 - report and go on cleaning
                print(f"warning: could not drop database {name}: {exc}", file=sys.stderr)


# ---- subprocess workers --------------------------------------------------------------------------


class Worker:
    """`python -m bench.worker ROLE` with JSON arguments; protocol lines on stdout, logs to a file."""

    def __init__(self, role: str, args: dict[str, Any], work: Path, *, tag: str = "") -> None:
        self.role = role
        self.log_path = work / f"{role}{tag}-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in close()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.spawned_at = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.worker", role, json.dumps(args)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        self.pid = self.process.pid

    async def line(self, timeout: float) -> str:
        """The next protocol line (stripped); raises on timeout or exit."""
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(asyncio.to_thread(self.process.stdout.readline), timeout)
        if not raw:
            raise RuntimeError(f"worker {self.role} exited ({self.process.poll()}):\n{self.logs()[-3000:]}")
        return raw.decode().strip()

    async def expect(self, prefix: str, timeout: float) -> str:
        while True:
            text = await self.line(timeout)
            if text.startswith(prefix):
                return text[len(prefix) :].strip()

    def send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((text + "\n").encode())
        self.process.stdin.flush()

    def logs(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    async def wait(self, timeout: float) -> int:
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.process.wait), timeout)
        except asyncio.TimeoutError:
            self.kill()
            raise

    def kill(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.send_signal(signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(10)

    def close(self) -> None:
        self.kill()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass
        self._log.close()


def stop_process(process: subprocess.Popen[Any], sig: int, timeout: float) -> None:
    """Ask a child to stop with `sig`; kill it if it has not within `timeout` seconds."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def make_workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="wcm-bench-"))


def remove_workdir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def whole_second_after(seconds: float) -> float:
    """The first whole epoch second at least `seconds` from now."""
    return float(math.ceil(time.time() + seconds))


# ---- results ----------------------------------------------------------------------------------


def new_result(ctx: Context, scenario: str, title: str) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "title": title,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": ctx.command,
        "quick": ctx.sizes.quick,
        "runs": ctx.sizes.runs,
        "bound_seconds": ctx.sizes.bounds.get(scenario),
        "elapsed_seconds": None,
        "timed_out": False,
        "machine": machine(),
        "code": {"before": code_fingerprint(), "after": None, "changed_during_run": None},
        "versions": versions(ctx.pg.version if ctx.pg else None),
        "settings": {},
        "method": "",
        "figures": {},
        "rows": [],
        "profiles": {},
        "notes": [],
        "failures": [],
    }


def better_factor(ours: float | None, peer: float | None, better: str) -> float | None:
    """How many times better ours is than the peer (>1: ours better)."""
    if ours is None or peer is None or ours == 0 or peer == 0:
        return None
    return ours / peer if better == "higher" else peer / ours


def row(
    scenario: str,
    figure: str,
    ours: float | None,
    unit: str,
    *,
    peer_label: str = "",
    peer: float | None = None,
    better: str = "higher",
    target: str = "",
    limit: float | None = None,
    ours_label: str = "",
    spread: tuple[float | None, float | None] | None = None,
) -> dict[str, Any]:
    """One line of the results table. `limit` is the target's bound in `unit` (>= for higher, <= for lower)."""
    met: bool | None = None
    miss = ""
    if limit is not None and ours is not None:
        met = ours >= limit if better == "higher" else ours <= limit
        if not met:
            if better == "higher":
                miss = f"{100 * (limit - ours) / limit:.0f} % short ({fmt(ours, unit)} vs {fmt(limit, unit)})"
            else:
                miss = f"{ours / limit:.1f}x over ({fmt(ours, unit)} vs {fmt(limit, unit)})"
    elif limit is not None:
        met, miss = False, "not measured"
    return {
        "scenario": scenario,
        "figure": figure,
        "ours": ours,
        "ours_label": ours_label,
        "unit": unit,
        "spread": list(spread) if spread else None,
        "peer_label": peer_label,
        "peer": peer,
        "factor": better_factor(ours, peer, better),
        "better": better,
        "target": target,
        "met": met,
        "miss": miss,
    }


def med(figures: dict[str, Any], *path: str) -> float | None:
    node: Any = figures
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node.get("median") if isinstance(node, dict) else None


def spread_of(figures: dict[str, Any], *path: str) -> tuple[float | None, float | None] | None:
    node: Any = figures
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return (node.get("min"), node.get("max")) if isinstance(node, dict) else None
