"""The real serve process: migrates, creates the SQLite file, serves /health, stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import sqlite3
import urllib.request
from pathlib import Path

from .processes import ServeProcess


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
