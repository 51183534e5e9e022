-- 0006 operator controls (SQLite): down.
DROP INDEX ix_schedules_paused_until;
ALTER TABLE workflow_schedules DROP COLUMN paused_until;
ALTER TABLE workflow_schedules DROP COLUMN paused_by;
ALTER TABLE workflow_schedules DROP COLUMN paused_at;
ALTER TABLE workflow_schedules DROP COLUMN pause_reason;
ALTER TABLE workflow_schedules DROP COLUMN retry_backoff_seconds;
ALTER TABLE workflow_schedules DROP COLUMN max_retries;
ALTER TABLE workflow_schedules DROP COLUMN timeout_seconds;
