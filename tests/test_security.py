"""An attacker with an ordinary community key against a real `serve` (DESIGN.md, "Trust boundaries").

Each test does what a hostile community key holder would try and checks what now happens: the
step fails or the request answers 400, the service stays responsive, nothing leaves for an
internal address, and nothing reaches another community.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import stat
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .processes import ROOT, ServeProcess, http_json
from .sink import HttpSink

ADMIN = "admin-secret"
SIGNING_SECRET = "whsec-test-secret"
CANARY = "canary-value-that-must-not-leak"


def cli_key(db_url: str, name: str, community: str | None, cwd: Path) -> str:
    args = ["keys", "create", "--name", name] + (["--community", community] if community else [])
    env = {**os.environ, "DATABASE_URL": db_url, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
    done = subprocess.run([sys.executable, "-m", "workflow_core_module", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@dataclass
class Service:
    server: ServeProcess
    router: HttpSink
    db_path: Path
    red: str
    blue: str
    admin: str = ADMIN
    workflows: dict[str, str] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return self.server.url + "/api/v1"

    def call(self, method: str, path: str, key: str, body: Any = None) -> tuple[int, Any]:
        return http_json(method, self.api + path, key, body)

    def workflow(self, key: str, name: str, steps: list[dict[str, Any]], expect: int = 201) -> Any:
        status, data = self.call("POST", "/workflows", key, {"name": name, "steps": steps})
        assert status == expect, data
        return data

    def execute(self, key: str, workflow_id: str, context: dict[str, Any] | None = None,
                timeout: float = 20.0) -> dict[str, Any]:
        """Run a workflow and wait for its execution to end."""
        status, started = self.call("POST", f"/workflows/{workflow_id}/execute", key,
                                    {"context_data": context or {}})
        assert status == 202, started
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, execution = self.call("GET", f"/executions/{started['execution_id']}", key)
            assert status == 200, execution
            if execution["status"] not in ("queued", "running"):
                return dict(execution)
            time.sleep(0.02)
        raise TimeoutError(f"execution {started['execution_id']} did not end")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("security")
    db_path = tmp / "storage" / "security.sqlite"
    db_url = f"sqlite://{db_path}"
    commands = tmp / "commands.yaml"
    commands.write_text(json.dumps({"show-env": {"argv": ["env"], "env": {"GREETING": "hello"}}}))
    red = cli_key(db_url, "red-bot", "red", tmp)
    blue = cli_key(db_url, "blue-bot", "blue", tmp)
    with HttpSink() as router:
        env = {"DATABASE_URL": db_url, "ADMIN_API_KEY": ADMIN, "MIN_INTERVAL_SECONDS": "1",
               "COMMANDS_FILE": str(commands), "CHAT_MESSAGE_URL": router.url + "/send",
               "WEBHOOK_SIGNING_SECRET": SIGNING_SECRET, "SECURITY_TEST_CANARY": CANARY, "LOG_LEVEL": "WARNING",
               "OUTBOUND_ALLOWLIST": "", "WORKFLOW_RETRY_BASE_SECONDS": "0.05"}
        with ServeProcess(env, cwd=tmp) as server:
            yield Service(server, router, db_path, red, blue)


class HealthProbe:
    """Asks GET /health over and over from a thread; records how long each answer took."""

    def __init__(self, url: str) -> None:
        self.url = url + "/health"
        self.samples: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    response.read()
                self.samples.append(time.perf_counter() - began)
            except (urllib.error.URLError, OSError) as exc:
                self.failures.append(repr(exc))
            time.sleep(0.01)

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(10)

    def collect(self, count: int, timeout: float = 20.0) -> None:
        """Keep sampling until `count` answers were seen (it samples about every 12 ms)."""
        deadline = time.monotonic() + timeout
        while len(self.samples) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    def assert_fast(self, limit_seconds: float = 0.1, min_samples: int = 20) -> None:
        """Most answers (95 %) within `limit_seconds` and none over five times it.

        What this guards against is work on the event loop (a template, a preview), which holds
        every answer for seconds; a single answer a little over the limit is this shared machine's
        scheduler, not the service, and fails nothing.
        """
        assert not self.failures, self.failures[:3]
        assert len(self.samples) >= min_samples, f"only {len(self.samples)} /health samples"
        ordered = sorted(self.samples)
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        slow = [round(s * 1000, 1) for s in self.samples if s > limit_seconds]
        summary = (f"/health over {limit_seconds * 1000:.0f} ms {len(slow)} times of {len(self.samples)}: "
                   f"{slow[:10]} ms (median {statistics.median(self.samples) * 1000:.1f} ms, "
                   f"p95 {p95 * 1000:.1f} ms)")
        assert p95 <= limit_seconds, summary
        assert ordered[-1] <= 5 * limit_seconds, summary


# ---- 1. templates cannot freeze the service ------------------------------------------------------

HOSTILE_TEMPLATES = [
    "{{ (10 ** 20000000) > 5 }}",
    "{{ 'x' * 10**9 }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
    "{{ 'x'.ljust(10**8) }}",
    "{{ 'x'|center(100000000) }}",
    "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(40) }}",
    "{% set s = 'x' * 60000 %}{{ s|replace('x', s) }}",
    "{{ 9 ** (9 ** 9) }}",
]


@pytest.mark.parametrize("template", HOSTILE_TEMPLATES)
def test_a_hostile_template_fails_its_step_and_health_stays_fast(service: Service, template: str) -> None:
    with HealthProbe(service.server.url) as probe:
        began = time.perf_counter()
        status, data = service.call("POST", "/workflows", service.red,
                                    {"name": f"t-{hashlib.sha1(template.encode()).hexdigest()[:10]}",
                                     "steps": [{"action": "log", "message": template}]})
        created_in = time.perf_counter() - began
        if status == 400:  # refused at creation: it could be seen to be hostile
            assert "steps[0].message" in data["error"]["details"], data
        else:
            assert status == 201, data
            execution = service.execute(service.red, data["workflow_id"])
            assert execution["status"] == "failed", execution
            step = execution["step_results"][0]
            assert step["status"] == "failed" and "template" in step["error"], step
        probe.collect(len(probe.samples) + 20)  # and keep sampling a little after the attempt
    assert created_in < 1.0, f"creating the workflow took {created_in:.2f} s"
    probe.assert_fast()


def test_a_workflow_full_of_heavy_templates_is_refused_without_stalling(service: Service) -> None:
    heavy = "{{ " + " + ".join(["trigger.a"] * 150) + " }}"  # near the per-field token cap
    steps = [{"action": "log", "message": heavy, "extra": [heavy] * 2} for _ in range(34)]  # 102 templates
    with HealthProbe(service.server.url) as probe:
        status, data = service.call("POST", "/workflows", service.red, {"name": "heavy", "steps": steps})
        probe.collect(len(probe.samples) + 20)
    assert status == 400 and "at most 100 template fields" in data["error"]["details"]["steps"], data
    probe.assert_fast(min_samples=10)
    # templates inside lists are checked too
    status, data = service.call("POST", "/workflows", service.red, {"name": "in-list", "steps": [
        {"action": "http_request", "url": "https://example.com/", "body": {"items": ["ok", "{{ unclosed"]}}]})
    assert status == 400 and "steps[0].body.items[1]" in data["error"]["details"], data


# ---- 2. outbound requests: never to internal addresses ---------------------------------------------

INTERNAL_URLS = [
    "http://127.0.0.1:8080/metrics", "http://localhost:8080/", "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/", "http://192.168.1.1/", "http://[::1]:8080/", "http://0.0.0.0:8080/",
    "http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/", "http://127.1/", "http://100.64.0.1/",
    "http://[::ffff:127.0.0.1]/", "http://[fe80::1]/", "http://224.0.0.1/", "http://user:pass@example.com/",
    "ftp://example.com/", "file:///etc/passwd",
]


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_internal_url_refused_at_creation(service: Service, url: str) -> None:
    status, data = service.call("POST", "/workflows", service.red,
                                {"name": "ssrf", "steps": [{"action": "http_request", "url": url}]})
    assert status == 400, data
    assert "steps[0].url" in data["error"]["details"], data


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://10.1.2.3/x", "http://localhost/x"])
def test_internal_callback_url_refused(service: Service, url: str) -> None:
    wf = service.workflow(service.red, f"cb-{abs(hash(url))}", [{"action": "log", "message": "hi"}])
    status, data = service.call("POST", "/schedules", service.red, {
        "workflow_id": wf["workflow_id"], "name": f"cb-{abs(hash(url))}", "schedule_type": "interval",
        "interval_seconds": 3600, "callback_url": url})
    assert status == 400 and "callback_url" in data["error"]["details"], data


def test_templated_and_dns_named_internal_targets_fail_at_run_time_with_nothing_sent(service: Service) -> None:
    with HttpSink() as target:
        port = target.url.rsplit(":", 1)[1]
        wf = service.workflow(service.red, "ssrf-runtime", [
            {"action": "http_request", "url": "http://{{ trigger.context_data.host }}:" + port + "/steal"}])
        for host in ("127.0.0.1", "localhost", "2130706433", "[::ffff:127.0.0.1]"):
            execution = service.execute(service.red, wf["workflow_id"], {"host": host})
            assert execution["status"] == "failed", execution
            error = execution["step_results"][0]["error"]
            assert "refused" in error and "nothing was sent" in error, error
        # the service's own API, reached through a template
        wf2 = service.workflow(service.red, "ssrf-self", [
            {"action": "http_request", "url": "{{ trigger.context_data.url }}"}])
        execution = service.execute(service.red, wf2["workflow_id"], {"url": service.server.url + "/metrics"})
        assert execution["status"] == "failed" and "refused" in execution["step_results"][0]["error"]
        assert "workflow_core" not in json.dumps(execution["step_results"])  # no metrics text read back
        assert target.received == []


# ---- 3. no speaking for another community ---------------------------------------------------------

def test_chat_message_cannot_name_another_community(service: Service) -> None:
    status, data = service.call("POST", "/workflows", service.red, {"name": "to-blue", "steps": [
        {"action": "chat_message", "message": "hi", "community_id": "blue", "entity_id": "e", "platform": "discord"}]})
    assert status == 400 and "steps[0].community_id" in data["error"]["details"], data


def test_chat_message_goes_to_the_schedules_own_community_whatever_its_context_says(service: Service) -> None:
    before = len(service.router.received)
    wf = service.workflow(service.red, "say-red", [{
        "action": "chat_message", "message": "{{ trigger.context_data.message }}",
        "community_id": "{{ trigger.context_data.community_id }}",
        "entity_id": "{{ trigger.context_data.entity_id }}", "platform": "discord"}])
    status, schedule = service.call("POST", "/schedules", service.red, {
        "workflow_id": wf["workflow_id"], "name": "say-red", "schedule_type": "interval", "interval_seconds": 3600,
        "context_data": {"message": "hello red", "community_id": "red", "entity_id": "chan-1"}})
    assert status == 201, schedule
    sid = schedule["schedule_id"]
    run = _run_now(service, sid, service.red)
    assert run["status"] == "completed", run
    posts = [r.json() for r in service.router.wait_for(before + 1)[before:]]
    assert posts == [{"community_id": "red", "entity_id": "chan-1", "platform": "discord", "message": "hello red"}]

    # The attacker edits the schedule's context to point at blue, and runs it again.
    status, _ = service.call("PATCH", f"/schedules/{sid}", service.red,
                             {"context_data": {"message": "hello blue", "community_id": "blue", "entity_id": "x"}})
    assert status == 200
    run = _run_now(service, sid, service.red)
    assert run["status"] == "failed" and "may not post into 'blue'" in run["error"], run
    # And a workflow without community_id posts into red, whatever its context says.
    wf_plain = service.workflow(service.red, "say-plain", [{
        "action": "chat_message", "message": "plain", "entity_id": "e", "platform": "discord"}])
    execution = service.execute(service.red, wf_plain["workflow_id"], {"community_id": "blue"})
    assert execution["status"] == "completed", execution
    posts = [r.json() for r in service.router.wait_for(before + 2)[before:]]
    assert [p["community_id"] for p in posts] == ["red", "red"]
    assert all(p["community_id"] != "blue" for p in (r.json() for r in service.router.received))


def _run_now(service: Service, schedule_id: str, key: str) -> dict[str, Any]:
    status, started = service.call("POST", f"/schedules/{schedule_id}/run", key)
    assert status == 202, started
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status, history = service.call("GET", f"/schedules/{schedule_id}/history", key)
        run = next(r for r in history["items"] if r["run_id"] == started["run_id"])
        if run["status"] not in ("queued", "running"):
            return dict(run)
        time.sleep(0.02)
    raise TimeoutError("the run did not end")


def test_a_community_key_sees_only_its_own_scheduler_status(service: Service) -> None:
    service.workflow(service.blue, "blue-only", [{"action": "log", "message": "hi"}])
    status, mine = service.call("GET", "/schedules/status", service.blue)
    assert status == 200, mine
    assert set(mine) == {"running", "last_pass_at", "lag_seconds", "active_schedules", "next_due", "next_runs",
                         "recent_failures", "maintenance"}
    assert service.call("POST", "/scheduler/pause", service.blue, {"reason": "mine"})[0] == 403
    assert service.call("POST", "/scheduler/pause", service.admin, {"reason": "upgrade"})[0] == 200
    try:
        _, paused = service.call("GET", "/schedules/status", service.blue)
        # which operator key paused everything is not a community's business; that and why it is, is
        assert (paused["maintenance"]["paused"], paused["maintenance"]["by"]) == (True, None)
        assert paused["maintenance"]["reason"] == "upgrade"
    finally:
        assert service.call("POST", "/scheduler/resume", service.admin)[0] == 200
    text = json.dumps(mine)
    assert "pid" not in text and "host" not in text and "replica" not in text
    assert mine["active_schedules"] == 0  # red's schedules are not counted
    assert mine["next_due"] is None and mine["next_runs"] == []  # nor listed among the next runs
    status, everything = service.call("GET", "/schedules/status", service.admin)
    assert status == 200 and everything["replicas"] and everything["replicas"][0]["pid"] == service.server.process.pid


# ---- 4. commands ------------------------------------------------------------------------------------

def test_a_command_runs_with_a_minimal_environment(service: Service) -> None:
    wf = service.workflow(service.admin, "show-env", [{"action": "command", "name": "show-env"}])
    execution = service.execute(service.admin, wf["workflow_id"])
    assert execution["status"] == "completed", execution
    variables = dict(line.split("=", 1) for line in execution["step_results"][0]["output"]["stdout"].splitlines()
                     if "=" in line)
    assert variables.get("GREETING") == "hello"
    assert "PATH" in variables
    assert CANARY not in json.dumps(variables)
    assert not {"ADMIN_API_KEY", "DATABASE_URL", "WEBHOOK_SIGNING_SECRET", "SECURITY_TEST_CANARY"} & set(variables)
    assert set(variables) <= {"PATH", "LANG", "HOME", "GREETING", "PWD"}


def test_command_names_are_not_listed_to_a_community_key(service: Service) -> None:
    status, data = service.call("POST", "/workflows", service.red,
                                {"name": "guess", "steps": [{"action": "command", "name": "rm-everything"}]})
    assert status == 400 and "show-env" not in json.dumps(data), data
    status, data = service.call("POST", "/workflows", service.admin,
                                {"name": "guess", "steps": [{"action": "command", "name": "rm-everything"}]})
    assert status == 400 and "show-env" in json.dumps(data), data


# ---- 5. bad input: 400 naming the field, never a 500 ----------------------------------------------

def _raw(service: Service, method: str, path: str, key: str, raw: str) -> tuple[int, Any]:
    request = urllib.request.Request(service.api + path, data=raw.encode(), method=method,
                                     headers={"X-API-Key": key, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.mark.parametrize(("raw", "field"), [
    ('{"name": "sur\\ud800x", "steps": [{"action": "log", "message": "hi"}]}', "name"),
    ('{"name": "ok", "steps": [{"action": "log", "message": "a\\udfffb"}]}', "steps[0].message"),
    ('{"name": "ok", "steps": [{"action": "log", "message": "hi", "\\ud800": 1}]}', "steps[0]"),
    ('{"name": "nul\\u0000x", "steps": [{"action": "log", "message": "hi"}]}', "name"),
    ('{"name": "ok", "steps": [{"action": "log", "message": "hi", "x\\u0000": 1}]}', "steps[0]"),
    ('{"name": "deep", "steps": [{"action": "log", "message": "hi", "x": ' + '[' * 40 + ']' * 40 + '}]}',
     "steps[0].x"),
    ('{"name": "deeper", "steps": ' + '[' * 5000 + ']' * 5000 + '}', "steps"),
])
def test_unrepresentable_or_deep_json_is_a_400_naming_the_field(service: Service, raw: str, field: str) -> None:
    status, data = _raw(service, "POST", "/workflows", service.red, raw)
    assert status == 400, data
    [(where, _)] = data["error"]["details"].items()
    assert where.startswith(field), data


def test_deep_context_data_on_a_schedule_is_a_400(service: Service) -> None:
    deep = '{"a": ' * 5000 + "1" + "}" * 5000
    raw = ('{"workflow_id": "00000000-0000-0000-0000-000000000000", "name": "deep", "schedule_type": "interval", '
           '"interval_seconds": 60, "context_data": ' + deep + "}")
    status, data = _raw(service, "POST", "/schedules", service.red, raw)
    assert status == 400 and next(iter(data["error"]["details"])).startswith("context_data.a.a"), data


@pytest.mark.parametrize("headers", [{"X-Evil\r\nHost": "x"}, {"X-Ok": "a\r\nInjected: yes"}, {"Bad Name": "v"},
                                     {"X-Nul": "a\u0000b"}])
def test_crlf_in_headers_is_refused_at_creation(service: Service, headers: dict[str, str]) -> None:
    status, data = service.call("POST", "/workflows", service.red, {"name": "hdr", "steps": [
        {"action": "http_request", "url": "https://example.com/hook", "headers": headers}]})
    assert status == 400 and [k for k in data["error"]["details"] if k.startswith("steps[0].headers")], data


def test_a_long_id_is_not_echoed_back(service: Service) -> None:
    long_id = "x" * 10_000
    for path in (f"/schedules/{long_id}", f"/executions/{long_id}", f"/workflows/{long_id}"):
        request = urllib.request.Request(service.api + path, headers={"X-API-Key": service.red})
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=15)
        body = caught.value.read().decode()
        assert caught.value.code == 404 and "xxxxxxxxxx" not in body and len(body) < 500, body


# ---- 6. at rest and on the wire -------------------------------------------------------------------

def test_the_sqlite_files_are_owner_only(service: Service) -> None:
    files = [p for p in service.db_path.parent.iterdir() if p.name.startswith(service.db_path.name)]
    assert service.db_path in files and len(files) >= 2, files  # the database and its -wal / -shm
    for path in files:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path.name} is {oct(mode)}"


def test_execute_is_written_to_the_audit_log(service: Service) -> None:
    wf = service.workflow(service.red, "audited", [{"action": "log", "message": "hi"}])
    execution = service.execute(service.red, wf["workflow_id"])
    with sqlite3.connect(service.db_path) as db:
        rows = db.execute("SELECT actor, community_id, changes FROM audit_log WHERE action = 'workflow.execute' "
                          "AND entity_id = ?", (wf["workflow_id"],)).fetchall()
    assert [(r[0], r[1], json.loads(r[2])["execution_id"]) for r in rows] == \
        [("red-bot", "red", execution["execution_id"])]


def test_allowlisted_sink_works_and_callbacks_are_signed(tmp_path: Path) -> None:
    db_url = f"sqlite://{tmp_path}/allow.sqlite"
    with HttpSink() as sink:
        env = {"DATABASE_URL": db_url, "ADMIN_API_KEY": ADMIN, "MIN_INTERVAL_SECONDS": "1",
               "OUTBOUND_ALLOWLIST": "127.0.0.1", "WEBHOOK_SIGNING_SECRET": SIGNING_SECRET, "LOG_LEVEL": "WARNING"}
        with ServeProcess(env, cwd=tmp_path) as server:
            api = server.url + "/api/v1"
            status, wf = http_json("POST", api + "/workflows", ADMIN, {"name": "hook", "steps": [
                {"action": "http_request", "method": "POST", "url": sink.url + "/step", "body": {"n": 1}}]})
            assert status == 201, wf
            status, schedule = http_json("POST", api + "/schedules", ADMIN, {
                "workflow_id": wf["workflow_id"], "name": "hook", "schedule_type": "interval",
                "interval_seconds": 3600, "callback_url": sink.url + "/callback"})
            assert status == 201, schedule
            status, _ = http_json("POST", f"{api}/schedules/{schedule['schedule_id']}/run", ADMIN)
            assert status == 202
            received = sink.wait_for(2)
    step, callback = received
    assert step.path == "/step" and step.json() == {"n": 1}
    assert callback.path == "/callback" and callback.json()["status"] == "completed"
    timestamp = callback.headers["X-Webhook-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    expected = hmac.new(SIGNING_SECRET.encode(), timestamp.encode() + b"." + callback.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(callback.headers["X-Webhook-Signature"], f"sha256={expected}")
    forged = hmac.new(b"wrong", timestamp.encode() + b"." + callback.body, hashlib.sha256).hexdigest()
    assert callback.headers["X-Webhook-Signature"] != f"sha256={forged}"


# ---- 7. no request buys seconds of the loop -------------------------------------------------------

def test_previews_with_many_overlapping_schedules_do_not_delay_fires_or_health(tmp_path: Path) -> None:
    db_url = f"sqlite://{tmp_path}/preview.sqlite"
    env = {"DATABASE_URL": db_url, "ADMIN_API_KEY": ADMIN, "MIN_INTERVAL_SECONDS": "1", "LOG_LEVEL": "WARNING"}
    with ServeProcess(env, cwd=tmp_path) as server:
        api = server.url + "/api/v1"
        status, busy = http_json("POST", api + "/workflows", ADMIN, {"name": "busy", "steps": [
            {"action": "log", "message": "hi"}]})
        assert status == 201
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
        for i in range(200):  # every minute from tomorrow: 2,000 occurrences each in the 7-day window
            status, data = http_json("POST", api + "/schedules", ADMIN, {
                "workflow_id": busy["workflow_id"], "name": f"busy-{i}", "schedule_type": "cron",
                "cron_expression": f"{i % 60} * * * *" if i % 2 else "* * * * *", "start_date": start})
            assert status == 201, data
        status, beat = http_json("POST", api + "/workflows", ADMIN, {"name": "beat", "steps": [
            {"action": "log", "message": "beat"}]})
        status, heartbeat = http_json("POST", api + "/schedules", ADMIN, {
            "workflow_id": beat["workflow_id"], "name": "beat", "schedule_type": "interval", "interval_seconds": 1})
        assert status == 201, heartbeat
        previews: list[tuple[int, float, bool]] = []
        with HealthProbe(server.url) as probe:
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline:
                began = time.perf_counter()
                status, data = http_json("POST", api + "/schedules/preview", ADMIN, {
                    "workflow_id": busy["workflow_id"], "schedule_type": "cron", "cron_expression": "* * * * *"})
                previews.append((status, time.perf_counter() - began, data.get("overlaps_complete")))
        status, history = http_json("GET", f"{api}/schedules/{heartbeat['schedule_id']}/history?limit=100", ADMIN)
    assert {p[0] for p in previews} == {200}, previews[:3]
    assert len(previews) >= 3, previews
    assert previews[-1][2] is True, "later previews should see every schedule (minutes are remembered)"
    probe.assert_fast(0.1, min_samples=100)
    runs = history["items"]
    assert len(runs) >= 6, runs  # one a second over ~8 s of previews
    lags = [_seconds(r["fired_at"]) - _seconds(r["scheduled_for"]) for r in runs if r["fired_at"]]
    # Times are whole seconds and occurrences fall on whole seconds: a lag under 1 s reads as 0.
    assert max(lags) == 0, lags


def _seconds(text: str) -> int:
    return int(time.mktime(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")))
