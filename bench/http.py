"""A small HTTP/1.1 keep-alive client on asyncio streams, and `serve` processes to point it at.

The load generator must not be what limits the figures on a 2-core machine, so it writes requests
as bytes and reads responses by Content-Length, with no parsing beyond the status line.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .common import ROOT, rss_bytes, stop_process

API_KEY = "bench-admin-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        if body is not None:
            lines.append("Content-Type: application/json")
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, chunked, close = 0, False, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            data = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                data += await self.reader.readexactly(size + 2)
                if size == 0:
                    break
            payload = data
        else:
            payload = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def load(
    host: str,
    port: int,
    clients: int,
    seconds: float,
    make: Callable[[int], tuple[str, str, bytes | None]],
    on_response: Callable[[int, bytes], None] | None = None,
    *,
    stop: asyncio.Event | None = None,
    stamps: list[float] | None = None,
) -> dict[str, Any]:
    """`clients` connections, each sending make(i) back to back for `seconds` (or until `stop` is
    set, if sooner); latencies of all, and in `stamps` the perf_counter() each of them was sent at."""
    latencies: list[float] = []
    errors: dict[int, int] = {}
    counter = iter(range(10**9))
    headers = {"X-API-Key": API_KEY}
    stop_at = time.perf_counter() + seconds

    async def client() -> None:
        conn = Connection(host, port)
        await conn.open()
        try:
            while time.perf_counter() < stop_at and not (stop is not None and stop.is_set()):
                method, path, body = make(next(counter))
                began = time.perf_counter()
                status, payload = await conn.request(method, path, body, headers)
                latencies.append((time.perf_counter() - began) * 1000)
                if stamps is not None:
                    stamps.append(began)
                if status >= 300:
                    errors[status] = errors.get(status, 0) + 1
                elif on_response is not None:
                    on_response(status, payload)
        finally:
            conn.close()

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - began
    return {"latencies": latencies, "errors": errors, "elapsed": elapsed}


class Serve:
    """`python -m workflow_core_module serve` on a free port, in a folder of its own (so no .env is read)."""

    def __init__(self, database_url: str, work: Path, **env: str) -> None:
        self.port = free_port()
        self.log_path = work / f"serve-{self.port}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        full = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": database_url,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "ADMIN_API_KEY": API_KEY,
            **env,
        }
        for name in ("REDIS_URL",):
            full.pop(name, None)
        self.began = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "workflow_core_module", "serve"],
            cwd=work,
            env=full,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.pid = self.process.pid

    async def ready(self, timeout: float) -> float:
        """Seconds from spawn until GET /api/v1/health answers 200 (database and scheduler loop up)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited with {self.process.returncode}: {self.logs()[-2000:]}")
            conn = Connection("127.0.0.1", self.port)
            try:
                await conn.open()
                status, _ = await conn.request("GET", "/api/v1/health")
                if status == 200:
                    return time.perf_counter() - self.began
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                conn.close()
            await asyncio.sleep(0.02)
        raise TimeoutError(f"serve not ready within {timeout:.0f} s: {self.logs()[-2000:]}")

    def rss(self) -> tuple[int | None, int | None]:
        return rss_bytes(self.pid)

    def logs(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 60.0) -> None:
        stop_process(self.process, signal.SIGTERM, timeout)
        self._log.close()


def json_body(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()
