"""Alerts against two real `serve` replicas sharing one database: a failing schedule's webhook alert
reaches a local sink once, signed (the sink checks the signature); its chat alert reaches the
router stand-in for its community; a sink that answers 500 twice gets the alert on the third
attempt, and the outbox records it."""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import time
from pathlib import Path
from typing import Any

from .processes import ServeProcess, free_port, http_json, wait_until
from .sink import HttpSink, Received

KEY = "admin-secret"
SECRET = "e2e-alert-secret"


def _verified(received: Received) -> tuple[int, Any] | None:
    """The sink's check: refuse (401) what is not signed with SECRET, or is older than 5 minutes."""
    timestamp = received.headers.get("X-Webhook-Timestamp", "")
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + received.body, hashlib.sha256).hexdigest()
    fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 300
    if not fresh or not hmac.compare_digest(received.headers.get("X-Webhook-Signature", ""), f"sha256={expected}"):
        return 401, {"error": "bad signature"}
    return None


def call(server: ServeProcess, method: str, path: str, body: Any = None, expect: int | None = None) -> Any:
    status, data = http_json(method, server.url + "/api/v1" + path, KEY, body)
    if expect is not None:
        assert status == expect, (status, data)
    return data


def rows(db_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db_path) as db:
        return list(db.execute(sql).fetchall())


def test_two_replicas_deliver_each_alert_once_signed_to_chat_and_with_retries(tmp_path: Path) -> None:
    db_path = tmp_path / "alerts.sqlite"
    attempts = iter([(500, {"down": True}), (500, {"down": True})])
    with HttpSink(check=_verified) as hook, HttpSink() as router, \
            HttpSink(check=lambda r: _verified(r) or next(attempts, None)) as flaky:
        env = {"DATABASE_URL": f"sqlite://{db_path}", "ADMIN_API_KEY": KEY, "MIN_INTERVAL_SECONDS": "1",
               "LOG_LEVEL": "WARNING", "OUTBOUND_ALLOWLIST": "127.0.0.1", "WEBHOOK_SIGNING_SECRET": SECRET,
               "CHAT_MESSAGE_URL": router.url + "/api/v1/router/responses", "WORKFLOW_MAX_RETRIES": "0",
               "ALERT_RETRY_BASE_SECONDS": "0.5", "ALERT_POLL_SECONDS": "0.2", "ALERT_DIGEST_SECONDS": "0"}
        with ServeProcess(env, cwd=tmp_path) as a, ServeProcess(env, cwd=tmp_path) as b:
            nowhere = f"http://127.0.0.1:{free_port()}/down"
            wf = call(a, "POST", "/workflows", {"name": "breaks", "community_id": "guild-1", "steps": [
                {"action": "http_request", "method": "GET", "url": nowhere, "timeout_seconds": 2}]}, expect=201)
            common = {"workflow_id": wf["workflow_id"], "schedule_type": "interval", "interval_seconds": 1,
                      "community_id": "guild-1", "context_data": {"entity_id": "#ops"}}
            failing = call(b, "POST", "/schedules", {**common, "name": "breaks-every-second", "alerts": {
                "on": ["failure"], "channels": [{"type": "webhook", "url": hook.url + "/incident"},
                                                {"type": "chat"}]}}, expect=201)
            retried = call(a, "POST", "/schedules", {**common, "name": "retried", "alerts": {
                "on": ["failure"], "channels": [{"type": "webhook", "url": flaky.url + "/flaky"}]}}, expect=201)
            ran = (f"SELECT COUNT(*) FROM workflow_schedule_runs WHERE schedule_id = '{failing['schedule_id']}' "
                   "AND status = 'failed'")
            wait_until(lambda: rows(db_path, ran)[0][0] >= 5, timeout=30, what="five failed runs")
            sent = ("SELECT status, attempts, last_error FROM schedule_alerts WHERE schedule_id = "
                    f"'{retried['schedule_id']}'")
            wait_until(lambda: rows(db_path, sent) == [("sent", 3, None)], timeout=30,
                       what="the flaky sink's alert sent on its third attempt")
            wait_until(lambda: len(router.received) >= 1, timeout=10, what="the chat alert")
            call(a, "POST", f"/schedules/{failing['schedule_id']}/pause", {}, expect=200)
            time.sleep(1)  # would a second delivery of the alert show up?
            listed = call(a, "GET", f"/schedules/{failing['schedule_id']}/alerts", expect=200)["items"]
    assert len(hook.received) == 1 and not hook.refused, (hook.received, hook.refused)
    alert = hook.received[0].json()
    assert (alert["event"], alert["schedule"]["name"], alert["run"]["status"]) == (
        "failure", "breaks-every-second", "failed")
    assert alert["run"]["error"] and "down" in alert["run"]["error"], alert
    assert len(router.received) == 1
    chat = router.received[0].json()
    assert (chat["community_id"], chat["entity_id"]) == ("guild-1", "#ops")
    assert chat["message"].startswith('[failure] Schedule "breaks-every-second" failed at '), chat
    assert len(flaky.received) == 1 and len(flaky.refused) == 2
    assert sorted((i["channel"], i["status"], i["attempts"]) for i in listed) == [
        ("chat", "sent", 1), ("webhook", "sent", 1)]
