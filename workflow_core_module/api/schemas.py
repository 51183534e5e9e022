"""Request and response shapes of the v1 API (pydantic): they validate requests and make
/openapi.json.

They check shape only (types, required fields, no unknown fields). What a value means (a valid
cron expression, a known time zone, a time in the future) is checked by the domain rules in
`scheduling/validation.py`, which give one message per wrong field.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
    create_model,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from ..engine.steps import BuiltinStep
from ..scheduling.schedule import ANSWER_COLUMNS, COLUMNS, Column
from ..scheduling.types import MAX_OFFSET, MAX_PAGE, OverlapPolicy, RunStatus, ScheduleStatus, ScheduleType

DateTime = Annotated[StrictStr, Field(json_schema_extra={"format": "date-time"},
                                      description="ISO 8601; without an offset it is read in `timezone`")]


def _names(enum: type[Enum], leave_out: tuple[Enum, ...] = ()) -> Any:
    """An enum's values as a Literal (requests and answers carry the text)."""
    return Literal[tuple(e.value for e in enum if e not in leave_out)]


if TYPE_CHECKING:
    ScheduleTypeName: TypeAlias = str
    StatusName: TypeAlias = str
    OverlapName: TypeAlias = str
    RunStatusName: TypeAlias = str
    ExecutionStatusName: TypeAlias = str
else:
    ScheduleTypeName = _names(ScheduleType)
    StatusName = _names(ScheduleStatus)
    OverlapName = _names(OverlapPolicy)
    RunStatusName = _names(RunStatus)
    ExecutionStatusName = _names(RunStatus, (RunStatus.SKIPPED, RunStatus.MISSED))  # runs that never started


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# ---- a schedule's request and answer models, from its declaration (scheduling/schedule.py) ------

_REQUEST_TYPES: dict[type, Any] = {str: StrictStr, int: StrictInt, bool: StrictBool, datetime: DateTime,
                                   dict: dict[str, Any], tuple: list[StrictStr]}
_ANSWER_TYPES: dict[type, Any] = {datetime: str, tuple: list[str], dict: dict[str, Any]}


def _documented(c: Column, default: Any) -> Any:
    return Field(default, description=c.meta.doc,
                 examples=None if c.meta.example is None else [c.meta.example])


def _request_field(c: Column, *, optional: bool) -> tuple[Any, Any]:
    kind = _names(c.enum) if c.enum else _REQUEST_TYPES[c.kind]
    if optional or not c.required:
        return kind | None, _documented(c, None)
    return kind, _documented(c, ...)


def _answer_field(c: Column) -> tuple[Any, Any]:
    kind = _names(c.enum) if c.enum else _ANSWER_TYPES.get(c.kind, c.kind)
    return (kind | None if c.nullable else kind), ...


_SETTABLE = [c for c in COLUMNS if c.settable]
_WHEN: Any = (StrictStr | None, Field(
    None, max_length=200, examples=["every weekday at 9am"],
    description="when it runs, in plain words as the chat reads them (every weekday at 9am, every 2 days at 10:00, "
                "on dec 24 at 18:00, in 10 minutes; until ... and ... times too), read in `timezone`; instead of "
                "schedule_type and its timing fields"))
if TYPE_CHECKING:
    ScheduleCreate: TypeAlias = Strict
    ScheduleUpdate: TypeAlias = Strict
    SchedulePreview: TypeAlias = Strict
    ScheduleOut: TypeAlias = Strict
else:
    ScheduleCreate = create_model(  # schedule_type may come from `when` (the domain rules require one of them)
        "ScheduleCreate", __base__=Strict, when=_WHEN,
        **{c.name: _request_field(c, optional=c.name == "schedule_type") for c in _SETTABLE})
    ScheduleUpdate = create_model(
        "ScheduleUpdate", __base__=Strict, __doc__="PATCH: only the fields given change (null clears an optional one).",
        when=_WHEN, **{c.name: _request_field(c, optional=True) for c in _SETTABLE})
    SchedulePreview = create_model(
        "SchedulePreview", __base__=ScheduleUpdate,
        __doc__="A spec to try. With `workflow_id`, the answer also lists same-minute overlaps with the workflow's "
                "other active schedules in the next 7 days (`schedule_id` leaves one out).",
        when=_WHEN,
        count=(StrictInt, Field(10, ge=1, le=100)),
        explain=(StrictBool, Field(False, description="also list the days the schedule's calendar skips, and why")),
        schedule_id=(StrictStr | None, Field(None, description="the schedule being edited, left out of overlaps")))
    ScheduleOut = create_model(
        "ScheduleOut", **{c.name: _answer_field(c) for c in ANSWER_COLUMNS}, timing_description=(str, ...))


class PauseRequest(Strict):
    """Optional: why, and until when (the schedule then resumes by itself at that time, on
    whichever replica is up). Pausing a paused schedule again replaces both."""

    reason: StrictStr | None = Field(None, max_length=500, examples=["raid night"])
    until: DateTime | None = Field(None, description="ISO 8601, in the future; without an offset it is read "
                                                     "in the schedule's timezone")


class BackfillRequest(Strict):
    """A past range: every occurrence of the schedule's rule in [start, end] runs once (trigger
    `backfill`), oldest first, one at a time unless overlap_policy is `allow`."""

    start: DateTime
    end: DateTime = Field(description="ISO 8601, not in the future; without an offset it is read in the "
                                      "schedule's timezone")
    max_runs: StrictInt | None = Field(None, ge=1, le=1000, description="refuse a range with more occurrences "
                                                                        "than this (default and most: 1000)")


class BackfillOut(BaseModel):
    runs: int = Field(description="runs started; occurrences backfilled before are left out")
    first: str | None
    last: str | None


class MaintenanceRequest(Strict):
    reason: StrictStr | None = Field(None, max_length=500, examples=["database upgrade"])


class MaintenanceOut(BaseModel):
    paused: bool
    reason: str | None
    since: str | None
    by: str | None = Field(description="who paused it")


class ScheduleFilters(BaseModel):
    """Which schedules: the list's filters (export and bulk take the same)."""

    workflow_id: str | None = None
    community_id: str | None = None
    status: StatusName | None = None
    schedule_type: ScheduleTypeName | None = None
    tag: str | None = None
    q: str | None = Field(None, description="part of the name, any case")


class ScheduleQuery(ScheduleFilters):
    include_deleted: bool = Field(False, description="global keys only (403 otherwise): list soft-deleted "
                                                     "schedules too, each with its `deleted_at`")
    limit: int = Field(50, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class PageQuery(BaseModel):
    limit: int = Field(50, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class HistoryQuery(PageQuery):
    status: RunStatusName | None = None


class NextQuery(BaseModel):
    count: int = Field(10, ge=1, le=100)
    explain: bool = Field(False, description="also list the days the schedule's calendar skips, and why")


class DeleteQuery(BaseModel):
    hard: bool = False


class AuditQuery(PageQuery):
    """The audit log's filters; every one given must hold."""

    schedule_id: str | None = Field(None, description="rows about this schedule (entity_type `schedule`), "
                                                      "also after it was deleted")
    workflow_id: str | None = Field(None, description="rows about this workflow (entity_type `workflow`); "
                                                      "not together with schedule_id")
    community_id: str | None = Field(None, max_length=100, description="rows of this community (a community key "
                                                                       "sees only its own anyway)")
    actor: str | None = Field(None, max_length=200, description="who, exactly: an API key's name, `system`, `cli`, "
                                                                "or a chat user (`twitch:alice`, `user:<id>`)",
                              examples=["admin"])
    action: str | None = Field(None, max_length=64, description="what, exactly as listed, e.g. `schedule.pause`",
                               examples=["schedule.update"])
    since: str | None = Field(None, description="ISO 8601 instant, inclusive (without an offset: UTC)",
                              json_schema_extra={"format": "date-time"})
    until: str | None = Field(None, description="ISO 8601 instant, exclusive (without an offset: UTC)",
                              json_schema_extra={"format": "date-time"})

    def filters(self) -> dict[str, Any]:
        return self.model_dump(exclude={"limit", "offset"})


class _DocumentedAs:
    """Validate as the annotated type, document as `shown` (its models land in the components)."""

    def __init__(self, shown: Any) -> None:
        self._shown = TypeAdapter(shown)

    def __get_pydantic_json_schema__(self, _: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return handler(self._shown.core_schema)


# A step is checked by the engine's registry of actions (the built-in ones and any registered from
# Python), which names each wrong field `steps[i].<field>`; here it is any object, documented as
# one of the built-in actions (engine/actions.py declares them).
Step = Annotated[dict[str, Any], _DocumentedAs(BuiltinStep)]
_STEPS_DESCRIPTION = ("The steps, run in order; each is one of the built-in actions below (an operator may "
                      "register more in Python). String fields are templates over `trigger`, `steps` and "
                      "`workflow`: see docs/workflows.md.")


class WorkflowCreate(Strict):
    name: StrictStr
    description: StrictStr | None = None
    community_id: StrictStr | None = None
    steps: list[Step] = Field(description=_STEPS_DESCRIPTION,
                              examples=[[{"action": "http_request", "method": "POST", "url": "https://example.org/hook",
                                          "body": {"text": "{{ trigger.context_data.message }}"}}]])
    is_active: StrictBool | None = None


class WorkflowReplace(Strict):
    name: StrictStr
    description: StrictStr | None = None
    community_id: StrictStr | None = None
    steps: list[Step] = Field(description=_STEPS_DESCRIPTION)
    is_active: StrictBool | None = None


_RouterId = StrictStr | StrictInt


class ExecuteRequest(Strict):
    """Run a workflow now. `context_data` becomes `trigger.context_data`. WaddleBot's router sends
    its own body (`trigger_source`, `trigger_data`, `session_id`, `entity_id`, `user_id`,
    `platform`): `trigger_data` is merged into `trigger.context_data` and the others are copied
    to `trigger.<name>`."""

    context_data: dict[str, Any] | None = None
    trigger_source: StrictStr | None = Field(None, max_length=100, description="what fired it, e.g. 'command'")
    trigger_data: dict[str, Any] | None = Field(None, description="merged into trigger.context_data")
    session_id: _RouterId | None = Field(None, description="the router's session id")
    entity_id: _RouterId | None = Field(None, description="the chat channel or server it came from")
    user_id: _RouterId | None = Field(None, description="the chat user")
    platform: StrictStr | None = Field(None, max_length=50, description="twitch, discord, slack, kick...")

    def trigger_fields(self) -> dict[str, str]:
        """The router's fields that were sent, as strings (ids over 200 characters are cut)."""
        values = {"trigger_source": self.trigger_source, "session_id": self.session_id,
                  "entity_id": self.entity_id, "user_id": self.user_id, "platform": self.platform}
        return {name: str(value)[:200] for name, value in values.items() if value is not None}

    def context(self) -> dict[str, Any]:
        return {**(self.trigger_data or {}), **(self.context_data or {})}


class RouterMetadata(BaseModel):
    """What some routers add about the user; read when present."""

    model_config = ConfigDict(extra="allow")

    user_roles: list[StrictStr] | None = Field(None, description="the user's roles in the community")
    is_moderator: StrictBool | None = Field(None, description="true: the user may manage schedules")
    is_broadcaster: StrictBool | None = Field(None, description="true: the user owns the channel")


class RouterCommand(BaseModel):
    """A chat command in the bot router's own envelope (WaddleBot sends exactly `command`, `args`,
    `user_id`, `entity_id`, `community_id`, `session_id`, `message`). Fields beyond these are
    accepted and ignored. Send the router's key in `X-Service-Key` (or an API key in `X-API-Key`).
    A command that is refused or wrong still answers 200 with a reply for the user."""

    model_config = ConfigDict(extra="allow")

    command: StrictStr = Field(description="`!schedule` or `!sched`; anything else is answered with a hint",
                               examples=["!schedule"])
    args: StrictStr | None = Field(None, description="the rest of the chat line (docs/chat-commands.md)",
                                   examples=["every weekday at 9:00 run standup"])
    community_id: StrictInt | StrictStr = Field(description="the community the command is for")
    user_id: StrictInt | StrictStr | None = Field(None, description="the chat user")
    entity_id: StrictInt | StrictStr | None = Field(None, description="the channel or server it was typed in")
    session_id: StrictStr | None = Field(None, description="the router's session id; a retry with the same "
                                                           "session and text within 10 minutes is answered again, "
                                                           "not applied again")
    message: StrictStr | None = Field(None, description="the whole chat line as typed")
    username: StrictStr | None = Field(None, description="the user's display name")
    platform: StrictStr | None = Field(None, description="twitch, discord, slack, kick...")
    user_roles: list[StrictStr] | None = Field(None, description="the user's roles; with none, the community's "
                                                                 "managers list decides who may change schedules")
    metadata: RouterMetadata | None = None


class RouterResponseData(BaseModel):
    message: str = Field(description="the reply to post in chat")


class RouterReplyData(BaseModel):
    session_id: str = Field(description="the request's session_id")
    response_action: Literal["chat"]
    response_data: RouterResponseData


class RouterReply(BaseModel):
    success: Literal[True]
    data: RouterReplyData


class RouterFailureBody(BaseModel):
    code: str
    message: str


class RouterFailure(BaseModel):
    """A missing or unknown key (401), another community's key (403) or a malformed envelope (400)."""

    success: Literal[False]
    error: RouterFailureBody


# ---- responses (documentation) ------------------------------------------------------------

class Stats(BaseModel):
    total_runs: int
    successful_runs: int
    failed_runs: int
    missed_runs: int
    success_rate: float | None
    avg_duration_ms: float | None


class ChainedSchedule(BaseModel):
    schedule_id: str
    name: str | None = Field(description="null: the upstream is gone (deleted)")
    status: str | None = None


class Chain(BaseModel):
    upstream: ChainedSchedule | None = Field(description="an after schedule's upstream; null for a time schedule")
    downstream: list[ChainedSchedule] = Field(description="the schedules that run after this one (not deleted)")


class ScheduleDetail(ScheduleOut):
    stats: Stats
    chain: Chain


class ScheduleListed(ScheduleOut):
    deleted_at: str | None = Field(None, description="only with include_deleted=true: when it was deleted "
                                                     "(null: not deleted). A deleted schedule keeps the status "
                                                     "it had; POST .../restore brings it back")


class SchedulePage(BaseModel):
    items: list[ScheduleListed]
    total: int
    limit: int
    offset: int


class AuditOut(BaseModel):
    at: str = Field(description="when, UTC")
    actor: str = Field(description="who: an API key's name, `system` for the service's own changes, `cli`, "
                                   "or a chat user (`<platform>:<username>`, `user:<id>`)")
    action: str = Field(description="what, `<entity>.<verb>`: schedule.create, schedule.update, schedule.pause, "
                                    "schedule.resume, schedule.run, schedule.delete, schedule.restore, "
                                    "workflow.create, workflow.update, workflow.delete, workflow.execute, "
                                    "key.create, key.revoke, community.managers, ...")
    entity_type: str = Field(description="schedule, workflow, api_key or community")
    entity_id: str | None = Field(description="the schedule_id, workflow_id, key name or community_id")
    community_id: str | None
    changes: dict[str, Any] = Field(description="an update's changed fields as `field: [old, new]`; what other "
                                                "actions record (a delete's name, a run's run_id, ...)")


class AuditPage(BaseModel):
    items: list[AuditOut]
    total: int
    limit: int
    offset: int


class RunOut(BaseModel):
    run_id: str
    execution_id: str | None
    scheduled_for: str
    fired_at: str | None
    finished_at: str | None
    status: RunStatusName
    attempt: int
    error: str | None
    note: str | None
    duration_ms: int | None
    trigger: Literal["schedule", "manual", "backfill"]


class RunPage(BaseModel):
    items: list[RunOut]
    total: int
    limit: int
    offset: int


class Overlap(BaseModel):
    schedule_id: str
    name: str
    first_at: str
    minutes: int


class Skipped(BaseModel):
    time: str = Field(description="the first occurrence the skipped day would have held")
    date: str = Field(description="the day, in the calendar's time zone")
    reason: str


class PreviewOut(BaseModel):
    times: list[str]
    description: str
    skipped: list[Skipped] | None = Field(None, description="with explain=true: days the calendar skipped")
    overlaps: list[Overlap] = []
    overlaps_complete: bool = Field(True, description="false when the check stopped at its time limit before "
                                    "looking at every schedule of the workflow; ask again to see more")
    timing: dict[str, Any] | None = Field(None, description="with `when`: the timing fields the phrase was read "
                                          "as (schedule_type, cron_expression, interval_seconds, scheduled_time, "
                                          "start_date, end_date, max_executions)")


class WhoAmI(BaseModel):
    name: str
    community_id: str | None
    is_global: bool


class RunStarted(BaseModel):
    run_id: str
    execution_id: str


class ExecutionStarted(BaseModel):
    execution_id: str


class WorkflowOut(BaseModel):
    workflow_id: str
    name: str
    description: str
    community_id: str | None
    steps: list[Step]
    is_active: bool
    created_by: str
    created_at: str
    updated_at: str


class WorkflowPage(BaseModel):
    items: list[WorkflowOut]
    total: int
    limit: int
    offset: int


class ExecutionOut(BaseModel):
    execution_id: str
    workflow_id: str
    run_id: str | None
    schedule_id: str | None
    community_id: str | None
    trigger: str
    status: ExecutionStatusName
    attempt: int
    started_at: str | None
    finished_at: str | None
    duration_ms: int | None
    error: str | None
    step_results: list[dict[str, Any]]
    created_at: str


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class ErrorOut(BaseModel):
    error: ErrorBody


class StatusOut(BaseModel):
    """With a community key, only the community's own view: `replica_id`, `cache`, `last_pass`
    and `replicas` (hosts and pids) are left out, and counts are the community's."""

    running: bool
    replica_id: str | None = None
    cache: dict[str, Any] | None = None
    active_schedules: int
    next_due: dict[str, Any] | None
    next_runs: list[dict[str, Any]] = Field([], description="the 3 soonest runs: schedule_id, name, timezone, at")
    last_pass_at: str | None
    lag_seconds: float
    last_pass: dict[str, Any] | None = None
    replicas: list[dict[str, Any]] | None = None
    recent_failures: list[dict[str, Any]]
    maintenance: MaintenanceOut = Field(description="maintenance mode (POST /api/v1/scheduler/pause)")


class HealthOut(BaseModel):
    status: Literal["healthy", "degraded", "unhealthy"]
    checks: dict[str, Any]


# ---- bulk actions, export and import (api/transfer.py) --------------------------------------

MAX_BULK_IDS = 10_000


class BulkFilter(Strict):
    """The list filters a bulk action selects by (all given must match)."""

    tag: StrictStr | None = None
    status: StatusName | None = None
    schedule_type: ScheduleTypeName | None = None
    workflow_id: StrictStr | None = None
    q: StrictStr | None = Field(None, description="part of the name, any case")


class BulkRequest(Strict):
    """One action on many schedules of the caller's community: give exactly one of `schedule_ids`
    and `filter`. At most 10,000 schedules per call (a filter matching more is refused, nothing
    changed)."""

    action: Literal["pause", "resume", "delete"]
    schedule_ids: list[StrictStr] | None = Field(None, max_length=MAX_BULK_IDS)
    filter: BulkFilter | None = None
    reason: StrictStr | None = Field(None, max_length=500, description="pause only: why", examples=["raid night"])


class BulkError(BaseModel):
    schedule_id: str
    error: str


class BulkOut(BaseModel):
    matched: int = Field(description="schedules the ids or the filter found (in your community)")
    changed: int = Field(description="those the action changed (pausing a paused one changes nothing)")
    errors: list[BulkError] = Field(description="ids not found, and schedules the action could not change, with why")


class ExportQuery(ScheduleFilters):
    """The list endpoint's filters (no paging: every matching schedule, at most 10,000)."""


class ImportQuery(BaseModel):
    mode: Literal["create", "upsert"] = Field("create", description="create: a name in use is a problem; upsert: "
                                              "a schedule (and workflow) of the same name is updated")
    dry_run: bool = Field(False, description="answer what would be done, change nothing")


if TYPE_CHECKING:
    ExportedSchedule: TypeAlias = Strict
else:
    ExportedSchedule = create_model(
        "ExportedSchedule", __base__=ScheduleCreate,
        __doc__="A schedule's spec (every field POST /schedules takes), its status and its pause reason. "
                "`workflow_id` is the exported workflow's id; an import maps it to the target's workflow.",
        status=(Literal["active", "paused", "completed", "expired"],
                Field("active", description="completed and expired ones are skipped on import")),
        pause_reason=(StrictStr | None, None))


class ExportedWorkflow(Strict):
    workflow_id: StrictStr = Field(description="the id the document's schedules name it by")
    name: StrictStr
    description: StrictStr | None = None
    community_id: StrictStr | None = None
    steps: list[Step]
    is_active: StrictBool | None = None


class ExportDocument(BaseModel):
    version: Literal[1]
    exported_at: str
    schedules: list[ExportedSchedule]
    workflows: list[ExportedWorkflow]


class ImportDocument(Strict):
    """An export document. Each entry is checked by the import itself, which names every problem
    by its place (`schedules[3].cron_expression`) and changes nothing while any is left."""

    version: Literal[1]
    exported_at: StrictStr | None = None
    schedules: list[Annotated[dict[str, Any], _DocumentedAs(ExportedSchedule)]] = Field(max_length=10_000)
    workflows: list[Annotated[dict[str, Any], _DocumentedAs(ExportedWorkflow)]] = Field([], max_length=1_000)


class ImportSkipped(BaseModel):
    index: int
    name: str | None
    reason: str


class ImportOut(BaseModel):
    mode: Literal["create", "upsert"]
    dry_run: bool
    created: list[str] = Field(description="names of the schedules created (or that would be)")
    updated: list[str]
    unchanged: list[str] = Field(description="upsert: schedules that already matched the document")
    skipped: list[ImportSkipped] = Field(description="completed and expired entries, which are not imported")
    workflows_created: list[str]
    workflows_updated: list[str]


# ---- alerts ------------------------------------------------------------------------------------

AlertEventName = Literal["failure", "missed", "paused", "recovered", "success", "test"]


class AlertQuery(BaseModel):
    limit: int = Field(50, ge=1, le=200)
    before: int | None = Field(None, ge=1, le=2**62, description="page back: deliveries older than this id")


class AlertOut(BaseModel):
    id: int
    alert_id: str = Field(description="one alert's deliveries (one per channel) share it")
    schedule_id: str
    schedule_name: str | None = Field(description="the schedule's name when the alert was written")
    community_id: str | None
    event: AlertEventName
    channel: Literal["chat", "webhook", "operator"]
    target: str = Field(description="the webhook URL, chat:<community>:<channel>, or ALERT_WEBHOOK_URL")
    status: Literal["pending", "sending", "sent", "failed"]
    attempts: int
    last_error: str | None
    digest_size: int | None = Field(description="how many alerts the message that carried it held")
    created_at: DateTime
    next_attempt_at: DateTime | None = None
    sent_at: DateTime | None
    occurred_at: DateTime | None
    run: dict[str, Any] | None


class AlertPage(BaseModel):
    items: list[AlertOut]


class AlertTestResult(BaseModel):
    channel: Literal["chat", "webhook", "operator"]
    target: str
    delivered: bool
    error: str | None


class AlertTestOut(BaseModel):
    channels: list[AlertTestResult]


# ---- calendars ----------------------------------------------------------------------------------


class DateRange(Strict):
    from_: StrictStr = Field(alias="from", description="first excluded day, YYYY-MM-DD")
    to: StrictStr = Field(description="last excluded day, YYYY-MM-DD (at most 366 days after from)")


class HolidaysSpec(Strict):
    country: StrictStr = Field(description="ISO 3166-1 code, e.g. DE", examples=["DE"])
    subdivision: StrictStr | None = Field(None, description="e.g. BY (Bavaria)", examples=["BY"])


class CalendarCreate(Strict):
    """A calendar: days on which schedules that use it do not run, read in its `timezone`."""

    name: StrictStr = Field(max_length=100, examples=["bavarian-workdays"])
    community_id: StrictStr | None = Field(None, max_length=100, description="null: shared by every community")
    timezone: StrictStr = Field("UTC", max_length=64, examples=["Europe/Berlin"])
    weekdays_only: StrictBool = False
    excluded_dates: list[StrictStr | DateRange] = Field(
        [], max_length=200, description="days (YYYY-MM-DD) and ranges ({\"from\", \"to\"}, inclusive)")
    holidays: HolidaysSpec | None = Field(None, description="public holidays, computed by the holidays package")


class CalendarOut(BaseModel):
    calendar_id: str
    name: str
    community_id: str | None
    timezone: str
    weekdays_only: bool
    excluded_dates: list[Any]
    holidays: dict[str, Any] | None
    created_by: str
    created_at: str
    updated_at: str


class CalendarPage(BaseModel):
    items: list[CalendarOut]
    total: int
    limit: int
    offset: int
