"""Request and response shapes of the v1 API (pydantic): they validate requests and make
/openapi.json.

They check shape only (types, required fields, no unknown fields). What a value means (a valid
cron expression, a known time zone, a time in the future) is checked by the domain rules in
`scheduling/validation.py`, which give one message per wrong field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

DateTime = Annotated[StrictStr, Field(json_schema_extra={"format": "date-time"},
                                      description="ISO 8601; without an offset it is read in `timezone`")]
ScheduleTypeName = Literal["cron", "interval", "one_time"]
StatusName = Literal["active", "paused", "completed", "expired"]
OverlapName = Literal["skip", "allow", "buffer_one", "cancel_previous"]
RunStatusName = Literal["queued", "running", "completed", "failed", "timed_out", "skipped", "missed", "cancelled"]


MAX_OFFSET = 1_000_000_000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Timing(Strict):
    cron_expression: StrictStr | None = Field(None, description="5 fields, 6 with seconds first, or @hourly etc.",
                                              examples=["0 9 * * 1-5"])
    interval_seconds: StrictInt | None = Field(None, examples=[600])
    scheduled_time: DateTime | None = None
    timezone: StrictStr | None = Field(None, description="IANA zone name; default UTC", examples=["Europe/Berlin"])
    start_date: DateTime | None = None
    end_date: DateTime | None = None
    max_executions: StrictInt | None = Field(None, ge=1)


class ScheduleCreate(_Timing):
    workflow_id: StrictStr = Field(description="UUID of the workflow to run")
    name: StrictStr = Field(examples=["weekday-standup"])
    schedule_type: ScheduleTypeName
    description: StrictStr | None = None
    community_id: StrictStr | None = None
    grace_period_seconds: StrictInt | None = None
    overlap_policy: OverlapName | None = None
    jitter_seconds: StrictInt | None = None
    context_data: dict[str, Any] | None = None
    tags: list[StrictStr] | None = None
    callback_url: StrictStr | None = None


class ScheduleUpdate(_Timing):
    """PATCH: only the fields given change (null clears an optional one)."""

    workflow_id: StrictStr | None = None
    name: StrictStr | None = None
    schedule_type: ScheduleTypeName | None = None
    description: StrictStr | None = None
    community_id: StrictStr | None = None
    grace_period_seconds: StrictInt | None = None
    overlap_policy: OverlapName | None = None
    jitter_seconds: StrictInt | None = None
    context_data: dict[str, Any] | None = None
    tags: list[StrictStr] | None = None
    callback_url: StrictStr | None = None


class SchedulePreview(ScheduleUpdate):
    """A spec to try. With `workflow_id`, the answer also lists same-minute overlaps with the
    workflow's other active schedules in the next 7 days (`schedule_id` leaves one out)."""

    schedule_type: ScheduleTypeName
    count: StrictInt = Field(10, ge=1, le=100)
    schedule_id: StrictStr | None = Field(None, description="the schedule being edited, left out of overlaps")


class ScheduleQuery(BaseModel):
    workflow_id: str | None = None
    community_id: str | None = None
    status: StatusName | None = None
    schedule_type: ScheduleTypeName | None = None
    tag: str | None = None
    q: str | None = Field(None, description="part of the name, any case")
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class PageQuery(BaseModel):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class HistoryQuery(PageQuery):
    status: RunStatusName | None = None


class NextQuery(BaseModel):
    count: int = Field(10, ge=1, le=100)


class DeleteQuery(BaseModel):
    hard: bool = False


class WorkflowCreate(Strict):
    name: StrictStr
    description: StrictStr | None = None
    community_id: StrictStr | None = None
    steps: list[dict[str, Any]] = Field(examples=[[{"action": "http_request", "method": "POST",
                                                    "url": "https://example.org/hook",
                                                    "body": {"text": "{{ trigger.context_data.message }}"}}]])
    is_active: StrictBool | None = None


class WorkflowReplace(Strict):
    name: StrictStr
    description: StrictStr | None = None
    community_id: StrictStr | None = None
    steps: list[dict[str, Any]]
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


# ---- responses (documentation) ------------------------------------------------------------

class Stats(BaseModel):
    total_runs: int
    successful_runs: int
    failed_runs: int
    missed_runs: int
    success_rate: float | None
    avg_duration_ms: float | None


class ScheduleOut(BaseModel):
    schedule_id: str
    workflow_id: str
    community_id: str | None
    name: str
    description: str
    schedule_type: ScheduleTypeName
    cron_expression: str | None
    interval_seconds: int | None
    scheduled_time: str | None
    timezone: str
    start_date: str | None
    end_date: str | None
    is_active: bool
    status: StatusName
    next_execution_at: str | None
    last_execution_at: str | None
    last_execution_id: str | None
    last_run_status: RunStatusName | None
    last_run_at: str | None
    max_executions: int | None
    execution_count: int
    grace_period_seconds: int
    overlap_policy: OverlapName
    jitter_seconds: int
    context_data: dict[str, Any]
    tags: list[str]
    callback_url: str | None
    created_by: str
    total_runs: int
    successful_runs: int
    failed_runs: int
    missed_runs: int
    created_at: str
    updated_at: str
    timing_description: str


class ScheduleDetail(ScheduleOut):
    stats: Stats


class SchedulePage(BaseModel):
    items: list[ScheduleOut]
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


class PreviewOut(BaseModel):
    times: list[str]
    description: str
    overlaps: list[Overlap] = []
    overlaps_complete: bool = Field(True, description="false when the check stopped at its time limit before "
                                    "looking at every schedule of the workflow; ask again to see more")


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
    steps: list[dict[str, Any]]
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
    status: Literal["queued", "running", "completed", "failed", "timed_out", "cancelled"]
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
    last_pass_at: str | None
    lag_seconds: float
    last_pass: dict[str, Any] | None = None
    replicas: list[dict[str, Any]] | None = None
    recent_failures: list[dict[str, Any]]


class HealthOut(BaseModel):
    status: Literal["healthy", "degraded", "unhealthy"]
    checks: dict[str, Any]
