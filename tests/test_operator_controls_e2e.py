"""Operator controls against real `serve` processes: maintenance mode across two replicas and a
restart, and a backfill, checked in the database the processes share."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .processes import ServeProcess, http_json, wait_until

KEY = "admin-secret"


def env_for(db_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite://{db_path}", "ADMIN_API_KEY": KEY, "MIN_INTERVAL_SECONDS": "1",
            "LOG_LEVEL": "WARNING"}


def call(server: ServeProcess, method: str, path: str, body: Any = None, expect: int | None = None) -> Any:
    status, data = http_json(method, server.url + "/api/v1" + path, KEY, body)
    if expect is not None:
        assert status == expect, (status, data)
    return data


def rows(db_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db_path) as db:
        return list(db.execute(sql).fetchall())


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def test_maintenance_on_one_replica_stops_both_survives_a_restart_and_resume_applies_grace(tmp_path: Path) -> None:
    db_path = tmp_path / "shared.sqlite"
    env = env_for(db_path)
    with ServeProcess(env, cwd=tmp_path) as a:
        b = ServeProcess(env, cwd=tmp_path)
        b.wait_ready()
        try:
            wf = call(a, "POST", "/workflows", {"name": "tick", "steps": [{"action": "log", "message": "tick"}]},
                      expect=201)
            s = call(a, "POST", "/schedules", {"workflow_id": wf["workflow_id"], "name": "every-2s",
                                               "schedule_type": "interval", "interval_seconds": 2,
                                               "grace_period_seconds": 3}, expect=201)
            sql = f"SELECT COUNT(*) FROM workflow_schedule_runs WHERE schedule_id = '{s['schedule_id']}'"
            wait_until(lambda: rows(db_path, sql + " AND status = 'completed'")[0][0] >= 1, what="a first run")
            paused = call(a, "POST", "/scheduler/pause", {"reason": "upgrade"}, expect=200)
            paused_at = instant(paused["since"].rstrip("Z"))
            assert call(b, "GET", "/schedules/status")["maintenance"]["paused"] is True
            b.stop()  # a restart keeps it
            b = ServeProcess(env, cwd=tmp_path)
            b.wait_ready()
            assert call(b, "GET", "/schedules/status")["maintenance"] == {**paused}
            # Let occurrences fall due, and past their 3 s grace, while paused (the point of the test).
            wait_until(lambda: datetime.now(timezone.utc) > paused_at + timedelta(seconds=9), timeout=20,
                       what="9 s of maintenance")
            before = rows(db_path, sql)[0][0]
            resumed_at = datetime.now(timezone.utc)
            call(b, "POST", "/scheduler/resume", expect=200)
            wait_until(lambda: rows(db_path, sql + " AND status = 'completed'")[0][0] >= before, what="a run after")
            wait_until(lambda: rows(db_path, sql)[0][0] >= before + 2, what="the resume's miss and fire")
        finally:
            b.stop()
    runs = rows(db_path, "SELECT scheduled_for, fired_at, status, error FROM workflow_schedule_runs "
                         f"WHERE schedule_id = '{s['schedule_id']}' ORDER BY scheduled_for")
    resumed_second = resumed_at.replace(microsecond=0)  # fired_at is stored to the second
    claimed_in_pause = [r for r in runs if r[1] and paused_at + timedelta(seconds=1) < instant(r[1]) < resumed_second]
    assert claimed_in_pause == [], ("a replica claimed during maintenance", paused, runs)
    missed = [r for r in runs if r[2] == "missed"]
    assert len(missed) == 1 and "grace period 3 s" in missed[0][3], runs  # the pause, past grace: one miss
    assert len({r[0] for r in runs}) == len(runs), "an occurrence ran twice"


def test_backfill_of_six_hours_runs_seven_in_order_and_again_none(tmp_path: Path) -> None:
    db_path = tmp_path / "backfill.sqlite"
    with ServeProcess(env_for(db_path), cwd=tmp_path) as server:
        wf = call(server, "POST", "/workflows", {"name": "hourly", "steps": [{"action": "delay", "seconds": 0.05}]},
                  expect=201)
        s = call(server, "POST", "/schedules", {"workflow_id": wf["workflow_id"], "name": "hourly",
                                                "schedule_type": "cron", "cron_expression": "0 * * * *"}, expect=201)
        end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
        body = {"start": (end - timedelta(hours=6)).isoformat(), "end": end.isoformat()}
        answer = call(server, "POST", f"/schedules/{s['schedule_id']}/backfill", body, expect=202)
        assert answer["runs"] == 7 and answer["first"] < answer["last"]
        sql = (f"SELECT scheduled_for, finished_at, status, \"trigger\" FROM workflow_schedule_runs WHERE schedule_id = "
               f"'{s['schedule_id']}' ORDER BY scheduled_for")
        done = wait_until(lambda: (r := rows(db_path, sql)) and all(x[2] == "completed" for x in r) and r,
                          what="the seven runs to end")
        assert [x[3] for x in done] == ["backfill"] * 7
        finished = [x[1] for x in done]
        assert finished == sorted(finished), "backfill runs ran out of order"
        assert call(server, "POST", f"/schedules/{s['schedule_id']}/backfill", body, expect=202)["runs"] == 0
        assert len(rows(db_path, sql)) == 7


def test_bulk_export_import_and_the_audit_page_through_a_real_serve(tmp_path: Path) -> None:
    with ServeProcess(env_for(tmp_path / "ops.sqlite"), cwd=tmp_path) as server:
        wf = call(server, "POST", "/workflows", {"name": "ping", "steps": [{"action": "log", "message": "x"}]},
                  expect=201)
        for name, tags in (("raid-1", ["raid"]), ("raid-2", ["raid", "eu"]), ("daily", ["daily"]), ("raider", [])):
            call(server, "POST", "/schedules", {"workflow_id": wf["workflow_id"], "name": name, "tags": tags,
                                                "schedule_type": "cron", "cron_expression": "0 19 * * 5"}, expect=201)
        bulk = call(server, "POST", "/schedules/bulk", {"action": "pause", "filter": {"tag": "raid"},
                                                        "reason": "raid week"}, expect=200)
        assert (bulk["matched"], bulk["changed"], bulk["errors"]) == (2, 2, [])
        listed = {s["name"]: s for s in call(server, "GET", "/schedules", expect=200)["items"]}
        assert {n: (s["status"], s["pause_reason"]) for n, s in listed.items()} == {
            "raid-1": ("paused", "raid week"), "raid-2": ("paused", "raid week"), "daily": ("active", None),
            "raider": ("active", None)}

        exported = call(server, "GET", "/schedules/export", expect=200)
        assert call(server, "POST", "/schedules/bulk", {"action": "delete", "filter": {}}, expect=200)["changed"] == 4
        broken = {**exported, "schedules": [*exported["schedules"][:-1],
                                            {**exported["schedules"][-1], "cron_expression": "61 * * * *"}]}
        status, err = http_json("POST", server.url + "/api/v1/schedules/import", KEY, broken)
        assert status == 400 and any(k.endswith(".cron_expression") for k in err["error"]["details"]), err
        assert call(server, "GET", "/schedules", expect=200)["total"] == 0  # all or nothing
        call(server, "POST", "/schedules/import?mode=upsert", exported, expect=200)
        again = call(server, "GET", "/schedules/export", expect=200)
        assert sorted(again["schedules"], key=lambda s: s["name"]) == sorted(exported["schedules"],
                                                                             key=lambda s: s["name"])

        audit = call(server, "GET", "/audit?action=schedule.pause&limit=50", expect=200)
        assert sorted(r["entity_id"] for r in audit["items"]) == sorted(
            listed[n]["schedule_id"] for n in ("raid-1", "raid-2"))
        assert {r["actor"] for r in audit["items"]} == {"admin"}
        assert call(server, "GET", "/audit?action=schedule.delete", expect=200)["total"] == 4
