"""Several `serve` replicas on PostgreSQL and Redis: one fire per occurrence, changes shared, and
outages of Redis, PostgreSQL or a replica survived. Real servers and processes throughout; the
servers a test stops are private to it (tests/servers.py)."""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from .conftest import service_unavailable
from .processes import ServeProcess, http_json
from .servers import PrivatePostgres, PrivateRedis
from .sink import HttpSink

KEY = "scale-key"


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        service_unavailable("Redis", "TEST_REDIS_URL is not set")
    return str(url)


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """A new database on the TEST_POSTGRES_URL server for one test (its serve processes share it)."""
    base = os.environ.get("TEST_POSTGRES_URL")
    if not base:
        service_unavailable("PostgreSQL", "TEST_POSTGRES_URL is not set")
    name = f"wcm_scale_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(str(base), connect_timeout=5)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield str(base).rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def api(server: ServeProcess, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    return http_json(method, server.url + path, KEY, body)


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def sink_workflow(server: ServeProcess, sink: HttpSink, *extra_steps: dict[str, Any]) -> str:
    status, wf = api(server, "POST", "/api/v1/workflows", {"name": f"to-sink-{uuid.uuid4().hex[:6]}", "steps": [
        {"action": "http_request", "method": "POST", "url": sink.url + "/fired",
         "body": {"schedule_id": "{{ trigger.schedule_id }}", "scheduled_for": "{{ trigger.scheduled_for }}"}},
        *extra_steps]})
    assert status == 201, wf
    return str(wf["workflow_id"])


def one_time(wf: str, name: str, at: datetime) -> dict[str, Any]:
    return {"workflow_id": wf, "name": name, "schedule_type": "one_time",
            "scheduled_time": at.strftime("%Y-%m-%dT%H:%M:%SZ")}


def create_many(servers: list[ServeProcess], bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """POST schedules through the replicas in turn, 8 at a time."""
    def post(i: int) -> dict[str, Any]:
        status, created = api(servers[i % len(servers)], "POST", "/api/v1/schedules", bodies[i])
        assert status == 201, created
        return dict(created)

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(post, range(len(bodies))))


def fired(sink: HttpSink) -> Counter[tuple[str, str]]:
    return Counter((r.json()["schedule_id"], r.json()["scheduled_for"]) for r in list(sink.received) if r.path == "/fired")


def db_rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall())


def settled(url: str, runs: int, timeout: float = 30.0) -> None:
    """Wait until `runs` runs have ended and none is queued or running: then no fire is still on
    its way (a run's requests precede its recorded end), so counts taken now are final."""
    sql = ("SELECT COUNT(*) FILTER (WHERE status NOT IN ('queued', 'running')), "
           "COUNT(*) FILTER (WHERE status IN ('queued', 'running')) FROM workflow_schedule_runs")
    wait_until(lambda: db_rows(url, sql)[0] == (runs, 0), timeout, f"{runs} runs to end and none to be left")


def env_for(database_url: str, **extra: str) -> dict[str, str]:
    # OUTBOUND_ALLOWLIST: the sinks are local, and the outbound policy refuses loopback otherwise.
    return {"DATABASE_URL": database_url, "ADMIN_API_KEY": KEY, "LOG_LEVEL": "WARNING",
            "OUTBOUND_ALLOWLIST": "127.0.0.1", **extra}


def test_three_replicas_fire_3000_due_in_one_second_exactly_once(fresh_postgres: str, redis_url: str,
                                                                  tmp_path: Path) -> None:
    env = env_for(fresh_postgres, REDIS_URL=redis_url, MAX_CONCURRENT_WORKFLOWS="100")
    with HttpSink() as sink, ServeProcess(env, cwd=tmp_path) as a, ServeProcess(env, cwd=tmp_path) as b, \
            ServeProcess(env, cwd=tmp_path) as c:
        wf = sink_workflow(a, sink)
        # The lead must cover creating 3,000 schedules, which a loaded machine does several times
        # slower: time 150 (due tomorrow, so they never fire here) and allow 1.5 times the rate.
        tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
        began = time.monotonic()
        create_many([a, b, c], [one_time(wf, f"probe{i}", tomorrow) for i in range(150)])
        lead = max(25.0, (time.monotonic() - began) / 150 * 3000 * 1.5 + 5)
        due = (datetime.now(timezone.utc) + timedelta(seconds=lead)).replace(microsecond=0)
        created = create_many([a, b, c], [one_time(wf, f"s{i}", due) for i in range(3000)])
        assert datetime.now(timezone.utc) < due - timedelta(seconds=2), "creating took too long for this test"
        wait_until(lambda: len(sink.received) >= 3000, (due - datetime.now(timezone.utc)).total_seconds() + 60,
                   "3,000 fires")
        settled(fresh_postgres, 3000)  # every request of a run precedes its end: the sink has them all
        counts = fired(sink)
        assert len(counts) == 3000 and set(counts.values()) == {1}, Counter(counts.values())
        assert {schedule_id for schedule_id, _ in counts} == {s["schedule_id"] for s in created}
        by_replica = dict(db_rows(fresh_postgres, "SELECT claimed_by, COUNT(*) FROM workflow_schedule_runs "
                                                  "GROUP BY claimed_by"))
        assert len(by_replica) == 3 and all(n > 0 for n in by_replica.values()), by_replica
        statuses = dict(db_rows(fresh_postgres, "SELECT status, COUNT(*) FROM workflow_schedule_runs GROUP BY status"))
        assert statuses == {"completed": 3000}


def test_a_change_through_one_replica_reaches_another_within_a_second(fresh_postgres: str, redis_url: str,
                                                                      tmp_path: Path) -> None:
    env = env_for(fresh_postgres, REDIS_URL=redis_url)
    with HttpSink() as sink, ServeProcess(env, cwd=tmp_path) as a, ServeProcess(env, cwd=tmp_path) as b:
        wf = sink_workflow(a, sink)

        def b_cache_head() -> str | None:
            return str(api(b, "GET", "/api/v1/schedules/status")[1]["cache"]["next_due_at"])

        due = (datetime.now(timezone.utc) + timedelta(seconds=2)).replace(microsecond=0) + timedelta(seconds=1)
        started = time.monotonic()
        status, soon = api(a, "POST", "/api/v1/schedules", one_time(wf, "soon", due))
        assert status == 201
        wait_until(lambda: b_cache_head() == soon["next_execution_at"], 1.0, "B to learn about the new schedule")
        assert time.monotonic() - started < 1.0
        wait_until(lambda: fired(sink), 10, "the new schedule to fire")
        settled(fresh_postgres, 1)
        assert list(fired(sink).values()) == [1]

        later = (datetime.now(timezone.utc) + timedelta(minutes=30)).replace(microsecond=0)
        status, pending = api(a, "POST", "/api/v1/schedules", one_time(wf, "later", later))
        wait_until(lambda: b_cache_head() == pending["next_execution_at"], 1.0, "B to learn about the second schedule")
        started = time.monotonic()
        assert api(a, "POST", f"/api/v1/schedules/{pending['schedule_id']}/pause")[0] == 200
        wait_until(lambda: b_cache_head() != pending["next_execution_at"], 1.0, "B to learn about the pause")
        assert time.monotonic() - started < 1.0


def accounted(runs: list[tuple[datetime, str | None]], interval: timedelta) -> list[datetime]:
    """Occurrences the run rows stand for: a run `coalesced N occurrences` covers N of them."""
    out: list[datetime] = []
    for scheduled_for, note in runs:
        match = re.match(r"coalesced (\d+) occurrences", note or "")
        k = int(match.group(1)) if match else 1
        out.extend(scheduled_for - interval * i for i in range(k))
    return out


def test_redis_outage_degrades_then_recovers_without_duplicates_or_losses(fresh_postgres: str,
                                                                         tmp_path: Path) -> None:
    redis = PrivateRedis()
    if not redis.available:
        service_unavailable("Redis", "redis-server is not installed")
    interval = 2
    with redis, HttpSink() as sink:
        env = env_for(fresh_postgres, REDIS_URL=redis.url, MIN_INTERVAL_SECONDS="1")
        with ServeProcess(env, cwd=tmp_path) as a, ServeProcess(env, cwd=tmp_path) as b:
            wf = sink_workflow(a, sink)
            start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=2)
            end = start + timedelta(seconds=16)
            # The default overlap policy (skip): a run still going 2 s after its fire would skip the
            # next occurrence. (Runs were: the sink's listen queue overflowed, tests/sink.py.)
            bodies = [{"workflow_id": wf, "name": f"tick-{i}", "schedule_type": "interval", "interval_seconds": interval,
                       "start_date": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "end_date": end.strftime("%Y-%m-%dT%H:%M:%SZ")} for i in range(20)]
            created = create_many([a, b], bodies)
            health = lambda server: api(server, "GET", "/api/v1/health")[1]["status"]  # noqa: E731
            assert health(a) == health(b) == "healthy"
            wait_until(lambda: datetime.now(timezone.utc) > start + timedelta(seconds=4), 10, "the run to get going")
            redis.stop()
            wait_until(lambda: health(a) == "degraded" and health(b) == "degraded", 10, "both to report degraded")
            assert api(a, "GET", "/api/v1/health")[0] == 200
            time.sleep(4)
            redis.start()
            wait_until(lambda: health(a) == "healthy" and health(b) == "healthy", 20, "both healthy again")
            wait_until(lambda: datetime.now(timezone.utc) > end + timedelta(seconds=3), 30, "the window to end")
        counts = fired(sink)
        assert set(counts.values()) == {1}, "an occurrence fired twice"
        expected = {start + timedelta(seconds=interval * k) for k in range(16 // interval + 1)}
        for schedule in created:
            rows = db_rows(fresh_postgres, "SELECT scheduled_for, note, status, error, fired_at, finished_at, "
                                           f"claimed_by, attempt, duration_ms FROM workflow_schedule_runs WHERE "
                                           f"schedule_id = '{schedule['schedule_id']}' ORDER BY scheduled_for")
            assert {r[2] for r in rows} == {"completed"}, "\n".join(map(repr, rows))
            assert {r[7] for r in rows} == {1}, "a retried attempt:\n" + "\n".join(map(repr, rows))
            covered = accounted([(r[0].replace(tzinfo=timezone.utc), r[1]) for r in rows], timedelta(seconds=interval))
            assert sorted(covered) == sorted(expected), (schedule["name"], sorted(covered))


def test_postgres_restart_mid_run_recovers_and_fires_each_occurrence_once(tmp_path: Path) -> None:
    postgres = PrivatePostgres()
    if not postgres.available:
        service_unavailable("PostgreSQL", "no initdb/pg_ctl to run a private cluster")
    poll = 2.0
    with postgres, HttpSink() as sink:
        env = env_for(postgres.url, POLL_INTERVAL_SECONDS=str(poll))
        with ServeProcess(env, cwd=tmp_path) as a, ServeProcess(env, cwd=tmp_path) as b:
            wf = sink_workflow(a, sink)
            first = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=3)
            bodies = [one_time(wf, f"at-{i}", first + timedelta(seconds=i // 4)) for i in range(48)]  # 12 s of them
            created = create_many([a, b], bodies)
            wait_until(lambda: len(sink.received) >= 8, 15, "the first fires")
            postgres.stop()
            down_at = time.monotonic()
            saw_503 = wait_until(lambda: api(a, "GET", "/api/v1/health")[0] == 503, 5, "health to answer 503")
            assert saw_503 and a.process.poll() is None and b.process.poll() is None
            time.sleep(max(0.0, 3.0 - (time.monotonic() - down_at)))
            postgres.start()
            back_at = time.monotonic()
            wait_until(lambda: api(a, "GET", "/api/v1/health")[0] == 200 and api(b, "GET", "/api/v1/health")[0] == 200,
                       2 * poll + 3, "both replicas healthy again")
            assert time.monotonic() - back_at <= 2 * poll + 3
            wait_until(lambda: len(fired(sink)) >= 48, 30, "every occurrence to fire")
            settled(postgres.url, 48)
        counts = fired(sink)
        assert len(counts) == 48 and set(counts.values()) == {1}, Counter(counts.values())
        assert {s for s, _ in counts} == {c["schedule_id"] for c in created}
        statuses = dict(db_rows(postgres.url, "SELECT status, COUNT(*) FROM workflow_schedule_runs GROUP BY status"))
        assert statuses == {"completed": 48}, statuses


def test_a_killed_replicas_runs_are_resolved_by_the_survivor(fresh_postgres: str, redis_url: str,
                                                              tmp_path: Path) -> None:
    with HttpSink() as sink:
        env_a = env_for(fresh_postgres, REDIS_URL=redis_url, MAX_CONCURRENT_WORKFLOWS="2", REPLICA_TIMEOUT_SECONDS="3")
        a = ServeProcess(env_a, cwd=tmp_path)
        a.wait_ready()
        wf = sink_workflow(a, sink, {"action": "delay", "seconds": 5})
        due = (datetime.now(timezone.utc) + timedelta(seconds=3)).replace(microsecond=0)
        create_many([a], [one_time(wf, f"k{i}", due) for i in range(20)])
        replica_a = api(a, "GET", "/api/v1/schedules/status")[1]["replica_id"]

        def held() -> dict[str, int]:
            return dict(db_rows(fresh_postgres, "SELECT status, COUNT(*) FROM workflow_schedule_runs "
                                                f"WHERE claimed_by = '{replica_a}' GROUP BY status"))

        wait_until(lambda: held().get("running") == 2 and held().get("queued") == 18 and len(sink.received) == 2, 15,
                   "A to hold its claims, two of them past their first step")
        os.kill(a.process.pid, signal.SIGKILL)
        a.process.wait(10)
        a.stop()
        env_b = env_for(fresh_postgres, REDIS_URL=redis_url, MAX_CONCURRENT_WORKFLOWS="50", REPLICA_TIMEOUT_SECONDS="3")
        with ServeProcess(env_b, cwd=tmp_path):
            wait_until(lambda: not db_rows(fresh_postgres, "SELECT 1 FROM workflow_schedule_runs "
                                                           "WHERE status IN ('queued', 'running')"), 40,
                       "every run to be resolved")
        rows = db_rows(fresh_postgres, "SELECT status, error, note FROM workflow_schedule_runs")
        failed = [r for r in rows if r[0] == "failed"]
        completed = [r for r in rows if r[0] == "completed"]
        assert len(failed) == 2 and all("stopped while this run was executing" in (r[1] or "") for r in failed)
        assert len(completed) == 18 and all("re-fired" in (r[2] or "") for r in completed)
        counts = fired(sink)
        assert len(counts) == 20 and set(counts.values()) == {1}  # the two cut short are not run again
