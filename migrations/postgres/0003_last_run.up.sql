-- 0003 last run on the schedule (PostgreSQL): the status and time of its newest ended run, for lists.
ALTER TABLE workflow_schedules ADD COLUMN last_run_status VARCHAR(16);
ALTER TABLE workflow_schedules ADD COLUMN last_run_at TIMESTAMP;
