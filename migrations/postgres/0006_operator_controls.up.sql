-- 0006 operator controls (PostgreSQL): a schedule's own run timeout, retries and retry backoff (NULL:
-- the service's defaults), and why, since when, by whom and until when it is paused.
ALTER TABLE workflow_schedules ADD COLUMN timeout_seconds INTEGER;
ALTER TABLE workflow_schedules ADD COLUMN max_retries INTEGER;
ALTER TABLE workflow_schedules ADD COLUMN retry_backoff_seconds INTEGER;
ALTER TABLE workflow_schedules ADD COLUMN pause_reason VARCHAR(500);
ALTER TABLE workflow_schedules ADD COLUMN paused_at TIMESTAMP;
ALTER TABLE workflow_schedules ADD COLUMN paused_by VARCHAR(200);
ALTER TABLE workflow_schedules ADD COLUMN paused_until TIMESTAMP;
-- Paused schedules that resume by themselves, soonest first.
CREATE INDEX ix_schedules_paused_until ON workflow_schedules (paused_until) WHERE paused_until IS NOT NULL;
