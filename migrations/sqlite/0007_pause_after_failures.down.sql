-- 0007 pause after failures (SQLite): down.
ALTER TABLE workflow_schedules DROP COLUMN consecutive_failures;
ALTER TABLE workflow_schedules DROP COLUMN pause_after_failures;
