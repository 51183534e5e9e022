-- 0015 schedule chains (PostgreSQL): down. after schedules and chain runs cannot stay (their
-- upstream goes with its column): they are removed first.
DELETE FROM workflow_schedule_runs WHERE "trigger" = 'after';
DELETE FROM workflow_schedules WHERE schedule_type = 'after';
DROP INDEX ux_runs_upstream;
ALTER TABLE workflow_schedule_runs DROP COLUMN upstream_run_id;
ALTER TABLE workflow_schedule_runs DROP CONSTRAINT workflow_schedule_runs_trigger_check;
ALTER TABLE workflow_schedule_runs ADD CONSTRAINT workflow_schedule_runs_trigger_check
    CHECK ("trigger" IN ('schedule', 'manual', 'backfill'));
DROP INDEX ix_schedules_upstream;
ALTER TABLE workflow_schedules DROP COLUMN upstream_id;
ALTER TABLE workflow_schedules DROP COLUMN "after";
ALTER TABLE workflow_schedules DROP CONSTRAINT workflow_schedules_schedule_type_check;
ALTER TABLE workflow_schedules ADD CONSTRAINT workflow_schedules_schedule_type_check
    CHECK (schedule_type IN ('cron', 'interval', 'one_time', 'rrule'));
