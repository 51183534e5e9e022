-- 0008 catch-up policy (SQLite): down.
ALTER TABLE workflow_schedules DROP COLUMN catchup_max;
ALTER TABLE workflow_schedules DROP COLUMN catchup_policy;
