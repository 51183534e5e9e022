"""WorkflowEngine: steps in order, templates, built-in actions against real endpoints and processes."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from workflow_core_module.db.database import Database
from workflow_core_module.db.workflow_store import WorkflowStore
from workflow_core_module.engine.actions import CommandsFileError, load_commands
from workflow_core_module.engine.engine import WorkflowEngine
from workflow_core_module.errors import Invalid, NotFound

from .conftest import add_workflow, make_settings
from .harness import until
from .sink import HttpSink


@pytest.fixture
def commands_file(tmp_path: Path) -> Path:
    path = tmp_path / "commands.yaml"
    path.write_text(
        "greet:\n"
        f"  argv: [{sys.executable!r}, '-c', 'import sys; print(\"hello\"); print(\"warn\", file=sys.stderr)']\n"
        "  timeout_seconds: 10\n"
        "fail:\n"
        f"  argv: [{sys.executable!r}, '-c', 'import sys; print(\"bad things\", file=sys.stderr); sys.exit(3)']\n"
        "slow:\n"
        f"  argv: [{sys.executable!r}, '-c', 'import time; time.sleep(30)']\n"
        "  timeout_seconds: 0.3\n"
    )
    return path


@pytest.fixture
async def engine(sqlite_database: Database, commands_file: Path) -> AsyncIterator[WorkflowEngine]:
    # The local sinks below are on 127.0.0.1, which the outbound policy refuses unless allowlisted.
    settings = make_settings(sqlite_database.url, commands_file=str(commands_file), workflow_timeout_seconds=5,
                             outbound_allowlist="127.0.0.1")
    eng = WorkflowEngine(sqlite_database, settings, store=WorkflowStore(sqlite_database))
    yield eng
    await eng.close()


async def run(engine: WorkflowEngine, steps: list[dict[str, Any]], trigger: dict[str, Any] | None = None) -> Any:
    wf = await add_workflow(engine.database, steps=steps)
    execution_id = await engine.execute_workflow(wf, trigger or {"trigger": "api"})
    return await engine.store.get_execution(execution_id)


async def test_http_request_receives_the_rendered_body(engine: WorkflowEngine) -> None:
    with HttpSink(reply={"id": 41}) as sink:
        execution = await run(engine, [
            {"action": "http_request", "method": "POST", "url": sink.url + "/hook/{{ trigger.context_data.channel }}",
             "headers": {"X-Schedule": "{{ trigger.schedule_id }}"},
             "body": {"text": "hi {{ trigger.context_data.channel }}", "n": 3, "nested": ["{{ trigger.run_id }}"]}},
            {"action": "http_request", "method": "PUT", "url": sink.url + "/next",
             "body": {"previous_status": "{{ steps[0].output.status_code }}", "id": "{{ steps[0].output.body.id }}"}},
        ], {"trigger": "schedule", "schedule_id": "s-1", "run_id": "r-9", "context_data": {"channel": "general"}})
        assert execution.status == "completed", execution.error
        first, second = sink.received
    assert (first.method, first.path) == ("POST", "/hook/general")
    assert first.json() == {"text": "hi general", "n": 3, "nested": ["r-9"]}
    assert first.headers["X-Schedule"] == "s-1"
    assert second.json() == {"previous_status": "200", "id": "41"}
    assert [r["status"] for r in execution.step_results] == ["completed", "completed"]
    assert execution.step_results[0]["output"] == {"status_code": 200, "body": {"id": 41}}
    assert execution.duration_ms is not None and execution.started_at and execution.finished_at


async def test_http_error_status_fails_the_step_readably(engine: WorkflowEngine) -> None:
    with HttpSink(status=503, reply={"error": "down"}) as sink:
        execution = await run(engine, [{"action": "http_request", "url": sink.url + "/x"}, {"action": "log", "message": "never"}])
    assert execution.status == "failed"
    assert "step 0 (http_request) failed: GET" in execution.error and "answered 503" in execution.error
    assert len(execution.step_results) == 1


async def test_connection_refused_fails_readably(engine: WorkflowEngine) -> None:
    execution = await run(engine, [{"action": "http_request", "url": "http://127.0.0.1:9/nothing", "timeout_seconds": 2}])
    assert execution.status == "failed" and "ConnectError" in execution.error


async def test_missing_template_value_fails_instead_of_sending_blank(engine: WorkflowEngine) -> None:
    execution = await run(engine, [{"action": "log", "message": "to {{ trigger.context_data.channel }}"}],
                          {"trigger": "api", "context_data": {}})
    assert execution.status == "failed" and "channel" in execution.error


async def test_sandbox_refuses_unsafe_templates(engine: WorkflowEngine) -> None:
    execution = await run(engine, [{"action": "log", "message": "{{ ''.__class__.__mro__ }}"}])
    assert execution.status == "failed" and "unsafe" in execution.error.lower()


async def test_command_from_the_allowlist(engine: WorkflowEngine) -> None:
    execution = await run(engine, [{"action": "command", "name": "greet"}])
    assert execution.status == "completed"
    assert execution.step_results[0]["output"] == {"exit_code": 0, "stdout": "hello\n", "stderr": "warn\n"}
    failed = await run(engine, [{"action": "command", "name": "fail"}])
    assert failed.status == "failed" and "exited with 3" in failed.error and "bad things" in failed.error
    assert failed.step_results[0]["output"]["exit_code"] == 3
    slow = await run(engine, [{"action": "command", "name": "slow"}])
    assert slow.status == "failed" and "timed out after 0.3 s" in slow.error


async def test_workflow_timeout(engine: WorkflowEngine) -> None:
    wf = await add_workflow(engine.database, steps=[{"action": "delay", "seconds": 10}])
    outcome = await engine.run(wf, {"trigger": "api"}, timeout_seconds=0.2)
    assert outcome.status == "timed_out"
    execution = await engine.store.get_execution(outcome.execution_id)
    assert execution.status == "timed_out" and execution.step_results[0]["status"] == "interrupted"


async def test_unknown_workflow_is_a_recorded_failure(engine: WorkflowEngine) -> None:
    execution_id = await engine.execute_workflow("00000000-0000-4000-8000-000000000000", {"trigger": "api"})
    execution = await engine.store.get_execution(execution_id)
    assert execution.status == "failed" and "does not exist" in execution.error


async def test_custom_actions_and_cancellation(engine: WorkflowEngine) -> None:
    seen: list[int] = []

    async def double(params: dict[str, Any], context: Any) -> int:
        seen.append(params["n"])
        return params["n"] * 2

    engine.register_action("double", double)
    execution = await run(engine, [{"action": "double", "n": 21}, {"action": "log", "message": "{{ steps[0].output }}"}])
    assert execution.step_results[1]["output"] == {"message": "42"} and seen == [21]
    wf = await add_workflow(engine.database, steps=[{"action": "delay", "seconds": 30}])
    task = asyncio.create_task(engine.run(wf, {"trigger": "api"}, execution_id="cancel-me"))

    async def running() -> bool:
        try:
            return (await engine.store.get_execution("cancel-me")).status == "running"
        except NotFound:
            return False

    await until(running, what="the execution to be running its delay step")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await engine.store.get_execution("cancel-me")).status == "cancelled"


@pytest.mark.parametrize(
    ("steps", "field", "fragment"),
    [
        ([], "steps", "non-empty list"),
        ("log", "steps", "non-empty list"),
        ([{"action": "teleport"}], "steps[0].action", "unknown action 'teleport'"),
        (["log"], "steps[0]", "must be an object"),
        ([{"action": "http_request"}], "steps[0].url", "required"),
        ([{"action": "http_request", "url": "ftp://x"}], "steps[0].url", "only http:// and https://"),
        ([{"action": "http_request", "url": "http://x", "method": "BREW"}], "steps[0].method", "one of GET"),
        ([{"action": "http_request", "url": "http://x", "timeout_seconds": 0}], "steps[0].timeout_seconds", "(0, 300]"),
        ([{"action": "log"}], "steps[0].message", "required"),
        ([{"action": "delay", "seconds": -1}], "steps[0].seconds", "between 0 and"),
        ([{"action": "command", "name": "rm -rf /"}], "steps[0].name", "not in the command allowlist"),
        ([{"action": "command", "name": "greet", "args": ["x"]}], "steps[0].args", "no arguments"),
        ([{"action": "log", "message": "{{ unclosed"}], "steps[0].message", "template error"),
    ],
)
def test_steps_are_validated_on_write(engine: WorkflowEngine, steps: Any, field: str, fragment: str) -> None:
    with pytest.raises(Invalid) as info:
        engine.validate_steps(steps)
    assert fragment in info.value.errors[field], info.value.errors


def test_commands_file_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text("x: {argv: 'not a list'}\n")
    with pytest.raises(CommandsFileError, match="needs argv"):
        load_commands(str(bad))
    with pytest.raises(CommandsFileError, match="No such file"):
        load_commands(str(tmp_path / "missing.yaml"))
    (tmp_path / "ok.json").write_text('{"a": ["true"]}')
    assert load_commands(str(tmp_path / "ok.json"))["a"].argv == ("true",)


async def test_concurrent_runs_of_one_workflow_read_its_definition_once(engine: WorkflowEngine) -> None:
    wf = await add_workflow(engine.database, steps=[{"action": "log", "message": "hi"}])
    reads = 0
    get = engine.store.get

    async def counted(workflow_id: str) -> Any:
        nonlocal reads
        reads += 1
        return await get(workflow_id)

    engine.store.get = counted  # type: ignore[method-assign]
    ids = await asyncio.gather(*(engine.execute_workflow(wf, {"trigger": "api"}) for _ in range(50)))
    assert reads == 1
    executions = [await engine.store.get_execution(i) for i in ids]
    assert {e.status for e in executions} == {"completed"} and len(set(ids)) == 50
    engine.forget(wf)
    await engine.execute_workflow(wf, {"trigger": "api"})
    assert reads == 2


async def test_a_missing_workflow_fails_every_concurrent_run(engine: WorkflowEngine) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    ids = await asyncio.gather(*(engine.execute_workflow(missing, {"trigger": "api"}) for _ in range(5)))
    executions = [await engine.store.get_execution(i) for i in ids]
    assert all(e.status == "failed" and "does not exist" in (e.error or "") for e in executions), executions


async def test_a_definition_forgotten_while_it_is_read_is_read_again(engine: WorkflowEngine) -> None:
    wf = await add_workflow(engine.database, steps=[{"action": "log", "message": "old"}])
    get, gate, read, reads = engine.store.get, asyncio.Event(), asyncio.Event(), []

    async def slow_first(workflow_id: str) -> Any:
        reads.append(workflow_id)
        workflow = await get(workflow_id)
        if len(reads) == 1:
            read.set()
            await gate.wait()  # the first read returns the old steps, after the change
        return workflow

    engine.store.get = slow_first  # type: ignore[method-assign]
    first = asyncio.ensure_future(engine.execute_workflow(wf, {"trigger": "api"}))
    await asyncio.wait_for(read.wait(), 10)  # the first run has read the old steps
    await engine.database.write(lambda dal: dal(dal.workflows.workflow_id == wf).update(
        steps=[{"action": "log", "message": "new"}]))
    engine.forget(wf)  # what the service does after it changed the workflow
    second = await engine.execute_workflow(wf, {"trigger": "api"})
    gate.set()
    await first
    third = await engine.execute_workflow(wf, {"trigger": "api"})
    assert len(reads) == 2
    for execution_id in (second, third):
        execution = await engine.store.get_execution(execution_id)
        assert execution.step_results[0]["output"]["message"] == "new", execution.step_results


async def test_a_run_whose_templates_add_up_is_stopped_and_yields_between_steps(
        engine: WorkflowEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    from workflow_core_module.engine import engine as engine_module

    # Each render is bounded on its own (50 ms); 50 such steps must not add up to seconds of loop time.
    monkeypatch.setattr(engine_module, "RUN_RENDER_SECONDS", 0.005)
    heavy = {"action": "log", "message": "{% for i in range(9990) %}{{ i }}{% endfor %}"}
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    beat = asyncio.create_task(ticker())
    try:
        execution = await run(engine, [heavy] * 50)
    finally:
        beat.cancel()
    assert execution.status == "failed", execution
    failed = execution.step_results[-1]
    assert "templates took" in failed["error"] and "more than 5 ms in all" in failed["error"], failed
    assert 1 < len(execution.step_results) < 50
    assert ticks >= len(execution.step_results) - 1  # the loop ran between steps
