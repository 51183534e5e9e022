"""Workflows, documented and runnable from any trigger.

* /openapi.json (and /docs) describe every built-in action's fields, and POST /api/v1/execute;
* `trigger` has one shape for every kind of run, so the README's hello workflow completes when
  executed through the API, run by hand, and fired by its schedule;
* a typo in a template fails the step naming the keys `trigger` does have;
* docs/workflows.md covers every action and every trigger key.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from quart import Quart

from workflow_core_module.app import create_app
from workflow_core_module.clock import ManualClock
from workflow_core_module.db.database import Database
from workflow_core_module.engine.actions import StepContext
from workflow_core_module.engine.steps import STEP_MODELS
from workflow_core_module.scheduling.trigger import TRIGGER_KEYS

from .conftest import add_workflow, make_settings
from .harness import Scheduler
from .processes import ROOT


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """SQLite only. What is checked here (the documentation, the action schemas, trigger keys) is the same whatever
    the database; runs are stored like any other (tested on both databases elsewhere)."""
    return sqlite_url


ADMIN = {"X-API-Key": "admin-secret"}

# What the issue asks each built-in action to document (besides `action` and `label`).
ACTION_FIELDS = {
    "http_request": {"url", "method", "headers", "body", "timeout_seconds"},
    "log": {"message"},
    "delay": {"seconds"},
    "command": {"name"},
    "chat_message": {"message", "entity_id", "platform", "community_id"},
}


def readme_hello_steps() -> list[dict[str, Any]]:
    """The steps of the README's hello workflow, as the README's curl line sends them."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r'\\"name\\": \\"hello-\$RUN\\", \\"steps\\": (\[.*?\])}"', text)
    assert found, "the README's hello workflow is not where this test looks for it"
    steps: list[dict[str, Any]] = json.loads(found.group(1).replace('\\"', '"'))
    return steps


class Record:
    """A custom action (registered from Python) that keeps the trigger each run's steps saw."""

    def __init__(self) -> None:
        self.triggers: list[dict[str, Any]] = []

    async def __call__(self, params: dict[str, Any], context: StepContext) -> dict[str, Any]:
        self.triggers.append(dict(context.trigger))
        return {}


@pytest.fixture
async def app(database: Database, tmp_path: Path) -> AsyncIterator[Quart]:
    """The app on an empty database (conftest's `database`, emptied before the app starts and
    again after it stopped, never under its scheduler: see conftest._truncate)."""
    commands = tmp_path / "commands.yaml"
    commands.write_text("backup: [\"true\"]\n", encoding="utf-8")
    settings = make_settings(database.url, admin_api_key="admin-secret", log_level="WARNING",
                             commands_file=str(commands))
    application = create_app(settings)
    async with application.test_app():
        yield application


@pytest.fixture
def client(app: Quart) -> Any:
    return app.test_client()


async def call(client: Any, method: str, path: str, body: Any = None, expect: int | None = None) -> Any:
    response = await getattr(client, method)(path, headers=ADMIN, **({} if body is None else {"json": body}))
    data = await response.get_json()
    if expect is not None:
        assert response.status_code == expect, (response.status_code, data)
    return data


async def ended(client: Any, execution_id: str, timeout_seconds: float = 10.0) -> dict[str, Any]:
    """The execution, once every run and execution the app started has ended and is recorded."""
    runtime = client.app.extensions["runtime"]
    async with asyncio.timeout(timeout_seconds):
        await runtime.scheduler.dispatcher.idle()
        await runtime.workflows.idle()
    execution: dict[str, Any] = await call(client, "get", f"/api/v1/executions/{execution_id}", expect=200)
    assert execution["status"] not in ("queued", "running"), execution
    return execution


async def spec(client: Any) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    data: dict[str, Any] = await response.get_json()
    return data


# ---- the description -------------------------------------------------------------------------------

async def test_openapi_documents_every_built_in_action(client: Any, app: Quart) -> None:
    document = await spec(client)
    components = document["components"]["schemas"]
    create = document["paths"]["/api/v1/workflows"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    items = create["properties"]["steps"]["items"]
    mapping = {name: ref.rsplit("/", 1)[-1] for name, ref in items["discriminator"]["mapping"].items()}
    assert items["discriminator"]["propertyName"] == "action"
    assert set(mapping) == set(ACTION_FIELDS) == set(STEP_MODELS)
    # the engine's own built-in actions are exactly the documented ones
    assert set(app.extensions["runtime"].engine.action_names) == set(ACTION_FIELDS)
    for action, fields in ACTION_FIELDS.items():
        schema = components[mapping[action]]
        properties = schema["properties"]
        assert set(properties) == fields | {"action", "label"}, action
        assert properties["action"]["enum"] == [action]
        for name, prop in properties.items():
            assert prop.get("description", "").strip(), f"{action}.{name} has no description"
            assert "type" in prop or "anyOf" in prop or name == "body", f"{action}.{name} has no type"
        for name, prop in properties.items():
            if prop.get("default") is not None:  # /docs shows descriptions: the default is said there too
                assert f"Default: {json.dumps(prop['default'])}" in prop["description"], f"{action}.{name}"
    http = components[mapping["http_request"]]
    assert http["required"] == ["action", "url"]
    assert http["properties"]["method"]["default"] == "GET"
    assert http["properties"]["timeout_seconds"]["maximum"] == 300
    assert components[mapping["delay"]]["properties"]["seconds"]["maximum"] == 24 * 3600
    assert components[mapping["command"]]["additionalProperties"] is False  # no arguments from the API
    assert set(components[mapping["chat_message"]]["required"]) == {"action", "message", "entity_id", "platform"}
    # the answers describe steps the same way
    out = components["WorkflowOut"]["properties"]["steps"]["items"]
    assert out["discriminator"]["mapping"] == items["discriminator"]["mapping"]
    page = (await (await client.get("/docs")).get_data()).decode()
    for action, fields in ACTION_FIELDS.items():
        assert f"id='{mapping[action]}'" in page
        assert all(f"<code>{name}</code>" in page for name in fields)
    assert "Default: &quot;GET&quot;" in page


async def test_openapi_documents_the_routers_execute(client: Any) -> None:
    document = await spec(client)
    operation = document["paths"]["/api/v1/execute"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["required"]) == {"command", "community_id"}
    assert {"command", "args", "user_id", "entity_id", "community_id", "session_id", "message", "username",
            "platform", "user_roles", "metadata"} <= set(body["properties"])
    assert body["additionalProperties"] is True  # the router's extra fields are accepted
    assert {p.get("type") for p in body["properties"]["community_id"]["anyOf"]} == {"integer", "string"}
    reply = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(reply["properties"]) == {"success", "data"}
    data = document["components"]["schemas"][reply["properties"]["data"]["$ref"].rsplit("/", 1)[-1]]
    assert set(data["properties"]) == {"session_id", "response_action", "response_data"}
    assert {"400", "401", "403"} <= set(operation["responses"])
    page = (await (await client.get("/docs")).get_data()).decode()
    assert "<code>/api/v1/execute</code>" in page and "RouterCommand" in page


async def test_every_documented_example_is_a_valid_step(client: Any) -> None:
    for action, model in STEP_MODELS.items():
        assert model.example is not None and model.example["action"] == action
        model.model_validate(model.example)
        await call(client, "post", "/api/v1/workflows", {"name": f"example-{action}", "steps": [model.example]},
                   expect=201)


async def test_the_engine_still_checks_steps_and_names_their_fields(client: Any) -> None:
    error = await call(client, "post", "/api/v1/workflows",
                       {"name": "bad", "steps": [{"action": "log", "message": "ok"},
                                                 {"action": "delay", "seconds": "soon"},
                                                 {"action": "http_request", "url": "http://example.org",
                                                  "method": "BREW"}]}, expect=400)
    assert set(error["error"]["details"]) == {"steps[1].seconds", "steps[2].method"}
    # fields the documentation does not list are still accepted where they were before
    await call(client, "post", "/api/v1/workflows",
               {"name": "extra", "steps": [{"action": "log", "message": "hi", "note": "kept"}]}, expect=201)


async def test_an_action_registered_in_python_is_accepted_beside_the_documented_ones(client: Any, app: Quart) -> None:
    record = Record()
    app.extensions["runtime"].engine.register_action("record", record)
    created = await call(client, "post", "/api/v1/workflows", {"name": "custom", "steps": [{"action": "record",
                                                                                           "anything": 1}]},
                         expect=201)
    started = await call(client, "post", f"/api/v1/workflows/{created['workflow_id']}/execute", expect=202)
    assert (await ended(client, started["execution_id"]))["status"] == "completed"
    assert len(record.triggers) == 1


# ---- one trigger shape ---------------------------------------------------------------------------

async def test_the_readme_hello_workflow_runs_when_executed_and_run_by_hand(client: Any, app: Quart) -> None:
    steps = readme_hello_steps()
    assert steps[0]["action"] == "log"
    wf = (await call(client, "post", "/api/v1/workflows", {"name": "hello", "steps": steps}, expect=201))["workflow_id"]
    started = await call(client, "post", f"/api/v1/workflows/{wf}/execute", expect=202)
    execution = await ended(client, started["execution_id"])
    assert execution["status"] == "completed", execution
    assert execution["step_results"][0]["output"]["message"] == f"hello from api, execution {started['execution_id']}"

    schedule = await call(client, "post", "/api/v1/schedules", {"workflow_id": wf, "name": "every-minute",
                                                                "schedule_type": "interval", "interval_seconds": 60},
                          expect=201)
    run = await call(client, "post", f"/api/v1/schedules/{schedule['schedule_id']}/run", expect=202)
    execution = await ended(client, run["execution_id"])
    assert execution["status"] == "completed", execution
    assert execution["step_results"][0]["output"]["message"] == f"hello from manual, execution {run['execution_id']}"


async def test_the_readme_hello_workflow_runs_when_its_schedule_fires(database: Database, clock: ManualClock) -> None:
    """On the harness (real database, engine and loop; a manual clock), with a step that records
    what `trigger` held."""
    sched = Scheduler(database, make_settings(database.url), clock)
    sched.attach_loop()
    try:
        wf = await add_workflow(database, steps=[*readme_hello_steps(), {"action": "record"}])
        schedule = await sched.service.add_schedule({"workflow_id": wf, "name": "every-minute",
                                                     "schedule_type": "interval", "interval_seconds": 60})
        assert (await sched.tick(60)).fired == 1
        [run] = await sched.runs(schedule.schedule_id)
        assert run.status == "completed", run
        execution = await sched.engine.store.get_execution(run.execution_id)
        assert execution.status == "completed"
        assert execution.step_results[0]["output"]["message"] == f"hello from schedule, execution {run.execution_id}"
        [trigger] = sched.recorder.calls
        assert list(trigger) == list(TRIGGER_KEYS)
        assert trigger == {
            "trigger": "schedule", "schedule_id": schedule.schedule_id, "run_id": run.run_id,
            "execution_id": run.execution_id, "scheduled_for": "2026-11-22T12:01:00Z",
            "fired_at": "2026-11-22T12:01:00Z", "attempt": 1, "requested_by": None, "context_data": {},
            "trigger_source": None, "session_id": None, "entity_id": None, "user_id": None, "platform": None,
            "upstream": None,
        }
    finally:
        await sched.close()


async def test_the_old_readme_template_runs_from_any_trigger(client: Any) -> None:
    """`{{ trigger.schedule_id }}` (the README's template before) failed when executed: the key was missing."""
    wf = (await call(client, "post", "/api/v1/workflows",
                     {"name": "old", "steps": [{"action": "log", "message": "hello from {{ trigger.schedule_id }}"}]},
                     expect=201))["workflow_id"]
    started = await call(client, "post", f"/api/v1/workflows/{wf}/execute", expect=202)
    execution = await ended(client, started["execution_id"])
    assert execution["status"] == "completed", execution
    assert execution["step_results"][0]["output"]["message"] == "hello from None"


async def test_an_api_run_and_a_manual_run_have_every_trigger_key(client: Any, app: Quart) -> None:
    record = Record()
    app.extensions["runtime"].engine.register_action("record", record)
    wf = (await call(client, "post", "/api/v1/workflows", {"name": "rec", "steps": [{"action": "record"}]},
                     expect=201))["workflow_id"]
    router = {"trigger_source": "command", "session_id": "sess_1", "entity_id": "chan", "user_id": "u1",
              "platform": "twitch", "context_data": {"a": 1}}
    started = await call(client, "post", f"/api/v1/workflows/{wf}/execute", router, expect=202)
    await ended(client, started["execution_id"])
    schedule = await call(client, "post", "/api/v1/schedules", {"workflow_id": wf, "name": "hourly",
                                                                "schedule_type": "interval", "interval_seconds": 3600,
                                                                "context_data": {"b": 2}}, expect=201)
    run = await call(client, "post", f"/api/v1/schedules/{schedule['schedule_id']}/run", expect=202)
    await ended(client, run["execution_id"])
    api, manual = record.triggers
    assert list(api) == list(manual) == list(TRIGGER_KEYS)
    assert api == {
        "trigger": "api", "schedule_id": None, "run_id": None, "execution_id": started["execution_id"],
        "scheduled_for": None, "fired_at": api["fired_at"], "attempt": 1, "requested_by": "admin",
        "context_data": {"a": 1}, "trigger_source": "command", "session_id": "sess_1", "entity_id": "chan",
        "user_id": "u1", "platform": "twitch", "upstream": None,
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", api["fired_at"])
    assert manual == {
        "trigger": "manual", "schedule_id": schedule["schedule_id"], "run_id": run["run_id"],
        "execution_id": run["execution_id"], "scheduled_for": manual["fired_at"], "fired_at": manual["fired_at"],
        "attempt": 1, "requested_by": None, "context_data": {"b": 2}, "trigger_source": None, "session_id": None,
        "entity_id": None, "user_id": None, "platform": None, "upstream": None,
    }


async def test_a_template_typo_fails_the_step_naming_the_known_trigger_keys(client: Any) -> None:
    wf = (await call(client, "post", "/api/v1/workflows",
                     {"name": "typo", "steps": [{"action": "log", "message": "hello from {{ trigger.schedul_id }}"}]},
                     expect=201))["workflow_id"]
    started = await call(client, "post", f"/api/v1/workflows/{wf}/execute", expect=202)
    execution = await ended(client, started["execution_id"])
    assert execution["status"] == "failed"
    error = execution["step_results"][0]["error"]
    assert "trigger has no key 'schedul_id'" in error
    listed = error.split("its keys are: ", 1)[1]
    assert listed.split(", ") == list(TRIGGER_KEYS)
    assert execution["error"].startswith("step 0 (log) failed: ")


async def test_an_unknown_trigger_key_is_still_undefined_for_tests_and_defaults(client: Any) -> None:
    message = ("{{ trigger.nope is defined }} {{ trigger.nope | default('d') }} {{ trigger['nope'] is defined }} "
               "{{ trigger.trigger }}")
    wf = (await call(client, "post", "/api/v1/workflows", {"name": "defined", "steps": [
        {"action": "log", "message": message}]}, expect=201))["workflow_id"]
    started = await call(client, "post", f"/api/v1/workflows/{wf}/execute", expect=202)
    execution = await ended(client, started["execution_id"])
    assert execution["status"] == "completed", execution
    assert execution["step_results"][0]["output"]["message"] == "False d False api"


# ---- the written documentation ---------------------------------------------------------------------

def test_docs_workflows_covers_every_action_field_and_trigger_key() -> None:
    text = (ROOT / "docs" / "workflows.md").read_text(encoding="utf-8")
    for action, fields in ACTION_FIELDS.items():
        assert f"`{action}`" in text, action
        assert all(f"`{name}`" in text for name in fields), action
    for key in TRIGGER_KEYS:
        assert f"`{key}`" in text, key
    assert "security.md" in text and "templates.py" in text
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/workflows.md)" in readme
