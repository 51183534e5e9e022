"""Schedule chains across two real `serve` replicas on one PostgreSQL database (and Redis): runs of
100 upstream schedules end at once, half on each replica, and start exactly one run of each
downstream schedule, counted in the database and at a local sink."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .processes import ServeProcess
from .sink import HttpSink
from .test_scale_out import api, create_many, db_rows, env_for, fresh_postgres, redis_url, settled, wait_until

__all__ = ["fresh_postgres", "redis_url"]  # fixtures used here

UPSTREAMS = 100


def test_100_upstream_runs_ending_at_once_on_two_replicas_start_exactly_100_chain_runs(
        fresh_postgres: str, redis_url: str, tmp_path: Path) -> None:
    env = env_for(fresh_postgres, REDIS_URL=redis_url, MAX_CONCURRENT_WORKFLOWS="100")
    with HttpSink() as sink, ServeProcess(env, cwd=tmp_path) as a, ServeProcess(env, cwd=tmp_path) as b:
        status, head = api(a, "POST", "/api/v1/workflows", {"name": "head", "steps": [
            {"action": "http_request", "method": "POST", "url": sink.url + "/head",
             "body": {"run_id": "{{ trigger.run_id }}"}}]})
        assert status == 201, head
        status, tail = api(a, "POST", "/api/v1/workflows", {"name": "tail", "steps": [
            {"action": "http_request", "method": "POST", "url": sink.url + "/tail",
             "body": {"run_id": "{{ trigger.run_id }}", "upstream": "{{ trigger.upstream.run_id }}"}}]})
        assert status == 201, tail
        later = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        heads = create_many([a, b], [{"workflow_id": head["workflow_id"], "name": f"head-{i}",
                                      "schedule_type": "one_time", "scheduled_time": later} for i in range(UPSTREAMS)])
        create_many([b, a], [{"workflow_id": tail["workflow_id"], "name": f"tail-{i}", "schedule_type": "after",
                              "after": {"schedule_id": h["schedule_id"]}, "overlap_policy": "allow"}
                             for i, h in enumerate(heads)])

        def run_now(i: int) -> None:  # half through each replica: each records the ends of its own runs
            status, started = api((a, b)[i % 2], "POST", f"/api/v1/schedules/{heads[i]['schedule_id']}/run")
            assert status == 202, started

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(run_now, range(UPSTREAMS)))
        wait_until(lambda: len([r for r in list(sink.received) if r.path == "/tail"]) >= UPSTREAMS, 15,
                   "100 chain runs at the sink")
        settled(fresh_postgres, 2 * UPSTREAMS)
        tails = Counter(r.json()["upstream"] for r in list(sink.received) if r.path == "/tail")
        assert len(tails) == UPSTREAMS and set(tails.values()) == {1}, Counter(tails.values())
        head_runs = {r.json()["run_id"] for r in list(sink.received) if r.path == "/head"}
        assert set(tails) == head_runs and len(head_runs) == UPSTREAMS
        rows = db_rows(fresh_postgres, "SELECT \"trigger\", COUNT(*), COUNT(DISTINCT upstream_run_id), "
                                       "COUNT(DISTINCT schedule_id) FROM workflow_schedule_runs GROUP BY \"trigger\" "
                                       "ORDER BY \"trigger\"")
        assert rows == [("after", UPSTREAMS, UPSTREAMS, UPSTREAMS), ("manual", UPSTREAMS, 0, UPSTREAMS)], rows
        by_replica = dict(db_rows(fresh_postgres, "SELECT claimed_by, COUNT(*) FROM workflow_schedule_runs "
                                                  "WHERE \"trigger\" = 'after' GROUP BY claimed_by"))
        assert sorted(by_replica.values()) == [UPSTREAMS // 2, UPSTREAMS // 2], by_replica
        statuses = dict(db_rows(fresh_postgres, "SELECT status, COUNT(*) FROM workflow_schedule_runs GROUP BY status"))
        assert statuses == {"completed": 2 * UPSTREAMS}
