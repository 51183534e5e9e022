-- 0001 initial schema (PostgreSQL). Timestamps are naive UTC (TIMESTAMP WITHOUT TIME ZONE).
CREATE TABLE workflow_schedules (
    id BIGSERIAL PRIMARY KEY,
    schedule_id CHAR(36) NOT NULL UNIQUE,
    workflow_id CHAR(36) NOT NULL,
    community_id VARCHAR(100),
    name VARCHAR(100) NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    schedule_type VARCHAR(16) NOT NULL CHECK (schedule_type IN ('cron', 'interval', 'one_time')),
    cron_expression VARCHAR(200),
    interval_seconds INTEGER,
    scheduled_time TIMESTAMP,
    timezone VARCHAR(64) NOT NULL DEFAULT 'UTC',
    start_date TIMESTAMP,
    end_date TIMESTAMP,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    status VARCHAR(16) NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'completed', 'expired')),
    next_execution_at TIMESTAMP,
    last_execution_at TIMESTAMP,
    last_execution_id CHAR(36),
    max_executions INTEGER,
    execution_count INTEGER NOT NULL DEFAULT 0,
    grace_period_seconds INTEGER NOT NULL DEFAULT 900,
    overlap_policy VARCHAR(16) NOT NULL DEFAULT 'skip' CHECK (overlap_policy IN ('skip', 'allow', 'buffer_one', 'cancel_previous')),
    jitter_seconds INTEGER NOT NULL DEFAULT 0,
    context_data JSONB NOT NULL DEFAULT '{}',
    tags JSONB NOT NULL DEFAULT '[]',
    callback_url VARCHAR(2000),
    created_by VARCHAR(200) NOT NULL DEFAULT '',
    total_runs INTEGER NOT NULL DEFAULT 0,
    successful_runs INTEGER NOT NULL DEFAULT 0,
    failed_runs INTEGER NOT NULL DEFAULT 0,
    missed_runs INTEGER NOT NULL DEFAULT 0,
    total_duration_ms BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP
);
CREATE INDEX ix_schedules_due ON workflow_schedules (is_active, next_execution_at);
CREATE INDEX ix_schedules_workflow ON workflow_schedules (workflow_id);
CREATE INDEX ix_schedules_community ON workflow_schedules (community_id);
CREATE INDEX ix_schedules_type ON workflow_schedules (schedule_type);
CREATE UNIQUE INDEX ux_schedules_community_name ON workflow_schedules (COALESCE(community_id, ''), name) WHERE deleted_at IS NULL;

CREATE TABLE workflow_schedule_runs (
    id BIGSERIAL PRIMARY KEY,
    run_id CHAR(36) NOT NULL UNIQUE,
    schedule_id CHAR(36) NOT NULL,
    workflow_id CHAR(36) NOT NULL,
    execution_id CHAR(36),
    scheduled_for TIMESTAMP NOT NULL,
    fired_at TIMESTAMP,
    finished_at TIMESTAMP,
    status VARCHAR(16) NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'timed_out', 'skipped', 'missed', 'cancelled')),
    attempt INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    note TEXT,
    duration_ms INTEGER,
    "trigger" VARCHAR(16) NOT NULL CHECK ("trigger" IN ('schedule', 'manual', 'backfill')),
    claimed_by VARCHAR(64)
);
CREATE UNIQUE INDEX ux_runs_occurrence ON workflow_schedule_runs (schedule_id, scheduled_for) WHERE "trigger" = 'schedule';
CREATE INDEX ix_runs_schedule_fired ON workflow_schedule_runs (schedule_id, fired_at);
CREATE INDEX ix_runs_scheduled_for ON workflow_schedule_runs (scheduled_for);
CREATE INDEX ix_runs_claimed_by ON workflow_schedule_runs (claimed_by);
CREATE INDEX ix_runs_unfinished ON workflow_schedule_runs (status) WHERE status IN ('queued', 'running');

CREATE TABLE workflows (
    id BIGSERIAL PRIMARY KEY,
    workflow_id CHAR(36) NOT NULL UNIQUE,
    name VARCHAR(100) NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    community_id VARCHAR(100),
    steps JSONB NOT NULL DEFAULT '[]',
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    created_by VARCHAR(200) NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX ux_workflows_community_name ON workflows (COALESCE(community_id, ''), name);
CREATE INDEX ix_workflows_community ON workflows (community_id);

CREATE TABLE workflow_executions (
    id BIGSERIAL PRIMARY KEY,
    execution_id CHAR(36) NOT NULL UNIQUE,
    workflow_id CHAR(36) NOT NULL,
    run_id CHAR(36),
    schedule_id CHAR(36),
    community_id VARCHAR(100),
    "trigger" VARCHAR(16) NOT NULL,
    trigger_data JSONB NOT NULL DEFAULT '{}',
    status VARCHAR(16) NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'timed_out', 'cancelled')),
    attempt INTEGER NOT NULL DEFAULT 1,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    duration_ms INTEGER,
    error TEXT,
    step_results JSONB NOT NULL DEFAULT '[]',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX ix_executions_workflow ON workflow_executions (workflow_id, created_at);
CREATE INDEX ix_executions_run ON workflow_executions (run_id);
CREATE INDEX ix_executions_created ON workflow_executions (created_at);

CREATE TABLE api_keys (
    id BIGSERIAL PRIMARY KEY,
    name VARCHAR(100) NOT NULL UNIQUE,
    key_hash CHAR(64) NOT NULL UNIQUE,
    key_prefix VARCHAR(16) NOT NULL,
    community_id VARCHAR(100),
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    last_used_at TIMESTAMP
);

CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at TIMESTAMP NOT NULL,
    actor VARCHAR(200) NOT NULL,
    action VARCHAR(64) NOT NULL,
    entity_type VARCHAR(32) NOT NULL,
    entity_id VARCHAR(64),
    community_id VARCHAR(100),
    changes JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX ix_audit_entity ON audit_log (entity_type, entity_id, at);
CREATE INDEX ix_audit_at ON audit_log (at);

CREATE TABLE scheduler_replicas (
    id BIGSERIAL PRIMARY KEY,
    replica_id VARCHAR(64) NOT NULL UNIQUE,
    host VARCHAR(255) NOT NULL,
    pid INTEGER NOT NULL,
    started_at TIMESTAMP NOT NULL,
    heartbeat_at TIMESTAMP NOT NULL,
    last_pass_at TIMESTAMP
);
