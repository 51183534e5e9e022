"""Alerts: what a real scheduler writes in its transactions, their delivery to local sinks (a
webhook, the chat router) with digests and retries, and the API. A manual clock drives time. The
storm rules alone: test_alert_rules.py."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest

from workflow_core_module.clock import ManualClock
from workflow_core_module.db.database import Database

from .conftest import START, make_settings
from .harness import Scheduler, api_call, until
from .processes import free_port
from .sink import HttpSink, Received

SECRET = "alert-secret"


# ---- a real scheduler, a real outbox, local sinks -------------------------------------------------

@pytest.fixture
def sink() -> Iterator[HttpSink]:
    with HttpSink() as s:
        yield s


@pytest.fixture
def chat_sink() -> Iterator[HttpSink]:
    with HttpSink() as s:
        yield s


def _scheduler(database: Database, clock: ManualClock, chat_sink: HttpSink, **overrides: Any) -> Scheduler:
    settings = make_settings(database.url, **{
        "workflow_max_retries": 0, "outbound_allowlist": "127.0.0.1", "webhook_signing_secret": SECRET,
        "chat_message_url": chat_sink.url + "/chat", "alert_digest_seconds": 0, "max_schedules_per_community": 1000,
        **overrides})
    sched = Scheduler(database, settings, clock)
    sched.attach_loop()
    return sched


@pytest.fixture
async def sched(database: Database, clock: ManualClock, chat_sink: HttpSink) -> AsyncIterator[Scheduler]:
    s = _scheduler(database, clock, chat_sink)
    yield s
    await s.close()


def every_minute(wf: str, alerts: dict[str, Any] | None, name: str = "nightly-backup", **kw: Any) -> dict[str, Any]:
    return {"workflow_id": wf, "name": name, "schedule_type": "interval", "interval_seconds": 60,
            "community_id": "guild-1", "context_data": {"entity_id": "#ops"}, "alerts": alerts, **kw}


def webhook(sink: HttpSink, **kw: Any) -> dict[str, Any]:
    return {"channels": [{"type": "webhook", "url": sink.url + "/hook"}], **kw}


async def deliver(sched: Scheduler) -> int:
    return await sched.scheduler.alerts.deliver_due()


def events(sink: HttpSink) -> list[str]:
    return [r.json()["event"] for r in sink.received]


def signed(received: Received) -> bool:
    timestamp = received.headers["X-Webhook-Timestamp"]
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(received.headers["X-Webhook-Signature"], f"sha256={expected}")


async def outbox(database: Database, schedule_id: str) -> list[tuple[Any, ...]]:
    rows = await database.read(lambda dal: dal.executesql(database.dialect.params(
        "SELECT event, channel, status, attempts FROM schedule_alerts WHERE schedule_id = ? ORDER BY id"),
        placeholders=[schedule_id]))
    return [tuple(r) for r in rows]


async def test_failures_alert_once_after_consecutive_then_recovered_signed(sched: Scheduler, sink: HttpSink,
                                                                            database: Database) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule(every_minute(wf, webhook(sink, after_consecutive=2)))
    for fail in (True, True, True, False):
        sched.recorder.fail_first = 1 if fail else 0
        await sched.tick(60)
        await deliver(sched)
    assert events(sink) == ["failure", "recovered"]
    first = sink.received[0].json()
    assert first["schedule"]["name"] == "nightly-backup" and first["run"]["status"] == "failed"
    assert first["run"]["streak"] == 2 and first["run"]["error"].endswith("told to fail")
    assert first["occurred_at"] == "2026-11-22T12:02:00Z" and set(first) == {"event", "schedule", "run",
                                                                              "occurred_at"}
    assert all(signed(r) for r in sink.received)
    assert await outbox(database, s.schedule_id) == [("failure", "webhook", "sent", 1),
                                                     ("recovered", "webhook", "sent", 1)]
    state = (await sched.service.get_schedule(s.schedule_id)).alert_state
    assert state is not None and state["failing"] is False


async def test_a_schedule_without_alerts_writes_none(sched: Scheduler, database: Database) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule(every_minute(wf, None))
    sched.recorder.fail_first = 3
    for _ in range(3):
        await sched.tick(60)
    assert await outbox(database, s.schedule_id) == []
    assert await deliver(sched) == 0


async def test_the_chat_alert_goes_to_the_schedules_community_in_one_line(sched: Scheduler,
                                                                          chat_sink: HttpSink) -> None:
    wf = await sched.workflow()
    await sched.service.add_schedule(every_minute(wf, {"channels": [{"type": "chat"}]}, timezone="Europe/Berlin"))
    sched.recorder.fail_first = 1
    await sched.tick(60)
    await deliver(sched)
    [post] = chat_sink.received
    body = post.json()
    assert (post.path, body["community_id"], body["entity_id"]) == ("/chat", "guild-1", "#ops")
    assert body["message"] == ('[failure] Schedule "nightly-backup" failed at 2026-11-22 13:01:00 CET: '
                               'step 0 (record) failed: told to fail'), body


async def test_a_custom_chat_message_is_a_template_over_schedule_run_and_event(sched: Scheduler,
                                                                               chat_sink: HttpSink) -> None:
    wf = await sched.workflow()
    message = "{{ event | upper }}: {{ schedule.name }} ({{ run.status }}) @here"
    await sched.service.add_schedule(every_minute(wf, {"channels": [{"type": "chat", "message": message}]}))
    sched.recorder.fail_first = 1
    await sched.tick(60)
    await deliver(sched)
    assert [r.json()["message"] for r in chat_sink.received] == ["FAILURE: nightly-backup (failed) @here"]


async def test_two_hundred_missed_schedules_give_one_digest_per_channel(sched: Scheduler, sink: HttpSink,
                                                                        chat_sink: HttpSink,
                                                                        database: Database) -> None:
    wf = await sched.workflow()
    alerts = {"on": ["missed"], "channels": [{"type": "webhook", "url": sink.url + "/hook"}, {"type": "chat"}]}
    for i in range(200):
        await sched.service.add_schedule(every_minute(wf, alerts, name=f"s{i:03d}", grace_period_seconds=30))
    await sched.tick(5 * 60)  # an outage: the first four occurrences of each are past their grace
    assert await deliver(sched) == 400
    [hook] = sink.received
    digest = hook.json()
    assert digest["event"] == "digest" and len(digest["alerts"]) == 200 and signed(hook)
    assert {a["event"] for a in digest["alerts"]} == {"missed"}
    assert {a["run"]["missed"] for a in digest["alerts"]} == {1}  # the four missed are recorded as one
    [chat] = chat_sink.received
    lines = chat.json()["message"].splitlines()
    assert lines[0] == "200 schedule alerts:" and lines[-1] == "…and 190 more" and len(lines) == 12
    sizes = await database.read(lambda dal: dal.executesql(
        "SELECT channel, status, digest_size, COUNT(*) FROM schedule_alerts GROUP BY channel, status, digest_size"))
    assert sorted(tuple(r) for r in sizes) == [("chat", "sent", 200, 200), ("webhook", "sent", 200, 200)]
    await sched.tick(60)  # the next occurrence fires on time: no new alert
    assert await deliver(sched) == 0


async def test_a_channel_gets_one_message_per_digest_window(database: Database, clock: ManualClock,
                                                            chat_sink: HttpSink, sink: HttpSink) -> None:
    sched = _scheduler(database, clock, chat_sink, alert_digest_seconds=60)
    try:
        wf = await sched.workflow()
        for name in ("a", "b"):
            await sched.service.add_schedule(every_minute(wf, webhook(sink), name=name, interval_seconds=3600))
        later = (START + timedelta(seconds=3620)).isoformat()
        await sched.service.add_schedule(every_minute(wf, webhook(sink), name="c", schedule_type="one_time",
                                                      interval_seconds=None, scheduled_time=later))
        sched.recorder.fail_first = 3
        await sched.tick(3600)  # a and b fail together: one message for both
        assert await deliver(sched) == 2
        await sched.tick(20)  # c fails 20 s later: it waits for the window
        assert await deliver(sched) == 0
        clock.advance(39)
        assert await deliver(sched) == 0
        clock.advance(1)
        assert await deliver(sched) == 1
        assert [(r.json()["event"], len(r.json().get("alerts", [1]))) for r in sink.received] == [
            ("digest", 2), ("failure", 1)]
        assert sink.received[1].json()["schedule"]["name"] == "c"
    finally:
        await sched.close()


async def test_a_sink_answering_500_twice_gets_the_alert_on_the_third_attempt(sched: Scheduler,
                                                                               clock: ManualClock,
                                                                               database: Database) -> None:
    answers = iter([(500, {"down": True}), (500, {"down": True})])
    with HttpSink(check=lambda _: next(answers, None)) as flaky:
        wf = await sched.workflow()
        s = await sched.service.add_schedule(every_minute(wf, webhook(flaky), interval_seconds=86400))
        sched.recorder.fail_first = 1
        await sched.tick(86400)
        assert await deliver(sched) == 1
        assert await outbox(database, s.schedule_id) == [("failure", "webhook", "pending", 1)]
        clock.advance(39)
        assert await deliver(sched) == 0  # the first retry waits ALERT_RETRY_BASE_SECONDS (40 s)
        clock.advance(1)
        assert await deliver(sched) == 1
        clock.advance(80)
        assert await deliver(sched) == 1
        assert len(flaky.refused) == 2 and events(flaky) == ["failure"]
        [row] = (await sched.scheduler.alerts.store.listing(schedule_id=s.schedule_id))
        assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 3, None)


async def test_an_alert_is_given_up_after_five_attempts(sched: Scheduler, clock: ManualClock,
                                                        database: Database) -> None:
    with HttpSink(status=503) as down:
        wf = await sched.workflow()
        s = await sched.service.add_schedule(every_minute(wf, webhook(down), interval_seconds=86400))
        sched.recorder.fail_first = 1
        await sched.tick(86400)
        for wait in (0, 40, 80, 160, 320, 640):
            clock.advance(wait)
            await deliver(sched)
        assert len(down.received) == 5  # 40 + 80 + 160 + 320 s: about ten minutes
        [row] = await sched.scheduler.alerts.store.listing(schedule_id=s.schedule_id)
        assert (row["status"], row["attempts"], row["last_error"]) == ("failed", 5, "answered 503")


async def test_pausing_itself_and_expiring_alert_paused(sched: Scheduler, sink: HttpSink) -> None:
    wf = await sched.workflow()
    await sched.service.add_schedule(every_minute(wf, webhook(sink, on=["paused"]), pause_after_failures=2))
    quiet = await sched.workflow(steps=[{"action": "log", "message": "not the recorder"}])
    await sched.service.add_schedule(every_minute(quiet, webhook(sink, on=["paused"]), name="ends",
                                                  end_date=(START + timedelta(minutes=1, seconds=30)).isoformat()))
    sched.recorder.fail_first = 2
    await sched.tick(60)
    await sched.tick(60)
    await deliver(sched)
    got = sorted((a["schedule"]["name"], a["schedule"].get("pause_reason"))
                 for r in sink.received for a in r.json().get("alerts", [r.json()]))
    assert got == [("ends", "expired: its end date has passed"),
                   ("nightly-backup", "paused after 2 consecutive failures")]


async def test_the_operator_webhook_gets_every_schedules_alerts(database: Database, clock: ManualClock,
                                                                chat_sink: HttpSink, sink: HttpSink) -> None:
    sched = _scheduler(database, clock, chat_sink, alert_webhook_url=sink.url + "/operator")
    try:
        wf = await sched.workflow()
        await sched.service.add_schedule(every_minute(wf, None, name="no-settings"))
        sched.recorder.fail_first = 1
        await sched.tick(60)
        await deliver(sched)
        [post] = sink.received
        assert post.path == "/operator" and post.json()["event"] == "failure" and signed(post)
    finally:
        await sched.close()


async def test_two_replicas_deliver_each_alert_once(database: Database, clock: ManualClock, chat_sink: HttpSink,
                                                    sink: HttpSink) -> None:
    a, b = _scheduler(database, clock, chat_sink), _scheduler(database, clock, chat_sink)
    try:
        wf = await a.workflow()
        for i in range(30):
            await a.service.add_schedule(every_minute(wf, webhook(sink, on=["missed"]), name=f"m{i}",
                                                      grace_period_seconds=1, community_id=f"c{i}"))
        await a.tick(120)
        tried = await asyncio.gather(*(d.scheduler.alerts.deliver_due() for d in (a, b, a, b)))
        assert sum(tried) == 30
        names = sorted(x["schedule"]["name"] for r in sink.received for x in r.json().get("alerts", [r.json()]))
        assert names == sorted(f"m{i}" for i in range(30))
    finally:
        await a.close()
        await b.close()


async def test_new_settings_start_from_a_clean_state(sched: Scheduler, sink: HttpSink) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule(every_minute(wf, webhook(sink)))
    sched.recorder.fail_first = 1
    await sched.tick(60)
    assert (await sched.service.get_schedule(s.schedule_id)).alert_state["failing"] is True  # type: ignore[index]
    changed = await sched.service.update_schedule(s.schedule_id, {"alerts": webhook(sink, after_consecutive=3)})
    assert changed.alert_state is None


# ---- the API -------------------------------------------------------------------------------------

@pytest.fixture
def app_settings(chat_sink: HttpSink) -> dict[str, Any]:
    return {"outbound_allowlist": "127.0.0.1", "chat_message_url": chat_sink.url + "/chat",
            "webhook_signing_secret": SECRET}


async def _workflow(app: Any, key: str = "admin-secret", community: str | None = "guild-1") -> str:
    status, wf = await api_call(app, "post", "/api/v1/workflows", {
        "name": f"wf-{community}", "community_id": community, "steps": [{"action": "log", "message": "x"}]},
        headers={"X-API-Key": key})
    assert status == 201, wf
    return str(wf["workflow_id"])


@pytest.mark.parametrize("alerts,field", [
    ({"channels": [{"type": "webhook", "url": "http://169.254.169.254/latest"}]}, "alerts.channels[0].url"),
    ({"channels": [{"type": "chat", "message": "{% for x in y %}"}]}, "alerts.channels[0].message"),
    ({"on": ["nope"], "channels": [{"type": "chat"}]}, "alerts.on"),
])
async def test_the_api_refuses_a_bad_alerts_setting_and_stores_nothing(app: Any, alerts: dict[str, Any],
                                                                         field: str) -> None:
    wf = await _workflow(app)
    status, body = await api_call(app, "post", "/api/v1/schedules", every_minute(wf, alerts))
    assert status == 400 and field in body["error"]["details"], body
    status, page = await api_call(app, "get", "/api/v1/schedules")
    assert page["total"] == 0


async def test_a_chat_channel_needs_a_community_and_a_channel_to_post_into(app: Any) -> None:
    wf = await _workflow(app, community=None)
    spec = {**every_minute(wf, {"channels": [{"type": "chat"}]}), "community_id": None, "context_data": {}}
    status, body = await api_call(app, "post", "/api/v1/schedules", spec)
    assert status == 400 and "alerts.channels[0]" in body["error"]["details"], body
    wf = await _workflow(app)
    status, body = await api_call(app, "post", "/api/v1/schedules", {**spec, "community_id": "guild-1"})
    assert status == 400 and "alerts.channels[0].entity_id" in body["error"]["details"], body


async def test_test_alert_answers_per_channel_and_the_deliveries_are_readable_in_scope(app: Any,
                                                                                       sink: HttpSink,
                                                                                       chat_sink: HttpSink) -> None:
    wf = await _workflow(app)
    alerts = {"channels": [{"type": "webhook", "url": sink.url + "/hook"}, {"type": "chat"},
                           {"type": "webhook", "url": f"http://127.0.0.1:{free_port()}/nobody-listens"}]}
    status, s = await api_call(app, "post", "/api/v1/schedules", every_minute(wf, alerts))
    assert status == 201, s
    status, tested = await api_call(app, "post", f"/api/v1/schedules/{s['schedule_id']}/alerts/test")
    assert status == 200, tested
    got = [(c["channel"], c["delivered"]) for c in tested["channels"]]
    assert got == [("webhook", True), ("chat", True), ("webhook", False)], tested
    assert "ConnectError" in tested["channels"][2]["error"], tested
    assert events(sink) == ["test"] and signed(sink.received[0])
    assert chat_sink.received[0].json()["message"].startswith('[test] Schedule "nightly-backup"')
    status, page = await api_call(app, "get", f"/api/v1/schedules/{s['schedule_id']}/alerts")
    assert status == 200 and [(i["event"], i["status"], i["attempts"]) for i in page["items"]] == [
        ("test", "failed", 1), ("test", "sent", 1), ("test", "sent", 1)]
    status, recent = await api_call(app, "get", "/api/v1/alerts?limit=2")
    assert status == 200 and len(recent["items"]) == 2
    runtime = app.extensions["runtime"]
    _, key = await runtime.keys.create("other-bot", "guild-2", runtime.clock.now())
    other = {"X-API-Key": key}
    assert (await api_call(app, "get", f"/api/v1/schedules/{s['schedule_id']}/alerts", headers=other))[0] == 404
    assert (await api_call(app, "post", f"/api/v1/schedules/{s['schedule_id']}/alerts/test", headers=other))[0] == 404
    status, theirs = await api_call(app, "get", "/api/v1/alerts", headers=other)
    assert status == 200 and theirs["items"] == []
    _, own = await runtime.keys.create("own-bot", "guild-1", runtime.clock.now())
    status, mine = await api_call(app, "get", "/api/v1/alerts", headers={"X-API-Key": own})
    assert status == 200 and len(mine["items"]) == 3


async def test_a_schedule_without_alerts_has_nothing_to_test(app: Any) -> None:
    wf = await _workflow(app)
    status, s = await api_call(app, "post", "/api/v1/schedules", every_minute(wf, None))
    status, body = await api_call(app, "post", f"/api/v1/schedules/{s['schedule_id']}/alerts/test")
    assert status == 409 and "no alerts" in body["error"]["message"], body


async def test_deliveries_count_in_metrics(app: Any, sink: HttpSink) -> None:
    wf = await _workflow(app)
    status, s = await api_call(app, "post", "/api/v1/schedules",
                               every_minute(wf, {"channels": [{"type": "webhook", "url": sink.url + "/hook"}]}))
    await api_call(app, "post", f"/api/v1/schedules/{s['schedule_id']}/alerts/test")
    client = app.test_client()
    text = (await (await client.get("/metrics", headers={"X-API-Key": "admin-secret"})).get_data()).decode()
    assert 'wcm_alerts_sent_total{channel="webhook",event="test"} 1.0' in text



async def test_a_run_failed_by_recovery_alerts_like_any_failure_and_may_pause(
        database: Database, clock: ManualClock, chat_sink: HttpSink, sink: HttpSink) -> None:
    """A replica stopped while the run was executing: another replica's recovery records it failed,
    which alerts (and counts toward pause_after_failures) as a failed run does."""
    first = _scheduler(database, clock, chat_sink)
    first.recorder.gate = asyncio.Event()  # the run holds until the replica is gone
    wf = await first.workflow()
    s = await first.service.add_schedule(every_minute(wf, webhook(sink, on=["failure", "paused"]),
                                                      pause_after_failures=1))
    clock.advance(60)
    assert (await first.loop.run_pass(clock.now())).fired == 1  # type: ignore[union-attr]
    await until(lambda: first.recorder.active == 1, what="the run to be executing")
    first.scheduler.dispatcher.accepting = False  # the replica is gone: it records nothing more
    second = _scheduler(database, clock, chat_sink)
    nudged: list[int] = []
    second.scheduler.ledger.journal.alert_listeners.append(lambda: nudged.append(1))  # wakes the deliverer
    try:
        assert await second.loop.recover() == 1  # type: ignore[union-attr]
        assert await second.statuses(s.schedule_id) == ["failed"]
        assert nudged, "the deliverer was not told of the alerts recovery wrote"
        await deliver(second)
        [digest] = [r.json() for r in sink.received]  # both at once to one target: one message
        assert digest["event"] == "digest" and [a["event"] for a in digest["alerts"]] == ["failure", "paused"]
        failure = digest["alerts"][0]
        assert failure["run"]["status"] == "failed" and failure["run"]["streak"] == 1
        assert failure["run"]["error"], failure
        assert (await second.service.get_schedule(s.schedule_id)).status.value == "paused"
    finally:
        await second.close()
        first.recorder.gate.set()
        await first.close()
