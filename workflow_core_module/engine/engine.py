"""WorkflowEngine: runs a workflow's steps in order and returns the outcome.

An execution goes queued (when created ahead, e.g. by the API) -> running -> completed |
failed | timed_out | cancelled, with its start and end, duration, error and one result per step.
A step's output is visible to later steps as ``steps[i].output``.

The engine knows nothing of schedules or their runs: it tells a :class:`Recorder` when an
attempt starts (the recorder may refuse) and how it ended. By default that records a plain
execution; the dispatcher passes one that records the attempt in the run ledger.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx

from ..clock import Clock, SystemClock
from ..config import Settings
from ..db.audit import AuditEntry
from ..db.database import Database
from ..db.durably import durably
from ..db.journal import ExecutionEnd, ExecutionStart, Journal
from ..db.ledger_sql import ledger_sql
from ..db.workflow_store import WorkflowStore
from ..errors import Invalid, NotFound
from ..scheduling.records import Workflow
from ..scheduling.trigger import complete_trigger
from .actions import (
    BUILTIN_ACTIONS,
    MAX_OUTPUT_CHARS,
    ActionRun,
    ActionValidate,
    ChatOutbound,
    StepContext,
    StepFailed,
    TemplateTrigger,
    WriteChecks,
    chat_message_action,
    load_commands,
    template_errors,
    templates_in,
    validate_chat_message,
)
from .outbound import OutboundPolicy, build_client, shared_tls
from .templates import TemplateRenderError, render

log = logging.getLogger(__name__)

MAX_STEPS = 50
RUN_RENDER_SECONDS = 0.25  # all the template rendering of one run (each render is bounded at 50 ms)
_WORKFLOW_TTL_SECONDS = 2.0  # how long a workflow definition read from the database is reused

OUTCOMES_NOT_RETRIED = ("completed", "cancelled")  # a retry would not change them


class NotStarted(Exception):
    """The recorder refused the start: what the attempt belongs to ended first (cancelled, taken
    over)."""


class Recorder(Protocol):
    """Where an attempt's start and end are recorded."""

    async def started(self, start: ExecutionStart) -> bool:
        """Durable before the first step; False: the attempt may not start."""

    def ended(self, end: ExecutionEnd, retryable: bool) -> Awaitable[None]:
        """Hand the end over; the awaitable is done once it is durable."""


class ExecutionRecorder:
    """A plain execution (no schedule run): its row, through the execution journal."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def started(self, start: ExecutionStart) -> bool:
        return await self.journal.start(start)

    def ended(self, end: ExecutionEnd, retryable: bool) -> Awaitable[None]:
        return self.journal.end(end)


@dataclass(frozen=True, slots=True)
class ExecutionOutcome:
    execution_id: str
    status: str  # completed | failed | timed_out | cancelled
    error: str | None
    started_at: datetime
    finished_at: datetime
    duration_ms: int
    retryable: bool = True  # False when another attempt cannot do better (the workflow is gone)
    recorded: Awaitable[None] | None = dataclass_field(default=None, compare=False)  # done once the end is durable


def _storable(output: Any) -> Any:
    try:
        text = json.dumps(output, default=str)
    except (TypeError, ValueError):
        return {"unserialisable": repr(output)[:MAX_OUTPUT_CHARS]}
    if len(text) <= MAX_OUTPUT_CHARS:
        return json.loads(text)
    return {"truncated": True, "preview": text[:MAX_OUTPUT_CHARS]}


class WorkflowEngine:
    def __init__(self, database: Database, settings: Settings, *, store: WorkflowStore,
                 clock: Clock | None = None) -> None:
        self.database = database
        self.settings = settings
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.commands = load_commands(settings.commands_file)
        self._actions: dict[str, tuple[ActionRun, ActionValidate | None]] = dict(BUILTIN_ACTIONS)
        self.use_community_platforms(None)
        self.outbound = OutboundPolicy(settings.outbound_allowlist)
        self._http: httpx.AsyncClient | None = None
        self._operator_http: httpx.AsyncClient | None = None
        self._workflows: dict[str, tuple[float, Workflow]] = {}
        self._loading: dict[str, asyncio.Future[Workflow | None]] = {}
        self.executions = ExecutionRecorder(Journal(database, ledger_sql(database.dialect)))

    def use_community_platforms(self, platform_of: Callable[[str], Awaitable[str | None]] | None) -> None:
        """Where chat_message finds a community's own chat platform (set by the runtime)."""
        s = self.settings
        self.chat = ChatOutbound(s.chat_message_url, s.chat_message_format, s.chat_message_headers,
                                 s.chat_default_platform, s.router_service_key, platform_of)
        self._actions["chat_message"] = (chat_message_action(self.chat), validate_chat_message)

    # ---- lifecycle ---------------------------------------------------------------------

    @property
    def http(self) -> httpx.AsyncClient:
        """The one shared client for URLs users wrote (http_request steps, callbacks): every request
        goes through the outbound policy, after DNS, to the address that was checked."""
        if self._http is None:
            # identity: a compressed answer could expand far past the bytes we mean to read
            self._http = build_client(self.outbound, headers={"User-Agent": "workflow_core_module",
                                                              "Accept-Encoding": "identity"})
        return self._http

    @property
    def operator_http(self) -> httpx.AsyncClient:
        """A client for the operator's own URLs (CHAT_MESSAGE_URL), which may well be internal."""
        if self._operator_http is None:
            self._operator_http = httpx.AsyncClient(
                verify=shared_tls(), follow_redirects=False,
                limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
                headers={"User-Agent": "workflow_core_module"})
        return self._operator_http

    @property
    def clients_built(self) -> bool:
        """The shared HTTP clients exist (built by warm_up, or by the first run that needed them)."""
        return self._http is not None and self._operator_http is not None

    def warm_up(self) -> None:
        """Build now what the first run would otherwise build on the fire path: the shared HTTP
        clients, whose TLS contexts take tens of milliseconds to load."""
        _ = self.http, self.operator_http

    async def close(self) -> None:
        for loading in list(self._loading.values()):
            loading.cancel()
        for client in (self._http, self._operator_http):
            if client is not None:
                await client.aclose()
        self._http = self._operator_http = None

    # ---- actions -----------------------------------------------------------------------

    def register_action(self, name: str, run: ActionRun, *, validate: ActionValidate | None = None) -> None:
        """Add (or replace) an action: ``async def run(params, context) -> output``."""
        if not name or not isinstance(name, str):
            raise ValueError("an action needs a name")
        self._actions[name] = (run, validate)

    @property
    def action_names(self) -> list[str]:
        return sorted(self._actions)

    def validate_steps(self, steps: Any, *, community_id: str | None = None) -> list[dict[str, Any]]:
        """Check a workflow's steps on write; raises Invalid naming each problem.

        `community_id` is the community of whoever writes them (None: a global key, trusted)."""
        checks = WriteChecks(self.commands, self.outbound, community_id)
        if not isinstance(steps, list) or not steps:
            raise Invalid({"steps": "required: a non-empty list of steps"})
        if len(steps) > MAX_STEPS:
            raise Invalid({"steps": f"at most {MAX_STEPS} steps, got {len(steps)}"})
        errors: dict[str, str] = {}
        templates: list[tuple[str, str]] = []
        for index, step in enumerate(steps):
            where = f"steps[{index}]"
            if not isinstance(step, dict):
                errors[where] = "each step must be an object with an 'action'"
                continue
            action = step.get("action")
            if not isinstance(action, str) or action not in self._actions:
                shown = repr(action)[:100]
                errors[f"{where}.action"] = f"unknown action {shown}; known: {', '.join(self.action_names)}"
                continue
            _, validate = self._actions[action]
            params = {k: v for k, v in step.items() if k != "action"}
            for field, message in (validate(params, checks) if validate else {}).items():
                errors[f"{where}.{field}"] = message
            templates += [(f"{where}.{field}", source) for key, value in params.items()
                          for field, source in templates_in(value, key)]
        for field, message in template_errors(templates).items():
            errors.setdefault(field, message)
        if errors:
            raise Invalid(errors)
        return steps

    # ---- running -----------------------------------------------------------------------

    def forget(self, workflow_id: str) -> None:
        """Drop a cached definition (after this process changed it)."""
        self._workflows.pop(workflow_id, None)
        self._loading.pop(workflow_id, None)  # a read begun before the change serves only its waiters

    async def _workflow(self, workflow_id: str) -> Workflow | None:
        cached = self._workflows.get(workflow_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        # One read per definition, however many runs want it at once (a burst of 10,000 runs of
        # one workflow would otherwise send hundreds of identical reads before the first returns).
        loading = self._loading.get(workflow_id)
        if loading is None:
            loading = asyncio.ensure_future(self._load_workflow(workflow_id))
            self._loading[workflow_id] = loading
            loading.add_done_callback(lambda done: self._loaded(workflow_id, done))
        return await asyncio.shield(loading)

    def _loaded(self, workflow_id: str, done: asyncio.Future[Workflow | None]) -> None:
        if self._loading.get(workflow_id) is done:
            del self._loading[workflow_id]
        if not done.cancelled():
            done.exception()  # retrieved here too: every waiter may have been cancelled meanwhile

    async def _load_workflow(self, workflow_id: str) -> Workflow | None:
        try:
            workflow = await durably(lambda: self.store.get(workflow_id), f"the workflow {workflow_id}")
        except NotFound:
            return None
        if self._loading.get(workflow_id) is not asyncio.current_task():
            return workflow  # forgotten while it was read: not cached
        self._workflows[workflow_id] = (time.monotonic() + _WORKFLOW_TTL_SECONDS, workflow)
        if len(self._workflows) > 10_000:
            self._workflows.clear()
        return workflow

    async def execute_workflow(self, workflow_id: str, trigger_data: Mapping[str, Any], *,
                               execution_id: str | None = None) -> str:
        """Run a workflow to its end, recording the execution; returns the execution id."""
        return (await self.run(workflow_id, trigger_data, execution_id=execution_id)).execution_id

    async def prepare(self, workflow_id: str, trigger_data: Mapping[str, Any], *, trigger: str,
                      community_id: str | None, audit: AuditEntry | None = None) -> str:
        """Record a queued execution now (so its id can be answered at once), with its audit row
        in the same transaction; run it later with ``run(..., execution_id=id, prepared=True)``."""
        execution_id = str(uuid.uuid4())
        now = self.clock.now()

        def record(dal: Any) -> None:
            self.store.insert_execution(dal, {
                "execution_id": execution_id, "workflow_id": workflow_id, "community_id": community_id,
                "trigger": trigger, "trigger_data": dict(trigger_data), "status": "queued", "attempt": 1,
                "step_results": [], "created_at": now,
            })
            if audit is not None:
                self.store.write_audit(dal, audit, "workflow", workflow_id, community_id,
                                       {"execution_id": execution_id, "trigger": trigger})

        await self.database.write(record)
        return execution_id

    async def run(
        self,
        workflow_id: str,
        trigger_data: Mapping[str, Any],
        *,
        execution_id: str | None = None,
        prepared: bool = False,
        attempt: int = 1,
        timeout_seconds: float | None = None,
        community_id: str | None = None,
        recorder: Recorder | None = None,
        durable_end: bool = True,
    ) -> ExecutionOutcome:
        """Run the steps with a timeout, telling `recorder` (default: a plain execution record)
        of the start and the outcome.

        The attempt starts only if the recorder agrees (else :class:`NotStarted`). With
        `durable_end` (the default) this returns once the end is durable; without, it returns
        as soon as the end is handed over, and `outcome.recorded` says when it is durable.
        `community_id` is the community the run acts for (its schedule's, or the caller's); by
        default the workflow's. Its steps can reach that community only, and the execution is
        visible to it.
        """
        recorder = recorder or self.executions
        execution_id = execution_id or str(uuid.uuid4())
        trigger = dict(trigger_data)
        workflow = await self._workflow(workflow_id)
        community = community_id or (workflow.community_id if workflow else None)
        start = ExecutionStart(execution_id, workflow_id, community, str(trigger.get("trigger", "api")), trigger,
                               attempt, self.clock.now(), prepared)
        if not await recorder.started(start):
            raise NotStarted(execution_id)
        began = time.perf_counter()
        results: list[dict[str, Any]] = []
        status, error, retryable = "completed", None, True
        timeout = timeout_seconds if timeout_seconds is not None else self.settings.workflow_timeout_seconds
        try:
            if workflow is None or not workflow.is_active:
                # Another attempt could not do better: the run ends now, with the reason.
                status, retryable = "failed", False
                error = f"workflow {workflow_id} {'does not exist' if workflow is None else 'is disabled'}"
            else:
                async with asyncio.timeout(timeout):
                    status, error = await self._run_steps(workflow, trigger, execution_id, results, community)
        except TimeoutError:
            status = "timed_out"
            error = f"timed out after {timeout:g} s (in step {len(results)})"
        except asyncio.CancelledError:
            outcome = self._end(recorder, execution_id, "cancelled", "cancelled", began, results, True)
            assert outcome.recorded is not None
            await asyncio.shield(outcome.recorded)
            raise
        outcome = self._end(recorder, execution_id, status, error, began, results, retryable)
        if durable_end and outcome.recorded is not None:
            await asyncio.shield(outcome.recorded)
        return outcome

    def _end(self, recorder: Recorder, execution_id: str, status: str, error: str | None, began: float,
             results: list[dict[str, Any]], retryable: bool) -> ExecutionOutcome:
        finished_at = self.clock.now()
        duration_ms = int((time.perf_counter() - began) * 1000)
        recorded = recorder.ended(ExecutionEnd(execution_id, status, error, finished_at, duration_ms, results),
                                  retryable)
        return ExecutionOutcome(execution_id, status, error, finished_at - timedelta(milliseconds=duration_ms),
                                finished_at, duration_ms, retryable, recorded)

    async def _run_steps(self, workflow: Workflow, trigger: dict[str, Any], execution_id: str,
                         results: list[dict[str, Any]], community_id: str | None) -> tuple[str, str | None]:
        visible: list[dict[str, Any]] = []
        trigger = complete_trigger(trigger, execution_id)  # one shape, whoever started the run
        context = {"trigger": TemplateTrigger(trigger), "steps": visible,
                   "workflow": {"workflow_id": workflow.workflow_id, "name": workflow.name}}
        rendering = 0.0  # seconds this run's templates held the event loop
        for index, step in enumerate(workflow.steps):
            if index:
                await asyncio.sleep(0)  # steps that never await (log) must not chain their renders
            action = step.get("action")
            entry: dict[str, Any] = {"index": index, "action": action}
            results.append(entry)
            began = time.perf_counter()
            try:
                if action not in self._actions:
                    raise StepFailed(f"unknown action {action!r}")
                run, _ = self._actions[action]
                if rendering > RUN_RENDER_SECONDS:
                    raise StepFailed(f"this run's templates took {rendering * 1000:.0f} ms so far, more than "
                                     f"{RUN_RENDER_SECONDS * 1000:.0f} ms in all; simplify them")
                params = render({k: v for k, v in step.items() if k != "action"}, context)
                rendering += time.perf_counter() - began
                step_context = StepContext(execution_id, workflow.workflow_id, index, self.http, self.commands,
                                           self.clock.sleep, trigger, community_id, self.outbound,
                                           self.operator_http)
                output = await run(params, step_context)
            except (StepFailed, TemplateRenderError) as exc:
                entry.update(status="failed", error=str(exc), output=_storable(getattr(exc, "output", None)),
                             duration_ms=int((time.perf_counter() - began) * 1000))
                return "failed", f"step {index} ({action}) failed: {exc}"
            except (asyncio.CancelledError, TimeoutError):
                entry.update(status="interrupted", duration_ms=int((time.perf_counter() - began) * 1000))
                raise
            except Exception as exc:
                log.exception("step %s of workflow %s raised", index, workflow.workflow_id,
                              extra={"category": "ERROR", "execution_id": execution_id})
                entry.update(status="failed", error=f"{type(exc).__name__}: {exc}",
                             duration_ms=int((time.perf_counter() - began) * 1000))
                return "failed", f"step {index} ({action}) raised {type(exc).__name__}: {exc}"
            stored = _storable(output)
            entry.update(status="completed", output=stored, duration_ms=int((time.perf_counter() - began) * 1000))
            visible.append({"status": "completed", "output": output})
        return "completed", None

