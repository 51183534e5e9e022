"""pyDAL table definitions. The SQL migrations in ``migrations/`` create these tables;
pyDAL's own auto-migration is off, so the two must agree (a test checks they do).

Every timestamp column holds naive UTC.
"""

from __future__ import annotations

from pydal import DAL, Field


def define_tables(db: DAL) -> None:
    db.define_table(
        "workflow_schedules",
        Field("schedule_id", "string", length=36),
        Field("workflow_id", "string", length=36),
        Field("community_id", "string", length=100),
        Field("name", "string", length=100),
        Field("description", "text"),
        Field("schedule_type", "string", length=16),
        Field("cron_expression", "string", length=200),
        Field("interval_seconds", "integer"),
        Field("scheduled_time", "datetime"),
        Field("timezone", "string", length=64),
        Field("start_date", "datetime"),
        Field("end_date", "datetime"),
        Field("is_active", "boolean"),
        Field("status", "string", length=16),
        Field("next_execution_at", "datetime"),
        Field("last_execution_at", "datetime"),
        Field("last_execution_id", "string", length=36),
        Field("last_run_status", "string", length=16),
        Field("last_run_at", "datetime"),
        Field("max_executions", "integer"),
        Field("execution_count", "integer"),
        Field("grace_period_seconds", "integer"),
        Field("overlap_policy", "string", length=16),
        Field("jitter_seconds", "integer"),
        Field("context_data", "json"),
        Field("tags", "json"),
        Field("callback_url", "string", length=2000),
        Field("created_by", "string", length=200),
        Field("total_runs", "integer"),
        Field("successful_runs", "integer"),
        Field("failed_runs", "integer"),
        Field("missed_runs", "integer"),
        Field("total_duration_ms", "bigint"),
        Field("created_at", "datetime"),
        Field("updated_at", "datetime"),
        Field("deleted_at", "datetime"),
        migrate=False,
    )
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
        Field("updated_by", "string", length=200),
        Field("updated_at", "datetime"),
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
