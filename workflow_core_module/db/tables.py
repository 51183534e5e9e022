"""pyDAL table definitions. The SQL migrations in ``migrations/`` create these tables;
pyDAL's own auto-migration is off, so the two must agree (a test checks they do).

Every timestamp column holds naive UTC.
"""

from __future__ import annotations

from datetime import datetime

from pydal import DAL, Field

from ..scheduling.schedule import COLUMNS, Column


def _pydal_type(c: Column) -> str:
    if c.kind is str or c.enum is not None:
        return "string" if c.meta.length else "text"
    if c.kind is int:
        return "bigint" if c.meta.bigint else "integer"
    if c.kind in (dict, tuple):
        return "json"
    return {bool: "boolean", datetime: "datetime"}[c.kind]


def schedule_fields() -> list[Field]:
    """workflow_schedules, from the schedule's declaration (scheduling/schedule.py)."""
    return [Field(c.name, _pydal_type(c), length=c.meta.length) for c in COLUMNS if c.name != "id"]


def define_tables(db: DAL) -> None:
    db.define_table("workflow_schedules", *schedule_fields(), migrate=False)
    db.define_table(
        "workflow_schedule_runs",
        Field("run_id", "string", length=36),
        Field("schedule_id", "string", length=36),
        Field("workflow_id", "string", length=36),
        Field("execution_id", "string", length=36),
        Field("scheduled_for", "datetime"),
        Field("fired_at", "datetime"),
        Field("finished_at", "datetime"),
        Field("status", "string", length=16),
        Field("attempt", "integer"),
        Field("error", "text"),
        Field("note", "text"),
        Field("duration_ms", "integer"),
        Field("trigger", "string", length=16),
        Field("claimed_by", "string", length=64),
        Field("step_results", "json"),  # its first attempt's, recorded on the run row (no execution row)
        Field("upstream_run_id", "string", length=36),  # a chain run's: the run whose end started it
        migrate=False,
    )
    db.define_table(
        "workflows",
        Field("workflow_id", "string", length=36),
        Field("name", "string", length=100),
        Field("description", "text"),
        Field("community_id", "string", length=100),
        Field("steps", "json"),
        Field("is_active", "boolean"),
        Field("created_by", "string", length=200),
        Field("created_at", "datetime"),
        Field("updated_at", "datetime"),
        migrate=False,
    )
    db.define_table(
        "workflow_executions",
        Field("execution_id", "string", length=36),
        Field("workflow_id", "string", length=36),
        Field("run_id", "string", length=36),
        Field("schedule_id", "string", length=36),
        Field("community_id", "string", length=100),
        Field("trigger", "string", length=16),
        Field("trigger_data", "json"),
        Field("status", "string", length=16),
        Field("attempt", "integer"),
        Field("started_at", "datetime"),
        Field("finished_at", "datetime"),
        Field("duration_ms", "integer"),
        Field("error", "text"),
        Field("step_results", "json"),
        Field("created_at", "datetime"),
        migrate=False,
    )
    db.define_table(
        "api_keys",
        Field("name", "string", length=100),
        Field("key_hash", "string", length=64),
        Field("key_prefix", "string", length=16),
        Field("community_id", "string", length=100),
        Field("created_at", "datetime"),
        Field("revoked_at", "datetime"),
        Field("last_used_at", "datetime"),
        migrate=False,
    )
    db.define_table(
        "audit_log",
        Field("at", "datetime"),
        Field("actor", "string", length=200),
        Field("action", "string", length=64),
        Field("entity_type", "string", length=32),
        Field("entity_id", "string", length=64),
        Field("community_id", "string", length=100),
        Field("changes", "json"),
        migrate=False,
    )
    db.define_table(
        "scheduler_replicas",
        Field("replica_id", "string", length=64),
        Field("host", "string", length=255),
        Field("pid", "integer"),
        Field("started_at", "datetime"),
        Field("heartbeat_at", "datetime"),
        Field("last_pass_at", "datetime"),
        migrate=False,
    )
    db.define_table(
        "communities",
        Field("community_id", "string", length=100),
        Field("timezone", "string", length=64),
        Field("managers", "json"),
        Field("platform", "string", length=16),
        Field("date_order", "string", length=3),
        Field("updated_by", "string", length=200),
        Field("updated_at", "datetime"),
        migrate=False,
    )
    db.define_table(
        "calendars",
        Field("calendar_id", "string", length=36),
        Field("name", "string", length=100),
        Field("community_id", "string", length=100),
        Field("timezone", "string", length=64),
        Field("weekdays_only", "boolean"),
        Field("excluded_dates", "json"),
        Field("holidays", "json"),
        Field("created_by", "string", length=200),
        Field("created_at", "datetime"),
        Field("updated_at", "datetime"),
        migrate=False,
    )
    db.define_table(
        "scheduler_control",
        Field("paused", "boolean"),
        Field("reason", "string", length=500),
        Field("since", "datetime"),
        Field("paused_by", "string", length=200),
        migrate=False,
    )
    db.define_table(
        "schedule_alerts",
        Field("alert_id", "string", length=36),
        Field("schedule_id", "string", length=36),
        Field("community_id", "string", length=100),
        Field("event", "string", length=16),
        Field("channel", "string", length=16),
        Field("target", "string", length=2100),
        Field("payload", "text"),
        Field("status", "string", length=16),
        Field("attempts", "integer"),
        Field("last_error", "text"),
        Field("digest_size", "integer"),
        Field("claimed_by", "string", length=64),
        Field("lease_until", "datetime"),
        Field("created_at", "datetime"),
        Field("next_attempt_at", "datetime"),
        Field("sent_at", "datetime"),
        migrate=False,
    )
    db.define_table(
        "schema_migrations",
        Field("version", "integer"),
        Field("name", "string", length=200),
        Field("applied_at", "datetime"),
        primarykey=["version"],
        migrate=False,
    )
