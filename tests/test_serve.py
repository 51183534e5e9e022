"""The real serve process: migrates, creates the SQLite file, serves /health, stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from .processes import ServeProcess, http_json, wait_until
from .sink import HttpSink


def test_serve_creates_the_database_and_answers_health(tmp_path: Path) -> None:
    server = ServeProcess({"DATABASE_URL": "sqlite://storage/workflow_core.sqlite"}, cwd=tmp_path)
    with server:
        with urllib.request.urlopen(server.url + "/health", timeout=5) as response:
            assert response.status == 200
            assert json.loads(response.read()) == {"status": "ok"}
        db_file = tmp_path / "storage" / "workflow_core.sqlite"
        assert db_file.is_file()
        tables = {r[0] for r in sqlite3.connect(db_file).execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"workflow_schedules", "workflow_schedule_runs", "workflows", "workflow_executions", "api_keys",
                "audit_log", "schema_migrations"} <= tables
    assert server.process.returncode == 0, server.logs()
    lines = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    assert any(e.get("action") == "service.start" and e["category"] == "SYSTEM" for e in lines)
    assert any(e.get("action") == "service.stop" for e in lines)


def test_sigint_also_stops_cleanly(tmp_path: Path) -> None:
    server = ServeProcess({"DATABASE_URL": f"sqlite://{tmp_path}/db.sqlite"}, cwd=tmp_path)
    server.wait_ready()
    assert server.stop(signal.SIGINT) == 0, server.logs()


def test_end_to_end_interval_schedule_calls_a_local_server_until_paused(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite://{tmp_path}/e2e.sqlite", "ADMIN_API_KEY": "e2e-key", "MIN_INTERVAL_SECONDS": "1",
           "OUTBOUND_ALLOWLIST": "127.0.0.1"}  # the sink is local: the outbound policy refuses loopback otherwise
    with HttpSink() as sink, ServeProcess(env, cwd=tmp_path) as server:
        api = server.url + "/api/v1"
        status, wf = http_json("POST", api + "/workflows", "e2e-key", {
            "name": "ping", "steps": [{"action": "http_request", "method": "POST", "url": sink.url + "/ping",
                                       "body": {"schedule": "{{ trigger.schedule_id }}",
                                                "channel": "{{ trigger.context_data.channel }}"}}]})
        assert status == 201, wf
        status, schedule = http_json("POST", api + "/schedules", "e2e-key", {
            "workflow_id": wf["workflow_id"], "name": "every-second", "schedule_type": "interval",  # type: ignore[index]
            "interval_seconds": 1, "context_data": {"channel": "ops"}})
        assert status == 201, schedule
        sid = schedule["schedule_id"]  # type: ignore[index]
        received = sink.wait_for(3, timeout=15)
        assert all(r.json() == {"schedule": sid, "channel": "ops"} for r in received)
        # A second schedule keeps firing: it shows the loop ran on past the moment the paused one was due again.
        status, canary_wf = http_json("POST", api + "/workflows", "e2e-key", {
            "name": "canary", "steps": [{"action": "http_request", "method": "POST", "url": sink.url + "/canary"}]})
        assert status == 201, canary_wf
        status, _ = http_json("POST", api + "/schedules", "e2e-key", {
            "workflow_id": canary_wf["workflow_id"], "name": "canary", "schedule_type": "interval",  # type: ignore[index]
            "interval_seconds": 1})
        assert status == 201
        status, _ = http_json("POST", f"{api}/schedules/{sid}/pause", "e2e-key")
        assert status == 200
        paused_at = time.time()

        def calls(path: str, after: float = 0.0) -> list[Any]:
            return [r for r in list(sink.received) if r.path == path and r.at > after]

        # the paused schedule was next due at most 1 s after the pause; three canaries after it span more
        wait_until(lambda: len(calls("/canary", paused_at)) >= 3, what="three canaries after the pause")

        def runs_ended() -> list[Any]:
            status, history = http_json("GET", f"{api}/schedules/{sid}/history?limit=500", "e2e-key")
            assert status == 200
            items = history["items"]  # type: ignore[index]
            ended = all(r["status"] == "completed" for r in items)
            return items if ended and len(calls("/ping")) == len(items) else []

        runs = wait_until(runs_ended, what="every run to have ended and called once")
        last = max(datetime.fromisoformat(r["scheduled_for"].replace("Z", "+00:00")).timestamp() for r in runs)
        assert last <= paused_at, "an occurrence after the pause ran"
        assert len(calls("/ping")) == len(runs) >= 3, "calls continued after the pause"
    assert server.process.returncode == 0
