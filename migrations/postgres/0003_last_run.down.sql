-- 0003 last run on the schedule (PostgreSQL): down.
ALTER TABLE workflow_schedules DROP COLUMN last_run_at;
ALTER TABLE workflow_schedules DROP COLUMN last_run_status;
