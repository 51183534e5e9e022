-- 0015 schedule chains (PostgreSQL): an `after` schedule runs when a run of its upstream ends. Its
-- upstream and outcome are `after` (JSONB); the upstream's schedule_id is also `upstream_id`,
-- indexed, to find what a run's end starts. A chain run (trigger 'after') keeps the run that
-- started it in upstream_run_id; one chain run per (schedule, upstream run), so two replicas can
-- never both start it.
ALTER TABLE workflow_schedules DROP CONSTRAINT workflow_schedules_schedule_type_check;
ALTER TABLE workflow_schedules ADD CONSTRAINT workflow_schedules_schedule_type_check
    CHECK (schedule_type IN ('cron', 'interval', 'one_time', 'rrule', 'after'));
ALTER TABLE workflow_schedule_runs DROP CONSTRAINT workflow_schedule_runs_trigger_check;
ALTER TABLE workflow_schedule_runs ADD CONSTRAINT workflow_schedule_runs_trigger_check
    CHECK ("trigger" IN ('schedule', 'manual', 'backfill', 'after'));
ALTER TABLE workflow_schedules ADD COLUMN "after" JSONB;
ALTER TABLE workflow_schedules ADD COLUMN upstream_id CHAR(36);
CREATE INDEX ix_schedules_upstream ON workflow_schedules (upstream_id) WHERE upstream_id IS NOT NULL;
ALTER TABLE workflow_schedule_runs ADD COLUMN upstream_run_id CHAR(36);
CREATE UNIQUE INDEX ux_runs_upstream ON workflow_schedule_runs (schedule_id, upstream_run_id)
    WHERE upstream_run_id IS NOT NULL;
