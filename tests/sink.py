"""A tiny real HTTP server that records what it receives (stands in for remote webhooks)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class _Server(ThreadingHTTPServer):
    # A burst of runs connects at once (MAX_CONCURRENT_WORKFLOWS per replica). With the default
    # listen backlog of 5 the kernel's accept queue overflows: such a connection stalls about 1 s
    # (or is reset: the attempt fails and is retried 1 s later), and a 2 s interval schedule's
    # next occurrence then finds its run still going.
    request_queue_size = 1024


class HttpSink:
    """Records every request; answers `status` with `reply` (JSON), or what `check` says: a
    (status, reply) for a request it refuses (such requests are not recorded)."""

    def __init__(self, status: int = 200, reply: Any = None,
                 check: Callable[[Received], tuple[int, Any] | None] | None = None) -> None:
        self.status = status
        self.check = check
        self.refused: list[Received] = []
        self.reply = reply if reply is not None else {"ok": True}
        self.received: list[Received] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                received = Received(self.command, self.path, dict(self.headers), body, time.time())
                refusal = sink.check(received) if sink.check is not None else None
                sink.record(received, refused=bool(refusal))
                status, reply = refusal or (sink.status, sink.reply)
                payload = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def record(self, received: Received, *, refused: bool) -> None:
        """Keep a request (called from the server's handler threads)."""
        with self._lock:
            (self.refused if refused else self.received).append(received)

    def __enter__(self) -> HttpSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.01)
        raise TimeoutError(f"expected {count} requests, got {len(self.received)}")
